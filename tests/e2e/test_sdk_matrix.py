"""The bar of issue 11, measured: every official-SDK call of the new formats, sync and async, with a
passing stream, a mid-stream error, a dropped connection and a 429 that the SDK retries.

One driver per call and flavour reads the stream the way an application does (text from the
deltas, then the helper's final object) and keeps the text that arrived before any error; one
table says what each SDK surfaces for each fault. The single-format files
(test_responses_sdk.py, test_anthropic_sdk.py, ...) test the rest of each format.

What the SDKs surface (openai 3.57, anthropic 2.16, read from their ``_streaming.py`` and
``_base_client.py``):
- an error event inside the 200 stream: openai raises ``APIError`` (not ``APIStatusError``: there is
  no error status), anthropic raises ``APIStatusError`` whose ``status_code`` is the stream's 200
  and whose ``body`` is the ``event: error`` payload;
- a drop: openai wraps the transport's error in ``APIConnectionError``; anthropic up to 2.16
  let ``httpx2.RemoteProtocolError`` through once the stream had started, 2.17 wraps it too;
- a 429: both retry, and both sleep for ``retry-after-ms`` (preferred) or ``retry-after`` when the
  server sends one, else 0.375-0.5 s for the first retry; both send ``x-stainless-retry-count``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest

from fakellm import Server
from fakellm.tokens import tokenize
from tests.helpers import ANTHROPIC_DROP

TEXT = "one two three four five six seven eight"
BEFORE = "".join(tokenize(TEXT)[:3])  # what a fault at token 3 lets through
MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]
MESSAGE = "Try again later"  # the error event's message, which both SDKs must surface

# -- the drivers: each returns what the stream ended with, appending the text it delivered -----------

Parts = list[str]


def responses_create(c: openai.OpenAI, parts: Parts) -> object:
    status = None
    for event in c.responses.create(model="gpt-4o", input="Hi", stream=True):
        if event.type == "response.output_text.delta":
            parts.append(event.delta)
        elif event.type == "response.completed":
            status = event.response.status
    return status


async def aresponses_create(c: openai.AsyncOpenAI, parts: Parts) -> object:
    status = None
    async for event in await c.responses.create(model="gpt-4o", input="Hi", stream=True):
        if event.type == "response.output_text.delta":
            parts.append(event.delta)
        elif event.type == "response.completed":
            status = event.response.status
    return status


def responses_stream(c: openai.OpenAI, parts: Parts) -> object:
    with c.responses.stream(model="gpt-4o", input="Hi") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                parts.append(event.delta)
        final = stream.get_final_response()
    return final.output_text, final.status


async def aresponses_stream(c: openai.AsyncOpenAI, parts: Parts) -> object:
    async with c.responses.stream(model="gpt-4o", input="Hi") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                parts.append(event.delta)
        final = await stream.get_final_response()
    return final.output_text, final.status


def messages_stream(c: anthropic.Anthropic, parts: Parts) -> object:
    with c.messages.stream(model="claude-x", max_tokens=100, messages=MESSAGES) as stream:
        parts.extend(stream.text_stream)
        final = stream.get_final_message()
    block = final.content[0]
    return (block.text if block.type == "text" else None), final.stop_reason


async def amessages_stream(c: anthropic.AsyncAnthropic, parts: Parts) -> object:
    async with c.messages.stream(model="claude-x", max_tokens=100, messages=MESSAGES) as stream:
        async for text in stream.text_stream:
            parts.append(text)
        final = await stream.get_final_message()
    block = final.content[0]
    return (block.text if block.type == "text" else None), final.stop_reason


def messages_create(c: anthropic.Anthropic, parts: Parts) -> object:
    reason = None
    for event in c.messages.create(model="claude-x", max_tokens=100, messages=MESSAGES, stream=True):
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            parts.append(event.delta.text)
        elif event.type == "message_delta":
            reason = event.delta.stop_reason
    return reason


async def amessages_create(c: anthropic.AsyncAnthropic, parts: Parts) -> object:
    reason = None
    stream = await c.messages.create(model="claude-x", max_tokens=100, messages=MESSAGES, stream=True)
    async for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            parts.append(event.delta.text)
        elif event.type == "message_delta":
            reason = event.delta.stop_reason
    return reason


def completions_create(c: openai.OpenAI, parts: Parts) -> object:
    reason = None
    for chunk in c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi", stream=True):
        if chunk.choices:
            parts.append(chunk.choices[0].text)
            reason = chunk.choices[0].finish_reason or reason
    return reason


async def acompletions_create(c: openai.AsyncOpenAI, parts: Parts) -> object:
    reason = None
    async for chunk in await c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi", stream=True):
        if chunk.choices:
            parts.append(chunk.choices[0].text)
            reason = chunk.choices[0].finish_reason or reason
    return reason


def embeddings_create(c: openai.OpenAI, parts: Parts) -> object:
    answer = c.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    return [len(d.embedding) for d in answer.data]


async def aembeddings_create(c: openai.AsyncOpenAI, parts: Parts) -> object:
    answer = await c.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    return [len(d.embedding) for d in answer.data]


@dataclass(frozen=True)
class Call:
    name: str
    sdk: str  # "openai" or "anthropic"
    format: str  # the journal's entry.format
    sync: Callable[[Any, Parts], object]
    aio: Callable[[Any, Parts], Awaitable[object]]
    ends: object  # what the driver returns for a passing stream
    streamed: bool = True


CALLS = [
    Call("responses.create", "openai", "openai.responses", responses_create, aresponses_create, "completed"),
    Call(
        "responses.stream",
        "openai",
        "openai.responses",
        responses_stream,
        aresponses_stream,
        (TEXT, "completed"),
    ),
    Call(
        "messages.stream",
        "anthropic",
        "anthropic.messages",
        messages_stream,
        amessages_stream,
        (TEXT, "end_turn"),
    ),
    Call("messages.create", "anthropic", "anthropic.messages", messages_create, amessages_create, "end_turn"),
    Call(
        "completions.create",
        "openai",
        "openai.completions",
        completions_create,
        acompletions_create,
        "stop",
    ),
    Call(
        "embeddings.create",
        "openai",
        "openai.embeddings",
        embeddings_create,
        aembeddings_create,
        [1536, 1536],
        streamed=False,
    ),
]
STREAMED = [c for c in CALLS if c.streamed]


@dataclass
class Outcome:
    ends: object  # what the driver returned (None when it raised)
    text: str  # the text delivered before the end or the error
    error: BaseException | None
    seconds: float


def client(call: Call, server: Server, flavour: str, faults: str, max_retries: int) -> Any:
    kwargs: dict[str, Any] = {
        "api_key": "sk-test",
        "timeout": 5,
        "max_retries": max_retries,
        "default_headers": {"X-FakeLLM-Faults": faults} if faults else None,
    }
    if call.sdk == "anthropic":
        cls: Any = anthropic.AsyncAnthropic if flavour == "async" else anthropic.Anthropic
        return cls(base_url=server.url, **kwargs)
    cls = openai.AsyncOpenAI if flavour == "async" else openai.OpenAI
    return cls(base_url=server.base_url, **kwargs)


async def run(call: Call, server: Server, flavour: str, faults: str = "", max_retries: int = 0) -> Outcome:
    """One call through the SDK, sync (in this thread: the server runs in its own) or async."""
    parts: Parts = []
    ends: object = None
    error: BaseException | None = None
    started = time.monotonic()
    c = client(call, server, flavour, faults, max_retries)
    try:
        if flavour == "async":
            async with c:
                ends = await call.aio(c, parts)
        else:
            with c:
                ends = call.sync(c, parts)
    except Exception as exc:
        error = exc
    return Outcome(ends, "".join(parts), error, time.monotonic() - started)


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    return make_server(
        seed=11,
        scenarios=[{"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 0, "itl_ms": 0}}],
    )


FLAVOURS = pytest.mark.parametrize("flavour", ["sync", "async"])


def ids(calls: list[Call]) -> list[str]:
    return [c.name for c in calls]


@FLAVOURS
@pytest.mark.parametrize("call", CALLS, ids=ids(CALLS))
@pytest.mark.asyncio
async def test_passing(server: Server, call: Call, flavour: str) -> None:
    got = await run(call, server, flavour)
    assert got.error is None and got.ends == call.ends
    if call.streamed:
        assert got.text == TEXT
    entry = server.journal.last
    assert entry is not None and (entry.format, entry.outcome) == (call.format, "completed")
    # the client really was the flavour under test (the SDKs say so in every request)
    assert entry.headers["x-stainless-async"] == ("async:asyncio" if flavour == "async" else "false")


@FLAVOURS
@pytest.mark.parametrize("call", STREAMED, ids=ids(STREAMED))
@pytest.mark.asyncio
async def test_mid_stream_error(server: Server, call: Call, flavour: str) -> None:
    got = await run(call, server, flavour, f'error_event@3 message="{MESSAGE}"')
    assert got.ends is None and got.text == BEFORE
    if call.sdk == "anthropic":
        assert isinstance(got.error, anthropic.APIStatusError)
        assert got.error.status_code == 200  # the error came inside the stream
        assert got.error.body == {"type": "error", "error": {"type": "overloaded_error", "message": MESSAGE}}
    else:
        assert isinstance(got.error, openai.APIError)
        assert not isinstance(got.error, openai.APIStatusError)
        assert got.error.message == MESSAGE
    entry = server.journal.last
    assert entry is not None and (entry.format, entry.outcome) == (call.format, "error_event")
    assert entry.text == BEFORE


@FLAVOURS
@pytest.mark.parametrize("call", STREAMED, ids=ids(STREAMED))
@pytest.mark.asyncio
async def test_dropped_connection(server: Server, call: Call, flavour: str) -> None:
    got = await run(call, server, flavour, "drop@3")
    assert got.ends is None and got.text == BEFORE
    if call.sdk == "anthropic":
        # up to 2.16 anthropic did not wrap a transport error raised once the stream had started
        assert isinstance(got.error, ANTHROPIC_DROP)
    else:
        assert isinstance(got.error, openai.APIConnectionError)
        assert not isinstance(got.error, openai.APITimeoutError)
    entry = server.journal.last
    assert entry is not None and (entry.format, entry.outcome) == (call.format, "dropped")


@pytest.mark.parametrize("after", ["retry_after_ms=10", "retry_after_s=0.01"])
@FLAVOURS
@pytest.mark.parametrize("call", CALLS, ids=ids(CALLS))
@pytest.mark.asyncio
async def test_429_is_retried(server: Server, call: Call, flavour: str, after: str) -> None:
    got = await run(call, server, flavour, f"http_error 429 times=1 {after}", max_retries=1)
    assert got.error is None and got.ends == call.ends
    if call.streamed:
        assert got.text == TEXT
    entries = server.journal.entries()
    assert [(e.status, e.outcome) for e in entries] == [(429, "http_error"), (200, "completed")]
    assert [e.headers.get("x-stainless-retry-count") for e in entries] == ["0", "1"]
    assert all(e.format == call.format for e in entries)


# One call per SDK: the header is the SDK's to read, whatever the call.
HONOUR = [CALLS[0], next(c for c in CALLS if c.sdk == "anthropic")]


@pytest.mark.parametrize("after", ["retry_after_ms=1000", "retry_after_s=1"])
@pytest.mark.parametrize("call", HONOUR, ids=ids(HONOUR))
@pytest.mark.asyncio
async def test_the_sdks_wait_as_long_as_retry_after_says(server: Server, call: Call, after: str) -> None:
    """A lower bound, so that a loaded machine cannot fail it: the SDKs' own first backoff is
    0.375-0.5 s, so a retry a second later honoured the header (a bound from above, on a 10 ms
    header, was flaky under load)."""
    got = await run(call, server, "sync", f"http_error 429 times=1 {after}", max_retries=1)
    assert got.error is None
    first, second = server.journal.entries()
    assert second.time - first.time >= 0.9, f"the SDK retried after {second.time - first.time:.3f} s"


@FLAVOURS
@pytest.mark.parametrize("call", CALLS, ids=ids(CALLS))
@pytest.mark.asyncio
async def test_429_without_retries_raises_rate_limit_error(server: Server, call: Call, flavour: str) -> None:
    got = await run(call, server, flavour, "http_error 429 times=1 retry_after_ms=10")
    sdk: Any = anthropic if call.sdk == "anthropic" else openai
    assert isinstance(got.error, sdk.RateLimitError) and got.error.status_code == 429
    # the error body is the route's format's
    if call.sdk == "anthropic":
        assert got.error.type == "rate_limit_error"
        assert got.error.request_id is not None and got.error.request_id.startswith("req_")
    else:
        assert got.error.code == "rate_limit_exceeded"
    assert got.text == "" and len(server.journal) == 1
