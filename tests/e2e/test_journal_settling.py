"""A journal entry whose stream the client has finished shows its final outcome (issue 10, defect 2).

The openai SDK stops reading at ``data: [DONE]``, before the chunked terminator: a test that reads
the journal right after its loop used to find ``"streaming"`` now and then (the outcome was written
after the last frame). Each stream here is read to ``[DONE]`` and the journal read at once.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import openai
import pytest

from fakellm import ProxyServer, Server
from fakellm.journal import Journal
from pytest_fakellm import FakeLLM
from tests.helpers import chat_body

MakeServer = Callable[..., Server]
MakeProxy = Callable[..., ProxyServer]

RUNS = 300
TEXT = "one two three four five"


def _fast(make_server: MakeServer) -> Server:
    return make_server(
        scenarios=[{"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 0, "itl_ms": 0}}]
    )


def _read_to_done(port: int, body: bytes) -> bytes:
    """POST a stream and read it up to and including ``data: [DONE]``, then stop, as the SDK does."""
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        got = b""
        while b"data: [DONE]\n\n" not in got:
            data = sock.recv(65536)
            assert data, f"the stream ended before [DONE]: {got!r}"
            got += data
        return got


def _assert_final(journal: Journal, outcome: str = "completed") -> None:
    entry = journal.last
    assert entry is not None
    assert entry.outcome == outcome
    assert entry.duration_ms is not None
    assert entry.text == TEXT or outcome != "completed"


def test_the_sdk_never_finds_a_stream_still_streaming(make_server: MakeServer) -> None:
    server = _fast(make_server)
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    seen: list[str] = []
    for _ in range(RUNS):
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == TEXT
        entry = server.journal.last
        assert entry is not None
        seen.append(entry.outcome)
        _assert_final(server.journal)
    assert set(seen) == {"completed"}


def test_a_raw_client_stopping_at_done_never_finds_it_streaming(make_server: MakeServer) -> None:
    server = _fast(make_server)
    body = json.dumps(chat_body(stream_options={"include_usage": True})).encode()
    for _ in range(RUNS):
        got = _read_to_done(server.port, body)
        entries = server.journal.entries()  # entries() and iteration wait as .last does
        assert entries[-1].outcome == "completed", got
        assert entries[-1].bytes_sent > 0


@pytest.mark.parametrize(
    ("faults", "outcome"),
    [("error_event@2 then=done", "error_event"), ("stall@1 duration_ms=1", "stalled_then_completed")],
)
def test_a_faulted_stream_shows_how_it_ended(make_server: MakeServer, faults: str, outcome: str) -> None:
    server = _fast(make_server)
    body = json.dumps(chat_body()).encode()
    head_faults = f"X-FakeLLM-Faults: {faults}\r\n"
    for _ in range(50):
        request = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{head_faults}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(request + body)
            got = b""
            while b"data: [DONE]\n\n" not in got:
                data = sock.recv(65536)
                assert data
                got += data
            _assert_final(server.journal, outcome)


@pytest.mark.parametrize(
    ("faults", "until", "outcome"),
    [
        ("error_event@2 then=hold", b'"error"', "error_event"),  # the content ended with the error
        ("stall@2 duration_ms=null", b'"one"', "streaming"),  # still going, as far as anyone knows
        ("stall@99 duration_ms=1500", b' five"', "streaming"),  # the end is due later: no wait yet
    ],
)
def test_a_held_stream_does_not_make_readers_wait(
    make_server: MakeServer, faults: str, until: bytes, outcome: str
) -> None:
    """A stream that sends nothing more and stays open: the entry says how it stands at once, and
    reading the journal does not wait for a stream that will not close."""
    server = _fast(make_server)
    body = json.dumps(chat_body()).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"X-FakeLLM-Faults: {faults}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request + body)
        got = b""
        while until not in got:
            data = sock.recv(65536)
            assert data
            got += data
        time.sleep(0.05)  # the server is at the hold by now
        start = time.monotonic()
        for _ in range(20):
            entry = server.journal.last
            assert entry is not None and entry.outcome == outcome
        assert time.monotonic() - start < 0.5


def test_the_proxy_never_finds_a_stream_still_streaming(
    make_server: MakeServer, make_proxy: MakeProxy
) -> None:
    upstream = _fast(make_server)
    proxy = make_proxy(upstream.url)
    client = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
    for _ in range(100):
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == TEXT
        _assert_final(proxy.journal)


def _answer(client: openai.OpenAI) -> Iterator[str]:
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


@pytest.mark.fakellm(text=TEXT, ttft_ms=0, itl_ms=0)
def test_through_the_plugin_and_its_recordings(fakellm: FakeLLM) -> None:
    client = fakellm.openai_client(max_retries=0)
    for _ in range(RUNS):
        recording = fakellm.record(_answer(client))
        assert recording.text == TEXT
        assert recording.entry is not None and recording.entry.outcome == "completed"
        last = fakellm.journal.last
        assert last is not None and last.outcome == "completed"
