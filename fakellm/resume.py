"""Resumable streams: what a server keeps of each one so that a client can come back for the rest
(``Last-Event-ID``, a Responses background response's ``GET …?stream=true&starting_after=N``) or
ask how far it got (``GET /_fakellm/streams/{id}``).

Deliberately not a buffer of the bytes sent. A stream is a pure function of its request, its
scenario, its seed and the semantic faults it carried (``pipeline.plan_stream``; faults that act
on the content, such as an error event, belong to it; faults that act on a connection, such as a
drop, belong to one attempt). So a record keeps those inputs, and a resume plans the same stream
again and starts it after the client's last event on the original schedule (``event_ids.py``):
the stream goes on "in the background" while nobody listens, as a real provider's generation
does, without a task, a timer or a copy of its bytes per stream, and whatever the server is doing
meanwhile. What the generation holds at a moment is the events due by then.

The records live behind :class:`ResumeStore`, bounded in count, in bytes (each is about its
request body) and in time (``ttl_s``, OpenAI keeps background responses about 10 minutes), like the
journal: :class:`MemoryResumeStore` is the server's own; a shared store (many workers) implements
the same Protocol.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .event_ids import ResumePoint
from .faults import Fault
from .pipeline import StreamPlan, plan_stream
from .scenario import Scenario, Timing
from .stream import Frame
from .wire.format import ChatRequest, WireFormat

__all__ = [
    "RECORD_OVERHEAD_BYTES",
    "MemoryResumeStore",
    "Progress",
    "ResumeRecord",
    "ResumeStore",
    "due_by",
    "keep",
    "plan_again",
    "progress",
]

# What a record costs besides its request body, in bytes (about: the dataclass, its lists).
RECORD_OVERHEAD_BYTES = 512


@dataclass(slots=True)
class ResumeRecord:
    """One resumable stream: everything needed to plan it again exactly, and where it stands.

    ``scenario`` is the one selected for the request (before its ``turns:`` answer one: planning
    picks the turn again, from the same conversation); ``seed`` the stream's (drawn or given);
    ``created`` the unix time the format put in its body (None when the stream was seeded, which
    fixes it); ``arrived`` when the original request came in (``clock.now``) and ``started`` the
    same as unix time; ``event_faults`` its faults that act on the content."""

    id: str
    path: str  # the route the stream was served on (a resume must come to the same one)
    request: ChatRequest
    scenario: Scenario
    seed: int
    timing: Timing
    created: float | None
    arrived: float
    started: float
    event_faults: tuple[Fault, ...] = ()
    size: int = 0  # bytes counted against the store's budget (the request body's)
    background: bool = False  # a Responses background response (``background: true``)
    cancelled_after_s: float | None = None  # a background response cancelled this far in
    attempts: list[int] = field(default_factory=list)  # the journal indexes of every attempt
    format: str = ""  # the wire format's name (``wire.format_named``): openai.chat...


class ResumeStore(Protocol):
    """Where resumable streams are kept. Asynchronous, as a shared store is a round trip away
    (``state_store/redis.py``); ``clear`` and ``cancelled_after`` are not (a reset comes from any
    thread; a background stream asks at each of its frames and must not wait for it)."""

    async def put(self, record: ResumeRecord) -> None: ...

    async def get(self, id: str) -> ResumeRecord | None:
        """The record, or None: never kept, forgotten past a bound, or expired."""
        ...

    async def attempt(self, id: str, journal_index: int) -> None:
        """One more attempt at the stream (the first one, or a resume) was journaled."""
        ...

    async def cancel(self, id: str, after_s: float) -> ResumeRecord | None:
        """Stop a background stream ``after_s`` seconds into its schedule (a second cancel keeps
        the first one's moment); the record, or None if there is none."""
        ...

    def cancelled_after(self, id: str) -> float | None:
        """How far into its schedule the stream was cancelled, as this process knows it now
        (None: not cancelled)."""
        ...

    def clear(self) -> None: ...

    def __len__(self) -> int: ...


class MemoryResumeStore:
    """The in-memory :class:`ResumeStore`: oldest records forgotten first, past ``max_entries``,
    ``max_bytes`` or ``ttl_s`` after their stream started."""

    MAX_ENTRIES = 1000
    MAX_BYTES = 16 * 1024 * 1024
    TTL_S = 600.0

    def __init__(
        self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES, ttl_s: float = TTL_S
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._kept: OrderedDict[str, ResumeRecord] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    async def put(self, record: ResumeRecord) -> None:
        self.keep(record)

    def keep(self, record: ResumeRecord) -> None:
        """:meth:`put`, from synchronous code (a shared store's cache of the records it read)."""
        record.size = record.size or RECORD_OVERHEAD_BYTES
        if record.size > self.max_bytes:
            return  # kept, it would push out every other one
        with self._lock:
            old = self._kept.pop(record.id, None)
            if old is not None:
                self._bytes -= old.size
            self._kept[record.id] = record
            self._bytes += record.size
            self._expire(time.time())
            while len(self._kept) > self.max_entries or self._bytes > self.max_bytes:
                self._forget_oldest()

    async def get(self, id: str) -> ResumeRecord | None:
        return self.kept(id)

    def kept(self, id: str) -> ResumeRecord | None:
        """:meth:`get`, from synchronous code."""
        with self._lock:
            self._expire(time.time())
            return self._kept.get(id)

    async def attempt(self, id: str, journal_index: int) -> None:
        with self._lock:
            record = self._kept.get(id)
            if record is not None:
                record.attempts.append(journal_index)

    async def cancel(self, id: str, after_s: float) -> ResumeRecord | None:
        with self._lock:
            record = self._kept.get(id)
            if record is not None and record.cancelled_after_s is None:
                record.cancelled_after_s = after_s
            return record

    def cancelled_after(self, id: str) -> float | None:
        record = self._kept.get(id)
        return None if record is None else record.cancelled_after_s

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def bytes(self) -> int:
        """What the kept records count for, in bytes."""
        return self._bytes

    def _expire(self, now: float) -> None:  # with the lock held; records are kept oldest first
        while self._kept:
            oldest = next(iter(self._kept.values()))
            if now - oldest.started <= self.ttl_s:
                return
            self._forget_oldest()

    def _forget_oldest(self) -> None:  # with the lock held
        _, dropped = self._kept.popitem(last=False)
        self._bytes -= dropped.size


def keep(
    plan: StreamPlan,
    scenario: Scenario,
    *,
    path: str,
    arrived: float,
    now: float,
    body_bytes: int,
    background: bool = False,
) -> ResumeRecord:
    """The record of a stream just planned (``plan``, for ``scenario`` as selected, before a turn
    of it answered), which arrived at ``arrived`` (``clock.now``; ``now`` is ``clock.now`` at this
    moment), its request body ``body_bytes`` long. Its id is the plan's request id."""
    return ResumeRecord(
        id=plan.request_id,
        path=path,
        request=plan.request,
        scenario=scenario,
        seed=plan.seed,
        timing=plan.timing,
        created=plan.created,
        arrived=arrived,
        started=time.time() - (now - arrived),
        event_faults=tuple(f for f in plan.faults if f.stage == "events"),
        size=body_bytes + RECORD_OVERHEAD_BYTES,
        background=background,
        format=plan.format.name,
    )


def plan_again(
    record: ResumeRecord,
    fmt: WireFormat,
    *,
    after: int = -1,
    offset_s: float = 0.0,
    faults: Sequence[Fault] = (),
) -> StreamPlan:
    """The stream of ``record`` planned again, exactly, as an attempt that starts after event
    ``after`` (-1: from the first), ``offset_s`` seconds into the original schedule, with the
    original's content faults and this attempt's own ``faults`` (those of its frames: a drop, a
    stall... on this connection)."""
    own = [f for f in faults if f.stage == "frames"]
    return plan_stream(
        record.request,
        record.scenario,
        format=fmt,
        timing=record.timing,
        stream_seed=record.seed,
        created=record.created,
        faults=[*record.event_faults, *own],
        # A background response's events carry no ``id:`` (its cursor is the sequence number),
        # and one that was cancelled stops where it was cancelled.
        resume=ResumePoint(
            record.id,
            after=after,
            offset_s=offset_s,
            ids=not record.background,
            until_s=record.cancelled_after_s,
        ),
    )


def due_by(record: ResumeRecord, fmt: WireFormat, elapsed_s: float) -> Iterator[Frame]:
    """The frames of ``record``'s stream that are due ``elapsed_s`` seconds after it started (all
    of them once the schedule is over), numbered as sent, without any connection's faults: what
    the generation holds by then (stopped at its cancellation, if it was cancelled)."""
    until = elapsed_s if record.cancelled_after_s is None else min(elapsed_s, record.cancelled_after_s)
    for frame in plan_again(record, fmt).frames():
        if frame.due > until:
            return
        yield frame


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a kept stream's generation has got at a moment (``GET /_fakellm/streams/{id}``):
    what its events due by then hold, whoever received them. ``status``: ``in_progress`` while
    its schedule runs, then ``completed``, ``failed`` (it ended with an error event),
    ``incomplete`` (truncated) or ``cancelled`` (a cancelled background response)."""

    status: str
    events: int  # events due so far, numbered from 0: the last one's id is ``<id>:<events - 1>``
    tokens: int
    text: str
    reasoning: str
    tool_calls: tuple[dict[str, str], ...]
    finish_reason: str | None  # once completed


_STATUS = {None: "completed", "error_event": "failed", "truncated": "incomplete", "cancelled": "cancelled"}


def progress(record: ResumeRecord, fmt: WireFormat, elapsed_s: float) -> Progress:
    """Where ``record``'s stream stands ``elapsed_s`` seconds after it arrived."""
    plan = plan_again(record, fmt)
    until = elapsed_s if record.cancelled_after_s is None else min(elapsed_s, record.cancelled_after_s)
    events = tokens = 0
    text: list[str] = []
    arguments: dict[int, list[str]] = {}
    done = True
    for frame in plan.frames():
        if frame.due > until:
            done = False
            break
        events += frame.data.count(b"\n\n")  # every event ends with a blank line (event_ids.py)
        tokens += frame.tokens
        if frame.text is not None:
            text.append(frame.text)
        for call, fragment in frame.arguments:
            arguments.setdefault(call, []).append(fragment)
    calls = tuple(
        {"id": plan.calls[i].id, "name": plan.calls[i].name, "arguments": "".join(parts)}
        for i, parts in sorted(arguments.items())
    )
    thinking = plan.reasoning.tokens if plan.reasoning is not None else ()
    cancelled = record.cancelled_after_s is not None and elapsed_s >= record.cancelled_after_s
    if cancelled:
        status = "cancelled"
    elif not done:
        status = "in_progress"
    else:
        status = _STATUS.get(plan.ctx.ending, "completed")
    return Progress(
        status=status,
        events=events,
        tokens=tokens,
        text="".join(text),
        reasoning="".join(thinking[:tokens]),
        tool_calls=calls,
        finish_reason=plan.finish_reason if status == "completed" else None,
    )
