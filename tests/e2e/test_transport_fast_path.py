"""The transport's fast paths: body chunks written straight onto hypercorn's HTTP/1.1 connection,
a stream's schedule started when its request was read off the connection, and one timer for all
the streams due in the same tick.

The first two lean on hypercorn and h11 internals (``_DirectWriter.of``, ``arrival``), so these
tests pin them against the real hypercorn: the way from ASGI ``send`` to the connection is still
there, the bytes are the ones h11 would have written, a reader that stops reading holds the stream
back instead of filling the server's memory, a client that leaves while the server is writing ends
the stream cleanly, and a request's arrival is the read that brought it. The timer must wake every
stream that shares a tick, never before its time, whatever happened to the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypercorn.asyncio import serve

from fakellm import Server, scenario_from_dict
from fakellm.clock import now
from fakellm.server import _hypercorn_config, bind_socket
from fakellm.transport import _DirectWriter, arrival
from tests.helpers import chat_body, content_of, raw_request, read_response

MakeServer = Callable[..., Server]


class _ProbeApp:
    """A bare ASGI app: after the head, it asks for the fast path and writes through it if found."""

    def __init__(self) -> None:
        self.found: list[bool] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        direct = _DirectWriter.of(send)
        self.found.append(direct is not None)
        if direct is not None:
            assert direct.ready()
            assert direct.write(b"data: one\n\n")
        else:
            await send({"type": "http.response.body", "body": b"data: one\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"data: two\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _ArrivalApp:
    """A bare ASGI app that notes, for every request, its ``arrival`` and when it was called."""

    def __init__(self) -> None:
        self.seen: list[tuple[float | None, float]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.seen.append((arrival(send), now()))
        while (await receive()).get("more_body"):
            pass
        await asyncio.sleep(0.01)  # answered a while after it was read
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok", "more_body": False})


@contextlib.contextmanager
def _serve(app: Any) -> Iterator[int]:
    sock = bind_socket("127.0.0.1", 0)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def _run() -> None:
        asyncio.set_event_loop(loop)
        # Hypercorn as fakellm configures it.
        loop.run_until_complete(serve(app, _hypercorn_config(sock, 1.0), shutdown_trigger=stop.wait))

    thread = threading.Thread(target=_run, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
    sock.close()


@pytest.fixture
def probe() -> Iterator[tuple[_ProbeApp, int]]:
    app = _ProbeApp()
    with _serve(app) as port:
        yield app, port


def test_a_request_arrives_when_the_read_that_brought_it_ends() -> None:
    app = _ArrivalApp()
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    sent: list[float] = []
    with _serve(app) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for _ in range(3):
                sent.append(now())
                sock.sendall(request)
                assert read_response(sock)[1] == b"ok"
            sent.append(now())
            sock.sendall(request * 2)  # pipelined: two requests, one read
            assert read_response(sock)[1] == b"ok"
            assert read_response(sock)[1] == b"ok"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            assert read_response(sock)[1] == b"ok"
    arrivals = [arrived for arrived, _ in app.seen]
    # Not known for the first request of a connection (its reader is wrapped then), nor for the
    # second of two requests that came in one read.
    assert [a is None for a in arrivals] == [True, False, False, False, True, True]
    for i in (1, 2, 3):
        arrived, called = app.seen[i]
        assert arrived is not None
        assert sent[i] <= arrived <= called  # after the client sent it, before the app was called


def test_hypercorn_http11_chunked_body_takes_the_fast_path(probe: tuple[_ProbeApp, int]) -> None:
    app, port = probe
    response = raw_request(port, None, method="GET", path="/")
    assert app.found == [True]
    assert response.terminated
    # Framed exactly as h11 frames the chunk that followed it through ASGI.
    assert b"".join(response.reads) == b"b\r\ndata: one\n\n\r\nb\r\ndata: two\n\n\r\n0\r\n\r\n"


def test_http10_body_is_not_chunked_and_takes_the_asgi_path(probe: tuple[_ProbeApp, int]) -> None:
    app, port = probe
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        raw = b""
        while data := sock.recv(65536):
            raw += data
    assert app.found == [False]
    assert raw.partition(b"\r\n\r\n")[2] == b"data: one\n\ndata: two\n\n"


LONG_TEXT = " word" * 20_000  # ~5 MB of chunks: far more than the socket buffers hold


def _open_stream(port: int, model: str = "m") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = b'{"model":"%b","messages":[{"role":"user","content":"hi"}],"stream":true}' % model.encode()
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
    )
    return sock


def test_a_reader_that_stops_reading_holds_the_stream_back(make_server: MakeServer) -> None:
    server = make_server(scenarios=[{"name": "default", "content": {"text": LONG_TEXT}}])
    sock = _open_stream(server.port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    try:
        time.sleep(0.5)  # not reading: the server must wait for us, not buffer the whole stream
        entry = server.journal.last
        assert entry is not None and entry.outcome == "streaming"
        assert entry.tokens_sent < 20_000
        raw = b""
        while not raw.endswith(b"0\r\n\r\n"):
            data = sock.recv(1 << 20)
            assert data, "the server closed the stream early"
            raw += data
    finally:
        sock.close()
    body = b"".join(_dechunk(raw.partition(b"\r\n\r\n")[2]))
    assert content_of(body) == LONG_TEXT
    assert body.endswith(b"data: [DONE]\n\n")
    deadline = time.monotonic() + 5
    while server.journal.last is not None and server.journal.last.outcome == "streaming":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert server.journal.last is not None and server.journal.last.outcome == "completed"


def test_a_client_that_leaves_while_the_server_writes(make_server: MakeServer) -> None:
    server = make_server(scenarios=[{"name": "default", "content": {"text": LONG_TEXT}}])
    sock = _open_stream(server.port)
    assert sock.recv(4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, while the server is writing back to back (no itl)
    deadline = time.monotonic() + 5
    while (entry := server.journal.last) is not None and entry.outcome == "streaming":
        assert time.monotonic() < deadline, "the stream never ended"
        time.sleep(0.01)
    assert entry is not None and entry.outcome == "client_disconnected"
    assert entry.tokens_sent < 20_000
    assert len(server.state.streams) == 0
    assert server.state.internal_errors == []
    # The server goes on serving.
    server.state.script([scenario_from_dict({"name": "default", "content": {"text": "Still here."}})])
    assert content_of(raw_request(server.port, chat_body()).body) == "Still here."


def _dechunk(raw: bytes) -> Iterator[bytes]:
    pos = 0
    while True:
        end = raw.index(b"\r\n", pos)
        size = int(raw[pos:end], 16)
        if size == 0:
            return
        yield raw[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


def test_streams_sharing_ticks_all_arrive_on_time(make_server: MakeServer) -> None:
    text = " tick" * 10
    timing = {"ttft_ms": 100, "itl_ms": 10}
    server = make_server(
        scenarios=[
            {"name": "default", "content": {"text": text}, "timing": timing},
            {"name": "leaver", "content": {"text": " tick" * 60}, "timing": timing},
        ]
    )
    # Shares the wake-ups, then goes away after its first token, long before its stream would end
    # (however late this busy process gets round to closing it).
    leaver = _open_stream(server.port, model="leaver")
    results: list[str] = []

    def _one() -> None:
        results.append(content_of(raw_request(server.port, chat_body()).body))

    threads = [threading.Thread(target=_one) for _ in range(20)]
    for thread in threads:
        thread.start()
    seen = b""
    while b"tick" not in seen:
        data = leaver.recv(65536)
        assert data, "the server closed the leaver's stream"
        seen += data
    leaver.close()
    for thread in threads:
        thread.join(10)
    assert results == [text] * 20
    entries = [e for e in server.journal if e.outcome == "completed"]
    assert len(entries) == 20
    left = [e for e in server.journal if e.scenario == "leaver"]
    assert len(left) == 1 and left[0].outcome == "client_disconnected"
    for entry in entries:
        # Never before due (ttft, then 9 gaps), within a generous bound on a shared machine.
        assert entry.first_token_ms is not None and 100 <= entry.first_token_ms < 100 + 500
        assert entry.duration_ms is not None and 100 + 9 * 10 <= entry.duration_ms < 190 + 1000
