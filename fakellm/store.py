"""Stored responses: what ``GET /v1/responses/{id}`` answers (OpenAI Responses, ``store: true``).

Bounded like the journal, in entries and in bytes (a response keeps its whole output text): past
either budget the oldest responses are forgotten, and a ``GET`` for one is a 404, as for an id the
server never gave. The sizes are of the JSON each response is kept as.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

__all__ = ["ResponseStore"]


class ResponseStore:
    MAX_ENTRIES = 1000
    MAX_BYTES = 16 * 1024 * 1024

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # the in-process plugin reads from the test's thread

    def put(self, id: str, response: dict[str, Any]) -> None:
        data = json.dumps(response, separators=(",", ":")).encode()
        if len(data) > self.max_bytes:
            return  # kept, it would push out everything else
        with self._lock:
            old = self._kept.pop(id, None)
            if old is not None:
                self._bytes -= len(old)
            self._kept[id] = data
            self._bytes += len(data)
            while len(self._kept) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._kept.popitem(last=False)
                self._bytes -= len(dropped)

    def get(self, id: str) -> dict[str, Any] | None:
        with self._lock:
            data = self._kept.get(id)
        return None if data is None else json.loads(data)

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._bytes = 0
