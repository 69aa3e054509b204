"""Every assertion, passing and failing (run by tests/plugin/test_assertions.py, which checks the
failure messages). Tests named ``test_fails_*`` are meant to fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from pytest_fakellm import (
    FakeLLM,
    assert_accumulated,
    assert_error_event,
    assert_stream_completed,
    assert_ttft,
)

TEXT = "one two three four five six seven eight"
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


def pieces(client: Any) -> Iterator[str]:
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def swallowing(client: Any) -> Iterator[str]:
    """Hides every error: the stream just stops."""
    try:
        yield from pieces(client)
    except Exception:
        return


def lagging(client: Any) -> Iterator[str]:
    """Holds each piece back until the next one arrives: loses the last one before an error."""
    held = None
    for piece in pieces(client):
        if held is not None:
            yield held
        held = piece
    if held is not None:
        yield held


def lines(fakellm: FakeLLM) -> Iterator[dict[str, Any]]:
    with fakellm.httpx_client() as client, client.stream("POST", "chat/completions", json=BODY) as r:
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                yield json.loads(line[6:])


# -- assert_accumulated ------------------------------------------------------------------------------


def test_accumulated_passes(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults="fragment 1-4 bytes delay_ms=0")
    recording = fakellm.record(pieces(fakellm.openai_client()))
    assert_accumulated(recording)
    assert_accumulated(recording, expected=TEXT)


def test_fails_accumulated_lost_token(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT)
    recording = fakellm.record(p for p in pieces(fakellm.openai_client()) if p != " five")
    assert_accumulated(recording)


def test_fails_accumulated_expected(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT)
    recording = fakellm.record(pieces(fakellm.openai_client()))
    assert_accumulated(recording, expected="one two three FOUR five six seven eight")


# -- assert_ttft -------------------------------------------------------------------------------------


def test_ttft_passes(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, ttft_ms=300)
    recording = fakellm.record(pieces(fakellm.openai_client()))
    assert_ttft(recording, min_ms=250, max_ms=5000)
    with pytest.raises(TypeError, match="needs max_ms=, min_ms= or both"):
        assert_ttft(recording)


def test_fails_ttft_max(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, ttft_ms=300)
    assert_ttft(fakellm.record(pieces(fakellm.openai_client())), max_ms=100)


def test_fails_ttft_min(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT)
    assert_ttft(fakellm.record(pieces(fakellm.openai_client())), min_ms=5000)


# -- assert_error_event ------------------------------------------------------------------------------


def test_error_event_passes(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["error_event@3"])
    recording = fakellm.record(pieces(fakellm.openai_client()))
    assert recording.text == "one two three"
    assert_error_event(recording, exception=openai.APIError, match="server had an error")


def test_error_event_drop_passes(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["drop@4"])
    recording = fakellm.record(pieces(fakellm.openai_client(max_retries=0)))
    assert_error_event(recording, exception=openai.APIConnectionError)


def test_error_event_as_value_passes(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["error_event@2"])
    recording = fakellm.record(lines(fakellm))  # yields the {"error": ...} payload as a value
    assert recording.error_item is not None and recording.error is None
    assert_error_event(recording)


def test_fails_error_event_swallowed(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["error_event@3"])
    assert_error_event(fakellm.record(swallowing(fakellm.openai_client())))


def test_fails_error_event_lost_text(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["error_event@3"])
    assert_error_event(fakellm.record(lagging(fakellm.openai_client())))


def test_fails_error_event_json_decode(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["error_event@3"])

    def parses_the_error(fakellm: FakeLLM) -> Iterator[str]:
        for payload in lines(fakellm):
            if "error" in payload:
                json.loads(payload["error"]["message"])  # the bug: the message is not JSON
            yield payload["choices"][0]["delta"].get("content") or ""

    assert_error_event(fakellm.record(parses_the_error(fakellm)))


def test_fails_error_event_hang(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["error_event@3 then=hold"])

    def ignores_errors(fakellm: FakeLLM) -> Iterator[str]:
        for payload in lines(fakellm):
            if payload.get("choices"):
                yield payload["choices"][0]["delta"].get("content") or ""

    assert_error_event(fakellm.record(ignores_errors(fakellm), timeout_s=1.0))


def test_fails_error_event_none_sent(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT)
    assert_error_event(fakellm.record(pieces(fakellm.openai_client())))


def test_fails_error_event_wrong_exception(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["error_event@3"])
    assert_error_event(fakellm.record(pieces(fakellm.openai_client())), exception=ValueError)


# -- assert_stream_completed -------------------------------------------------------------------------


def test_stream_completed_passes(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["stall@2 duration_ms=100"])
    assert_stream_completed(fakellm.record(pieces(fakellm.openai_client())))


def test_fails_stream_completed_truncated(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["truncate@3"])
    recording = fakellm.record(pieces(fakellm.openai_client()))
    assert recording.completed  # the SDK cannot tell: only the server side can
    assert_stream_completed(recording)


def test_fails_stream_completed_error(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["error_event@3"])
    assert_stream_completed(fakellm.record(pieces(fakellm.openai_client())))
