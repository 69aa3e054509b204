"""The last stage: frames onto the connection at their due times.

Sleeps are to absolute deadlines (``t0 + frame.due``, on ``clock.now``), through a future from
the loop's waker (``clock.py``) that the server can also complete at shutdown; a client that
disconnects cancels the task that is sleeping, so no wait outlives its stream.

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
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextvars import ContextVar
from typing import Any

from .clock import Waker, elapsed_ms, now, open_waker
from .journal import JournalEntry
from .observe import NO_OBSERVER, StreamObserver
from .stream import DROP_RST, HOLD, WRITE, Frame, StreamContext

__all__ = ["CONNECTION_SEND", "ActiveStreams", "DropConnection", "arrival", "reset_connection"]

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


class _Wakers:
    """One waker per event loop with streams in flight (``clock.py``), closed with its last stream:
    a server stopped and started again on a new loop, or an app also driven in-process from a
    test's loop, never shares a timer across loops, and no descriptor outlives its streams."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: dict[asyncio.AbstractEventLoop, list[Any]] = {}  # loop -> [waker, users]

    def acquire(self, loop: asyncio.AbstractEventLoop) -> Waker:
        held = self._open.get(loop)
        if held is None:
            held = self._open[loop] = [open_waker(loop), 0]
        held[1] += 1
        waker: Waker = held[0]
        return waker

    def release(self, loop: asyncio.AbstractEventLoop) -> None:
        held = self._open[loop]
        held[1] -= 1
        if not held[1]:
            del self._open[loop]
            held[0].close()

    def __len__(self) -> int:
        return len(self._open)


class ActiveStreams:
    """The streams in flight, so that shutdown can end every one of them at once. Each stream is
    told to ``observer`` (``observe.py``): opened, each token frame written, ended."""

    def __init__(self, observer: StreamObserver = NO_OBSERVER) -> None:
        self._runs: set[_Run] = set()
        self._wakers = _Wakers()
        self.observer = observer

    def __len__(self) -> int:
        return len(self._runs)

    def stop_all(self) -> None:
        for run in list(self._runs):
            run.wake()

    async def sleep_until(self, deadline: float) -> bool:
        """Wait until ``deadline`` (seconds on ``clock.now``) as one of the runs in flight, so that server
        shutdown ends the wait at once (a non-streaming answer that is not due yet). Returns False
        when shutdown ended it; a client that goes away cancels it, as it cancels a stream."""
        loop = asyncio.get_running_loop()
        waker = self._wakers.acquire(loop)
        run = _Run()
        self._runs.add(run)
        try:
            if deadline > now():
                run.waiter = waker.at(deadline)
                try:
                    await run.waiter
                finally:
                    run.waiter = None
            return not run.stopping
        finally:
            self._runs.discard(run)
            self._wakers.release(loop)

    async def send(
        self,
        frames: Iterator[Frame] | AsyncIterator[Frame],
        ctx: StreamContext,
        entry: JournalEntry,
        t0: float,
    ) -> AsyncGenerator[bytes, None]:
        """The body of a streaming response: ``frames`` written at ``t0 + frame.due``."""
        loop = asyncio.get_running_loop()
        waker = self._wakers.acquire(loop)
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
        # A planned stream's last frame is known before it is sent (_ahead); a proxied stream's is
        # not, and its end is taken to be near at its first closing frame (the journal's readers
        # wait for the entry, briefly, from then on: journal.py).
        proxied = isinstance(frames, AsyncIterator)
        end = _Last()
        source = frames if isinstance(frames, AsyncIterator) else _ahead(frames, end)
        settling = False
        watch = self.observer.opened(entry)
        try:
            async for frame in source:
                deadline = t0 + frame.due
                if deadline > now() and not run.stopping:
                    run.waiter = waker.at(deadline)
                    try:
                        await run.waiter
                    finally:
                        run.waiter = None
                if run.stopping:
                    outcome = "server_shutdown"
                    raise DropConnection("fin")
                if frame.action != WRITE:
                    if frame.action == HOLD:
                        # Nothing more is sent. If an error event was sent just before, that is
                        # how the stream ended, however the connection closes afterwards.
                        outcome = ctx.ending or "client_disconnected"
                        if ctx.ending is not None:  # the content ended with that error event
                            entry.outcome = ctx.ending
                        entry.held()  # nothing more will come for a while: readers need not wait
                        run.waiter = loop.create_future()
                        await run.waiter
                        outcome = ctx.ending or "server_shutdown"
                        raise DropConnection("fin")
                    outcome = "reset" if frame.action == DROP_RST else "dropped"
                    raise DropConnection("rst" if frame.action == DROP_RST else "fin")
                data = frame.data
                if not settling and (frame is end.frame or (proxied and frame.closing)):
                    # The end of the stream is about to be written, its outcome known: journaled
                    # now, as the client may read the journal the moment it has these bytes. A
                    # proxied stream's client that leaves after them (the SDK closes at [DONE])
                    # before the upstream has closed still saw the stream end as it was going to.
                    settling = True
                    outcome = _ending(ctx)
                    if not proxied:
                        entry.outcome = outcome  # written again in the end, or another if this write fails
                    entry.settling()
                if not data:
                    continue
                if direct is not None and direct.ready():
                    sent = direct.write(data)
                    if sent and direct.backlogged():
                        sent = await direct.drain()
                    if not sent:
                        outcome = "client_disconnected"
                        raise DropConnection("fin")  # the client has gone: nothing left to end
                else:
                    yield data
                # Back here once the bytes are handed to the socket.
                elapsed = elapsed_ms(t0)
                ctx.elapsed_ms = elapsed
                ctx.bytes_sent += len(data)
                entry.bytes_sent = ctx.bytes_sent
                if entry.first_byte_ms is None:
                    entry.first_byte_ms = elapsed
                if frame.tokens:
                    ctx.tokens_sent += frame.tokens
                    entry.tokens_sent = ctx.tokens_sent
                    if frame.text is not None or not frame.arguments:
                        entry.text_parts.append(frame.text or "")
                    for call, fragment in frame.arguments:
                        entry.call_part(call, fragment)
                    for choice, text in frame.choice_texts:
                        entry.choice_part(choice, text)
                    if entry.first_token_ms is None:
                        entry.first_token_ms = elapsed
                    watch.wrote(frame.due, elapsed, frame.tokens)
            outcome = _ending(ctx)
        except (DropConnection, asyncio.CancelledError, GeneratorExit):
            raise
        except Exception:
            outcome = "server_error"  # a bug in a stage: the app logs it; the journal says so
            raise
        finally:
            self._runs.discard(run)
            self._wakers.release(loop)
            entry.outcome = outcome
            entry.duration_ms = elapsed_ms(t0)
            entry.faults = list(ctx.fired)
            # Before the journal's readers are let go: a test that has read this entry finds
            # the metrics agreeing with it.
            watch.ended(outcome, entry.duration_ms)
            entry.settled()


def _ending(ctx: StreamContext) -> str:
    """The outcome of a stream that sent all its frames."""
    return ctx.ending or ("stalled_then_completed" if ctx.stalled else "completed")


class _Last:
    """The last frame of a planned stream, once :func:`_ahead` has seen it."""

    __slots__ = ("frame",)

    def __init__(self) -> None:
        self.frame: Frame | None = None


async def _ahead(frames: Iterator[Frame], last: _Last) -> AsyncIterator[Frame]:
    """A stream planned ahead (served, replayed) as the async iterator a proxied stream is: its
    frames arrive as the upstream sends them (``proxy.py``).

    From the first closing frame on (finish, usage, ``[DONE]``, an error event) it looks one frame
    ahead, so that the transport knows the last frame before it writes it (``last``). Not earlier:
    the fault stages run one frame ahead of the transport, and note the byte they fired at."""
    it = iter(frames)
    for frame in it:
        if frame.closing:
            break
        yield frame
    else:
        return
    for following in it:
        yield frame
        frame = following
    last.frame = frame
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
        """The connection's ``StreamWriter`` and send lock (``_hypercorn_connection``); None when any
        link is missing or h11 is not framing this body as chunked. Hypercorn and h11 internals:
        pinned by the tests of chunk framing and disconnects (tests/e2e/test_transport_fast_path.py)."""
        protocol, server = _hypercorn_connection(send)
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


def _hypercorn_connection(send: Any) -> tuple[Any, Any]:
    """From hypercorn's ASGI ``send`` (``HTTPStream.app_send``) to the connection's protocol
    (``H11Protocol``, its ``h11.Connection``) and its ``TCPServer`` (reader, writer, send lock);
    None for whatever is not there (another server, the in-process transport)."""
    protocol = getattr(getattr(getattr(send, "__self__", None), "send", None), "__self__", None)
    server = getattr(getattr(protocol, "send", None), "__self__", None)
    return protocol, server


def _find_writer(send: Any) -> Any:
    """The connection's asyncio ``StreamWriter`` (``_hypercorn_connection``), or None."""
    writer = getattr(_hypercorn_connection(send)[1], "writer", None)
    return writer if hasattr(writer, "transport") else None


class _Arrivals:
    """The ``feed_data`` of one connection's ``StreamReader``, noting when data last came."""

    __slots__ = ("arrived", "feed")

    def __init__(self, feed: Any) -> None:
        self.feed = feed
        self.arrived: float | None = None

    def __call__(self, data: bytes) -> None:
        self.arrived = now()
        self.feed(data)


def arrival(send: Any) -> float | None:
    """When the request answered through ``send`` came in on its connection (``clock.now``), or
    None when that is not known: the first request of a connection, a request that came in the
    same read as the one before it (pipelined), anything not served by hypercorn.

    A stream's schedule starts here rather than when the app is called: in between, hypercorn
    parses the request and hands it to a new task over several loop iterations, 0.3-0.6 ms at
    100 streams and over a millisecond at the tail, which every token of the stream would
    otherwise be late by (``benchmarks/README.md``). The moment is the one asyncio's stream
    protocol hands the bytes to the connection's ``StreamReader`` (``feed_data``); the first
    request of a connection wraps that method on that reader alone, so its later requests are
    timed. Hypercorn internals: pinned by tests/e2e/test_transport_fast_path.py."""
    _, server = _hypercorn_connection(send)
    reader = getattr(server, "reader", None)
    feed = getattr(reader, "feed_data", None)
    if isinstance(feed, _Arrivals):
        arrived, feed.arrived = feed.arrived, None  # one read, one request
        return arrived
    if isinstance(reader, asyncio.StreamReader):
        setattr(reader, "feed_data", _Arrivals(feed))  # noqa: B010  (an instance attribute, on purpose)
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
