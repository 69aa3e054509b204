"""The chat endpoint is served without Quart (``fakellm/endpoint.py``): what Quart did for it still
happens. The request body is read however it comes, within the limits (413, 408); a client that
leaves halfway through its request is journaled, not an error; a bug is an OpenAI-shaped 500 that
the plugin sees; every answer, stream or error, carries the CORS headers a browser needs; header
names are case-insensitive."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from fakellm import Scenario, Server, ServerConfig, scenario_from_dict
from fakellm.endpoint import MAX_BODY_BYTES
from tests.helpers import chat_body, content_of, raw_request, sse_data

from ..conftest import FAST_TEXT

MakeServer = Callable[..., Server]

HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _wait_for_entry(server: Server, outcome: str) -> Any:
    deadline = time.monotonic() + 5
    while (entry := server.journal.last) is None or entry.outcome != outcome:
        assert time.monotonic() < deadline, f"journal: {entry}"
        time.sleep(0.01)
    return entry


def test_a_chunked_request_body_in_pieces_is_read_whole(server: Server) -> None:
    payload = json.dumps(chat_body()).encode()
    pieces = [payload[:7], payload[7:20], payload[20:]]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(HEAD + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for piece in pieces:
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
            time.sleep(0.02)  # separate reads on the server
        sock.sendall(b"0\r\n\r\n")
        data = _read_all(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"data: [DONE]" in body
    entry = server.journal.last
    assert entry is not None and entry.outcome == "completed" and entry.request == chat_body()


def test_a_chunked_body_that_grows_too_large_is_a_413(server: Server) -> None:
    # No Content-Length to refuse from the head: the server counts as the body comes, and answers
    # once it passes the limit, without reading the rest.
    piece = b"x" * (1 << 20)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")

        def _send() -> None:
            with contextlib.suppress(OSError):  # the server stops reading, then closes
                for _ in range(MAX_BODY_BYTES // len(piece) + 2):
                    sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))

        sender = threading.Thread(target=_send, daemon=True)
        sender.start()
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while b"}}" not in data and (chunk := sock.recv(65536)):
                data += chunk
        sender.join(10)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), data[:200]
    assert json.loads(body)["error"]["code"] == "request_too_large"
    entry = server.journal.last
    assert entry is not None and entry.status == 413 and entry.outcome == "rejected"
    assert content_of(raw_request(server.port, chat_body()).body) == FAST_TEXT
    assert server.state.internal_errors == []


def test_a_body_that_does_not_arrive_in_time_is_a_408() -> None:
    quick = scenario_from_dict({"name": "default", "content": {"text": FAST_TEXT}})
    with Server(config=ServerConfig(port=0, scenarios=(quick,), body_timeout_s=0.3)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(HEAD + b"Content-Length: 100\r\n\r\n{")  # and then nothing
            started = time.monotonic()
            data = _read_all(sock)
            assert time.monotonic() - started < 5
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408")
        error = json.loads(body)["error"]
        assert list(error) == ["message", "type", "param", "code"] and error["code"] == "request_timeout"
        entry = server.journal.last
        assert entry is not None and entry.status == 408 and entry.outcome == "rejected"
        assert content_of(raw_request(server.port, chat_body()).body) == FAST_TEXT  # still serving
        assert server.state.internal_errors == []


def test_a_client_that_leaves_halfway_through_its_request(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(HEAD + b'Content-Length: 500\r\n\r\n{"model": "m", "mess')
        time.sleep(0.1)
    entry = _wait_for_entry(server, "client_disconnected")
    assert entry.status == 0 and entry.tokens_sent == 0
    assert server.state.internal_errors == []
    assert len(server.state.streams) == 0
    assert content_of(raw_request(server.port, chat_body()).body) == FAST_TEXT


class _Broken:
    """Scenario content with a bug in it (content is user code, scripted through Scenario)."""

    def text(self, request: dict[str, Any], rng: random.Random) -> str:
        raise ZeroDivisionError("a bug in the content")


def test_a_bug_is_an_openai_shaped_500_that_the_server_survives(make_server: MakeServer) -> None:
    server = make_server(
        scenarios=[
            Scenario(name="broken", content=_Broken()),
            {"name": "default", "content": {"text": FAST_TEXT}},
        ]
    )
    response = raw_request(server.port, chat_body(model="broken"), headers={"Origin": "http://app.test"})
    assert response.status == 500
    error = json.loads(response.body)["error"]
    assert error["type"] == "server_error" and list(error) == ["message", "type", "param", "code"]
    assert "Traceback" not in response.body.decode()
    assert response.headers["access-control-allow-origin"] == "http://app.test"
    assert response.headers["x-request-id"].startswith("req_")
    assert len(server.state.internal_errors) == 1
    assert "ZeroDivisionError: a bug in the content" in server.state.internal_errors[0]
    assert content_of(raw_request(server.port, chat_body(model="gpt-4o")).body) == FAST_TEXT


def test_streams_and_errors_carry_the_cors_headers(server: Server) -> None:
    origin = {"Origin": "http://localhost:5173"}
    stream = raw_request(server.port, chat_body(), headers=origin)
    refused = raw_request(server.port, b"{", headers=origin)
    assert stream.status == 200 and refused.status == 400
    for response in (stream, refused):
        assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert response.headers["access-control-allow-credentials"] == "true"
        assert response.headers["vary"] == "Origin"
        assert "x-request-id" in response.headers["access-control-expose-headers"]
    # Without an Origin (not a browser): a wildcard, and no Vary.
    plain = raw_request(server.port, chat_body())
    assert plain.headers["access-control-allow-origin"] == "*" and "vary" not in plain.headers


def test_header_names_are_case_insensitive(server: Server) -> None:
    response = raw_request(
        server.port, chat_body(), headers={"X-FAKELLM-SCENARIO": "slow-start", "x-fakellm-ttft-ms": "0"}
    )
    assert response.headers["x-fakellm-scenario"] == "slow-start"
    assert content_of(response.body) == "Slow start."
    assert sse_data(response.body)[-1] == "[DONE]"


# -- the request target ------------------------------------------------------------------------------


def test_an_absolute_form_target_is_served_like_the_origin_form(server: Server) -> None:
    """RFC 9112 §3.2.2: a server must accept ``POST http://host/v1/chat/completions``, as clients
    configured with fakellm as an HTTP proxy send it."""
    origin = raw_request(server.port, chat_body())
    absolute = raw_request(
        server.port, chat_body(), path=f"http://127.0.0.1:{server.port}/v1/chat/completions"
    )
    assert absolute.status == 200 and absolute.terminated
    assert content_of(absolute.body) == content_of(origin.body) == FAST_TEXT
    entry = server.journal.last
    assert entry is not None and entry.path == "/v1/chat/completions"
    assert entry.headers["host"] == f"127.0.0.1:{server.port}"  # the target's host wins over Host
    # The other routes too, and a query string stays a query string.
    health = raw_request(server.port, method="GET", path="HTTP://elsewhere.invalid/_fakellm/health?x=1")
    assert health.status == 200 and json.loads(health.body)["status"] == "ok"
    assert not server.state.internal_errors


@pytest.mark.parametrize(
    "path",
    ["/v1/chat/completions#frag", "/v1/chat/completions?x=1#frag", "/v1/models#", "http://h/v1/models#x"],
)
def test_a_fragment_in_the_target_is_a_400(server: Server, path: str) -> None:
    response = raw_request(server.port, chat_body(), path=path)
    assert response.status == 400
    error = json.loads(response.body)["error"]
    assert error["code"] == "invalid_request_target" and "fragment" in error["message"]
    assert set(error) == {"message", "type", "param", "code"}
    assert response.headers["access-control-allow-origin"] == "*"
    assert not server.state.internal_errors
