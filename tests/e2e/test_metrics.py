"""``GET /metrics`` on a real server and a real proxy: scripted streams through httpx and the openai
SDK, then a scrape parsed with ``prometheus_client``'s own parser, every figure held against the
journal (docs/metrics.md)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fakellm import ProxyServer, Server
from fakellm.journal import JournalEntry

MakeServer = Callable[..., Server]
MakeProxy = Callable[..., ProxyServer]

TEXT = "Hello there, world! Ça va? All good, and a few more words to stream."
DASHBOARD = Path(__file__).resolve().parents[2] / "fixtures" / "grafana" / "fakellm.json"
BODY: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> tuple[Samples, set[str], httpx.Response]:
    """Every sample of ``url``/metrics by (name, sorted labels), and every family name."""
    response = httpx.get(url + "/metrics")
    samples: Samples = {}
    families: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, families, response


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        value
        for (sample, have), value in samples.items()
        if sample == name and set(labels.items()) <= set(have)
    )


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    out: Counter[str] = Counter()
    for (sample, have), value in samples.items():
        if sample == name and value:
            out[dict(have)[label]] += value
    return dict(out)


def settled(server: Server | ProxyServer, count: int, timeout: float = 5.0) -> list[JournalEntry]:
    """The journal once it has ``count`` entries, none of them still streaming."""
    deadline = time.monotonic() + timeout
    while True:
        entries = server.journal.entries()
        if len(entries) >= count and all(e.outcome != "streaming" for e in entries):
            return entries
        assert time.monotonic() < deadline, [e.outcome for e in entries]
        time.sleep(0.02)


def scrape_when(url: str, ready: Callable[[Samples], bool], timeout: float = 5.0) -> Samples:
    """Scrape until ``ready``: a request is counted when its response is over, which the client can
    see a moment before the server has finished it."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)[0]
        if ready(samples):
            return samples
        assert time.monotonic() < deadline, "the metrics never agreed"
        time.sleep(0.02)


def post(server: Server, headers: dict[str, str] | None = None, body: Any = None) -> httpx.Response:
    return httpx.post(
        server.base_url + "/chat/completions", json=BODY if body is None else body, headers=headers
    )


@pytest.fixture
def served(make_server: MakeServer) -> Server:
    return make_server(
        seed=7,
        scenarios=[{"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 30, "itl_ms": 2}}],
    )


def test_every_figure_agrees_with_the_journal(served: Server) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="sk-test", max_retries=0)
    # completed, through the SDK's stream helper
    with client.chat.completions.stream(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}]) as s:
        assert s.get_final_completion().choices[0].message.content == TEXT
    # error_event@3: the SDK raises on it
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            extra_headers={"X-FakeLLM-Faults": "error_event@3"},
        ):
            pass
    # drop, drop rst, truncate: raw httpx, which sees the broken bodies
    for spec in ("drop@3", "drop@4 rst"):
        with pytest.raises(httpx.TransportError):
            post(served, {"X-FakeLLM-Faults": spec})
    assert post(served, {"X-FakeLLM-Faults": "truncate@5"}).status_code == 200
    # a client that leaves after the first chunk of a slow stream
    with httpx.stream(
        "POST", served.base_url + "/chat/completions", json=BODY, headers={"X-FakeLLM-ITL-Ms": "200"}
    ) as response:
        next(response.iter_raw())
    # an http_error 429, a rejected body, a non-streamed answer
    assert post(served, {"X-FakeLLM-Faults": "http_error 429"}).status_code == 429
    assert post(served, body={"model": "m", "messages": "nope"}).status_code == 400
    plain = client.chat.completions.create(model="claude-x", messages=[{"role": "user", "content": "Hi"}])
    assert plain.choices[0].message.content == TEXT

    entries = settled(served, 9)
    outcomes = Counter(e.outcome for e in entries)
    assert set(outcomes) == {
        "completed",
        "error_event",
        "dropped",
        "reset",
        "truncated",
        "client_disconnected",
        "http_error",
        "rejected",
    }
    samples = scrape_when(served.url, lambda s: total(s, "fakellm_streams_total") == len(entries))

    assert by_label(samples, "fakellm_streams_total", "outcome") == outcomes
    assert total(samples, "fakellm_streams_total", stream="false") == sum(1 for e in entries if not e.stream)
    assert by_label(samples, "fakellm_streams_total", "model") == Counter(e.model or "none" for e in entries)
    assert total(samples, "fakellm_tokens_total") == sum(e.tokens_sent for e in entries)
    fired = Counter(f.fault for e in entries for f in e.faults)
    assert by_label(samples, "fakellm_faults_total", "fault") == fired
    assert set(fired) >= {"error_event", "drop", "truncate", "http_error"}

    # TTFT as written: one observation per stream that sent a token, summing the journal's
    streamed = [e for e in entries if e.stream and e.first_token_ms is not None]
    assert total(samples, "fakellm_ttft_seconds_count") == len(streamed)
    assert total(samples, "fakellm_ttft_seconds_sum") == pytest.approx(
        sum(e.first_token_ms or 0 for e in streamed) / 1000, abs=1e-6 * len(streamed)
    )
    # ... and as planned: the scenario's 30 ms for each of them
    assert total(samples, "fakellm_ttft_scheduled_seconds_count") == len(streamed)
    assert total(samples, "fakellm_ttft_scheduled_seconds_sum") == pytest.approx(0.03 * len(streamed))
    assert total(samples, "fakellm_ttft_seconds_bucket", le="0.025") == 0  # none before it was due

    # stream durations: one per stream, by outcome, summing the journal's
    durations = [e for e in entries if e.outcome not in ("http_error", "rejected") and e.stream]
    assert by_label(samples, "fakellm_stream_duration_seconds_count", "outcome") == Counter(
        e.outcome for e in durations
    )
    assert total(samples, "fakellm_stream_duration_seconds_sum") == pytest.approx(
        sum(e.duration_ms or 0 for e in durations) / 1000, abs=1e-6 * len(durations)
    )
    # gaps: every token frame after a stream's first is one
    assert total(samples, "fakellm_inter_token_gap_seconds_count") >= sum(
        max(e.tokens_sent - 1, 0) for e in streamed if e.tokens_sent < 10
    )
    assert total(samples, "fakellm_active_streams") == 0

    # requests by route, format and status: the journal's statuses (0 for no head: none here)
    statuses = Counter(str(e.status) for e in entries)
    chat = {
        status: total(samples, "fakellm_requests_total", route="/v1/chat/completions", status=status)
        for status in statuses
    }
    assert chat == statuses
    assert total(samples, "fakellm_requests_total", format="openai.chat") == len(entries)
    head = total(samples, "fakellm_response_head_seconds_count", route="/v1/chat/completions")
    assert head == len(entries)


def test_every_format_is_labelled_as_the_journal_names_it(served: Server) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="sk-test", max_retries=0)
    with client.responses.stream(model="gpt-4o", input="Hi") as stream:
        assert stream.get_final_response().output_text == TEXT
    with anthropic.Anthropic(base_url=served.url, api_key="sk-ant", max_retries=0) as claude:
        with claude.messages.stream(
            model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
        ) as stream:
            assert stream.get_final_text() == TEXT
        with pytest.raises(anthropic.APIStatusError):
            for _ in claude.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=100,
                messages=[{"role": "user", "content": "Hi"}],
                stream=True,
                extra_headers={"X-FakeLLM-Faults": "error_event@2"},
            ):
                pass
    list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi", stream=True))
    entries = settled(served, 4)
    samples = scrape_when(served.url, lambda s: total(s, "fakellm_streams_total") == 4)
    assert by_label(samples, "fakellm_streams_total", "format") == Counter(e.format for e in entries)
    assert by_label(samples, "fakellm_ttft_seconds_count", "format") == Counter(e.format for e in entries)
    assert total(samples, "fakellm_streams_total", format="anthropic.messages", outcome="error_event") == 1
    tokens: Counter[str] = Counter()
    for e in entries:
        tokens[e.format or ""] += e.tokens_sent
    assert by_label(samples, "fakellm_tokens_total", "format") == tokens
    routes = Counter((e.path, e.format) for e in entries)
    for (path, fmt), count in routes.items():
        assert total(samples, "fakellm_requests_total", route=path, format=fmt or "", status="200") == count


def test_gaps_and_tokens_per_second_follow_the_schedule(make_server: MakeServer) -> None:
    words = " ".join(f"w{i}" for i in range(20))
    server = make_server(
        seed=3,
        scenarios=[{"name": "default", "content": {"text": words}, "timing": {"ttft_ms": 10, "itl_ms": 25}}],
    )
    response = post(server)
    assert response.status_code == 200
    entry = settled(server, 1)[0]
    samples = scrape_when(server.url, lambda s: total(s, "fakellm_streams_total") == 1)
    gaps = total(samples, "fakellm_inter_token_gap_seconds_count", scenario="default")
    assert gaps == entry.tokens_sent - 1  # one frame per token here
    mean_gap = total(samples, "fakellm_inter_token_gap_seconds_sum") / gaps
    assert 0.02 < mean_gap < 0.05
    # most gaps near 25 ms (a late frame makes the next gap short: deadlines are absolute)
    assert total(samples, "fakellm_inter_token_gap_seconds_bucket", le="0.01") <= gaps / 4
    assert total(samples, "fakellm_stream_tokens_per_second_count") == 1
    rate = total(samples, "fakellm_stream_tokens_per_second_sum")
    assert 20 < rate < 45  # 40 at exactly 25 ms, a little less with any lateness


def test_metrics_route_and_bounded_route_labels(served: Server) -> None:
    samples, _, response = scrape(served.url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    httpx.get(served.base_url + "/responses/resp_nope")  # a 404 from a templated route
    httpx.get(served.base_url + "/responses/resp_other")
    httpx.get(served.url + "/no/such/path/123")
    httpx.get(served.url + "/no/such/path/456")
    samples = scrape_when(served.url, lambda s: total(s, "fakellm_requests_total", route="unmatched") == 2)
    assert total(samples, "fakellm_requests_total", route="/v1/responses/{response_id}", status="404") == 2
    assert total(samples, "fakellm_requests_total", route="/metrics", status="200") >= 1
    routes = {dict(labels)["route"] for (name, labels) in samples if name == "fakellm_requests_total"}
    assert routes == {"/metrics", "/v1/responses/{response_id}", "unmatched"}
    about = httpx.get(served.url + "/").json()
    assert any(r["path"] == "/metrics" and r["description"] for r in about["routes"])


def test_models_past_the_cap_fold_into_other(served: Server) -> None:
    for i in range(23):
        post(served, body={**BODY, "stream": False, "model": f"model-{i}"})
    samples = scrape_when(served.url, lambda s: total(s, "fakellm_streams_total") == 23)
    models = by_label(samples, "fakellm_streams_total", "model")
    assert len(models) == 21
    assert models["other"] == 3
    assert all(models[f"model-{i}"] == 1 for i in range(20))


def test_servers_in_one_process_count_apart(make_server: MakeServer, served: Server) -> None:
    other = make_server(seed=1)
    post(served, body={**BODY, "stream": False})
    samples = scrape_when(served.url, lambda s: total(s, "fakellm_streams_total") == 1)
    assert total(samples, "fakellm_streams_total") == 1
    assert total(scrape(other.url)[0], "fakellm_streams_total") == 0


# --------------------------------------------------------------------------------------------------
# The proxy: the same figures on the client side, and the upstream's own


UPSTREAM = [
    {"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 10, "itl_ms": 2}},
    # chosen by model name: the proxy does not forward X-FakeLLM-* headers
    {"name": "slow-first", "content": {"text": TEXT}, "timing": {"ttft_ms": 400, "itl_ms": 2}},
    {"name": "breaks", "content": {"text": TEXT}, "faults": ["error_event@2"]},
    {"name": "drops", "content": {"text": TEXT}, "faults": ["drop@3"]},
]


def test_proxy_measures_the_upstream(make_server: MakeServer, make_proxy: MakeProxy) -> None:
    upstream = make_server(seed=11, scenarios=UPSTREAM)
    proxy = make_proxy(upstream.base_url)
    client = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
    for model in ("default", "slow-first"):
        with client.chat.completions.stream(model=model, messages=[{"role": "user", "content": "Hi"}]) as s:
            assert s.get_final_completion().choices[0].message.content == TEXT
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(
            model="breaks", messages=[{"role": "user", "content": "Hi"}], stream=True
        ):
            pass
    with pytest.raises(openai.APIConnectionError):
        for _ in client.chat.completions.create(
            model="drops", messages=[{"role": "user", "content": "Hi"}], stream=True
        ):
            pass

    entries = settled(proxy, 4)
    samples = scrape_when(proxy.url, lambda s: total(s, "fakellm_upstream_streams_total") == 4)
    assert by_label(samples, "fakellm_upstream_streams_total", "outcome") == {
        "completed": 2,
        "error_event": 1,
        "dropped": 1,
    }
    # the slow upstream's first token: 400 ms after the proxy asked, in the slow model's series
    slow = total(samples, "fakellm_upstream_ttft_seconds_sum", model="slow-first")
    assert 0.39 < slow < 2.0
    assert total(samples, "fakellm_upstream_ttft_seconds_bucket", model="slow-first", le="0.35") == 0
    assert total(samples, "fakellm_upstream_ttft_seconds_bucket", model="default", le="0.35") == 1
    assert total(samples, "fakellm_upstream_tokens_per_second_count", model="default") == 1
    # the client side on the proxy, as on a server: it agrees with the proxy's journal
    assert by_label(samples, "fakellm_streams_total", "outcome") == Counter(e.outcome for e in entries)
    assert total(samples, "fakellm_ttft_seconds_count") == 4
    assert total(samples, "fakellm_tokens_total") == sum(e.tokens_sent for e in entries)
    # /metrics was answered by the proxy, never forwarded
    assert all(e.path != "/metrics" for e in upstream.journal.entries())
    assert total(scrape(upstream.url)[0], "fakellm_upstream_streams_total") == 0


def test_proxy_counts_a_client_that_leaves(make_server: MakeServer, make_proxy: MakeProxy) -> None:
    slow = {"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 10, "itl_ms": 150}}
    upstream = make_server(seed=12, scenarios=[slow])
    proxy = make_proxy(upstream.base_url)
    with httpx.stream("POST", proxy.base_url + "/chat/completions", json=BODY) as response:
        next(response.iter_raw())
    entry = settled(proxy, 1)[0]
    assert entry.outcome == "client_disconnected"
    samples = scrape_when(proxy.url, lambda s: total(s, "fakellm_upstream_streams_total") == 1)
    assert total(samples, "fakellm_streams_total", outcome="client_disconnected") == 1
    # the proxy stopped reading its upstream: how that stream would have ended is not known
    assert total(samples, "fakellm_upstream_streams_total", outcome="client_disconnected") == 1
    assert total(samples, "fakellm_active_streams") == 0


def test_proxy_counts_an_unreachable_upstream(make_proxy: MakeProxy) -> None:
    proxy = make_proxy("http://127.0.0.1:9/v1", connect_timeout_s=2)
    assert post_to(proxy).status_code == 502
    samples = scrape_when(proxy.url, lambda s: total(s, "fakellm_upstream_streams_total") == 1)
    assert total(samples, "fakellm_upstream_streams_total", outcome="upstream_error") == 1
    assert total(samples, "fakellm_streams_total", outcome="upstream_error") == 1
    assert total(samples, "fakellm_requests_total", route="/v1/chat/completions", status="502") == 1


def post_to(proxy: ProxyServer) -> httpx.Response:
    return httpx.post(proxy.base_url + "/chat/completions", json=BODY)


# --------------------------------------------------------------------------------------------------
# The Grafana dashboard


def test_dashboard_names_only_exposed_metrics(make_server: MakeServer) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36
    # Every family is declared on a server, the proxy's upstream ones too (without samples there).
    samples, families, _ = scrape(make_server(seed=1).url)
    exposed = {name for name, _ in samples} | families
    for family in families:  # a family's series: its _total, _bucket, _sum, _count
        exposed |= {family + suffix for suffix in ("_total", "_bucket", "_sum", "_count")}
    expressions = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", ())
        if "expr" in target
    ]
    assert len(expressions) >= 9
    expressions += [v["definition"] for v in dashboard["templating"]["list"]]
    for expr in expressions:
        named = set(re.findall(r"\bfakellm_[a-z_]+", expr))
        assert named, expr
        assert named <= exposed, (expr, named - exposed)
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
    assert {i["name"] for i in dashboard["__inputs"]} == {"DS_PROMETHEUS"}
