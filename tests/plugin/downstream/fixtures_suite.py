"""A downstream test suite (run by tests/plugin/test_fixtures.py through pytester, in both modes):
the fixtures, scripting, the marker, the journal and the recorder, in sync and async tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from pytest_fakellm import FakeLLM, assert_accumulated, assert_stream_completed, assert_ttft

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


def ask(client: Any, prompt: str = "Hi") -> Any:
    return client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": prompt}], stream=True
    )


def pieces(client: Any, prompt: str = "Hi") -> Iterator[str]:
    """What an app's streaming function typically yields: text pieces."""
    for chunk in ask(client, prompt):
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def test_mode(fakellm: FakeLLM, pytestconfig: pytest.Config) -> None:
    assert fakellm.mode == pytestconfig.getoption("fakellm_mode")
    assert fakellm.base_url.startswith("http") and fakellm.base_url.endswith("/v1")
    assert isinstance(fakellm.seed, int)


def test_unscripted_default_is_fast_faker(fakellm: FakeLLM) -> None:
    with fakellm.httpx_client() as client:
        response = client.post("chat/completions", json={**BODY, "stream": False})
    assert response.status_code == 200
    text = response.json()["choices"][0]["message"]["content"]
    assert len(text) > 100
    assert fakellm.journal.last is not None and fakellm.journal.last.text == text
    assert len(fakellm.journal) == 1


def test_script_text_and_journal(fakellm: FakeLLM) -> None:
    fakellm.script(text="Hello there, world!", ttft_ms=50)
    recording = fakellm.record(ask(fakellm.openai_client(), "What is new?"))
    assert recording.kind == "chunks"
    assert recording.text == "Hello there, world!"
    assert recording.finish_reason == "stop"
    entry = fakellm.journal.last
    assert entry is not None and recording.entry is entry
    assert entry.request["messages"][0]["content"] == "What is new?"
    assert entry.headers["content-type"] == "application/json"
    assert (entry.text, entry.tokens_sent, entry.outcome, entry.faults) == (
        recording.text,
        5,
        "completed",
        [],
    )
    assert entry.bytes_sent > 5 * 100
    assert list(fakellm.journal) == [entry] and fakellm.journal[0] is entry and fakellm.journal[-1] is entry
    assert_accumulated(recording)
    assert_stream_completed(recording)
    assert_ttft(recording, min_ms=40, max_ms=5000)


def test_list_is_served_in_order(fakellm: FakeLLM) -> None:
    fakellm.script(["first answer", {"text": "second answer", "itl_ms": 1}, "third"])
    client = fakellm.openai_client()
    texts = [fakellm.record(ask(client)).text for _ in range(4)]
    assert texts[:3] == ["first answer", "second answer", "third"]
    assert len(texts[3]) > 100  # after the list: the default
    assert [e.scenario for e in fakellm.journal][:3] == ["scripted-1", "scripted-2", "scripted-3"]


def test_match_picks_by_prompt(fakellm: FakeLLM) -> None:
    fakellm.script(text="Sunny.", match={"prompt": "weather"})
    client = fakellm.openai_client()
    assert fakellm.record(ask(client, "How is the weather?")).text == "Sunny."
    assert fakellm.record(ask(client, "Hello")).text != "Sunny."


def test_script_faults_and_seed(fakellm: FakeLLM) -> None:
    fakellm.script(faker={"paragraphs": 1}, seed=7, faults="fragment 1-3 bytes delay_ms=0")
    client = fakellm.openai_client()
    first = fakellm.record(ask(client))
    second = fakellm.record(ask(client))
    assert first.text == second.text != ""
    assert [e.seed for e in fakellm.journal] == [7, 7]
    assert [f.fault for f in fakellm.journal[0].faults] == ["fragment"]
    assert_accumulated(first)


def test_script_rejects_unknown_keyword(fakellm: FakeLLM) -> None:
    with pytest.raises(TypeError, match=r"unknown keyword 'ttft' \(did you mean 'ttft_ms'\?\)"):
        fakellm.script(text="x", ttft=5)


@pytest.mark.fakellm(text="From the marker.", itl_ms=1)
def test_marker(fakellm: FakeLLM) -> None:
    assert fakellm.record(pieces(fakellm.openai_client())).text == "From the marker."


@pytest.mark.fakellm(["one", {"text": "two"}])
def test_marker_list(fakellm: FakeLLM) -> None:
    client = fakellm.openai_client()
    assert [fakellm.record(pieces(client)).text for _ in range(2)] == ["one", "two"]


@pytest.mark.fakellm(text="class marker")
class TestMarkerOnClass:
    def test_it(self, fakellm: FakeLLM) -> None:
        assert fakellm.record(pieces(fakellm.openai_client())).text == "class marker"


def test_text_pieces_timing(fakellm: FakeLLM) -> None:
    fakellm.script(text="a b c d", ttft_ms=200, itl_ms=100)
    recording = fakellm.record(pieces(fakellm.openai_client()))
    assert recording.kind == "text" and recording.items == ["a", " b", " c", " d"]
    assert recording.ttft_ms is not None and 150 <= recording.ttft_ms <= 5000
    # Tokens are due at fixed deadlines, so the gaps add up even when one token is late.
    assert len(recording.gaps_ms) == 3 and 200 <= sum(recording.gaps_ms) <= 5000
    assert recording.completed and recording.error is None


def test_raw_sse_bytes_and_lines(fakellm: FakeLLM) -> None:
    fakellm.script(text="raw bytes", faults=["fragment 1-5 bytes delay_ms=0"])
    with fakellm.httpx_client() as client:
        with client.stream("POST", "chat/completions", json=BODY) as response:
            by_bytes = fakellm.record(response.iter_bytes())
        with client.stream("POST", "chat/completions", json=BODY) as response:
            by_lines = fakellm.record(response.iter_lines())
    for recording in (by_bytes, by_lines):
        assert (recording.kind, recording.text, recording.done) == ("sse", "raw bytes", True)
        assert recording.finish_reason == "stop"
        assert_stream_completed(recording)


def test_recorder_sees_a_raised_error(fakellm: FakeLLM) -> None:
    def broken() -> Iterator[str]:
        yield "part"
        raise ValueError("boom")

    recording = fakellm.record(broken())
    assert (recording.text, recording.completed) == ("part", False)
    assert isinstance(recording.error, ValueError)


def test_inprocess_fixture_routes_the_code_under_tests_httpx_clients(fakellm_inprocess: FakeLLM) -> None:
    assert fakellm_inprocess.mode == "inprocess"
    fakellm_inprocess.script(text="Routed through respx.")
    # Code under test with its own clients for the real URL: plain httpx, and openai with httpx.
    url = "https://api.openai.com/v1/chat/completions"
    with httpx.Client() as client, client.stream("POST", url, json=BODY) as response:
        recording = fakellm_inprocess.record(response.iter_lines())
    assert recording.text == "Routed through respx."
    legacy = openai.OpenAI(api_key="sk-test", http_client=httpx.Client(), max_retries=0)
    assert fakellm_inprocess.record(pieces(legacy)).text == "Routed through respx."
    legacy.close()
    assert len(fakellm_inprocess.journal) == 2


@pytest.mark.asyncio
async def test_async_clients(fakellm: FakeLLM) -> None:
    fakellm.script(text="async hello", itl_ms=1)
    client = fakellm.async_openai_client()
    recording = await fakellm.arecord(await ask(client))
    assert (recording.kind, recording.text) == ("chunks", "async hello")
    assert_accumulated(recording)
    async with fakellm.async_httpx_client() as http, http.stream("POST", "chat/completions", json=BODY) as r:
        lines = await fakellm.arecord(r.aiter_lines())
    assert (lines.kind, lines.text, lines.done) == ("sse", "async hello", True)


@pytest.mark.asyncio
async def test_async_own_httpx_client_inprocess(fakellm_inprocess: FakeLLM) -> None:
    fakellm_inprocess.script(text="async routed", ttft_ms=100)
    url = "https://api.openai.com/v1/chat/completions"
    async with httpx.AsyncClient() as client, client.stream("POST", url, json=BODY) as response:
        recording = await fakellm_inprocess.arecord(response.aiter_lines())
    assert recording.text == "async routed"
    assert_ttft(recording, min_ms=60)


@pytest.mark.asyncio
async def test_async_hang_is_a_timeout(fakellm: FakeLLM) -> None:
    fakellm.script(text="a b c", faults=["stall@1 duration_ms=null"])
    async with fakellm.async_openai_client() as client:
        recording = await fakellm.arecord(await ask(client), timeout_s=0.5)
    assert recording.timed_out and recording.text == "a" and not recording.completed
