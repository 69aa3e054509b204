"""The journal: what the server served, read through ``GET /_fakellm/journal`` (newest last, bounded)
and cleared with ``DELETE``; how each stream ended, including a client that leaves mid-stream."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

from fakellm import Server, ServerConfig, scenario_from_dict
from fakellm.tokens import tokenize
from tests.helpers import chat_body, raw_request

from ..conftest import FAST_TEXT

MakeServer = Callable[..., Server]

SLOW_TEXT = " word" * 200
SLOW = {"name": "default", "content": {"text": SLOW_TEXT}, "timing": {"itl_ms": 30}}


def journal(server: Server) -> list[dict[str, Any]]:
    response = raw_request(server.port, None, method="GET", path="/_fakellm/journal")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    entries: list[dict[str, Any]] = json.loads(response.body)
    return entries


def wait_for_outcome(server: Server, index: int = -1, timeout: float = 5.0) -> dict[str, Any]:
    start = time.monotonic()
    while True:
        entry = journal(server)[index]
        if entry["outcome"] != "streaming":
            return entry
        assert time.monotonic() - start < timeout, "the stream never ended"
        time.sleep(0.01)


def test_a_completed_stream(server: Server) -> None:
    body = chat_body(stream_options={"include_usage": True})
    before = time.time()
    response = raw_request(
        server.port, body, headers={"X-FakeLLM-Seed": "31", "Authorization": "Bearer sk-secret-key-123456"}
    )
    (entry,) = journal(server)
    assert before - 1 <= entry["time"] <= time.time()
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/v1/chat/completions", 200)
    assert entry["scenario"] == "default"
    assert entry["seed"] == int(response.headers["x-fakellm-seed"])
    assert entry["request"] == body  # the request body, as sent
    assert entry["model"] == "gpt-4o" and entry["stream"] is True
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["outcome"] == "completed"
    assert entry["tokens_sent"] == len(tokenize(FAST_TEXT))
    assert entry["bytes_sent"] == len(response.body)  # every SSE byte, [DONE] included
    assert entry["text"] == FAST_TEXT
    assert 0 <= entry["first_byte_ms"] <= entry["duration_ms"]
    assert entry["faults"] == [] and entry["error"] is None
    # Credentials are never journaled in the clear.
    assert "sk-secret-key-123456" not in json.dumps(entry)


def test_first_byte_time_follows_ttft(make_server: MakeServer) -> None:
    server = make_server(
        scenarios=[
            {"name": "default", "content": {"text": "a b c"}, "timing": {"ttft_ms": 250, "itl_ms": 10}}
        ]
    )
    raw_request(server.port, chat_body())
    entry = journal(server)[0]
    # Exactly no earlier than due: the journal's times must not read 249.99999999997.
    assert 250 <= entry["first_byte_ms"] < 250 + 300
    assert entry["first_token_ms"] >= entry["first_byte_ms"]
    assert entry["duration_ms"] >= 250 + 2 * 10


def test_a_non_streaming_answer(server: Server) -> None:
    response = raw_request(server.port, chat_body(stream=False))
    entry = journal(server)[0]
    assert entry["stream"] is False and entry["outcome"] == "completed"
    assert entry["tokens_sent"] == len(tokenize(FAST_TEXT))
    assert entry["text"] == FAST_TEXT
    assert entry["bytes_sent"] == len(response.body)
    assert entry["first_byte_ms"] is not None


def test_newest_last_and_delete_clears(server: Server) -> None:
    for i in range(3):
        raw_request(server.port, chat_body(messages=[{"role": "user", "content": f"message {i}"}]))
    entries = journal(server)
    assert [e["request"]["messages"][0]["content"] for e in entries] == [
        "message 0",
        "message 1",
        "message 2",
    ]
    assert [e["index"] for e in entries] == sorted(e["index"] for e in entries)
    deleted = raw_request(server.port, None, method="DELETE", path="/_fakellm/journal")
    assert deleted.status == 204
    assert journal(server) == []
    raw_request(server.port, chat_body())
    assert len(journal(server)) == 1


def test_journal_reads_are_not_journaled(server: Server) -> None:
    journal(server)
    raw_request(server.port, None, method="GET", path="/v1/models")
    assert journal(server) == []


def test_bounded_size(make_server: MakeServer) -> None:
    config = ServerConfig(
        port=0,
        journal_size=5,
        scenarios=(scenario_from_dict({"name": "default", "content": {"text": "hi"}}),),
    )
    server = make_server(config=config)
    for i in range(12):
        raw_request(server.port, chat_body(messages=[{"role": "user", "content": str(i)}]))
    entries = journal(server)
    assert len(entries) == 5
    assert [e["request"]["messages"][0]["content"] for e in entries] == ["7", "8", "9", "10", "11"]


def test_default_journal_is_bounded() -> None:
    assert 0 < ServerConfig().journal_size <= 10_000


def _open_stream(port: int) -> socket.socket:
    payload = json.dumps(chat_body()).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    return sock


def test_a_running_stream_shows_as_streaming(make_server: MakeServer) -> None:
    server = make_server(scenarios=[SLOW])
    sock = _open_stream(server.port)
    try:
        buf = b""
        while buf.count(b'"content":" word"') < 2:
            buf += sock.recv(65536)
        entry = journal(server)[-1]
        assert entry["outcome"] == "streaming"
        assert 2 <= entry["tokens_sent"] < 200
    finally:
        sock.close()


def test_client_disconnected_after_n_tokens(make_server: MakeServer) -> None:
    server = make_server(scenarios=[SLOW])
    sock = _open_stream(server.port)
    received = b""
    while received.count(b'"content":" word"') < 5:
        data = sock.recv(65536)
        assert data
        received += data
    sock.close()
    entry = wait_for_outcome(server)
    assert entry["outcome"] == "client_disconnected"
    # The server may have written a token or two more before it saw the close; never fewer.
    assert 5 <= entry["tokens_sent"] <= 10
    assert entry["text"] == " word" * entry["tokens_sent"]
    assert entry["bytes_sent"] >= len(received.partition(b"\r\n\r\n")[2]) - 200  # minus chunk framing
    assert entry["duration_ms"] is not None and entry["duration_ms"] < 200 * 30
    assert len(server.state.streams) == 0


def test_client_disconnected_before_the_first_token(make_server: MakeServer) -> None:
    server = make_server(scenarios=[{**SLOW, "timing": {"ttft_ms": 5000}}])
    sock = _open_stream(server.port)
    time.sleep(0.2)
    sock.close()
    entry = wait_for_outcome(server)
    assert entry["outcome"] == "client_disconnected"
    assert entry["tokens_sent"] == 0 and entry["first_byte_ms"] is None


def test_client_disconnected_while_a_non_stream_answer_is_pending(make_server: MakeServer) -> None:
    server = make_server(scenarios=[{**SLOW, "timing": {"ttft_ms": 5000}}])
    payload = json.dumps(chat_body(stream=False)).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    time.sleep(0.2)
    sock.close()
    entry = wait_for_outcome(server)
    assert entry["outcome"] == "client_disconnected"
    assert entry["tokens_sent"] == 0
    assert len(server.state.streams) == 0


def test_shutdown_ends_a_pending_non_stream_answer_promptly() -> None:
    server = Server(scenarios=[{**SLOW, "timing": {"ttft_ms": 30_000}}]).start()
    try:
        payload = json.dumps(chat_body(stream=False)).encode()
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        deadline = time.monotonic() + 5
        while len(server.state.streams) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2.0
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        sock.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert list(json.loads(body)["error"]) == ["message", "type", "param", "code"]
        entry = server.journal.last
        assert entry is not None and entry.outcome == "server_shutdown"
    finally:
        server.stop()
