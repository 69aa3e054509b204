"""The load client: many concurrent streams on keep-alive connections, and when each chunk arrived.

Each of ``streams`` workers holds one connection and sends streaming requests of one wire format
(``format``: ``chat``, ``responses``, ``messages``, ``completions`` or ``ui``, :data:`LOAD_FORMATS`) back
to back, so ``streams`` responses are always in flight. Workers start at random moments spread over one
stream's length, so their chunks are spread over time as a real server's would be. Every request
asks for ``tokens`` tokens at ``ttft_ms`` / ``itl_ms`` (the ``X-FakeLLM-TTFT-Ms`` /
``X-FakeLLM-ITL-Ms`` headers), so token *i* is due ``ttft + i * itl`` after the request was sent:

- **TTFT error**: arrival of the first content chunk minus ``send + ttft``;
- **inter-token lateness**: arrival of content chunk *i* (i >= 1) minus ``send + ttft + i * itl``.
  Lateness is measured against the schedule, not against the previous chunk, so a server that
  drifts (sleeps ``itl`` after each write) shows it growing along the stream.

A *content chunk* is the event that carries a token, in each format's own shape (Chat's
``chat.completion.chunk`` with ``delta.content``, Responses' ``response.output_text.delta``,
Anthropic's ``content_block_delta``, Completions' ``text_completion`` chunk before the finish);
the formats' other events (Chat's role and finish chunks and ``[DONE]``, Responses'
``response.created`` ... ``response.completed``, Anthropic's ``message_start``, ``ping`` ...
``message_stop``) are counted as chunks but not timed. A stream counts as whole when it brought
exactly ``tokens`` content chunks and the body ended.

*Arrival* is when the chunk reached this machine's socket: the kernel's receive time of the read
that brought it (``SO_TIMESTAMPNS``, Linux; elsewhere the read's own time). Both figures are also
given by when this process read the chunk (``*_read_ms``), which adds the client's own wake-up
and queueing to the server's lateness.

Only chunks that arrive inside the measuring window (after ``warmup_s``, for ``duration_s``) count.
The default warm-up is two stream lengths: the workers start during the first, and by the end of
the second every worker is past the request that opened its connection. The window measures
streams on keep-alive connections, as pooled clients (the SDKs) make them: the first request of a
connection also pays for the connection, and fakellm starts its schedule later (when the app gets
the request, not when it was read; ``fakellm.transport.arrival``).

The client is deliberately cheap, so that on a small machine it does not steal the server's CPU:
a non-blocking socket per connection, the chunked body decoded in place, SSE events counted by
their blank line and content events by a byte marker of their format (the benchmark's servers
write one event per HTTP chunk), no JSON parsing. The
server's CPU time is read from ``/proc/<pid>/stat`` at both ends of the window.

    python -m benchmarks.loadgen --url http://127.0.0.1:8000 --streams 100 --duration 10
    python -m benchmarks.loadgen --url http://127.0.0.1:8000 --format messages
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "LOAD_FORMATS",
    "LoadConfig",
    "LoadFormat",
    "LoadResult",
    "percentile",
    "process_cpu_s",
    "run_load",
]

_now = time.monotonic  # ns resolution; uvloop's loop.time() only has milliseconds


@dataclass(frozen=True, slots=True)
class LoadFormat:
    """What the client sends for one wire format, and how it knows a content event in the answer.

    ``marker`` is a byte string that occurs once in each content event and in no other event of
    the benchmark's streams (text only, one choice): cheaper than parsing the JSON of every event.
    """

    name: str  # the short name (``--format``)
    journal_name: str  # ``fakellm.wire.FORMATS[path].name``, what the journal records
    path: str
    marker: bytes

    def body(self, cfg: LoadConfig) -> dict[str, object]:
        text = "Tell me about foxes."
        if self.name == "responses":
            # Responses' max_output_tokens must be >= 16 (the API's own minimum, enforced).
            return {"model": cfg.scenario, "input": text, "stream": True, "max_output_tokens": cfg.tokens}
        if self.name == "messages":
            messages = [{"role": "user", "content": text}]
            return {"model": cfg.scenario, "max_tokens": cfg.tokens, "messages": messages, "stream": True}
        if self.name == "completions":
            return {"model": cfg.scenario, "prompt": text, "stream": True, "max_tokens": cfg.tokens}
        if self.name == "ui":  # useChat's body, with the model a client may add (the scenario's tokens)
            message = {"role": "user", "parts": [{"type": "text", "text": text}]}
            return {
                "id": "bench",
                "model": cfg.scenario,
                "messages": [message],
                "maxOutputTokens": cfg.tokens,
            }
        messages = [{"role": "user", "content": text}]
        return {"model": cfg.scenario, "messages": messages, "stream": True, "max_tokens": cfg.tokens}

    def auth(self) -> str:
        if self.name == "messages":
            return "X-Api-Key: bench\r\nAnthropic-Version: 2023-06-01\r\n"
        return "Authorization: Bearer bench\r\n"


LOAD_FORMATS: dict[str, LoadFormat] = {
    fmt.name: fmt
    for fmt in (
        # The role chunk has ``"delta":{"role":"assistant","content":""``, the finish ``"delta":{}``.
        LoadFormat("chat", "openai.chat", "/v1/chat/completions", b'"delta":{"content":'),
        LoadFormat("responses", "openai.responses", "/v1/responses", b"event: response.output_text.delta\n"),
        LoadFormat("messages", "anthropic.messages", "/v1/messages", b"event: content_block_delta\n"),
        # Every chunk is a ``text_completion``; the last one carries the finish reason.
        LoadFormat("completions", "openai.completions", "/v1/completions", b'"finish_reason":null}'),
        LoadFormat("ui", "ai_sdk.ui", "/api/chat", b'"type":"text-delta"'),
    )
}
"""The formats the client speaks, by short name (``--format``)."""


@dataclass(frozen=True, slots=True)
class LoadConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    streams: int = 100
    duration_s: float = 10.0
    warmup_s: float | None = None  # default: two streams' length (every connection is reused)
    ttft_ms: float = 200.0
    itl_ms: float = 20.0
    tokens: int = 100
    scenario: str = "bench"  # must exist on a fakellm server, with no jitter
    format: str = "chat"  # a key of LOAD_FORMATS
    seed: int = 1
    server_pid: int | None = None  # whose CPU time to measure (a separate process)
    client_cpu_id: int | None = None  # the cores the client and the server are pinned to, to
    server_cpu_id: int | None = None  # measure what else ran on them (the machine is shared)

    @property
    def stream_s(self) -> float:
        return (self.ttft_ms + self.itl_ms * (self.tokens - 1)) / 1000.0

    @property
    def warmup(self) -> float:
        return 2 * self.stream_s if self.warmup_s is None else self.warmup_s


@dataclass(slots=True)
class LoadResult:
    streams: int
    window_s: float
    requests: int = 0  # completed inside the window
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    format: str = "chat"
    chunks: int = 0  # SSE events received inside the window, of every kind
    content_chunks: int = 0  # of which content events (one token each)
    events_per_stream: int = 0  # SSE events of a whole stream (the last one completed)
    chunks_per_s: float = 0.0
    ttft_error_ms: dict[str, float] = field(default_factory=dict)  # p50, p99, max, n
    lateness_ms: dict[str, float] = field(default_factory=dict)
    # The same two, by when the client read each chunk instead of when it reached the socket.
    ttft_error_read_ms: dict[str, float] = field(default_factory=dict)
    lateness_read_ms: dict[str, float] = field(default_factory=dict)
    client_cpu: float = 0.0  # fraction of one core
    server_cpu: float | None = None  # fraction of one core
    server_cpu_per_chunk_us: float | None = None  # per SSE event of any kind
    server_cpu_per_token_us: float | None = None  # per content event: fair across formats
    # Busy time of each pinned core that was not ours (other processes), in cores: trials that
    # shared their cores with someone else's work are visible as such.
    other_load_client_core: float | None = None
    other_load_server_core: float | None = None
    other_load_all_cores: float | None = None  # unpinned: every core's busy time not ours, in cores

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q / 100.0 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def _summary(values: list[float]) -> dict[str, float]:
    values.sort()
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": values[-1] if values else float("nan"),
        "n": float(len(values)),
    }


def core_busy_s() -> dict[int, float]:
    """Busy seconds of every core since boot, from ``/proc/stat`` (all but idle and iowait)."""
    busy: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(b"cpu") and line[3:4].isdigit():
                name, *values = line.split()
                ticks = [int(v) for v in values[:8]]
                busy[int(name[3:])] = (sum(ticks) - ticks[3] - ticks[4]) / tick
    return busy


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) and of its live children (the
    workers of ``fakellm serve --workers N``), from ``/proc/<pid>/stat`` and theirs."""
    total = 0.0
    for stat_path in (f"/proc/{pid}/stat", *_children_stats(pid)):
        try:
            with open(stat_path, "rb") as f:
                stat = f.read()
        except OSError:
            if stat_path == f"/proc/{pid}/stat":
                raise
            continue  # a child that has just exited
        fields = stat[stat.rindex(b")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _children_stats(pid: int) -> list[str]:
    """The ``stat`` files of ``pid``'s children (this kernel has no ``/proc/<pid>/task/*/children``)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        path = f"/proc/{name}/stat"
        try:
            with open(path, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(b")") + 2 :].split()[1]) == pid:
            found.append(path)
    return found


class _Window:
    """What the workers record, and the measuring window it is recorded in."""

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.ttft: list[float] = []
        self.lateness: list[float] = []
        self.ttft_read: list[float] = []  # the same, by when this process read the chunk
        self.lateness_read: list[float] = []
        self.chunks = 0
        self.content_chunks = 0
        self.events_per_stream = 0
        self.requests = 0
        self.errors: list[str] = []


_SO_TIMESTAMPNS: int | None = getattr(
    socket, "SO_TIMESTAMPNS", 35 if sys.platform.startswith("linux") else None
)
_RECV = 1 << 16
_ANCILLARY = socket.CMSG_SPACE(16)  # one struct timespec


class _Clocks:
    """Kernel receive times (``CLOCK_REALTIME``) on the monotonic clock the schedule is measured
    on: the offset between the two, sampled again every second in case the wall clock is slewed."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sampled = -1e9
        self._sample(_now())

    def _sample(self, now: float) -> None:
        best = None
        for _ in range(20):  # the tightest of 20 readings
            a = time.monotonic()
            wall = time.time()
            b = time.monotonic()
            if best is None or b - a < best[0]:
                best = (b - a, wall - (a + b) / 2)
        assert best is not None
        self.offset = best[1]
        self.sampled = now

    def monotonic_of(self, wall: float, now: float) -> float:
        if now - self.sampled > 1.0:
            self._sample(now)
        return wall - self.offset


class _Connection:
    """One keep-alive connection; one response in flight at a time.

    A plain non-blocking socket watched by the loop (``add_reader``) rather than an
    ``asyncio.Protocol``: reading it with ``recvmsg`` brings the kernel's receive time of the data
    (``SO_TIMESTAMPNS``), which is when the server's bytes reached this machine's socket. The
    moment this process got round to reading them comes later by its own wake-up on a busy or idle
    core, up to a millisecond at p99 on a VM (``benchmarks/README.md``), which is the client's
    lateness, not the server's; both are kept."""

    def __init__(self, window: _Window, cfg: LoadConfig, sock: socket.socket, clocks: _Clocks) -> None:
        self.window = window
        self.ttft = cfg.ttft_ms / 1000.0
        self.itl = cfg.itl_ms / 1000.0
        self.tokens = cfg.tokens
        self.marker = LOAD_FORMATS[cfg.format].marker
        self.sock = sock
        self.clocks = clocks
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] | None = None
        self.lost = False
        self._reset(0.0)
        self.loop.add_reader(sock.fileno(), self._readable)

    @classmethod
    async def open(cls, window: _Window, cfg: LoadConfig, clocks: _Clocks) -> _Connection:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (cfg.host, cfg.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if _SO_TIMESTAMPNS is not None:
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        except BaseException:
            sock.close()
            raise
        return cls(window, cfg, sock, clocks)

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
        self.lost = True

    def _reset(self, sent: float) -> None:
        self.sent = sent
        self.buf = b""
        self.in_body = False
        self.events = 0
        self.content = 0  # content events so far
        self.tail = b""

    def start(self, request: bytes) -> asyncio.Future[None]:
        self.done = self.loop.create_future()
        self._reset(_now())
        try:
            sent = self.sock.send(request)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._lost(exc)
            return self.done
        if sent < len(request):  # never seen with a request this small; kept correct anyway
            rest = self.loop.create_task(self.loop.sock_sendall(self.sock, request[sent:]))
            rest.add_done_callback(self._sent)
        return self.done

    def _sent(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._lost(task.exception())

    def _readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(_RECV, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(exc)
            return
        read = _now()
        if not data:
            self._lost(None)
            return
        arrived = read
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                sec, nsec = struct.unpack_from("qq", value)
                arrived = self.clocks.monotonic_of(sec + nsec * 1e-9, read)
        self.data_received(data, arrived, read)

    def _lost(self, exc: BaseException | None) -> None:
        self.close()
        self._finish(f"connection lost after {self.events} events ({exc or 'EOF'})")

    def _finish(self, error: str | None) -> None:
        if self.done is None or self.done.done():
            return
        if error is not None:
            self.done.set_exception(ConnectionError(error))
        else:
            self.done.set_result(None)

    def data_received(self, data: bytes, now: float, read: float) -> None:
        """``data`` came in at ``now`` (the kernel's receive time) and was read at ``read``."""
        buf = self.buf + data if self.buf else data
        pos = 0
        if not self.in_body:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if buf[9:12] != b"200":
                self._finish(f"HTTP {buf[9:12].decode(errors='replace')}: {buf[end + 4 : end + 204]!r}")
                self.buf = b""
                return
            self.in_body = True
            pos = end + 4
        window = self.window
        counted = window.start <= now < window.end
        n = len(buf)
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(buf[pos:eol], 16)
            stop = eol + 2 + size
            if n < stop + 2:
                break
            pos = stop + 2
            if size == 0:
                if self.content != self.tokens or self.events <= self.content:
                    self._finish(f"{self.events} events, {self.content} of content, expected {self.tokens}")
                else:
                    if counted:
                        window.requests += 1
                    window.events_per_stream = self.events
                    self._finish(None)
                break
            payload = buf[eol + 2 : stop]
            new = payload.count(b"\n\n")
            if self.tail == b"\n" and payload[:1] == b"\n":
                new += 1  # an event whose blank line was split across two chunks
            self.tail = payload[-1:] if payload[-2:] != b"\n\n" else b""
            if not new:
                continue
            self.events += new
            # A marker split across two HTTP chunks would go uncounted; the benchmark's servers
            # write one whole event per chunk, and the count is checked when the body ends.
            content = payload.count(self.marker)
            if not content:
                if counted:
                    window.chunks += new
                continue
            first = self.content
            self.content = last = first + content
            if not counted:
                continue
            window.chunks += new
            window.content_chunks += content
            # Content event k (from 0) is due at ttft + k * itl.
            for k in range(first, min(last, self.tokens)):
                due = self.sent + self.ttft + k * self.itl
                if k == 0:
                    window.ttft.append((now - due) * 1000.0)
                    window.ttft_read.append((read - due) * 1000.0)
                else:
                    window.lateness.append((now - due) * 1000.0)
                    window.lateness_read.append((read - due) * 1000.0)
        self.buf = buf[pos:] if pos < n else b""


def _request_bytes(cfg: LoadConfig) -> bytes:
    fmt = LOAD_FORMATS[cfg.format]
    body = json.dumps(fmt.body(cfg), separators=(",", ":")).encode()
    head = (
        f"POST {fmt.path} HTTP/1.1\r\n"
        f"Host: {cfg.host}:{cfg.port}\r\n"
        f"Content-Type: application/json\r\n"
        f"{fmt.auth()}"
        f"X-FakeLLM-Scenario: {cfg.scenario}\r\n"
        f"X-FakeLLM-TTFT-Ms: {cfg.ttft_ms:g}\r\n"
        f"X-FakeLLM-ITL-Ms: {cfg.itl_ms:g}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _worker(cfg: LoadConfig, window: _Window, delay: float, request: bytes, clocks: _Clocks) -> None:
    await asyncio.sleep(delay)
    conn: _Connection | None = None
    try:
        while _now() < window.end:
            try:
                if conn is None or conn.lost:
                    conn = await _Connection.open(window, cfg, clocks)
                await conn.start(request)
            except OSError as exc:  # ConnectionError included: a refused, reset or cut stream
                if _now() < window.end:
                    window.errors.append(str(exc))
                if conn is not None:
                    conn.close()
                conn = None
                await asyncio.sleep(0.05)
    finally:
        if conn is not None:
            conn.close()


async def run_load(cfg: LoadConfig) -> LoadResult:
    """Run the load for ``warmup + duration`` seconds and summarise the measuring window."""
    loop = asyncio.get_running_loop()
    rng = random.Random(cfg.seed)
    begin = _now()
    window = _Window(begin + cfg.warmup, begin + cfg.warmup + cfg.duration_s)
    request = _request_bytes(cfg)
    spread = min(cfg.stream_s, cfg.warmup) if cfg.warmup > 0 else 0.0
    clocks = _Clocks()
    tasks = [
        asyncio.ensure_future(_worker(cfg, window, rng.uniform(0.0, spread), request, clocks))
        for _ in range(cfg.streams)
    ]

    marks: dict[str, tuple[float, float | None, dict[int, float]]] = {}

    def _mark(name: str) -> None:
        client = sum(os.times()[:2])
        server = None
        if cfg.server_pid is not None:
            with contextlib.suppress(OSError):  # the server died: its streams report the errors
                server = process_cpu_s(cfg.server_pid)
        marks[name] = (client, server, core_busy_s())

    loop.call_at(loop.time() + (window.start - _now()), _mark, "start")
    await asyncio.sleep(max(0.0, window.end - _now()))
    _mark("end")
    # Streams still open are cut here; the window is over, so nothing more is counted.
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for res in results:
        if isinstance(res, BaseException) and not isinstance(res, asyncio.CancelledError):
            window.errors.append(f"worker failed: {res!r}")

    span = window.end - window.start
    result = LoadResult(streams=cfg.streams, window_s=span, format=cfg.format)
    result.requests = window.requests
    result.errors = len(window.errors)
    result.error_samples = sorted(set(window.errors))[:5]
    result.chunks = window.chunks
    result.content_chunks = window.content_chunks
    result.events_per_stream = window.events_per_stream
    result.chunks_per_s = window.chunks / span
    result.ttft_error_ms = _summary(window.ttft)
    result.lateness_ms = _summary(window.lateness)
    result.ttft_error_read_ms = _summary(window.ttft_read)
    result.lateness_read_ms = _summary(window.lateness_read)
    if "start" in marks:
        (c0, s0, b0), (c1, s1, b1) = marks["start"], marks["end"]
        result.client_cpu = (c1 - c0) / span
        if s0 is not None and s1 is not None:
            result.server_cpu = (s1 - s0) / span
            if window.chunks:
                result.server_cpu_per_chunk_us = (s1 - s0) / window.chunks * 1e6
            if window.content_chunks:
                result.server_cpu_per_token_us = (s1 - s0) / window.content_chunks * 1e6
        if cfg.client_cpu_id in b0 and cfg.client_cpu_id in b1:
            busy = (b1[cfg.client_cpu_id] - b0[cfg.client_cpu_id]) / span
            result.other_load_client_core = max(0.0, busy - result.client_cpu)
        if cfg.server_cpu_id in b0 and cfg.server_cpu_id in b1 and result.server_cpu is not None:
            busy = (b1[cfg.server_cpu_id] - b0[cfg.server_cpu_id]) / span
            result.other_load_server_core = max(0.0, busy - result.server_cpu)
        if result.server_cpu is not None and b0.keys() == b1.keys():
            busy = sum(b1[c] - b0[c] for c in b1) / span
            result.other_load_all_cores = max(0.0, busy - result.server_cpu - result.client_cpu)
    return result


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.loadgen", description="Load one running server and print JSON."
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server (path is ignored)")
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0, help="measuring window, seconds")
    parser.add_argument("--warmup", type=float, default=None, help="seconds (default: two streams)")
    parser.add_argument("--ttft-ms", type=float, default=200.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--scenario", default="bench")
    parser.add_argument(
        "--format",
        choices=tuple(LOAD_FORMATS),
        default="chat",
        help="wire format: chat (/v1/chat/completions), responses (/v1/responses), "
        "messages (Anthropic, /v1/messages), completions (/v1/completions)",
    )
    parser.add_argument("--server-pid", type=int, default=None, help="measure this process's CPU")
    args = parser.parse_args(argv)
    url = urlsplit(args.url)
    cfg = LoadConfig(
        host=url.hostname or "127.0.0.1",
        port=url.port or 80,
        streams=args.streams,
        duration_s=args.duration,
        warmup_s=args.warmup,
        ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms,
        tokens=args.tokens,
        scenario=args.scenario,
        format=args.format,
        server_pid=args.server_pid,
    )
    loop = new_event_loop()
    try:
        result = loop.run_until_complete(run_load(cfg))
    finally:
        loop.close()
    json.dump(result.as_dict(), sys.stdout, indent=2)
    print()
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
