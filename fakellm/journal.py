"""The journal: every request the server served, newest last, bounded in size.

The pytest plugin reads it to check what the server really sent; ``GET /_fakellm/journal`` serves
it as JSON. An entry is written by the transport as the stream goes, so a stream still running
shows up with ``outcome: "streaming"``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .redact import redact, redact_headers
from .stream import FaultFired

__all__ = ["Journal", "JournalEntry", "SentChoice", "redact", "redact_headers"]

# How a stream ended.
OUTCOMES = (
    "streaming",
    "completed",
    "client_disconnected",
    "error_event",
    "dropped",
    "reset",
    "stalled_then_completed",
    "truncated",
    "server_shutdown",
    "server_error",
    "http_error",
    "upstream_error",  # the proxy could not get an answer from its upstream (502/504)
    "rejected",
)


# The journal's bounds in bytes (docs/streaming-server.md, Limits): a request body is kept whole up
# to BODY_KEEP_BYTES while all the bodies kept stay under BODIES_BUDGET_BYTES; any other is kept as
# its size, its SHA-256 and its first PREFIX_CHARS characters. A stream's text is kept likewise.
BODY_KEEP_BYTES = 1024 * 1024
BODIES_BUDGET_BYTES = 16 * 1024 * 1024
PREFIX_CHARS = 1024
# How long a read from another thread waits for a stream whose client has read its end, but whose
# entry is not final yet (its last fields are written right after the last bytes).
SETTLE_WAIT_S = 1.0


def summary(data: bytes | str) -> dict[str, Any]:
    """What the journal keeps of a body over its budget."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    prefix = data[:PREFIX_CHARS] if isinstance(data, str) else raw[:PREFIX_CHARS].decode("utf-8", "replace")
    return {"truncated": True, "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(), "prefix": prefix}


@dataclass(slots=True)
class SentChoice:
    """One choice of an answer with several (``n``), as it reached the wire: its ``text`` (the
    first ``PREFIX_CHARS`` characters when the journal's budget was spent: ``truncated``), and its
    ``finish_reason`` (None when the stream ended before its finish: a fault, a disconnect)."""

    index: int
    parts: list[str] = field(default_factory=list, repr=False)
    finish_reason: str | None = None
    truncated: bool = False
    planned_finish: str = field(default="stop", repr=False, compare=False)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "text": self.text,
            "finish_reason": self.finish_reason,
            "truncated": self.truncated,
        }


# The outcomes of a stream that sent every frame: each choice's finish went out.
_FINISHED = ("completed", "stalled_then_completed")


@dataclass(slots=True)
class JournalEntry:
    index: int
    time: float  # unix time the request arrived
    method: str
    path: str
    status: int
    format: str | None = (
        None  # the wire format served (wire/format.py: openai.chat...); None: not a stream route
    )
    scenario: str | None = None
    seed: int | None = None
    model: str | None = None
    stream: bool = False
    request: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None
    outcome: str = "streaming"
    tokens_sent: int = 0
    bytes_sent: int = 0
    text_parts: list[str] = field(default_factory=list)
    first_byte_ms: float | None = None
    first_token_ms: float | None = None
    duration_ms: float | None = None
    faults: list[FaultFired] = field(default_factory=list)
    error: dict[str, Any] | None = None
    text_summary: dict[str, Any] | None = None  # set instead of the text when it is over budget
    # The tool calls whose arguments reached the wire, as far as they did: {"id", "name", "arguments"}.
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    # The stream's planned calls (tools.PlannedCall), where their ids and names come from.
    planned_calls: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    # Which of the scenario's turns answered (``turns:``), from 1; None: the scenario has none.
    turn: int | None = None
    # Several choices (n > 1): each one's text and finish reason (``text`` is all of them, as sent).
    choices: list[SentChoice] = field(default_factory=list)
    # The stream's planned reasoning tokens (reasoning.PlannedReasoning.tokens): its first tokens.
    planned_reasoning: tuple[str, ...] = field(default=(), repr=False, compare=False)
    background: bool = False  # a Responses background response: its POST, or a GET of its stream
    starting_after: int | None = None  # such a GET's cursor (``?starting_after=N``)
    # A resumable stream's id (every attempt's: the first, and each reconnect), and the last
    # event a reconnect's ``Last-Event-ID`` said its client had.
    stream_id: str | None = None
    resumed_after: int | None = None
    journal: Journal | None = field(default=None, repr=False, compare=False)
    kept_bytes: int = field(default=0, repr=False, compare=False)  # counted against the budget

    @property
    def text(self) -> str:
        """The exact content text that reached the wire (its first characters, when it was over
        the journal's budget: ``text_summary`` then says so)."""
        return "".join(self.text_parts)

    @property
    def reasoning(self) -> str:
        """The reasoning text that reached the wire. Reasoning is the first tokens of a stream, so
        it is the planned reasoning's first ``tokens_sent`` tokens: a stream cut inside its thinking
        (``drop@2``) shows the thinking it had sent."""
        return "".join(self.planned_reasoning[: self.tokens_sent])

    def call_part(self, call: int, fragment: str) -> None:
        """A fragment of planned call ``call``'s arguments reached the wire."""
        while len(self.tool_calls) <= call:
            planned = self.planned_calls[len(self.tool_calls)]
            self.tool_calls.append({"id": planned.id, "name": planned.name, "arguments": ""})
        self.tool_calls[call]["arguments"] += fragment

    def plan_choices(self, finish_reasons: list[str], texts: list[str] | None = None) -> None:
        """The answer has several choices, which end with these finish reasons if the stream gets
        to their finish; ``texts``: their whole texts (a non-streamed answer), else their tokens
        come with the frames (:meth:`choice_part`)."""
        self.choices = [SentChoice(i, planned_finish=reason) for i, reason in enumerate(finish_reasons)]
        for choice, text in zip(self.choices, texts or (), strict=False):
            choice.parts.append(text)

    def choice_part(self, choice: int, text: str) -> None:
        """A token of choice ``choice`` reached the wire."""
        self.choices[choice].parts.append(text)

    def keep_request(self, body: Any, raw: bytes) -> None:
        """The request body, kept whole if the journal's budget allows, else summarised."""
        if body is not None and self.journal is not None and not self.journal.reserve(self, len(raw)):
            body = summary(raw)
        self.request = body

    def settling(self) -> None:
        """The end of this entry's stream is about to be written: readers in other threads wait
        (briefly) for :meth:`settled` before they read the journal."""
        if self.journal is not None:
            self.journal.settling(self)

    def held(self) -> None:
        """The stream is held open with nothing more to send: readers need not wait for it."""
        if self.journal is not None:
            self.journal.settled(self)

    def settled(self) -> None:
        """Every field of this entry is final (the stream is over). Called once."""
        parts = self.text_parts
        if len(parts) > 1:  # one string, not a list of thousands of tokens
            parts[:] = ["".join(parts)]
        if self.choices:
            self._settle_choices()
        if self.journal is not None:
            if parts and len(parts[0]) > PREFIX_CHARS and not self.journal.reserve(self, len(parts[0])):
                self.text_summary = summary(parts[0])
                parts[:] = [parts[0][:PREFIX_CHARS]]
            self.journal.settled(self)

    def _settle_choices(self) -> None:
        """Each choice's text in one string, kept within the journal's budget, and its finish
        reason if the stream got to it."""
        finished = self.outcome in _FINISHED
        size = 0
        for choice in self.choices:
            choice.parts[:] = [choice.text]
            size += len(choice.parts[0])
            choice.finish_reason = choice.planned_finish if finished else None
        if size > PREFIX_CHARS and self.journal is not None and not self.journal.reserve(self, size):
            for choice in self.choices:
                if len(choice.parts[0]) > PREFIX_CHARS:
                    choice.parts[:] = [choice.parts[0][:PREFIX_CHARS]]
                    choice.truncated = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "format": self.format,
            "scenario": self.scenario,
            "seed": self.seed,
            "model": self.model,
            "stream": self.stream,
            "request": self.request,
            "headers": self.headers,
            "request_id": self.request_id,
            "outcome": self.outcome,
            "tokens_sent": self.tokens_sent,
            "bytes_sent": self.bytes_sent,
            "text": self.text,
            "text_summary": self.text_summary,
            "tool_calls": self.tool_calls,
            "turn": self.turn,
            "choices": [choice.as_dict() for choice in self.choices],
            "reasoning": self.reasoning,
            "background": self.background,
            "starting_after": self.starting_after,
            "stream_id": self.stream_id,
            "resumed_after": self.resumed_after,
            "first_byte_ms": self.first_byte_ms,
            "first_token_ms": self.first_token_ms,
            "duration_ms": self.duration_ms,
            "faults": [f.as_dict() for f in self.faults],
            "error": self.error,
        }


class Journal:
    """A bounded, thread-safe log of :class:`JournalEntry` (the plugin reads it from the test's
    thread while the server writes from its own), bounded in entries and in bytes.

    A stream's entry is final only once the transport is past its last write, so a client that has
    read ``[DONE]`` can be a moment ahead of it. Where the transport knows which write is the last
    (a planned stream), it decides the outcome before making it; and it marks the entry as settling
    before it, so that reads from other threads wait for the rest (``SETTLE_WAIT_S`` at most).
    Reads from the thread serving the stream never wait: they would hold the very loop that settles it.
    """

    def __init__(self, maxlen: int = 1000, *, budget_bytes: int = BODIES_BUDGET_BYTES) -> None:
        self._entries: deque[JournalEntry] = deque()
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._settling: dict[int, int] = {}  # id(entry) -> the thread writing it
        self._next = 0
        self.budget_bytes = budget_bytes
        self._kept = 0

    def open(self, **fields: Any) -> JournalEntry:
        with self._lock:
            entry = JournalEntry(index=self._next, journal=self, **fields)
            self._next += 1
            if len(self._entries) >= self._maxlen:
                self._drop(self._entries.popleft())
            self._entries.append(entry)
        return entry

    def _drop(self, entry: JournalEntry) -> None:  # with the lock held
        self._kept -= entry.kept_bytes
        entry.kept_bytes = 0
        if self._settling.pop(id(entry), None) is not None:
            self._changed.notify_all()
        entry.journal = None  # its budget is given back: it reserves no more

    @property
    def next_index(self) -> int:
        """The index the next entry will have."""
        return self._next

    @property
    def kept_bytes(self) -> int:
        """What the journal's entries hold of request bodies and stream texts, in bytes (about)."""
        return self._kept

    def reserve(self, entry: JournalEntry, size: int) -> bool:
        """Count ``size`` bytes more against the budget for ``entry``; False if they do not fit."""
        if size > BODY_KEEP_BYTES:
            return False
        with self._lock:
            if entry.journal is not self or self._kept + size > self.budget_bytes:
                return False
            self._kept += size
            entry.kept_bytes += size
            return True

    def settling(self, entry: JournalEntry) -> None:
        with self._lock:
            self._settling[id(entry)] = threading.get_ident()

    def settled(self, entry: JournalEntry) -> None:
        with self._lock:
            if self._settling.pop(id(entry), None) is not None:
                self._changed.notify_all()

    def _wait_settled(self) -> None:  # with the lock held
        if not self._settling:
            return
        me = threading.get_ident()
        deadline = time.monotonic() + SETTLE_WAIT_S
        while any(thread != me for thread in self._settling.values()):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._changed.wait(left)

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            self._wait_settled()
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            for entry in self._entries:
                self._drop(entry)
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())

    def __getitem__(self, index: int) -> JournalEntry:
        with self._lock:
            self._wait_settled()
            return self._entries[index]

    @property
    def last(self) -> JournalEntry | None:
        with self._lock:
            self._wait_settled()
            return self._entries[-1] if self._entries else None

    def as_json(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.entries()]
