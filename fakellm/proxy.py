"""The chaos proxy: a real upstream's answers, with fakellm's faults on top, optionally recorded.

::

    client ──▶ proxy ──httpx──▶ upstream (OpenAI, vLLM, Ollama, LiteLLM, another fakellm)
                                   │ SSE bytes, as they arrive
                                   ▼
       reader task:  EventSplitter ─▶ Classifier ─▶ Timed(arrival, event)    (and --record: Capture)
                                   │ queue
       worker thread: pipeline.compose: event faults ─▶ PassthroughEncoder ─▶ frame faults
                                   │ queue
       the loop:     transport.ActiveStreams.send ─▶ client

Deliberate design choices:

- **The same stages as a served stream.** A proxied stream is planned like a served one
  (``pipeline.plan_passthrough``: the scenario, ``X-FakeLLM-Scenario``, ``X-FakeLLM-Faults``, the
  seed) and composed by the same ``pipeline.compose``. The fault transforms are synchronous
  generators over a stream known in advance; a live upstream is not known in advance, so the
  composition runs on a worker thread per stream, whose source blocks on a queue that the reader
  task fills. The transforms stay pure, and one implementation of each fault serves all streams.
- **Byte-identical passthrough.** Each upstream event keeps its bytes (``wire/passthrough.py``);
  with no fault the client receives exactly what the upstream sent. The route's format
  (``wire.FORMATS``; Chat Completions off its routes) reads the events: positions count those
  carrying output as tokens, and what a fault injects, and the proxy's own errors, are written in
  that format.
- **Never buffered.** Events go on as soon as their blank line arrives; only the faults delay
  them. A non-streaming answer is read whole, then sent (``http_error`` and ``latency`` apply).
- **The upstream is fixed at start.** Requests choose the path and query, never the scheme, host
  or port. ``X-FakeLLM-*`` headers are instructions to the proxy and are not forwarded; hop-by-hop
  headers are dropped; ``Authorization`` goes through, and is journaled only as its last 4
  characters, as is every header and query parameter named like a secret (``redact.py``), in
  the journal, recordings and logs (httpx's own log line of the upstream URL included).
- **Upstream failures** before the response head are a 502 (unreachable, refused, broken) or 504
  (timeout) in the route's error format; a break mid-stream ends the client's stream the same way (no chunked
  terminator). The proxy keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import secrets
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from quart import Quart, Response, request
from werkzeug.datastructures import Headers

from . import clock
from .app import FakeLLMApp, _json, new_quart, open_entry
from .config import ServerConfig, server_config
from .errors import RequestError, error_body
from .events import Abort, Finish, StreamEnd, StreamError, TextDelta, Verbatim
from .faults import Fault
from .headers import header_map, instructions
from .journal import JournalEntry
from .observe import StreamWatch
from .pipeline import PassthroughPlan
from .record import Capture, Recorder, recordable_headers
from .redact import redact_text
from .scenario import Scenario
from .server import Server
from .state import ServerState
from .stream import Frame, Timed
from .tokens import last_user_text
from .wire import WireFormat, format_for
from .wire.openai import CHAT
from .wire.passthrough import Classifier, EventSplitter, PassthroughEncoder

__all__ = ["ProxyConfig", "ProxyServer", "create_proxy_app", "parse_upstream"]

log = logging.getLogger("fakellm.proxy")

TEST_ID_HEADER = "X-FakeLLM-Test-Id"

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set again for the other side of the proxy (httpx and hypercorn each write their own);
# Remote-Addr is Quart's, added to every request's headers, not the client's.
_REQUEST_DROP = frozenset({"host", "content-length", "accept-encoding", "remote-addr"})
_RESPONSE_DROP = frozenset({"content-length", "content-encoding", "content-type", "date", "server"})


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """``upstream`` is what an OpenAI client would take as ``base_url`` (``https://api.openai.com/v1``,
    ``http://localhost:11434/v1``); with no path, ``/v1`` is assumed. ``server`` holds the rest:
    address, scenarios (for their faults), ``--faults``, seed."""

    upstream: str
    server: ServerConfig = field(default_factory=ServerConfig)
    record_dir: Path | None = None
    connect_timeout_s: float = 10.0
    read_timeout_s: float | None = 600.0  # per read, as the openai SDK's default


def parse_upstream(url: str) -> httpx.URL:
    """The upstream base URL, checked: http(s), a host, no query or fragment."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"the upstream must be an http:// or https:// URL with a host, got {url!r}")
    if parsed.query or parsed.fragment:
        raise ValueError(f"the upstream URL takes no query or fragment, got {url!r}")
    path = parsed.raw_path.decode("ascii").rstrip("/") or "/v1"
    return parsed.copy_with(raw_path=path.encode("ascii"))


def shown_url(url: httpx.URL) -> str:
    """The URL without credentials, for messages and logs."""
    return str(url.copy_with(username=None, password=None))


# --------------------------------------------------------------------------------------------------
# One live stream


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    """Close an async generator now (its ``finally`` runs here, not whenever it is collected)."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


class _Cancelled(Exception):
    """Raised inside the worker's fault chain to stop it without running end-of-stream logic."""


_END = object()  # the upstream body ended (after its last event, and an Abort if it broke)
_CANCEL = object()  # the client side is gone: stop composing
_DONE = object()  # the worker has no more frames
# How far the worker may compose ahead of the transport. Without a bound, a fault that produces
# frames lazily and without end (keep-alive comments during an endless stall) would spin.
LOOKAHEAD_FRAMES = 64


class _LiveStream:
    """One proxied stream: the upstream reader (a task on the loop), the fault chain (a worker
    thread), and the queues between them and the transport."""

    def __init__(
        self,
        upstream: httpx.Response,
        plan: PassthroughPlan,
        *,
        t0: float,
        sent_at: float,
        entry: JournalEntry,
        capture: Capture | None,
        recorder: Recorder | None,
        fmt: WireFormat,
        watch: StreamWatch,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._upstream = upstream
        self._plan = plan
        self._t0 = t0
        self._sent_at = sent_at
        self._entry = entry
        self._capture = capture
        self._recorder = recorder
        self._watch = watch  # the upstream's stream, for the metrics (observe.py)
        self._encoder = PassthroughEncoder(upstream.headers.get("content-type", "text/event-stream"), fmt)
        self._classify = Classifier(fmt)
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._outbox: asyncio.Queue[object] = asyncio.Queue()
        self._slots = threading.Semaphore(LOOKAHEAD_FRAMES)
        self._closed = False
        self.reader: asyncio.Task[None] | None = None
        self._frames: AsyncIterator[Frame] | None = None

    def start(self) -> AsyncIterator[Frame]:
        self.reader = self._loop.create_task(self._read())
        threading.Thread(target=self._work, name="fakellm-proxy-stream", daemon=True).start()
        self._frames = self._drain()
        return self._frames

    # -- the loop side -----------------------------------------------------------------------
    async def _read(self) -> None:
        splitter = EventSplitter()
        end = "eof"
        capture = self._capture
        watch = self._watch
        ending = _UpstreamEnding()
        try:
            async for chunk in self._upstream.aiter_bytes():
                now = clock.now()
                tokens = 0
                for raw, sse in splitter.feed(chunk):
                    event = self._classify(raw, sse)
                    self._inbox.put(Timed(now - self._t0, event))
                    tokens += ending.saw(event)
                    if capture is not None:
                        capture.add((now - self._sent_at) * 1000.0, raw)
                if tokens:
                    watch.wrote(now - self._sent_at, (now - self._sent_at) * 1000.0, tokens)
        except asyncio.CancelledError:
            # The client side is done before the upstream was (close()): how the upstream would
            # have ended is not known.
            watch.ended("client_disconnected", (clock.now() - self._sent_at) * 1000.0)
            raise
        except httpx.HTTPError as exc:
            end = "dropped"
            log.info("fakellm proxy: the upstream stream broke: %s", exc)
            self._entry.error = error_body(
                f"The upstream connection broke mid-stream: {exc}",
                type="server_error",
                code="upstream_dropped",
            )["error"]
        finally:
            with contextlib.suppress(Exception):
                await self._upstream.aclose()
        now = clock.now()
        rest = splitter.close()
        if rest:  # an event cut off by the upstream: forwarded as it came
            self._inbox.put(Timed(now - self._t0, Verbatim(rest)))
            if capture is not None:
                capture.add((now - self._sent_at) * 1000.0, rest)
        if end == "dropped":
            self._inbox.put(Timed(now - self._t0, Abort()))
        watch.ended("dropped" if end == "dropped" else ending.outcome, (now - self._sent_at) * 1000.0)
        self._inbox.put(_END)
        if capture is not None and self._recorder is not None:
            try:
                path = await asyncio.to_thread(self._recorder.write, capture, end)
            except OSError as exc:  # the stream itself went fine: say so, and go on serving
                log.warning("fakellm proxy: cannot write the recording %r: %s", capture.name, exc)
            else:
                log.info("fakellm proxy: recorded %s", path)

    async def _drain(self) -> AsyncIterator[Frame]:
        while True:
            item = await self._outbox.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Frame)
            self._slots.release()
            yield item

    def wake(self) -> None:
        """Server shutdown: hand the transport a frame now, so that it sees it is stopping even
        while the upstream is silent."""
        self._outbox.put_nowait(Frame(0.0, b""))

    async def close(self) -> None:
        """The client side is done (ended, dropped, or gone): stop the worker, and stop reading
        the upstream unless the stream is being recorded (then the recording completes)."""
        self._closed = True
        self._inbox.put(_CANCEL)
        self._slots.release()  # a worker waiting for room wakes up and sees it is closed
        if self._frames is not None:
            with contextlib.suppress(Exception):
                await _aclose(self._frames)
        reader = self.reader
        if reader is not None and not reader.done() and self._capture is None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    # -- the worker thread -------------------------------------------------------------------
    def _events(self) -> Iterator[Timed]:
        while True:
            item = self._inbox.get()
            if item is _END:
                return
            if item is _CANCEL:
                raise _Cancelled
            assert isinstance(item, Timed)
            yield item

    def _work(self) -> None:
        try:
            for frame in self._plan.frames(self._events(), self._encoder):
                while not self._slots.acquire(timeout=0.5):
                    if self._closed:
                        raise _Cancelled
                if self._closed:
                    raise _Cancelled
                self._post(frame)
        except _Cancelled:
            pass
        except BaseException as exc:  # a bug in a stage: re-raised on the loop, where it is logged
            self._post(exc)
        finally:
            self._post(_DONE)

    def _post(self, item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._outbox.put_nowait, item)


class _UpstreamEnding:
    """How an upstream stream ends, from the events it sent (for the metrics): an error event, the
    format's end (a finish or its sentinel: ``completed``), or neither before the body ended
    (``truncated``)."""

    __slots__ = ("outcome",)

    def __init__(self) -> None:
        self.outcome = "truncated"

    def saw(self, event: object) -> int:
        """Note ``event``; returns how many tokens it carries."""
        if isinstance(event, TextDelta):
            return 1
        if isinstance(event, StreamError):
            self.outcome = "error_event"
        elif isinstance(event, Finish | StreamEnd) and self.outcome != "error_event":
            self.outcome = "completed"
        return 0


# --------------------------------------------------------------------------------------------------
# The app


class ProxyApp(FakeLLMApp):
    """The proxy's ASGI app: the server's wrapper (it can drop a connection), plus the live
    upstream streams, which shutdown must reach too."""

    def __init__(self, quart: Quart, state: ServerState, config: ProxyConfig) -> None:
        super().__init__(quart, state)
        self.config = config
        self.live: set[_LiveStream] = set()
        self.readers: set[asyncio.Task[None]] = set()

    def shutdown_streams(self) -> None:
        super().shutdown_streams()
        for stream in list(self.live):
            stream.wake()


def _end_to_end(
    items: Iterable[tuple[str, str]], connection: str, drop: frozenset[str]
) -> list[tuple[str, str]]:
    """The headers that cross the proxy: not hop-by-hop (nor named by ``connection``, the
    Connection header), not in ``drop``, and not fakellm's own: a request's X-FakeLLM-* headers are
    instructions to the proxy, and an upstream fakellm's give way to the proxy's."""
    listed = {t.strip().lower() for t in connection.split(",") if t.strip()}
    return [
        (key, value)
        for key, value in items
        if (name := key.lower()) not in HOP_BY_HOP
        and name not in listed
        and name not in drop
        and not name.startswith("x-fakellm-")
    ]


def _forward_headers(headers: Any) -> list[tuple[str, str]]:
    forwarded = _end_to_end(headers.items(), headers.get("Connection", ""), _REQUEST_DROP)
    # The proxy reads the SSE it forwards: ask for it uncompressed.
    return [*forwarded, ("Accept-Encoding", "identity")]


def _response_headers(headers: httpx.Headers) -> list[tuple[str, str]]:
    return _end_to_end(headers.multi_items(), headers.get("connection", ""), _RESPONSE_DROP)


_NO_HEADERS: Mapping[str, str] = {}


def _prompt(fmt: WireFormat, content: bytes, fields: dict[str, Any]) -> str:
    """The last user message, for the scenarios' ``match``: read by the route's format (Responses'
    ``input``, Anthropic's content blocks...); a body the format refuses is the upstream's to
    judge, and matches on the Chat reading of its ``messages``, if any."""
    try:
        return last_user_text(fmt.parse_request(content, {}).messages)
    except RequestError:
        messages = fields.get("messages")
        return last_user_text(messages) if isinstance(messages, list) else ""


def _is_stream(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).lower().startswith("text/event-stream")


def create_proxy_app(config: ProxyConfig) -> ProxyApp:
    upstream = parse_upstream(config.upstream)
    base_path = upstream.raw_path.rstrip(b"/")
    state = ServerState(config.server)
    quart = new_quart("fakellm-proxy", state, health={"upstream": shown_url(upstream)})
    app = ProxyApp(quart, state, config)
    recorder = Recorder(config.record_dir) if config.record_dir is not None else None
    clients: list[httpx.AsyncClient] = []

    def _new_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(config.connect_timeout_s, read=config.read_timeout_s, pool=None),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=32),
            follow_redirects=False,
        )

    @quart.before_serving
    async def _open_client() -> None:
        clients.append(_new_client())

    @quart.after_serving
    async def _close_client() -> None:
        for task in list(app.readers):
            task.cancel()
        for client in clients:
            await client.aclose()
        clients.clear()

    def _client() -> httpx.AsyncClient:
        if not clients:  # served without the lifespan protocol
            clients.append(_new_client())
        return clients[0]

    def _answer(fmt: WireFormat, error: RequestError, headers: Mapping[str, str] = _NO_HEADERS) -> Response:
        """An error the proxy gives itself, in the route's format (OpenAI's off the known routes)."""
        answer = fmt.error(error, f"req_{secrets.token_hex(16)}")
        return _json(answer.body, answer.status, {**headers, **answer.headers})

    def _upstream_error(
        fmt: WireFormat,
        status: int,
        message: str,
        code: str,
        entry: JournalEntry,
        t0: float,
        upstream_watch: tuple[StreamWatch, float],
    ) -> Response:
        error = RequestError(status, redact_text(message), type="server_error", code=code)
        entry.status = status
        entry.outcome = "upstream_error"
        entry.error = error.body()["error"]
        now = clock.now()
        entry.duration_ms = (now - t0) * 1000.0
        watch, sent_at = upstream_watch  # the upstream's stream, from when it was asked
        watch.ended("upstream_error", (now - sent_at) * 1000.0)
        return _answer(fmt, error)

    @quart.route("/v1/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def forward(rest: str) -> Response:
        t0 = clock.now()
        raw = await request.get_data()
        content = raw if isinstance(raw, bytes) else raw.encode()
        body: Any = None
        if content and "json" in request.headers.get("Content-Type", "json"):
            with contextlib.suppress(ValueError):
                body = json.loads(content)
        fields = body if isinstance(body, dict) else {}
        named = fields.get("model")
        model = named if isinstance(named, str) else ""
        known = format_for(request.path) if request.method == "POST" else None
        fmt = known or CHAT
        entry = open_entry(state)
        entry.keep_request(body, content)  # within the journal's budget
        entry.model = model or None
        entry.stream = fields.get("stream") is True
        entry.format = known.name if known is not None else None
        try:
            asked = instructions(header_map(request.headers.items()))
            scenario: Scenario = await state.choose(
                asked.scenario, model, _prompt(fmt, content, fields), request.path
            )
            counters = await state.counters_for(scenario, None, asked)
        except RequestError as exc:
            entry.status = exc.status
            entry.outcome = "rejected"
            entry.error = exc.body()["error"]
            return _answer(fmt, exc)
        entry.scenario = scenario.name
        plan = state.plan_passthrough(scenario, asked, counters)
        entry.seed = plan.seed
        own = {"x-fakellm-scenario": scenario.name, "x-fakellm-seed": str(plan.seed)}
        if plan.http_error is not None:  # answered here: the upstream is never asked
            error = plan.http_error
            entry.status = error.status
            entry.outcome = "http_error"
            entry.error = error.body()["error"]
            entry.faults = list(plan.ctx.fired)
            entry.duration_ms = (clock.now() - t0) * 1000.0
            return _answer(fmt, error, own)

        raw_path = request.scope.get("raw_path") or request.path.encode()
        query = request.scope.get("query_string") or b""
        target = base_path + raw_path[len(b"/v1") :] + (b"?" + query if query else b"")
        try:
            url = upstream.copy_with(raw_path=target)
        except httpx.InvalidURL as exc:  # a target httpx will not send (hypercorn let it through)
            entry.status = 400
            entry.outcome = "rejected"
            error = RequestError(
                400, f"The request target cannot be forwarded: {exc}.", code="invalid_request_target"
            )
            entry.error = error.body()["error"]
            return _answer(fmt, error)
        client = _client()
        # A plain Request, not client.build_request: the client's default headers (its User-Agent,
        # Accept...) would be added to what the client sent.
        outgoing = httpx.Request(
            request.method, url, headers=_forward_headers(request.headers), content=content
        )
        sent_at = clock.now()
        watch = state.observer.upstream(entry)
        try:
            answer = await client.send(outgoing, stream=True)
        except httpx.TimeoutException as exc:
            log.warning(
                "fakellm proxy: %s %s: the upstream timed out (%s)", request.method, request.path, exc
            )
            return _upstream_error(
                fmt,
                504,
                f"fakellm proxy: the upstream {shown_url(upstream)} did not answer in time "
                f"({type(exc).__name__}).",
                "upstream_timeout",
                entry,
                t0,
                (watch, sent_at),
            )
        except httpx.HTTPError as exc:
            log.warning("fakellm proxy: %s %s: upstream unreachable (%s)", request.method, request.path, exc)
            return _upstream_error(
                fmt,
                502,
                f"fakellm proxy: cannot reach the upstream {shown_url(upstream)}: "
                f"{exc or type(exc).__name__}",
                "upstream_unreachable",
                entry,
                t0,
                (watch, sent_at),
            )
        entry.status = answer.status_code
        entry.request_id = answer.headers.get("x-request-id")
        forwarded = [*_response_headers(answer.headers), *own.items()]
        headers = Headers(forwarded)
        content_type = answer.headers.get("content-type")

        if not _is_stream(answer):
            try:
                data = await answer.aread()
            except httpx.HTTPError as exc:
                return _upstream_error(
                    fmt,
                    502,
                    f"fakellm proxy: the upstream broke off its answer: {exc}",
                    "upstream_dropped",
                    entry,
                    t0,
                    (watch, sent_at),
                )
            finally:
                await answer.aclose()
            outcome = "completed" if answer.status_code < 400 else "http_error"
            watch.ended(outcome, (clock.now() - sent_at) * 1000.0)
            delay = plan.latency_s()
            if delay:
                for fault in plan.faults:
                    if fault.name == "latency":
                        plan.ctx.fire(fault.name, at_token=0, detail=f"{delay * 1000:g}ms")
                await asyncio.sleep(delay)
            entry.outcome = "completed"
            entry.bytes_sent = len(data)
            entry.faults = list(plan.ctx.fired)
            entry.duration_ms = (clock.now() - t0) * 1000.0
            return Response(data, status=answer.status_code, headers=headers, content_type=content_type)

        capture = None
        if recorder is not None:
            capture = recorder.capture(
                test_id=request.headers.get(TEST_ID_HEADER),
                method=request.method,
                path=request.path,
                body=body,
            )
            capture.status = answer.status_code
            capture.headers = recordable_headers(answer.headers)
        live = _LiveStream(
            answer,
            plan,
            t0=t0,
            sent_at=sent_at,
            entry=entry,
            capture=capture,
            recorder=recorder,
            fmt=fmt,
            watch=watch,
        )
        frames = live.start()
        assert live.reader is not None
        app.live.add(live)
        app.readers.add(live.reader)
        live.reader.add_done_callback(app.readers.discard)
        sender = state.streams.send(frames, plan.ctx, entry, t0)

        async def body_bytes() -> AsyncIterator[bytes]:
            try:
                async for chunk in sender:
                    yield chunk
            finally:
                app.live.discard(live)
                await _aclose(sender)
                await live.close()

        response = Response(
            body_bytes(),
            status=answer.status_code,
            # The upstream's X-Accel-Buffering (if any) crosses as it came, unless an
            # accel_buffering fault says otherwise.
            headers=Headers(plan.head(forwarded)),
            content_type=content_type,
        )
        response.timeout = None  # Quart's default would cut the stream at 60 s
        return response

    return app


# --------------------------------------------------------------------------------------------------
# In tests and scripts


class ProxyServer(Server):
    """A chaos proxy on a background thread, in front of ``upstream``::

        with fakellm.Server() as upstream, fakellm.ProxyServer(upstream.base_url) as proxy:
            client = openai.OpenAI(base_url=proxy.base_url, api_key="sk-...")
            ...
            assert proxy.journal.last.outcome == "completed"

    Faults come from ``faults`` (every request), ``scenarios`` (with ``match`` rules and faults),
    and the request headers, as for :class:`~fakellm.Server`. ``record_dir`` records every stream.
    """

    def __init__(
        self,
        upstream: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scenarios: Sequence[Scenario | dict[str, Any]] = (),
        scenario_paths: Sequence[str | Path] = (),
        seed: int | None = None,
        faults: Sequence[Fault] = (),
        record_dir: str | Path | None = None,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float | None = 600.0,
        state: str | None = None,
    ) -> None:
        server = server_config(
            host=host,
            port=port,
            scenarios=scenarios,
            scenario_paths=scenario_paths,
            seed=seed,
            faults=faults,
            state=state,
        )
        self.proxy_config = ProxyConfig(
            upstream=upstream,
            server=server,
            record_dir=Path(record_dir) if record_dir is not None else None,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
        )
        parse_upstream(upstream)  # a bad URL fails here, in the caller's thread
        super().__init__(config=server)

    def _create_app(self, config: ServerConfig) -> FakeLLMApp:
        return create_proxy_app(self.proxy_config)

    @property
    def upstream(self) -> str:
        return self.proxy_config.upstream
