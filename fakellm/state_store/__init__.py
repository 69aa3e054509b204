"""A server's state behind small Protocols (``base.py``): in memory (``memory.py``, the default)
or shared by every process on one Redis (``redis.py``, ``--state redis://host:6379/0``)."""

from __future__ import annotations

from ..config import STATE_SCHEMES, ServerConfig, check_state_url
from ..journal import Journal
from .base import (
    CounterStore,
    ErrorStore,
    JournalStore,
    ResponseStore,
    Script,
    ScriptStore,
    StateStore,
    StateUnavailable,
)
from .memory import MemoryStateStore
from .redis import RedisStateStore

__all__ = [
    "STATE_SCHEMES",
    "CounterStore",
    "ErrorStore",
    "JournalStore",
    "MemoryStateStore",
    "RedisStateStore",
    "ResponseStore",
    "Script",
    "ScriptStore",
    "StateStore",
    "StateUnavailable",
    "check_state_url",
    "open_store",
]


def open_store(url: str | None, config: ServerConfig, journal: Journal, namespace: str = "") -> StateStore:
    """The store ``url`` names (None or ``memory``: this process's own)."""
    if url is None or url == "memory":
        return MemoryStateStore(config)
    return RedisStateStore(check_state_url(url), config, journal, namespace)
