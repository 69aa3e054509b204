"""Failing assertions on Responses and Anthropic recordings say what happened in that format's own
terms: its events, how it ends, its error event, the text the client had (run by
tests/plugin/test_format_messages.py; every test here passes when the message is right)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from pytest_fakellm import (
    FakeLLM,
    assert_accumulated,
    assert_error_event,
    assert_stream_completed,
)

TEXT = "one two three four five six seven eight"
MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]


@dataclass(frozen=True)
class Format:
    name: str  # recording.format
    served: str  # the journal's entry.format
    end: str  # how the server's line says a completed stream ended
    lacks: str  # ... and a truncated one
    error: str  # ... and the error event
    finish: str  # what carries the finish reason
    final: str  # the event type that carries it
    stream: Callable[[FakeLLM], Iterator[Any]]  # the SDK's raw events
    aclient: Callable[[FakeLLM], Any]
    exception: type[BaseException]  # what the SDK raises on the error event


def anthropic_events(fakellm: FakeLLM) -> Iterator[Any]:
    client = fakellm.anthropic_client(max_retries=0)
    return iter(client.messages.create(model="c", max_tokens=64, messages=MESSAGES, stream=True))


def responses_events(fakellm: FakeLLM) -> Iterator[Any]:
    client = fakellm.openai_client(max_retries=0)
    return iter(client.responses.create(model="g", input="Hi", stream=True))


async def anthropic_aevents(fakellm: FakeLLM) -> Any:
    client = fakellm.async_anthropic_client(max_retries=0)
    return await client.messages.create(model="c", max_tokens=64, messages=MESSAGES, stream=True)


async def responses_aevents(fakellm: FakeLLM) -> Any:
    client = fakellm.async_openai_client(max_retries=0)
    return await client.responses.create(model="g", input="Hi", stream=True)


ANTHROPIC = Format(
    "anthropic",
    "anthropic.messages",
    "completed the stream (message_delta and message_stop)",
    "ended the body cleanly without message_delta or message_stop (a truncation, not an error)",
    "ended the stream with an error event (event: error)",
    "stop_reason (message_delta)",
    "message_delta",
    anthropic_events,
    anthropic_aevents,
    anthropic.APIStatusError,
)
RESPONSES = Format(
    "responses",
    "openai.responses",
    "completed the stream (response.completed)",
    "ended the body cleanly without response.completed (a truncation, not an error)",
    "ended the stream with an error event (event: error, then response.failed)",
    "final status (response.completed, .incomplete or .failed)",
    "response.completed",
    responses_events,
    responses_aevents,
    openai.APIError,
)


@pytest.fixture(params=[ANTHROPIC, RESPONSES], ids=lambda f: f.name)
def fmt(request: pytest.FixtureRequest) -> Format:
    return request.param  # type: ignore[no-any-return]


def message(check: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(AssertionError) as failed:
        check(*args, **kwargs)
    text = str(failed.value)
    print(text)  # shown by -rA when the outer test fails
    return text


def in_its_own_terms(text: str, fmt: Format) -> None:
    """The message names the format on both sides and borrows nothing from Chat Completions."""
    assert f"format '{fmt.served}')" in text  # the server's line
    assert f"format '{fmt.name}')" in text  # the client's line
    assert "[DONE]" not in text and "finish chunk" not in text


def test_lost_text(fakellm: FakeLLM, fmt: Format) -> None:
    fakellm.script(text=TEXT)
    recording = fakellm.record(e for e in fmt.stream(fakellm) if "five" not in repr(e))
    text = message(assert_accumulated, recording)
    lines = text.splitlines()
    assert lines[0] == "fakellm: the client's accumulated text is not what the server sent."
    assert "  client got:  'one two three four six seven eight'<end>" in lines
    assert f"  server: {fmt.end}, after 8 tokens (39 characters)" in text
    # an event stream's items are events, most of them without text
    assert lines[-1].startswith("  client: ")
    assert " events (7 with text, kind 'chunks', format " in lines[-1]
    assert lines[-1].endswith(", 34 characters, then its iteration ended without an error")
    in_its_own_terms(text, fmt)


def test_truncation_is_not_a_completed_stream(fakellm: FakeLLM, fmt: Format) -> None:
    fakellm.script(text=TEXT, faults="truncate@3")
    recording = fakellm.record(fmt.stream(fakellm))
    assert recording.completed and recording.text == "one two three"  # the SDK cannot tell
    text = message(assert_stream_completed, recording)
    lines = text.splitlines()
    assert lines[0].startswith("fakellm: the client finished without an error, but the server did not")
    assert lines[2].startswith(f"  server: {fmt.lacks}, after 3 tokens (13 characters); stream #")
    assert lines[2].endswith("outcome 'truncated', faults fired: truncate at token 3")
    assert lines[3] == "  client text: 'one two three'"
    in_its_own_terms(text, fmt)


def test_a_swallowed_error_event(fakellm: FakeLLM, fmt: Format) -> None:
    fakellm.script(text=TEXT, faults="error_event@3")

    def swallowing() -> Iterator[Any]:
        try:
            yield from fmt.stream(fakellm)
        except Exception:
            return

    text = message(assert_error_event, fakellm.record(swallowing()))
    lines = text.splitlines()
    assert lines[0] == (
        "fakellm: the client swallowed the server's error_event at token 3: its stream ended normally."
    )
    assert lines[2].startswith(f"  server: {fmt.error}, after 3 tokens (13 characters)")
    assert lines[3] == "  client text: 'one two three'"
    in_its_own_terms(text, fmt)


def test_the_error_event_the_sdk_raised_is_shown(fakellm: FakeLLM, fmt: Format) -> None:
    fakellm.script(text=TEXT, faults='error_event@3 message="Busy, retry"')
    recording = fakellm.record(fmt.stream(fakellm))
    assert isinstance(recording.error, fmt.exception)
    text = message(assert_error_event, recording, exception=ValueError)
    lines = text.splitlines()
    if fmt is ANTHROPIC:  # the SDK's message is the event's JSON: its type and message
        # up to 2.16 the SDK's message was the event's JSON; from 2.17 the message and its type
        assert lines[0] in (
            "fakellm: the client raised APIStatusError: {'type': 'error', 'error': "
            "{'type': 'overloaded_error', 'message': 'Busy, retry'}}, not ValueError.",
            f"fakellm: the client raised APIStatusError: Busy, retry (request_id: "
            f"{fakellm.journal.last.request_id}, path: /v1/messages, type: overloaded_error), "
            "not ValueError.",
        )
    else:
        assert lines[0] == "fakellm: the client raised APIError: Busy, retry, not ValueError."
    assert lines[1].startswith(f"  server: {fmt.error}, after 3 tokens")
    assert f"format '{fmt.served}')" in lines[1]
    assert lines[2] == "  client text: 'one two three'"


def test_an_error_is_not_a_completed_stream(fakellm: FakeLLM, fmt: Format) -> None:
    fakellm.script(text=TEXT, faults="error_event@3")
    text = message(assert_stream_completed, fakellm.record(fmt.stream(fakellm)))
    lines = text.splitlines()
    assert lines[0].startswith("fakellm: the stream did not complete: ")
    assert f"(3 with text, kind 'chunks', format '{fmt.name}'), 13 characters, then raised " in lines[0]
    assert lines[1].startswith(f"  server: {fmt.error}, after 3 tokens")
    assert lines[2] == "  client text: 'one two three'"
    in_its_own_terms(text, fmt)


def test_a_lost_finish_names_the_formats_field(fakellm: FakeLLM, fmt: Format) -> None:
    fakellm.script(text=TEXT)
    recording = fakellm.record(e for e in fmt.stream(fakellm) if e.type != fmt.final)
    assert recording.text == TEXT and recording.finish_reason is None
    text = message(assert_stream_completed, recording)
    assert text.splitlines()[0].startswith(f"fakellm: the stream ended without a {fmt.finish}: ")
    in_its_own_terms(text, fmt)


@pytest.mark.asyncio
async def test_async_recording(fakellm: FakeLLM, fmt: Format) -> None:
    fakellm.script(text=TEXT, faults="truncate@5")
    recording = await fakellm.arecord(fmt.aclient(fakellm))
    assert recording.format == fmt.name and recording.text == "one two three four five"
    text = message(assert_error_event, recording)
    lines = text.splitlines()
    assert lines[0] == (
        "fakellm: the server did not end this stream with an error, so the client had none to surface."
    )
    assert lines[2].startswith(f"  server: {fmt.lacks}, after 5 tokens")
    assert lines[4].startswith("  truncate does not end a stream with an error")
    in_its_own_terms(text, fmt)


def test_an_error_yielded_as_a_value_on_raw_sse(fakellm: FakeLLM) -> None:
    """A client that reads the Responses SSE itself and yields the error event as a value."""
    fakellm.script(text=TEXT, faults="error_event@2")
    body = {"model": "g", "input": "Hi", "stream": True}
    with fakellm.httpx_client() as http, http.stream("POST", "responses", json=body) as answer:
        recording = fakellm.record(answer.iter_lines())
    assert recording.format == "responses" and recording.text == "one two"
    assert recording.error_item["type"] == "error"  # the event: error, before response.failed
    text = message(assert_error_event, recording, exception=openai.APIError)
    lines = text.splitlines()
    assert lines[0].startswith("fakellm: the client yielded the error value {'type': 'error', ")
    assert lines[0].endswith(" instead of raising APIError.")
    assert lines[1].startswith(f"  server: {RESPONSES.error}, after 2 tokens")


def test_anthropic_drop_says_whether_the_sdk_wrapped_it(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults="drop@3")
    recording = fakellm.record(anthropic_events(fakellm))
    if isinstance(recording.error, anthropic.APIConnectionError):
        # anthropic 2.17 and later wrap it, as openai does: what a test expects just passes
        assert isinstance(recording.error.__cause__, httpx2.RemoteProtocolError)
        assert_error_event(recording, exception=anthropic.APIConnectionError)
        return
    # anthropic up to 2.16 let the transport's error through: the message says so
    assert isinstance(recording.error, httpx2.RemoteProtocolError)
    text = message(assert_error_event, recording, exception=anthropic.APIConnectionError)
    lines = text.splitlines()
    assert lines[0].startswith("fakellm: the client raised RemoteProtocolError: ")
    assert lines[0].endswith(", not APIConnectionError.")
    assert lines[1].startswith("  server: dropped the connection (no end of body), after 3 tokens")
    assert lines[-1] == (
        "  the SDK let the transport's RemoteProtocolError through unwrapped (anthropic does once a "
        "stream has started): expect (APIConnectionError, httpx2.TransportError)"
    )
    # and what the hint says to expect does pass
    assert_error_event(recording, exception=(anthropic.APIConnectionError, httpx2.TransportError))
