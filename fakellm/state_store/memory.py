"""The default state store: this process only. Each part is the plain object the server used
before the state had a seam (``FaultCounters``, ``MemoryResumeStore``, ``store.ResponseStore``, a
list), so the hot path costs what it did: no copy of a journal entry, the counters taken while
planning, the awaits of its methods never suspend."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from ..config import ServerConfig
from ..faults import Fault
from ..journal import Journal
from ..observe import StreamObserver
from ..pipeline import FaultCounter, FaultCounters
from ..resume import MemoryResumeStore
from ..scenario import Scenario
from ..store import ResponseStore
from .base import Script

__all__ = [
    "MemoryCounters",
    "MemoryErrors",
    "MemoryJournal",
    "MemoryResponses",
    "MemoryScript",
    "MemoryStateStore",
]

# Internal errors kept (each is a traceback: a bug loops, it must not grow the server unbounded).
MAX_ERRORS = 100


class MemoryScript:
    def __init__(self) -> None:
        self._script = Script()
        self._sequence: deque[Scenario] = deque()
        self._version = 0
        self._lock = threading.Lock()  # script() comes from the test's thread

    def publish(self, script: Script) -> int:
        with self._lock:
            self._script = script
            self._sequence = deque(script.scenarios if script.sequence else ())
            self._version += 1
            return self._version

    async def current(self, known: int, pop: bool) -> tuple[int, Script | None, Scenario | None]:
        with self._lock:
            changed = self._script if self._version != known else None
            popped = self._sequence.popleft() if pop and self._sequence else None
            return self._version, changed, popped

    def left(self) -> list[Scenario]:
        with self._lock:
            return list(self._sequence)


class MemoryCounters(FaultCounters):
    """Counted while planning (``FaultCounters.take``), as one event loop does it atomically."""

    async def reserve(self, version: int, takes: Sequence[tuple[str, int, Fault]]) -> FaultCounter:
        return self


class MemoryJournal:
    observer: StreamObserver | None = None  # the process's own Journal is the whole journal

    async def entries(self, journal: Journal, limit: int | None) -> list[dict[str, Any]]:
        entries = journal.entries()
        if limit is not None:
            entries = entries[len(entries) - limit :]
        return [entry.as_dict() for entry in entries]

    def clear(self, journal: Journal) -> None:
        journal.clear()


class MemoryResponses:
    """``store.ResponseStore`` (bounded in entries and bytes) behind the async seam."""

    def __init__(self) -> None:
        self.kept = ResponseStore()

    def put(self, id: str, response: dict[str, Any]) -> None:
        self.kept.put(id, response)

    async def get(self, id: str) -> dict[str, Any] | None:
        return self.kept.get(id)

    def clear(self) -> None:
        self.kept.clear()


class MemoryErrors:
    def __init__(self) -> None:
        self.texts: deque[str] = deque(maxlen=MAX_ERRORS)

    def add(self, text: str) -> None:
        self.texts.append(text)

    async def all(self) -> list[str]:
        return list(self.texts)

    def clear(self) -> None:
        self.texts.clear()


class MemoryStateStore:
    shown = "memory"

    def __init__(self, config: ServerConfig) -> None:
        self.script = MemoryScript()
        self.counters = MemoryCounters()
        self.journal = MemoryJournal()
        self.resumable = MemoryResumeStore(max_entries=config.resume_max, ttl_s=config.resume_ttl_s)
        self.responses = MemoryResponses()
        self.errors = MemoryErrors()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
