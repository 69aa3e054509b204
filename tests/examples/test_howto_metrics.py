"""How-to: read fakellm's Prometheus metrics in a test (docs/metrics.md)."""

import httpx
import openai
from prometheus_client.parser import text_string_to_metric_families

from fakellm import ProxyServer, Server


def scrape(url):
    """Every sample of a fakellm's /metrics, by (name, labels)."""
    text = httpx.get(url + "/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_completion_rate_of_a_flaky_stream():
    with Server(scenarios=[{"name": "default", "content": {"text": "Hi there"}}]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        for faults in ("", "drop@1"):
            try:
                for _ in client.chat.completions.create(
                    model="gpt-4o",
                    messages=[{"role": "user", "content": "Hi"}],
                    stream=True,
                    extra_headers={"X-FakeLLM-Faults": faults} if faults else {},
                ):
                    pass
            except openai.APIConnectionError:
                pass
        assert [e.outcome for e in server.journal] == ["completed", "dropped"]
        samples = scrape(server.url)
        streams = {
            dict(labels)["outcome"]: value
            for (name, labels), value in samples.items()
            if name == "fakellm_streams_total"
        }
        assert streams == {"completed": 1.0, "dropped": 1.0}


def test_the_proxy_times_its_upstream():
    slow = {"name": "default", "content": {"text": "Hello"}, "timing": {"ttft_ms": 300}}
    with Server(scenarios=[slow]) as upstream, ProxyServer(upstream.base_url) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
        with client.chat.completions.stream(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}]
        ) as stream:
            stream.until_done()
        samples = scrape(proxy.url)
        ttft = sum(v for (name, _), v in samples.items() if name == "fakellm_upstream_ttft_seconds_sum")
        assert 0.3 <= ttft < 2.0  # from the proxy's request to the upstream's first token
