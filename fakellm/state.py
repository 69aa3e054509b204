"""What a running server knows: its scenarios, journal, fault counters, live streams, stored
responses and resumable streams. The ASGI app (``app.py``), the streamed endpoints
(``endpoint.py``) and the proxy (``proxy.py``) share one :class:`ServerState`; it imports none of
them.

What may be shared with other processes lives in its store (``state_store``: in memory, or on
Redis with ``ServerConfig.state_url``); the live streams, the metrics and the journal entries being
written stay here. The routes reach the store through the async methods below (``choose``,
``counters_for``, ``journal_json``...), which cost nothing more than the plain objects did with the
memory store."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from .config import ServerConfig
from .errors import error_body
from .faults import Fault
from .headers import Instructions
from .journal import Journal
from .metrics import Metrics
from .observe import Observers, StreamObserver
from .pipeline import FaultCounter, PassthroughPlan, fault_takes, plan_passthrough
from .resume import ResumeStore
from .scenario import Scenario, ScenarioBook
from .scenario_files import load_scenario_files
from .state_store import Script, StateStore, open_store
from .transport import ActiveStreams
from .wire.ai_sdk_ui import ChatStreams

__all__ = ["ServerState"]

log = logging.getLogger("fakellm")


class ServerState:
    """What a running server knows: its scenarios, journal, fault counters and live streams.
    The pytest plugin scripts a test through ``script`` and ``reset``. ``namespace``: the store's
    keys are this state's own (``fakellm:<namespace>:`` on Redis); ``store``: one made already
    (tests), else the one ``config.state_url`` names."""

    def __init__(self, config: ServerConfig, namespace: str = "", *, store: StateStore | None = None) -> None:
        self.config = config
        self.namespace = namespace
        loaded = load_scenario_files(config.scenario_paths) if config.scenario_paths else []
        self.base_scenarios: list[Scenario] = [*loaded, *config.scenarios]
        self.book = ScenarioBook(self.base_scenarios)
        self.global_faults: tuple[Fault, ...] = config.faults
        self.journal = Journal(config.journal_size)  # this process's entries, as they are written
        self.store: StateStore = store or open_store(config.state_url, config, self.journal, namespace)
        self.metrics = Metrics()  # GET /metrics (a registry of this server's own)
        copier = self.store.journal.observer
        # observe.Observers(...) to add others; a shared journal copies entries out as one.
        self.observer: StreamObserver = self.metrics if copier is None else Observers(self.metrics, copier)
        self.streams = ActiveStreams(self.observer)
        self.internal_errors: list[str] = []  # this process's (the plugin fails its test on them)
        self.chat_streams = ChatStreams()  # AI SDK chat id -> its stream in resumable
        self._version = 0  # the script's version the book was built from
        self._lock = threading.Lock()

    @property
    def resumable(self) -> ResumeStore:
        """Resumable streams and background responses (resume.py)."""
        return self.store.resumable

    @property
    def sequence(self) -> list[Scenario]:
        """The scripted sequence's scenarios no request has taken yet."""
        return self.store.script.left()

    # -- scripting (used by the pytest plugin and fakellm.Server) --------------------------------
    def script(
        self,
        scenarios: Sequence[Scenario],
        *,
        sequence: bool = False,
        default: Scenario | None = None,
    ) -> None:
        """Serve ``scenarios`` from now on: as extra scenarios chosen by the usual rules (the
        first one without a ``match`` becomes the default), or with ``sequence`` one per request,
        in order, and ``default`` (else the server's own) after the last. With a shared store,
        on every process from its next request."""
        self._publish(Script(tuple(scenarios), sequence=sequence, default=default))

    def reset(self) -> None:
        """Forget the script, the counters, the journal, stored responses and streams (with a
        shared store, every process's; the others forget their own at their next request)."""
        with self._lock:
            self.internal_errors.clear()
        self.store.errors.clear()
        self._publish(Script(reset=True))
        self.store.journal.clear(self.journal)
        self.store.responses.clear()
        self.store.resumable.clear()
        self.chat_streams.clear()

    def _publish(self, script: Script) -> None:
        version = self.store.script.publish(script)
        with self._lock:
            self._apply(version, script, local=True)

    def _apply(self, version: int, script: Script, *, local: bool = False) -> None:  # with the lock held
        self._version = version
        self.store.counters.clear()
        if script.reset and not local:
            # Another process reset the shared state: this one's copies of it go too.
            self.journal.clear()
            self.chat_streams.clear()
        if script.sequence:
            self.book = ScenarioBook(self.base_scenarios, default=script.default)
            return
        default = next((s for s in script.scenarios if s.match is None), None)
        self.book = ScenarioBook(
            [*self.base_scenarios, *script.scenarios],
            default=replace(default, name="default") if default is not None else None,
        )

    async def refresh(self) -> None:
        """The book as the store's script has it now (another process may have scripted)."""
        await self._current(pop=False)

    async def _current(self, pop: bool) -> Scenario | None:
        version, changed, popped = await self.store.script.current(self._version, pop)
        if changed is not None:
            with self._lock:
                self._apply(version, changed)
        return popped

    async def choose(self, header: str | None, model: str, prompt: str, path: str | None = None) -> Scenario:
        """The scenario that answers a request: the next of a scripted sequence (without an
        ``X-FakeLLM-Scenario`` header), else the book's choice."""
        popped = await self._current(pop=header is None)
        if popped is not None:
            return popped
        with self._lock:
            return self.book.select(header, model, prompt, path)

    async def counters_for(
        self, scenario: Scenario, messages: Sequence[dict[str, Any]] | None, asked: Instructions
    ) -> FaultCounter:
        """The counters planning ``scenario``'s answer takes ``times`` from: counted now, before
        planning, when the store counts across processes (``CounterStore.reserve``). ``messages``:
        the request's conversation (None for a passthrough, planned without a turn)."""
        takes = fault_takes(
            scenario,
            messages,
            extra_faults=asked.faults,
            extra_scope=asked.fault_scope,
            global_faults=self.global_faults,
        )
        return await self.store.counters.reserve(self._version, takes)

    # -- the journal, stored responses, errors ----------------------------------------------------
    async def journal_json(self, limit: int | None = None) -> list[dict[str, Any]]:
        """``GET /_fakellm/journal``: every process's entries with a shared store."""
        return await self.store.journal.entries(self.journal, limit)

    def clear_journal(self) -> None:
        self.store.journal.clear(self.journal)

    def keep_response(self, id: str, response: dict[str, Any]) -> None:
        self.store.responses.put(id, response)

    async def stored_response(self, id: str) -> dict[str, Any] | None:
        return await self.store.responses.get(id)

    def internal_error(self, error: BaseException, doing: str) -> dict[str, Any]:
        """Record a bug met while ``doing`` (logged with its traceback, kept for the pytest plugin,
        which fails the test on it); returns the OpenAI-shaped body of the 500 that answers it."""
        text = "".join(traceback.format_exception(error))
        self.internal_errors.append(text)
        self.store.errors.add(text)
        log.error("fakellm internal error while %s\n%s", doing, text)
        return error_body("The fake server hit an internal error (see its log).", type="server_error")

    def plan_passthrough(
        self, scenario: Scenario, asked: Instructions, counters: FaultCounter
    ) -> PassthroughPlan:
        """The faults and seed for an answer fakellm does not write itself (a proxied stream, an
        embedding), chosen as for a served stream: the scenario's, ``--faults`` and the request's
        headers, each counting ``times`` in ``counters`` (:meth:`counters_for`)."""
        return plan_passthrough(
            scenario,
            server_seed=self.config.seed,
            header_seed=asked.seed,
            global_faults=self.global_faults,
            extra_faults=asked.faults,
            extra_scope=asked.fault_scope,
            counters=counters,
        )

    def select(self, header: str | None, model: str, prompt: str, path: str | None = None) -> Scenario:
        """The book's choice, as this process has it (no sequence: :meth:`choose` takes those)."""
        with self._lock:
            return self.book.select(header, model, prompt, path)

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.store.start()

    async def close(self) -> None:
        await self.store.close()
