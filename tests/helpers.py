"""Shared test helpers: a raw HTTP/1.1 client that keeps every read, for byte-level checks.

httpx would hide exactly what these tests look at (chunk boundaries, the chunked terminator, a
reset), so the byte-level tests speak HTTP over a plain socket.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    reads: list[bytes] = field(default_factory=list)  # every recv() after the head, as it came
    chunks: list[bytes] = field(default_factory=list)  # the decoded HTTP chunks
    terminated: bool = False  # the chunked terminator 0\r\n\r\n arrived
    closed: bool = False  # the server closed the connection (EOF)
    error: OSError | None = None  # e.g. ConnectionResetError
    read_times: list[float] = field(default_factory=list)  # monotonic time of each read
    started: float = 0.0

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def chat_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": True,
    }
    body.update(overrides)
    return body


def raw_request(
    port: int,
    body: dict[str, Any] | bytes | None = None,
    *,
    method: str = "POST",
    path: str = "/v1/chat/completions",
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    host: str = "127.0.0.1",
) -> RawResponse:
    """Send one request and read until the body ends, the server closes, or ``timeout``."""
    payload = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    for name, value in (headers or {}).items():
        head.append(f"{name}: {value}")
    sock = socket.create_connection((host, port), timeout=timeout)
    started = time.monotonic()
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    buf = b""
    response: RawResponse | None = None
    try:
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                raise AssertionError(f"connection closed before the response head: {buf!r}")
            buf += data
        head_bytes, rest = buf.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers_out = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers_out[name.strip().lower()] = value.strip()
        response = RawResponse(status, headers_out, started=started)
        if rest:
            response.reads.append(rest)
            response.read_times.append(time.monotonic())
        while True:
            try:
                data = sock.recv(65536)
            except OSError as exc:
                response.error = exc
                break
            if not data:
                response.closed = True
                break
            response.reads.append(data)
            response.read_times.append(time.monotonic())
            if _parse_chunks(b"".join(response.reads), response) and "content-length" not in headers_out:
                break
            if "content-length" in headers_out and len(b"".join(response.reads)) >= int(
                headers_out["content-length"]
            ):
                break
    finally:
        sock.close()
    raw = b"".join(response.reads)
    if response.headers.get("transfer-encoding", "").lower() == "chunked":
        _parse_chunks(raw, response)
    else:
        response.chunks = [raw]
    return response


def _parse_chunks(raw: bytes, response: RawResponse) -> bool:
    """Decode a chunked body; True when the terminator has arrived."""
    chunks = []
    pos = 0
    while True:
        end = raw.find(b"\r\n", pos)
        if end < 0:
            break
        size = int(raw[pos:end].split(b";")[0], 16)
        if size == 0:
            if raw[end + 2 : end + 4] == b"\r\n":
                response.chunks = chunks
                response.terminated = True
                return True
            break
        if len(raw) < end + 2 + size + 2:
            break
        chunks.append(raw[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2
    response.chunks = chunks
    return False


def sse_data(body: bytes) -> list[str]:
    """The ``data`` of every event, decoded with fakellm's spec-correct SSE decoder."""
    from fakellm import SSEDecoder

    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(body)]


def content_of(body: bytes) -> str:
    """The assistant text carried by an OpenAI chunk stream."""
    text = []
    for data in sse_data(body):
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        for choice in chunk.get("choices", []):
            text.append(choice["delta"].get("content") or "")
    return "".join(text)
