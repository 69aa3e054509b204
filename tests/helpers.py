"""Shared test helpers: a raw HTTP/1.1 client that keeps every read, for byte-level checks.

httpx would hide exactly what these tests look at (chunk boundaries, the chunked terminator, a
reset), so the byte-level tests speak HTTP over a plain socket.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anthropic
import httpx2

ANTHROPIC_DROP: tuple[type[BaseException], ...] = (httpx2.RemoteProtocolError, anthropic.APIConnectionError)
"""What anthropic-python raises when a stream it has started reading is dropped: httpx2's
``RemoteProtocolError`` unwrapped up to 2.16, ``APIConnectionError`` (caused by it) from 2.17."""

# Third-party pytest plugins that come with the dev install (hypothesis, and langsmith by way of the
# langchain packages) and that no pytester suite here uses (tests/plugin, a few e2e tests): loading
# them costs each pytest subprocess about two CPU-seconds of imports, a good part of a short run.
# fakellm's own plugin still loads through its pytest11 entry point, beside pytest-asyncio, xdist,
# respx, faker and anyio.
UNUSED_PLUGINS = ("-p", "no:hypothesispytest", "-p", "no:langsmith_plugin")


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
        # A loaded machine can deliver the whole body with the head: then it is read already, and a
        # recv now would wait for the close that Connection: close brings (and report it).
        done = bool(rest) and "content-length" not in headers_out and _parse_chunks(rest, response)
        while not done:
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


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One whole response with a Content-Length from a keep-alive connection: (head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:]
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return head, body


def refuse_body_then_get(port: int, method: str, path: str, then: str) -> bytes:
    """Send ``method path`` with a JSON body that arrives after the head, for a route that refuses
    it (404 or 405), then ``GET then`` on the same connection: the refused body must not break
    keep-alive (clients pool connections). Returns the body of the second answer."""
    body = json.dumps(chat_body()).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        time.sleep(0.1)
        sock.sendall(body)
        head, _ = read_response(sock)
        assert head.split(b" ")[1] in (b"404", b"405")
        assert b"connection: close" not in head.lower()
        sock.sendall(f"GET {then} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head, answer = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200")
        return answer


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


def tokens_of(body: bytes) -> list[str]:
    """The content tokens of an OpenAI chunk stream, one per chunk that carries content."""
    tokens = []
    for data in sse_data(body):
        if data == "[DONE]":
            break
        for choice in json.loads(data).get("choices", []):
            if choice["delta"].get("content"):
                tokens.append(choice["delta"]["content"])
    return tokens


def content_of(body: bytes) -> str:
    """The assistant text carried by an OpenAI chunk stream."""
    return "".join(tokens_of(body))


def sdk_tokens_before_error(
    base_url: str, faults: str, *, match: str | None = None, api_key: str = "sk-x"
) -> list[str]:
    """Stream a chat through the openai SDK with ``X-FakeLLM-Faults: faults``: the content tokens
    it yielded before it raised ``APIError`` (the test fails if it does not raise)."""
    import openai
    import pytest

    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Hello"}],
        stream=True,
        extra_headers={"X-FakeLLM-Faults": faults},
    )
    seen: list[str] = []
    with pytest.raises(openai.APIError, match=match):
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen.append(chunk.choices[0].delta.content)
    return seen


@dataclass
class FakellmProcess:
    process: subprocess.Popen[str]
    first_line: str = ""  # what it printed first (where it listens)
    out: str = ""  # the rest of stdout, once it has stopped
    err: str = ""


@contextlib.contextmanager
def fakellm_process(*args: str) -> Iterator[FakellmProcess]:
    """``python -m fakellm ARGS`` with its first line of output read; stopped with SIGINT when the
    block ends, which sets ``out``, ``err`` and ``process.returncode``."""
    with subprocess.Popen(
        [sys.executable, "-m", "fakellm", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        running = FakellmProcess(process)
        try:
            assert process.stdout is not None
            running.first_line = process.stdout.readline()
            yield running
        finally:
            process.send_signal(signal.SIGINT)
            running.out, running.err = process.communicate(timeout=10)


def wait_for_file(path: Path, timeout: float = 5.0) -> Path:
    """Recordings are written when the upstream's stream ends, just after the client's."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was never written"
        time.sleep(0.01)
    return path


@contextlib.contextmanager
def page_server(html: str, scripts: dict[str, str] | None = None) -> Iterator[str]:
    """A tiny web server on its own port that answers every GET with ``html``: a page whose origin
    differs from fakellm's, as a frontend dev server's does. ``scripts`` maps paths (``/app.js``)
    to JavaScript served there instead, for a page that loads its bundle. Yields its origin."""
    page = html.encode()
    served = {path: source.encode() for path, source in (scripts or {}).items()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.partition("?")[0]
            body = served.get(path, page)
            kind = "text/javascript" if path in served else "text/html"
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="page-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
