"""A client with a naive SSE parser, which assert_accumulated catches once the stream is fragmented,
next to correct clients that pass (run by tests/plugin/test_naive_parser.py in both modes)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

from pytest_fakellm import FakeLLM, assert_accumulated, assert_stream_completed

TEXT = "Streaming is hard: a read may end anywhere, even inside «é» or 😀. " * 4
FRAGMENTED = "fragment 1-7 bytes delay_ms=0"
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


def naive(fakellm: FakeLLM) -> Iterator[str]:
    """The classic hand-rolled client: every read split on '\\n', 'data: ' lines parsed as they are,
    no buffer carried from one read to the next."""
    with fakellm.httpx_client() as client, client.stream("POST", "chat/completions", json=BODY) as response:
        for read in response.iter_bytes():
            for line in read.decode("utf-8", errors="replace").split("\n"):
                if line.startswith("data: ") and line != "data: [DONE]":
                    try:
                        payload = json.loads(line[6:])
                    except json.JSONDecodeError:
                        continue  # "skip keep-alives and junk"
                    if payload.get("choices"):
                        yield payload["choices"][0]["delta"].get("content") or ""


def buffered(fakellm: FakeLLM) -> Iterator[str]:
    """The same client, reading whole lines (httpx keeps the partial line between reads)."""
    with fakellm.httpx_client() as client, client.stream("POST", "chat/completions", json=BODY) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                payload = json.loads(line[6:])
                if payload.get("choices"):
                    yield payload["choices"][0]["delta"].get("content") or ""


def sdk(fakellm: FakeLLM) -> Iterator[str]:
    client = fakellm.openai_client()
    with client.chat.completions.create(**BODY) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


async def async_sdk(fakellm: FakeLLM) -> AsyncIterator[str]:
    async with fakellm.async_openai_client() as client:
        stream = await client.chat.completions.create(**BODY)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


def test_naive_passes_whole_events(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, ascii_only=False)
    assert_accumulated(fakellm.record(naive(fakellm)))


def test_naive_is_caught_under_fragmentation(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, ascii_only=False, faults=FRAGMENTED)
    recording = fakellm.record(naive(fakellm))
    assert recording.completed  # the naive client noticed nothing
    assert_accumulated(recording)


def test_buffered_passes_under_fragmentation(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, ascii_only=False, faults=FRAGMENTED)
    assert_accumulated(fakellm.record(buffered(fakellm)))


def test_sdk_passes_under_fragmentation(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, ascii_only=False, faults=FRAGMENTED + " coalesce=true")
    recording = fakellm.record(sdk(fakellm))
    assert_accumulated(recording)
    assert_stream_completed(recording)


async def test_async_sdk_passes_under_fragmentation(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, ascii_only=False, faults=FRAGMENTED)
    assert_accumulated(await fakellm.arecord(async_sdk(fakellm)))
