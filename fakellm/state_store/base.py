"""The seams of a server's shared state: what :class:`~fakellm.state.ServerState` keeps in a store
rather than in itself, so that several processes (workers, hosts behind a load balancer) can
share one. Each part is a small Protocol; ``memory.py`` is the default (this process only, as fast
as the plain objects it wraps) and ``redis.py`` the shared one.

What stays in the process whatever the store: the live streams (``transport.ActiveStreams``), the
metrics registry, and the journal entries being written (``journal.Journal``: the transport
writes them field by field as a stream goes; a shared store copies each one out at its open and
at its end, never once per chunk).

The journal is read through the store (``GET /_fakellm/journal``): every process's entries. The
pytest plugin and ``fakellm.Server.journal`` read the process's own :class:`~fakellm.journal.Journal`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import RequestError
from ..faults import Fault
from ..journal import Journal
from ..observe import StreamObserver
from ..pipeline import FaultCounter
from ..resume import ResumeStore
from ..scenario import Scenario

__all__ = [
    "CounterStore",
    "ErrorStore",
    "JournalStore",
    "ResponseStore",
    "Script",
    "ScriptStore",
    "StateStore",
    "StateUnavailable",
]


class StateUnavailable(RequestError):
    """The state store cannot be reached: answered as a 503 in the request's format, naming the
    store, never a traceback."""

    def __init__(self, shown: str, cause: BaseException) -> None:
        detail = str(cause) or type(cause).__name__
        super().__init__(
            503,
            f"fakellm's state store ({shown}) is unavailable: {detail}. "
            "The server answers again as soon as it is back.",
            type="server_error",
            code="state_store_unavailable",
        )


@dataclass(frozen=True, slots=True)
class Script:
    """What ``ServerState.script()`` (and ``reset()``) set: ``scenarios`` served besides the base
    ones, or with ``sequence`` one per request in order and then ``default``. ``reset``: it was
    a reset, which also clears the journal and the stored streams of every process."""

    scenarios: tuple[Scenario, ...] = ()
    sequence: bool = False
    default: Scenario | None = None
    reset: bool = False


class ScriptStore(Protocol):
    """The scripted scenarios, shared: a script set on one process applies on every other from
    its next request."""

    def publish(self, script: Script) -> int:
        """Set ``script`` (from any thread); its version, which every later request sees."""
        ...

    async def current(self, known: int, pop: bool) -> tuple[int, Script | None, Scenario | None]:
        """The script's version; the script itself when it is not version ``known`` (None: it
        is); and with ``pop``, the next scenario of a sequence (taken: no other request gets it)."""
        ...

    def left(self) -> list[Scenario]:
        """The sequence's scenarios no request has taken yet."""
        ...


class CounterStore(Protocol):
    """``times: N`` counted across every process sharing the store."""

    async def reserve(self, version: int, takes: Sequence[tuple[str, int, Fault]]) -> FaultCounter:
        """Count ``takes`` (``pipeline.fault_takes``: scope, index, fault) now, atomically, and
        the counter that planning then takes their numbers from. ``version``: the script's (a
        new script starts every count again)."""
        ...

    def clear(self) -> None: ...


class JournalStore(Protocol):
    """Where the journal is read from: this process's entries, or every process's."""

    @property
    def observer(self) -> StreamObserver | None:
        """Told of every entry's open and end (None: nothing to copy out)."""
        ...

    async def entries(self, journal: Journal, limit: int | None) -> list[dict[str, Any]]:
        """The journal as ``GET /_fakellm/journal`` serves it, oldest first: the newest ``limit``."""
        ...

    def clear(self, journal: Journal) -> None:
        """Forget every entry (from any thread)."""
        ...


class ResponseStore(Protocol):
    """Stored responses (``GET /v1/responses/{id}``)."""

    def put(self, id: str, response: dict[str, Any]) -> None: ...

    async def get(self, id: str) -> dict[str, Any] | None: ...

    def clear(self) -> None: ...


class ErrorStore(Protocol):
    """Internal errors (a bug met while serving), as text with their traceback."""

    def add(self, text: str) -> None: ...

    async def all(self) -> list[str]:
        """Every process's, oldest first (the newest 100 of a shared store)."""
        ...

    def clear(self) -> None: ...


class StateStore(Protocol):
    """A server's shared state, in its parts. ``shown`` names it in messages (``memory``,
    ``redis://host:6379/0`` without its password)."""

    # Read-only members (properties), so that an implementation's own classes satisfy them.
    @property
    def shown(self) -> str: ...
    @property
    def script(self) -> ScriptStore: ...
    @property
    def counters(self) -> CounterStore: ...
    @property
    def journal(self) -> JournalStore: ...
    @property
    def resumable(self) -> ResumeStore: ...
    @property
    def responses(self) -> ResponseStore: ...
    @property
    def errors(self) -> ErrorStore: ...

    async def start(self) -> None:
        """The server's loop is running (its background writers start)."""
        ...

    async def close(self) -> None:
        """The server is stopping: write what is buffered, if the store is there to take it."""
        ...
