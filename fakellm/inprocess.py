"""In-process mode: requests go straight into the ASGI app, and the body streams out as the app
produces it.

Why not ``httpx.ASGITransport`` (or respx's ``ASGIHandler``, which wraps it): they collect the whole
body before returning the response, so TTFT becomes total time and a stall hangs the request. Here
the app runs in a task; every ``http.response.body`` message is handed to the client through a queue
the moment the app sends it; closing the response sends ``http.disconnect``, which ends the stream on
the app's side the way a closed socket does. The client's read timeout applies to every wait, as it
would on a socket.

An async request runs the app on the caller's own event loop. A sync request cannot, so it runs the
app on a background event loop (one per :class:`InProcess`, started on first use) and reads the
queue across threads.

Code that builds its own httpx client for ``https://api.openai.com/v1`` is routed here through respx
(:meth:`InProcess.intercept`). What in-process mode cannot do, because there is no socket:

- a TCP reset (``drop`` with ``mode: rst``): the client gets a ``ReadError`` that says so, and the
  problem is recorded in :attr:`InProcess.problems` (the pytest plugin fails the test on it);
- TCP itself: writes are never coalesced or split by the kernel, and there is no chunked framing.
  The ``fragment`` fault still works: every cut reaches the client as a read of its own;
- openai >= 3 clients built by the code under test: they send through ``httpx2``, which respx does
  not patch. Inside :meth:`InProcess.intercept` such a request to the OpenAI URL fails with a message
  saying so (and is recorded in ``problems``) instead of leaving for the real API.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sys
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import httpx

from .app import FakeLLMApp, create_app
from .config import ServerConfig, server_config
from .journal import Journal
from .state import ServerState

try:  # openai >= 3 sends through httpx2, a fork of httpx with the same transport API
    import httpx2
except ImportError:  # pragma: no cover - openai 2.x environments
    httpx2 = None  # type: ignore[assignment]

__all__ = ["OPENAI_URL", "InProcess", "StreamingASGITransport"]

_C = TypeVar("_C")

OPENAI_URL = "https://api.openai.com/v1"
INPROCESS_URL = "http://fakellm.invalid/v1"  # .invalid never resolves: nothing leaves by mistake
_HOSTS = ("api.openai.com", "fakellm.invalid")

_RESET_MESSAGE = (
    "fakellm in-process mode cannot reset a connection: the scripted fault 'drop' with mode: rst "
    "needs a real socket. Run this test against the socket server (the `fakellm` fixture without "
    "--fakellm-mode inprocess) or use mode: fin."
)
_HTTPX2_MESSAGE = (
    "fakellm in-process mode cannot reach an openai>=3 client built by the code under test: it "
    "sends {method} {url} through httpx2, which respx does not patch. Pass the client from "
    "fakellm.openai_client() / fakellm.async_openai_client() into the code under test, or run in "
    "socket mode with OPENAI_BASE_URL set to fakellm.base_url."
)


# --------------------------------------------------------------------------------------------------
# One exchange: the app's side


@dataclass(frozen=True, slots=True)
class _Head:
    status: int
    headers: list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


_END = b""  # the body is complete (empty chunks are never queued)
_DROPPED = object()  # the app returned without finishing the body: a dropped connection


class _Exchange:
    """Runs the app for one request and reports what it sends through ``put``."""

    def __init__(self, app: FakeLLMApp, scope: dict[str, Any], body: bytes, put: Callable[[object], None]):
        self.app = app
        self.scope = scope
        self.body = body
        self.put = put
        self.started = False
        self.complete = False
        self._disconnected: asyncio.Event | None = None

    def disconnect(self) -> None:
        """The client went away (call on the app's loop)."""
        if self._disconnected is not None:
            self._disconnected.set()

    async def run(self) -> None:
        self._disconnected = disconnected = asyncio.Event()
        body_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": self.body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            if disconnected.is_set() or self.complete:
                return
            kind = message["type"]
            if kind == "http.response.start":
                self.started = True
                headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
                self.put(_Head(message["status"], headers))
            elif kind == "http.response.body":
                data = bytes(message.get("body", b""))
                if data:
                    self.put(data)
                if not message.get("more_body", False):
                    self.complete = True
                    self.put(_END)

        try:
            await self.app(self.scope, receive, send)
        except Exception as exc:
            # Over a socket hypercorn would log this and answer 500 (or cut the body): record it
            # where the pytest plugin looks for server errors.
            self.app.state.internal_errors.append("".join(traceback.format_exception(exc)))
            if not self.started:
                self.put(_Failed(exc))
                return
        if not self.complete:
            self.put(_DROPPED)


def _scope(request: httpx.Request | Any) -> dict[str, Any]:
    url = request.url
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
        "scheme": url.scheme,
        "path": url.path,
        "raw_path": url.raw_path.split(b"?")[0],
        "query_string": url.query,
        "server": (url.host, url.port),
        "client": ("127.0.0.1", 123),
        "root_path": "",
    }


def _read_timeout(request: Any) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    value = timeout.get("read")
    return float(value) if value is not None else None


# --------------------------------------------------------------------------------------------------
# The client's side


@dataclass(frozen=True, slots=True)
class _Library:
    """The classes of httpx or httpx2 that a transport has to hand back."""

    response: Callable[..., Any]
    stream: Callable[[_Body], Any]  # the response body
    remote_protocol_error: Callable[..., Exception]
    read_error: Callable[..., Exception]
    read_timeout: Callable[..., Exception]


class _LoopThread:
    """A background event loop for sync requests."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def _run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=_run, name="fakellm-inprocess", daemon=True)
                self._thread.start()
                ready.wait(10)
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, None]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return

        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


class _Body:
    """One response body, read from the queue the app writes to."""

    def __init__(
        self,
        owner: InProcess,
        library: _Library,
        request: Any,
        exchange: _Exchange,
        head: _Head,
        get: Callable[[float | None], object] | None = None,
        aget: Callable[[float | None], Coroutine[Any, Any, object]] | None = None,
        close: Callable[[], None] | None = None,
        aclose: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.owner = owner
        self.library = library
        self.request = request
        self.exchange = exchange
        self.head = head
        self._get, self._aget, self._close, self._aclose = get, aget, close, aclose
        self._done = False

    def _chunk(self, message: object) -> bytes | None:
        if isinstance(message, bytes):
            if message == _END:
                self._done = True
                return None
            return message
        self._done = True
        if message is _DROPPED:
            if self.owner.was_reset(self.head):
                raise self.library.read_error(_RESET_MESSAGE, request=self.request)
            raise self.library.remote_protocol_error(
                "peer closed connection without sending complete message body (incomplete chunked read)",
                request=self.request,
            )
        raise self.library.remote_protocol_error(f"fakellm in-process: unexpected {message!r}")

    def iter(self) -> Iterator[bytes]:
        assert self._get is not None, "an async response body cannot be read from sync code"
        timeout = _read_timeout(self.request)
        while not self._done:
            try:
                message = self._get(timeout)
            except queue.Empty:
                raise self.library.read_timeout("timed out", request=self.request) from None
            chunk = self._chunk(message)
            if chunk is not None:
                yield chunk

    async def aiter(self) -> AsyncIterator[bytes]:
        assert self._aget is not None, "a sync response body cannot be read from async code"
        timeout = _read_timeout(self.request)
        while not self._done:
            try:
                message = await self._aget(timeout)
            except TimeoutError:
                raise self.library.read_timeout("timed out", request=self.request) from None
            chunk = self._chunk(message)
            if chunk is not None:
                yield chunk

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None

    async def aclose(self) -> None:
        if self._aclose is not None:
            await self._aclose()
            self._aclose = None


class _BodyStream:
    """A :class:`_Body` as a response's byte stream. httpx and httpx2 have the same stream API in
    different classes: each gets a subclass of this and of its own base classes."""

    def __init__(self, body: _Body) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        return self._body.iter()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._body.aiter()

    def close(self) -> None:
        self._body.close()

    async def aclose(self) -> None:
        await self._body.aclose()


class _HttpxBody(_BodyStream, httpx.SyncByteStream, httpx.AsyncByteStream):
    pass


_HTTPX = _Library(httpx.Response, _HttpxBody, httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout)


class _Engine:
    """Sends requests into the app: on the caller's loop (async) or on a background one (sync)."""

    def __init__(self, owner: InProcess, library: _Library) -> None:
        self.owner = owner
        self.library = library

    def _response(self, request: Any, exchange: _Exchange, first: object, **io: Any) -> Any:
        """The response whose head is ``first`` (the app's first message), its body read through
        ``io`` (the sync or the async queue's get and close)."""
        head = self._head(first, request)
        body = _Body(self.owner, self.library, request, exchange, head, **io)
        return self.library.response(head.status, headers=head.headers, stream=self.library.stream(body))

    def send(self, request: Any) -> Any:
        owner = self.owner
        data = request.read()
        inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        exchange = _Exchange(owner.app, _scope(request), data, inbox.put)
        runner = owner.loop_thread
        future = runner.submit(exchange.run())
        timeout = _read_timeout(request)

        def get(wait: float | None) -> object:
            return inbox.get(timeout=wait)

        def close() -> None:
            if future.done():
                return
            with contextlib.suppress(RuntimeError):
                runner.loop.call_soon_threadsafe(exchange.disconnect)
            try:
                future.result(2)
            except Exception:
                future.cancel()

        try:
            first = inbox.get(timeout=timeout)
        except queue.Empty:
            close()
            raise self.library.read_timeout("timed out", request=request) from None
        response = self._response(request, exchange, first, get=get, close=close)
        owner.track(future, close)
        return response

    async def asend(self, request: Any) -> Any:
        owner = self.owner
        data = await request.aread()
        inbox: asyncio.Queue[object] = asyncio.Queue()
        exchange = _Exchange(owner.app, _scope(request), data, inbox.put_nowait)
        task = asyncio.get_running_loop().create_task(exchange.run(), name="fakellm-inprocess-request")
        timeout = _read_timeout(request)

        async def aget(wait: float | None) -> object:
            return await asyncio.wait_for(inbox.get(), wait)

        async def aclose() -> None:
            if task.done():
                return
            exchange.disconnect()
            _done, pending = await asyncio.wait({task}, timeout=2)
            for t in pending:
                t.cancel()
                with contextlib.suppress(BaseException):
                    await t

        try:
            first = await asyncio.wait_for(inbox.get(), timeout)
        except TimeoutError:
            await aclose()
            raise self.library.read_timeout("timed out", request=request) from None
        response = self._response(request, exchange, first, aget=aget, aclose=aclose)
        owner.track_task(task, exchange)
        return response

    def _head(self, message: object, request: Any) -> _Head:
        if isinstance(message, _Head):
            return message
        if isinstance(message, _Failed):
            return _Head(500, [(b"content-type", b"text/plain; charset=utf-8")])
        raise self.library.remote_protocol_error(
            "Server disconnected without sending a response.", request=request
        )


class StreamingASGITransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport into a fakellm app that streams the body as the app produces it (for
    ``httpx.Client`` and ``httpx.AsyncClient``). Get one from :meth:`InProcess.transport`."""

    def __init__(self, owner: InProcess) -> None:
        self._engine = _Engine(owner, _HTTPX)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self._engine.send(request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self._engine.asend(request)
        return response


if httpx2 is not None:

    class _Httpx2Body(_BodyStream, httpx2.SyncByteStream, httpx2.AsyncByteStream):
        pass

    _HTTPX2 = _Library(
        httpx2.Response, _Httpx2Body, httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.ReadTimeout
    )

    class StreamingASGITransport2(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
        """The same transport for ``httpx2`` clients (what openai >= 3 sends through)."""

        def __init__(self, owner: InProcess) -> None:
            self._engine = _Engine(owner, _HTTPX2)

        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            response: httpx2.Response = self._engine.send(request)
            return response

        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            response: httpx2.Response = await self._engine.asend(request)
            return response


def openai_uses_httpx2() -> bool:
    """openai >= 3 sends through httpx2; openai 2.x through httpx."""
    import openai

    major = int(openai.__version__.split(".", 1)[0])
    return major >= 3 and httpx2 is not None


# --------------------------------------------------------------------------------------------------
# The public handle


class InProcess:
    """A fakellm app with no socket, and clients wired straight into it::

        with fakellm.InProcess(scenarios=[{"name": "default", "content": {"text": "Hi"}}]) as fake:
            client = fake.openai_client()
            ...
            assert fake.journal.last.text == "Hi"

    ``base_url`` is ``http://fakellm.invalid/v1``: only the clients made here (and, inside
    :meth:`intercept`, httpx clients of the code under test) can reach it.
    """

    base_url = INPROCESS_URL

    def __init__(
        self,
        app: FakeLLMApp | None = None,
        *,
        config: ServerConfig | None = None,
        scenarios: Any = (),
        seed: int | None = None,
    ) -> None:
        if app is None:
            app = create_app(config or server_config(scenarios=scenarios, seed=seed))
        self.app = app
        self.loop_thread = _LoopThread()
        self.problems: list[str] = []  # what in-process mode could not do (see the module docstring)
        self._closers: list[tuple[Any, Callable[[], None]]] = []
        self._tasks: list[tuple[asyncio.Task[None], _Exchange]] = []
        self._clients: list[Any] = []

    @property
    def state(self) -> ServerState:
        return self.app.state

    @property
    def journal(self) -> Journal:
        return self.app.state.journal

    # -- transports and clients -------------------------------------------------------------------
    def transport(self) -> StreamingASGITransport:
        """An httpx transport (sync and async) into the app."""
        return StreamingASGITransport(self)

    def transport2(self) -> Any:
        """The same for httpx2 (openai >= 3)."""
        if httpx2 is None:  # pragma: no cover
            raise RuntimeError("httpx2 is not installed")
        return StreamingASGITransport2(self)

    def httpx_client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("base_url", self.base_url)
        return self._keep(httpx.Client(transport=self.transport(), **kwargs))

    def async_httpx_client(self, **kwargs: Any) -> httpx.AsyncClient:
        kwargs.setdefault("base_url", self.base_url)
        return httpx.AsyncClient(transport=self.transport(), **kwargs)

    def openai_client(self, **kwargs: Any) -> Any:
        import openai

        if "http_client" not in kwargs:
            if openai_uses_httpx2():
                kwargs["http_client"] = httpx2.Client(transport=self.transport2())
            else:
                kwargs["http_client"] = httpx.Client(transport=self.transport())
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("api_key", "fakellm")
        return self._keep(openai.OpenAI(**kwargs))

    def async_openai_client(self, **kwargs: Any) -> Any:
        import openai

        if "http_client" not in kwargs:
            if openai_uses_httpx2():
                kwargs["http_client"] = httpx2.AsyncClient(transport=self.transport2())
            else:
                kwargs["http_client"] = httpx.AsyncClient(transport=self.transport())
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("api_key", "fakellm")
        return openai.AsyncOpenAI(**kwargs)

    # -- routing the code under test ----------------------------------------------------------------
    @contextlib.contextmanager
    def intercept(self) -> Iterator[Any]:
        """Route httpx requests for ``https://api.openai.com/v1`` (and :attr:`base_url`) made by any
        client into the app, through respx; everything else passes through untouched. openai >= 3
        clients built by the code under test send through httpx2, which respx cannot see: their
        requests to those URLs fail with a message saying so, and are recorded in ``problems``."""
        import respx
        from respx.models import AllMockedAssertionError

        transport = self.transport()

        def _route(request: httpx.Request) -> Any:
            if _inside_async_respx():
                return transport.handle_async_request(request)
            return transport.handle_request(request)

        def _not_ours(request: httpx.Request) -> httpx.Request:
            mocker = router.Mocker
            if mocker is not None and len(mocker.routers) > 1:
                # Another respx router (the test's own respx_mock) is active: let it decide.
                raise AllMockedAssertionError(f"fakellm does not route {request!r}")
            return request  # pass through to the network

        router = respx.mock(assert_all_called=False, assert_all_mocked=True)
        for host in _HOSTS:
            router.route(host=host).mock(side_effect=_route)
        router.route().mock(side_effect=_not_ours)
        with router, self._guard_httpx2():
            yield router

    @contextlib.contextmanager
    def _guard_httpx2(self) -> Iterator[None]:
        if httpx2 is None:  # pragma: no cover
            yield
            return
        sync_send = httpx2.HTTPTransport.handle_request
        async_send = httpx2.AsyncHTTPTransport.handle_async_request

        def _refuse(request: Any) -> None:
            if request.url.host in _HOSTS:
                message = _HTTPX2_MESSAGE.format(method=request.method, url=request.url)
                if message not in self.problems:
                    self.problems.append(message)
                raise httpx2.ConnectError(message, request=request)

        def handle_request(transport: Any, request: httpx2.Request) -> httpx2.Response:
            _refuse(request)
            return sync_send(transport, request)

        async def handle_async_request(transport: Any, request: httpx2.Request) -> httpx2.Response:
            _refuse(request)
            return await async_send(transport, request)

        httpx2.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign,assignment]
        httpx2.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            httpx2.HTTPTransport.handle_request = sync_send  # type: ignore[method-assign]
            httpx2.AsyncHTTPTransport.handle_async_request = async_send  # type: ignore[method-assign]

    # -- bookkeeping -------------------------------------------------------------------------------
    def _keep(self, client: _C) -> _C:
        """Remember a sync client, to close it in :meth:`close` (those already closed are dropped)."""
        self._clients = [c for c in self._clients if not _is_closed(c)]
        self._clients.append(client)
        return client

    def was_reset(self, head: _Head) -> bool:
        """Whether the stream behind ``head`` ended in a TCP reset, which cannot be done here; if so
        it is recorded in ``problems``."""
        request_id = next((v.decode() for k, v in head.headers if k.lower() == b"x-request-id"), None)
        if request_id is None:
            return False
        for entry in reversed(self.journal.entries()):
            if entry.request_id == request_id:
                if entry.outcome == "reset":
                    if _RESET_MESSAGE not in self.problems:
                        self.problems.append(_RESET_MESSAGE)
                    return True
                return False
        return False

    def track(self, future: Any, close: Callable[[], None]) -> None:
        self._closers = [(f, c) for f, c in self._closers if not f.done()]
        self._closers.append((future, close))

    def track_task(self, task: asyncio.Task[None], exchange: _Exchange) -> None:
        self._tasks = [(t, e) for t, e in self._tasks if not t.done()]
        self._tasks.append((task, exchange))

    def end_requests(self) -> None:
        """End every request still open (the client went away without closing its response)."""
        closers, self._closers = self._closers, []
        for _future, close in closers:
            with contextlib.suppress(Exception):
                close()
        self.end_tasks()

    def end_tasks(self) -> None:
        """End the async requests still open, on their own loops (when those are idle)."""
        tasks, self._tasks = self._tasks, []
        for task, exchange in tasks:
            if task.done():
                continue
            loop = task.get_loop()
            if loop.is_closed():
                continue
            exchange.disconnect()
            task.cancel()
            if not loop.is_running():
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(asyncio.gather(task, return_exceptions=True))

    def close(self) -> None:
        self.end_requests()
        clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
        self.loop_thread.close()

    def __enter__(self) -> InProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _is_closed(client: Any) -> bool:
    closed = getattr(client, "is_closed", False)  # a property on httpx clients, a method on openai's
    return bool(closed() if callable(closed) else closed)


def _inside_async_respx() -> bool:
    """Whether respx is resolving this request for an async client (its ``aresolve``): a side
    effect is told nothing else, and must then return an awaitable rather than a response."""
    frame = sys._getframe(1)
    for _ in range(30):
        if frame is None:
            break
        code = frame.f_code
        if code.co_name in ("aresolve", "resolve") and code.co_filename.endswith("router.py"):
            return code.co_name == "aresolve"
        frame = frame.f_back  # type: ignore[assignment]
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
