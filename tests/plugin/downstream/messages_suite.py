"""Assertion messages say what was scripted, what the server did and what the client did, and never
contradict the script (run by tests/plugin/test_messages.py; every test here passes when the
message is right)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

import pytest_fakellm
from pytest_fakellm import FakeLLM, assert_accumulated, assert_error_event

TEXT = "one two three four five six seven eight"


def pieces(client: Any) -> Iterator[str]:
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


async def apieces(client: Any) -> AsyncIterator[str]:
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def message(check: Any, *args: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(AssertionError) as failed:
        check(*args, **kwargs)
    text = str(failed.value)
    print(text)  # shown by -rA when the outer test fails
    return text.splitlines()


# -- assert_error_event on a stream the test scripted without an error --------------------------------


def test_error_event_on_a_truncation_names_the_truncation(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults="truncate@3")
    lines = message(assert_error_event, fakellm.record(pieces(fakellm.openai_client())))
    assert lines[0] == (
        "fakellm: the server did not end this stream with an error, so the client had none to surface."
    )
    assert lines[1] == "  scripted: faults truncate@3"
    assert lines[2].startswith(
        "  server: ended the body cleanly without a finish chunk or [DONE] (a truncation, not an error), "
        "after 3 tokens (13 characters); stream #0 "
    )
    assert lines[2].endswith("outcome 'truncated', faults fired: truncate at token 3")
    assert lines[3] == (
        "  client: 3 items (3 with text, kind 'text'), 13 characters, then its iteration ended without an "
        "error"
    )
    assert lines[4] == (
        "  truncate does not end a stream with an error; to test error handling, script a fault that does: "
        "error_event@5, drop@5 or http_error 500."
    )
    assert "Script one" not in "\n".join(lines)


def test_error_event_on_a_stall_names_the_stall(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults=["stall@2 duration_ms=50"])
    lines = message(assert_error_event, fakellm.record(pieces(fakellm.openai_client())))
    assert lines[1] == "  scripted: faults stall@2 duration_ms=50"
    assert lines[2].startswith(
        "  server: stalled, then completed the stream (a finish chunk and [DONE]), after 8 tokens"
    )
    assert "faults fired: stall (50ms) at token 2" in lines[2]
    assert lines[3].endswith("then its iteration ended without an error")
    assert lines[4].startswith("  stall does not end a stream with an error; to test error handling")


def test_error_event_on_an_error_fault_that_did_not_fire(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults="error_event@5 probability=0")
    lines = message(assert_error_event, fakellm.record(pieces(fakellm.openai_client())))
    assert lines[1] == "  scripted: faults error_event@5 probability=0"
    assert lines[2].endswith("faults fired: none")
    assert lines[4] == (
        "  The scripted error_event did not fire on this stream (its probability or times= left this "
        "request out, or an earlier fault ended the stream first)."
    )


def test_error_event_with_nothing_scripted(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT)
    lines = message(assert_error_event, fakellm.record(pieces(fakellm.openai_client())))
    assert lines[1] == "  scripted: faults none"
    assert lines[4].startswith(
        "  No fault was scripted: script one that ends the stream with an error, e.g. "
    )


# -- the recording summary and the text difference agree -----------------------------------------------


def test_a_client_that_loses_the_tail_is_not_said_to_have_completed(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT)

    def loses_the_tail(client: Any) -> Iterator[str]:
        for piece in pieces(client):
            if piece.strip() == "seven":
                return  # the bug: stops reading, no error
            yield piece

    lines = message(assert_accumulated, fakellm.record(loses_the_tail(fakellm.openai_client())))
    text = "\n".join(lines)
    assert "  the client's text lacks the last 12 characters of the server's" in lines
    assert lines[-1] == (
        "  client: 6 items (6 with text, kind 'text'), 27 characters, then its iteration ended without an "
        "error"
    )
    assert "server: completed the stream (a finish chunk and [DONE]), after 8 tokens" in text
    assert "stopped early" not in text and "then completed" not in text


# -- record() and arecord() with the wrong kind of iterable -------------------------------------------


def test_record_refuses_an_async_iterable(fakellm: FakeLLM) -> None:
    client = fakellm.async_openai_client()
    with pytest.raises(
        TypeError,
        match=r"^fakellm\.record\(\) got an async iterable \(async_generator\), "
        r"which it cannot read: use `await fakellm\.arecord\(\.\.\.\)` in an async test$",
    ):
        fakellm.record(apieces(client))
    with pytest.raises(
        TypeError,
        match=r"^pytest_fakellm\.record\(\) got an async iterable .*"
        r"use `await pytest_fakellm\.arecord\(\.\.\.\)`",
    ):
        pytest_fakellm.record(apieces(client))
    fakellm.assert_all_requested = True  # nothing was requested: the generators never started
    assert len(fakellm.journal) == 0


def test_record_refuses_an_awaitable(fakellm: FakeLLM) -> None:
    async def later() -> list[str]:
        return ["never"]

    coroutine = later()
    with pytest.raises(
        TypeError,
        match=r"got an awaitable \(coroutine\), not an iterable: use "
        r"`await fakellm\.arecord\(\.\.\.\)`, which awaits it",
    ):
        fakellm.record(coroutine)
    coroutine.close()


@pytest.mark.asyncio
async def test_arecord_reads_a_sync_iterable_off_the_loop(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, ttft_ms=150)  # the sync client blocks in a read for 150 ms
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    recording = await fakellm.arecord(pieces(fakellm.openai_client()))  # a sync client, blocking reads
    task.cancel()
    assert recording.text == TEXT and recording.completed
    assert ticks >= 3  # the loop ran while the sync client waited (on the loop: no tick at all)
    assert_accumulated(recording)


@pytest.mark.asyncio
async def test_arecord_awaits_an_awaitable(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, ttft_ms=100)
    client = fakellm.async_openai_client()
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    recording = await fakellm.arecord(stream)  # the coroutine, not awaited: the request is recorded
    assert recording.kind == "chunks" and recording.text == TEXT
    assert recording.ttft_ms is not None and recording.ttft_ms >= 90
    assert_accumulated(recording)
    with pytest.raises(TypeError, match=r"takes an iterable \(what the code under test yields\), got int"):
        await fakellm.arecord(42)  # type: ignore[arg-type]


def test_sync_recording_of_an_openai_v1_async_stream_is_refused(fakellm: FakeLLM) -> None:
    async def make() -> Any:
        return await fakellm.async_openai_client().chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
        )

    loop = asyncio.new_event_loop()
    try:
        stream = loop.run_until_complete(make())
        assert isinstance(stream, openai.AsyncStream)
        with pytest.raises(TypeError, match=r"got an async iterable \(AsyncStream\)"):
            fakellm.record(stream)
        loop.run_until_complete(stream.close())
    finally:
        loop.close()
