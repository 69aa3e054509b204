"""The last stage: frames onto the connection at their due times.

Sleeps are to absolute deadlines (``t0 + frame.due``) on the event loop's clock, through a
future that the server can wake at shutdown; a client that disconnects cancels the task that is
sleeping, so no wait outlives its stream.

Dropping a connection cannot be said in ASGI: the generator raises :class:`DropConnection`, the
ASGI wrapper in ``app.py`` swallows it and returns without finishing the body, and hypercorn then
closes the socket with no chunked terminator. A reset needs ``SO_LINGER {1, 0}`` and an abort of
the transport itself, which ASGI does not expose; :func:`reset_connection` reaches it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .journal import JournalEntry
from .stream import DROP_RST, HOLD, WRITE, Frame, StreamContext

__all__ = ["ActiveStreams", "DropConnection", "reset_connection"]


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


class ActiveStreams:
    """The streams in flight, so that shutdown can end every one of them at once."""

    def __init__(self) -> None:
        self._runs: set[_Run] = set()

    def __len__(self) -> int:
        return len(self._runs)

    def stop_all(self) -> None:
        for run in list(self._runs):
            run.wake()

    async def send(
        self, frames: Iterator[Frame], ctx: StreamContext, entry: JournalEntry, t0: float
    ) -> AsyncIterator[bytes]:
        """The body of a streaming response: ``frames`` written at ``t0 + frame.due``."""
        loop = asyncio.get_running_loop()
        run = _Run()
        self._runs.add(run)
        outcome = "client_disconnected"
        try:
            for frame in frames:
                deadline = t0 + frame.due
                if deadline > loop.time() and not run.stopping:
                    fut = loop.create_future()
                    handle = loop.call_at(deadline, _release, fut)
                    run.waiter = fut
                    try:
                        await fut
                    finally:
                        handle.cancel()
                        run.waiter = None
                if run.stopping:
                    outcome = "server_shutdown"
                    raise DropConnection("fin")
                if frame.action != WRITE:
                    if frame.action == HOLD:
                        run.waiter = loop.create_future()
                        await run.waiter
                        outcome = "server_shutdown"
                        raise DropConnection("fin")
                    outcome = "reset" if frame.action == DROP_RST else "dropped"
                    raise DropConnection("rst" if frame.action == DROP_RST else "fin")
                data = frame.data
                if not data:
                    continue
                yield data
                # Back here once the bytes are handed to the socket.
                elapsed_ms = (loop.time() - t0) * 1000.0
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
        finally:
            self._runs.discard(run)
            entry.outcome = outcome
            entry.duration_ms = (loop.time() - t0) * 1000.0
            entry.faults = list(ctx.fired)


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
