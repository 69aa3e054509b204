"""The last stage: frames onto the connection at their due times.

Sleeps are to absolute deadlines (``t0 + frame.due``) on the event loop's clock, through a
future that the server can wake at shutdown; a client that disconnects cancels the task that is
sleeping, so no wait outlives its stream.

Dropping a connection cannot be said in ASGI: the generator raises :class:`DropConnection`, the
ASGI wrapper in ``app.py`` swallows it and returns without finishing the body, and hypercorn then
closes the socket with no chunked terminator. A reset needs ``SO_LINGER {1, 0}`` and an abort of
the transport itself, which ASGI does not expose; :func:`reset_connection` reaches it.

The fast path (deliberately not ASGI): on hypercorn over HTTP/1.1, once the response head is out
and h11 frames the body as chunked, a frame is written straight to the connection's transport as
``<hex length>\r\n<data>\r\n``, the bytes h11 would have written for it. Yielding it instead
costs each chunk a trip through Quart's body loop, hypercorn's stream and protocol objects, h11's
state machine, the connection's send lock and a drain, about a third of the server's CPU per chunk
(``benchmarks/``). The end of the body still goes through ASGI (h11 writes ``0\r\n\r\n``), and
anything else (another server, HTTP/2, an HTTP/1.0 client, the in-process transport, a send lock
held by someone else) takes the ASGI path, frame by frame.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import Any

from .journal import JournalEntry
from .stream import DROP_RST, HOLD, WRITE, Frame, StreamContext

__all__ = ["CONNECTION_SEND", "ActiveStreams", "DropConnection", "reset_connection"]

# The ASGI ``send`` of the request being served, set by the ASGI wrapper (``app.py``): the way from
# a response body back to its connection, for the fast path.
CONNECTION_SEND: ContextVar[Any] = ContextVar("fakellm_connection_send", default=None)


class DropConnection(Exception):
    """Raised by a stream to close its connection abruptly (``mode`` is ``fin`` or ``rst``)."""

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        self.mode = mode


class _Run:
    __slots__ = ("stopping", "waiter")

    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None
        self.stopping = False

    def wake(self) -> None:
        self.stopping = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


def _release(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _MillisecondTicks:
    """Deadline wake-ups on a loop whose timers tick in whole milliseconds (uvloop, whose
    ``call_at`` fires at the millisecond nearest the deadline): every stream due in the same tick
    shares one timer. They would all have woken at that tick anyway; what is saved is a timer per
    chunk, about 8% of the server's CPU per chunk at 150 streams (``benchmarks/``). Loops with
    finer timers (asyncio's own) keep one exact timer per wait."""

    __slots__ = ("due", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.due: dict[int, list[asyncio.Future[None]]] = {}

    @staticmethod
    def of(loop: asyncio.AbstractEventLoop, current: _MillisecondTicks | None) -> _MillisecondTicks | None:
        if current is not None and current.loop is loop:
            return current
        return _MillisecondTicks(loop) if type(loop).__module__.startswith("uvloop") else None

    def future(self, deadline: float) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = self.loop.create_future()
        tick = round(deadline * 1000.0)
        waiting = self.due.get(tick)
        if waiting is None:
            self.due[tick] = [fut]
            self.loop.call_at(tick / 1000.0, self._fire, tick)
        else:
            waiting.append(fut)
        return fut

    def _fire(self, tick: int) -> None:
        for fut in self.due.pop(tick, ()):
            if not fut.done():  # a stream that was cancelled or woken for shutdown meanwhile
                fut.set_result(None)


class ActiveStreams:
    """The streams in flight, so that shutdown can end every one of them at once."""

    def __init__(self) -> None:
        self._runs: set[_Run] = set()
        self._ticks: _MillisecondTicks | None = None

    def __len__(self) -> int:
        return len(self._runs)

    def stop_all(self) -> None:
        for run in list(self._runs):
            run.wake()

    async def sleep_until(self, deadline: float) -> bool:
        """Wait until ``deadline`` (event-loop time) as one of the runs in flight, so that server
        shutdown ends the wait at once (a non-streaming answer that is not due yet). Returns False
        when shutdown ended it; a client that goes away cancels it, as it cancels a stream."""
        loop = asyncio.get_running_loop()
        run = _Run()
        self._runs.add(run)
        try:
            if deadline > loop.time():
                fut = loop.create_future()
                handle = loop.call_at(deadline, _release, fut)
                run.waiter = fut
                try:
                    await fut
                finally:
                    handle.cancel()
                    run.waiter = None
            return not run.stopping
        finally:
            self._runs.discard(run)

    async def send(
        self,
        frames: Iterator[Frame] | AsyncIterator[Frame],
        ctx: StreamContext,
        entry: JournalEntry,
        t0: float,
    ) -> AsyncIterator[bytes]:
        """The body of a streaming response: ``frames`` written at ``t0 + frame.due``."""
        loop = asyncio.get_running_loop()
        run = _Run()
        self._runs.add(run)
        # Until the stream ends on its own terms, an exit (cancellation when the client goes away,
        # or the body generator closed by the server) means the client disconnected.
        outcome = "client_disconnected"
        # The faults that fired so far, live: a stream held open after an error event still shows
        # it (the pytest plugin reads this while the client decides what to do).
        entry.faults = ctx.fired
        # Looked up here, at the first frame: the response head has been sent by now.
        direct = _DirectWriter.of(CONNECTION_SEND.get())
        ticks = self._ticks = _MillisecondTicks.of(loop, self._ticks)
        try:
            async for frame in frames if isinstance(frames, AsyncIterator) else _ahead(frames):
                deadline = t0 + frame.due
                if deadline > loop.time() and not run.stopping:
                    handle = None
                    if ticks is not None:
                        fut = ticks.future(deadline)
                    else:
                        fut = loop.create_future()
                        handle = loop.call_at(deadline, _release, fut)
                    run.waiter = fut
                    try:
                        await fut
                    finally:
                        if handle is not None:
                            handle.cancel()
                        run.waiter = None
                if run.stopping:
                    outcome = "server_shutdown"
                    raise DropConnection("fin")
                if frame.action != WRITE:
                    if frame.action == HOLD:
                        # Nothing more is sent. If an error event was sent just before, that is
                        # how the stream ended, however the connection closes afterwards.
                        outcome = ctx.ending or "client_disconnected"
                        run.waiter = loop.create_future()
                        await run.waiter
                        outcome = ctx.ending or "server_shutdown"
                        raise DropConnection("fin")
                    outcome = "reset" if frame.action == DROP_RST else "dropped"
                    raise DropConnection("rst" if frame.action == DROP_RST else "fin")
                data = frame.data
                if not data:
                    continue
                if direct is not None and direct.ready():
                    sent = direct.write(data)
                    if sent and direct.backlogged():
                        sent = await direct.drain()
                    if not sent:
                        raise DropConnection("fin")  # the client has gone: nothing left to end
                else:
                    yield data
                # Back here once the bytes are handed to the socket.
                # To the microsecond: float noise on the loop's clock must not make a token due at
                # 200 ms read as 199.99999999997 ms in the journal.
                elapsed_ms = round((loop.time() - t0) * 1000.0, 3)
                ctx.elapsed_ms = elapsed_ms
                ctx.bytes_sent += len(data)
                entry.bytes_sent = ctx.bytes_sent
                if entry.first_byte_ms is None:
                    entry.first_byte_ms = elapsed_ms
                if frame.tokens:
                    ctx.tokens_sent += frame.tokens
                    entry.tokens_sent = ctx.tokens_sent
                    entry.text_parts.append(frame.text or "")
                    if entry.first_token_ms is None:
                        entry.first_token_ms = elapsed_ms
            outcome = ctx.ending or ("stalled_then_completed" if ctx.stalled else "completed")
        except (DropConnection, asyncio.CancelledError, GeneratorExit):
            raise
        except Exception:
            outcome = "server_error"  # a bug in a stage: the app logs it; the journal says so
            raise
        finally:
            self._runs.discard(run)
            entry.outcome = outcome
            entry.duration_ms = round((loop.time() - t0) * 1000.0, 3)
            entry.faults = list(ctx.fired)


async def _ahead(frames: Iterator[Frame]) -> AsyncIterator[Frame]:
    """A stream planned ahead (served, replayed) as the async iterator a proxied stream is: its
    frames arrive as the upstream sends them (``proxy.py``)."""
    for frame in frames:
        yield frame


class _DirectWriter:
    """The fast path: body chunks straight onto a hypercorn HTTP/1.1 connection (module docstring)."""

    __slots__ = ("lock", "transport", "writer")

    def __init__(self, writer: Any, lock: asyncio.Lock) -> None:
        self.writer = writer
        self.transport = writer.transport
        self.lock = lock

    @classmethod
    def of(cls, send: Any) -> _DirectWriter | None:
        """Hypercorn's ``HTTPStream.app_send`` -> ``H11Protocol`` (its ``h11.Connection``) ->
        ``TCPServer`` (its ``StreamWriter`` and send lock); None when any link is missing or h11
        is not framing this body as chunked. Hypercorn and h11 internals: pinned by the tests of
        chunk framing and disconnects (tests/e2e/test_transport_fast_path.py)."""
        protocol = getattr(getattr(getattr(send, "__self__", None), "send", None), "__self__", None)
        server = getattr(getattr(protocol, "send", None), "__self__", None)
        writer = getattr(server, "writer", None)
        lock = getattr(server, "send_lock", None)
        h11_writer = getattr(getattr(protocol, "connection", None), "_writer", None)
        if writer is None or not isinstance(lock, asyncio.Lock) or not hasattr(writer, "transport"):
            return None
        if type(h11_writer).__name__ != "ChunkedWriter":
            return None
        return cls(writer, lock)

    def ready(self) -> bool:
        return not self.lock.locked()

    def write(self, data: bytes) -> bool:
        """False when the connection is closing (the client went away)."""
        transport = self.transport
        if transport.is_closing():
            return False
        try:
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        except (ConnectionError, RuntimeError):
            return False
        return True

    def backlogged(self) -> bool:
        return bool(self.transport.get_write_buffer_size())

    async def drain(self) -> bool:
        """Wait while a slow reader's backlog is over the transport's limit, as hypercorn would."""
        try:
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            return False
        return True


def _find_writer(send: Any) -> Any:
    """Walk from hypercorn's ASGI ``send`` (HTTPStream.app_send) through the protocol objects to the
    connection's asyncio ``StreamWriter``. Hypercorn internals: pinned by the reset test."""
    obj: Any = send
    for _ in range(6):
        owner = getattr(obj, "__self__", None)
        if owner is None:
            return None
        writer = getattr(owner, "writer", None)
        if writer is not None and hasattr(writer, "transport"):
            return writer
        obj = getattr(owner, "send", None)
    return None


def reset_connection(send: Any) -> bool:
    """Close this ASGI connection with a TCP RST: ``SO_LINGER {1, 0}``, then abort the transport
    (hypercorn's own close would send a FIN first, which the client would read as a clean EOF).
    Returns False when the connection cannot be reached (the caller then drops with a FIN)."""
    writer = _find_writer(send)
    if writer is None:
        return False
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    try:
        # Through a real socket object on a dup of the fd: uvloop's PseudoSocket ignores it.
        with socket.socket(fileno=os.dup(sock.fileno())) as real:
            real.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        return False
    writer.transport.abort()
    return True
