"""How-to: the chaos proxy in a test (docs/proxy.md), and replaying a shipped recording."""

from pathlib import Path

import openai
import pytest

from fakellm import ProxyServer, Server, parse_fault_spec

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "recorded"


def test_my_client_sees_a_dropped_stream():
    with Server() as upstream, ProxyServer(upstream.base_url, faults=parse_fault_spec("drop@5")) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        with pytest.raises(openai.APIConnectionError):
            for _ in stream:
                pass
        assert proxy.journal.last.outcome == "dropped"


def test_a_recorded_tool_call_replays():
    with Server(scenario_paths=[RECORDED]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        with client.chat.completions.stream(
            model="openai-tool-call", messages=[{"role": "user", "content": "Weather in NYC?"}]
        ) as stream:
            call = stream.get_final_completion().choices[0].message.tool_calls[0]
        assert call.function.arguments == '{"city":"New York City"}'
