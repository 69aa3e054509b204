"""What a running server knows: its scenarios, journal, fault counters, live streams, stored
responses and resumable streams. The ASGI app (``app.py``), the streamed endpoints
(``endpoint.py``) and the proxy (``proxy.py``) share one :class:`ServerState`; it imports none of
them."""

from __future__ import annotations

import logging
import threading
import traceback
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from .config import ServerConfig
from .errors import error_body
from .faults import Fault
from .headers import Instructions
from .journal import Journal
from .metrics import Metrics
from .observe import StreamObserver
from .pipeline import FaultCounters, PassthroughPlan, plan_passthrough
from .resume import MemoryResumeStore, ResumeStore
from .scenario import Scenario, ScenarioBook
from .scenario_files import load_scenario_files
from .store import ResponseStore
from .transport import ActiveStreams
from .wire.ai_sdk_ui import ChatStreams

__all__ = ["ServerState"]

log = logging.getLogger("fakellm")


class ServerState:
    """What a running server knows: its scenarios, journal, fault counters and live streams.
    The pytest plugin scripts a test by swapping ``book`` and ``sequence`` (see ``script``)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        loaded = load_scenario_files(config.scenario_paths) if config.scenario_paths else []
        self.base_scenarios: list[Scenario] = [*loaded, *config.scenarios]
        self.book = ScenarioBook(self.base_scenarios)
        self.sequence: deque[Scenario] = deque()  # served in order, before any other rule
        self.global_faults: tuple[Fault, ...] = config.faults
        self.journal = Journal(config.journal_size)
        self.counters = FaultCounters()
        self.metrics = Metrics()  # GET /metrics (a registry of this server's own)
        self.observer: StreamObserver = self.metrics  # observe.Observers(...) to add others
        self.streams = ActiveStreams(self.observer)
        self.internal_errors: list[str] = []
        self.responses = ResponseStore()  # for GET /v1/responses/{id}
        # Resumable streams and background responses (resume.py).
        self.resumable: ResumeStore = MemoryResumeStore(
            max_entries=config.resume_max, ttl_s=config.resume_ttl_s
        )
        self.chat_streams = ChatStreams()  # AI SDK chat id -> its stream in resumable
        self._lock = threading.Lock()

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
        in order, and ``default`` (else the server's own) after the last."""
        with self._lock:
            self.counters.clear()
            if sequence:
                self.sequence = deque(scenarios)
                self.book = ScenarioBook(self.base_scenarios, default=default)
                return
            self.sequence = deque()
            default = next((s for s in scenarios if s.match is None), None)
            self.book = ScenarioBook(
                [*self.base_scenarios, *scenarios],
                default=replace(default, name="default") if default is not None else None,
            )

    def reset(self) -> None:
        with self._lock:
            self.book = ScenarioBook(self.base_scenarios)
            self.sequence = deque()
            self.counters.clear()
            self.internal_errors.clear()
        self.journal.clear()
        self.responses.clear()
        self.resumable.clear()
        self.chat_streams.clear()

    def internal_error(self, error: BaseException, doing: str) -> dict[str, Any]:
        """Record a bug met while ``doing`` (logged with its traceback, kept for the pytest plugin,
        which fails the test on it); returns the OpenAI-shaped body of the 500 that answers it."""
        text = "".join(traceback.format_exception(error))
        self.internal_errors.append(text)
        log.error("fakellm internal error while %s\n%s", doing, text)
        return error_body("The fake server hit an internal error (see its log).", type="server_error")

    def plan_passthrough(self, scenario: Scenario, asked: Instructions) -> PassthroughPlan:
        """The faults and seed for an answer fakellm does not write itself (a proxied stream, an
        embedding), chosen as for a served stream: the scenario's, ``--faults`` and the request's
        headers, each counting ``times`` in this server's counters."""
        return plan_passthrough(
            scenario,
            server_seed=self.config.seed,
            header_seed=asked.seed,
            global_faults=self.global_faults,
            extra_faults=asked.faults,
            extra_scope=asked.fault_scope,
            counters=self.counters,
        )

    def select(self, header: str | None, model: str, prompt: str, path: str | None = None) -> Scenario:
        with self._lock:
            if header is None and self.sequence:
                return self.sequence.popleft()
            return self.book.select(header, model, prompt, path)
