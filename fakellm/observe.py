"""The observer seam: what the server tells about each request and each stream, for whoever
watches (``metrics.py`` today), without more code in the transport for each watcher.

hypercorn's ``StatsdLogger`` is the model: metrics are one implementation of a reporting seam the
server already calls, not counters threaded through the code that serves. Three moments:

- :meth:`StreamObserver.opened`: a stream starts (its response head is out, its journal entry
  has its format, scenario and model). It returns the stream's own :class:`StreamWatch`, so that
  what one stream needs to remember (when its last token went out) lives with it, and the
  transport's per-token cost is one method call (:meth:`StreamWatch.wrote`), whatever watches.
- :meth:`StreamWatch.ended`: the stream is over (its outcome and duration are final).
- :meth:`StreamObserver.answered`: any request is over, streamed or not, journaled or not (a
  ``GET /v1/models``, a 404, a rejected body): its route, status, the time to its response head,
  and its journal entry if it has one. Told by the ASGI wrapper (``app.FakeLLMApp``), which sees
  every request: the endpoints do not each report their own ends.

The proxy also tells :meth:`StreamObserver.upstream`: the stream it reads from the real upstream,
watched the same way, so that the upstream's figures are measured where the bytes arrive.

The journal is still written by the transport field by field; a shared state store
(``state_store/redis.py``) copies each entry out as one more observer, at its stream's
``opened`` and its request's ``answered``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from .clock import now
from .journal import JournalEntry

__all__ = [
    "NO_OBSERVER",
    "NO_WATCH",
    "Answered",
    "Observers",
    "RequestNote",
    "StreamObserver",
    "StreamWatch",
    "note_entry",
]


class StreamWatch(Protocol):
    """One stream, as it goes."""

    def wrote(self, due: float, elapsed_ms: float, tokens: int) -> None:
        """A frame carrying ``tokens`` tokens reached the socket ``elapsed_ms`` after the request
        arrived; ``due`` is when the plan had it due (seconds after arrival). Called once per
        such frame: keep it cheap."""

    def ended(self, outcome: str, duration_ms: float) -> None:
        """The stream is over: how it ended (a journal outcome), ``duration_ms`` after arrival."""


@dataclass(frozen=True, slots=True)
class Answered:
    """A request whose response is over. ``route`` is the route's template
    (``/v1/responses/{response_id}``, ``unmatched``), never the raw path, so that it is a bounded
    label; ``format`` the wire format's name or None; ``status`` 0 when no head was sent (the
    client left first, a dropped connection before its head); ``head_s`` seconds from arrival to
    the response head (None without one); ``entry`` the request's journal entry, if it has one."""

    route: str
    format: str | None
    status: int
    head_s: float | None
    duration_s: float
    entry: JournalEntry | None


class StreamObserver(Protocol):
    """What watches a server: told when streams open and when requests end."""

    def opened(self, entry: JournalEntry) -> StreamWatch:
        """A stream served to a client starts (the transport's first frame is next)."""

    def upstream(self, entry: JournalEntry) -> StreamWatch:
        """The proxy has the upstream's response head for ``entry``'s request: the upstream's
        stream starts (its ``wrote`` times are arrivals, after the request was sent upstream)."""

    def answered(self, answer: Answered) -> None:
        """A request is over."""


class _NoWatch:
    __slots__ = ()

    def wrote(self, due: float, elapsed_ms: float, tokens: int) -> None:
        pass

    def ended(self, outcome: str, duration_ms: float) -> None:
        pass


NO_WATCH: StreamWatch = _NoWatch()  # a stream no one watches (an observer's answer then)


class _NoObserver:
    __slots__ = ()

    def opened(self, entry: JournalEntry) -> StreamWatch:
        return NO_WATCH

    def upstream(self, entry: JournalEntry) -> StreamWatch:
        return NO_WATCH

    def answered(self, answer: Answered) -> None:
        pass


NO_OBSERVER: StreamObserver = _NoObserver()


class _Watches:
    """Several watches of one stream, told in order."""

    __slots__ = ("_watches",)

    def __init__(self, watches: Iterable[StreamWatch]) -> None:
        self._watches = tuple(watches)

    def wrote(self, due: float, elapsed_ms: float, tokens: int) -> None:
        for watch in self._watches:
            watch.wrote(due, elapsed_ms, tokens)

    def ended(self, outcome: str, duration_ms: float) -> None:
        for watch in self._watches:
            watch.ended(outcome, duration_ms)


def _fan(watches: list[StreamWatch]) -> StreamWatch:
    # One watcher (the usual case) is handed back itself: no fan-out call per token.
    if not watches:
        return NO_WATCH
    return watches[0] if len(watches) == 1 else _Watches(watches)


class Observers:
    """The composite: tells each of ``observers``, in order."""

    __slots__ = ("observers",)

    def __init__(self, *observers: StreamObserver) -> None:
        self.observers = observers

    def opened(self, entry: JournalEntry) -> StreamWatch:
        return _fan([o.opened(entry) for o in self.observers])

    def upstream(self, entry: JournalEntry) -> StreamWatch:
        return _fan([o.upstream(entry) for o in self.observers])

    def answered(self, answer: Answered) -> None:
        for observer in self.observers:
            observer.answered(answer)


# --------------------------------------------------------------------------------------------------
# One request, as the ASGI wrapper sees it

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class RequestNote:
    """What the ASGI wrapper notes of the request it serves: the status and time of its response
    head (from the messages it sends) and its journal entry (:func:`note_entry`, told by whoever
    opens one). The request's context holds it (:data:`_CURRENT`), so that the route serving the
    request needs no handle on it."""

    t0: float
    status: int = 0
    head_s: float | None = None
    entry: JournalEntry | None = field(default=None, repr=False)

    def tap(self, send: Send) -> Send:
        """``send``, noting the response head as it goes by."""

        async def tapped(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and self.head_s is None:
                self.status = int(message.get("status", 0))
                self.head_s = now() - self.t0
            await send(message)

        return tapped

    def answered(self, route: str, format: str | None) -> Answered:
        entry = self.entry
        if format is None and entry is not None:
            format = entry.format
        return Answered(route, format, self.status, self.head_s, now() - self.t0, entry)

    def enter(self) -> None:
        _CURRENT.set(self)


# Set by the ASGI wrapper for the request its task serves (Quart's handler tasks copy the context,
# and share this mutable note).
_CURRENT: ContextVar[RequestNote | None] = ContextVar("fakellm_request_note", default=None)


def note_entry(entry: JournalEntry) -> JournalEntry:
    """``entry`` is the journal entry of the request being served (a no-op outside a request)."""
    note = _CURRENT.get()
    if note is not None:
        note.entry = entry
    return entry
