"""The journal: every request the server served, newest last, bounded in size.

The pytest plugin reads it to check what the server really sent; ``GET /_fakellm/journal`` serves
it as JSON. An entry is written by the transport as the stream goes, so a stream still running
shows up with ``outcome: "streaming"``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .redact import redact, redact_headers
from .stream import FaultFired

__all__ = ["Journal", "JournalEntry", "redact", "redact_headers"]

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


@dataclass(slots=True)
class JournalEntry:
    index: int
    time: float  # unix time the request arrived
    method: str
    path: str
    status: int
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

    @property
    def text(self) -> str:
        """The exact content text that reached the wire."""
        return "".join(self.text_parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "status": self.status,
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
            "first_byte_ms": self.first_byte_ms,
            "first_token_ms": self.first_token_ms,
            "duration_ms": self.duration_ms,
            "faults": [f.as_dict() for f in self.faults],
            "error": self.error,
        }


class Journal:
    """A bounded, thread-safe log of :class:`JournalEntry` (the plugin reads it from the test's
    thread while the server writes from its own)."""

    def __init__(self, maxlen: int = 1000) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._next = 0

    def open(self, **fields: Any) -> JournalEntry:
        with self._lock:
            entry = JournalEntry(index=self._next, **fields)
            self._next += 1
            self._entries.append(entry)
        return entry

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())

    def __getitem__(self, index: int) -> JournalEntry:
        with self._lock:
            return self._entries[index]

    @property
    def last(self) -> JournalEntry | None:
        with self._lock:
            return self._entries[-1] if self._entries else None

    def as_json(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.entries()]
