"""Prometheus metrics: a :class:`~fakellm.observe.StreamObserver` that counts what the server and
the proxy serve, exposed at ``GET /metrics`` (docs/metrics.md says what each one means).

Through ``prometheus_client`` (the exposition format is that library's, not ours), in a registry of
each server's own (:class:`Metrics`), never the process-wide ``REGISTRY``: a test process runs many
servers, and each one's figures are its own.

Labels are bounded: formats and fault kinds are fakellm's own short lists, routes are route
templates, statuses are HTTP's; the values that come from requests and scenario files (the
model, the scenario's name) are kept as they are up to a cap of distinct values each
(:class:`LabelCap`) and folded into ``"other"`` past it, so a client that sends a new model id on
every request cannot grow the exposition without end.

With ``fakellm serve --workers N`` every worker counts in prometheus_client's multiprocess mode
(:func:`use_multiprocess`, before the worker builds its app): each process writes its figures to
memory-mapped files in one folder, and ``GET /metrics`` on any worker reads them all
(``MultiProcessCollector``), so one scrape is the sum of the workers. The mode is process-wide, as
prometheus_client's value class is; a single process (and every ``fakellm.Server`` in a test
process) keeps the in-memory registry.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from .journal import JournalEntry
from .observe import Answered, StreamWatch

__all__ = [
    "CONTENT_TYPE",
    "DURATION_BUCKETS",
    "GAP_BUCKETS",
    "HEAD_BUCKETS",
    "MODEL_CAP",
    "OTHER",
    "SCENARIO_CAP",
    "TOKENS_PER_SECOND_BUCKETS",
    "TTFT_BUCKETS",
    "LabelCap",
    "Metrics",
    "forget_process",
    "use_multiprocess",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Buckets for LLM streams: a first token from 10 ms (a local model, a cache) to 30 s (a reasoning
# model thinking); gaps from 1 ms (a fast server's burst) to 10 s (a stall); 1 to 2000 tokens a
# second; streams up to 10 minutes (the SDKs' default read timeout).
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0)
GAP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TOKENS_PER_SECOND_BUCKETS = (
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    35.0,
    50.0,
    75.0,
    100.0,
    150.0,
    200.0,
    300.0,
    500.0,
    1000.0,
    2000.0,
)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
HEAD_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

MODEL_CAP = 20  # distinct model ids kept as labels; the rest are "other"
SCENARIO_CAP = 20  # distinct scenario names likewise
OTHER = "other"
NONE = "none"  # no value: a request rejected before its model or scenario was known
MAX_LABEL_CHARS = 100  # a label value is cut to this (a model id is the client's to choose)


_multiprocess_dir: str | None = None  # set by use_multiprocess(): this process is one of several


def use_multiprocess(path: str) -> None:
    """Count every :class:`Metrics` built in this process from now on in files under ``path``, a
    folder that all the workers of one ``fakellm serve --workers N`` share (and that is empty when
    the first starts): each one's ``GET /metrics`` then reports the sum over the workers."""
    global _multiprocess_dir
    # MultiProcessValue opens its files under the variable's folder; prometheus_client reads it at
    # import time to choose its value class, which is too early for us, so both are set here.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    _multiprocess_dir = path


def forget_process(pid: int, path: str) -> None:
    """A worker that has exited no longer counts in the live gauges (``fakellm_active_streams``:
    the streams it was writing are gone). Its counters and histograms stay in the sum: what it
    served was served."""
    mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


class LabelCap:
    """The first ``limit`` distinct values pass as they are, every later one is ``"other"``; an
    empty or missing value is ``"none"``. Thread-safe (a proxy's streams and a test's thread)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if not value:
            return NONE
        value = value[:MAX_LABEL_CHARS]
        if value in self._kept:
            return value
        with self._lock:
            if len(self._kept) < self.limit:
                self._kept.add(value)
                return value
        return value if value in self._kept else OTHER

    @property
    def kept(self) -> frozenset[str]:
        return frozenset(self._kept)


@dataclass(frozen=True, slots=True)
class _Family:
    """The histograms one side of a stream is measured in (the client side, or the proxy's
    upstream), and the labels they take."""

    ttft: Histogram
    ttft_scheduled: Histogram | None
    gap: Histogram
    rate: Histogram
    duration: Histogram
    outcomes: Counter | None  # the upstream's; the client side's come with the requests
    active: Gauge | None


class _Watch:
    """One stream's watch: its TTFT and gaps as its token frames go out, its rate and duration at
    its end. ``wrote`` is on the hot path: one histogram observation per token frame."""

    __slots__ = ("_family", "_first_ms", "_first_tokens", "_gap", "_labels", "_last_ms", "_on_end", "_tokens")

    def __init__(
        self, family: _Family, labels: tuple[str, ...], on_end: Callable[[], None] | None = None
    ) -> None:
        self._family = family
        self._on_end = on_end
        self._labels = labels
        self._gap = family.gap.labels(*labels)
        self._first_ms = -1.0
        self._last_ms = 0.0
        self._first_tokens = 0
        self._tokens = 0
        if family.active is not None:
            family.active.labels(labels[0]).inc()

    def wrote(self, due: float, elapsed_ms: float, tokens: int) -> None:
        if self._first_ms < 0:
            self._first_ms = elapsed_ms
            self._first_tokens = tokens
            family = self._family
            family.ttft.labels(*self._labels).observe(elapsed_ms / 1000.0)
            if family.ttft_scheduled is not None:
                family.ttft_scheduled.labels(*self._labels).observe(due)
        else:
            self._gap.observe((elapsed_ms - self._last_ms) / 1000.0)
        self._last_ms = elapsed_ms
        self._tokens += tokens

    def ended(self, outcome: str, duration_ms: float) -> None:
        family = self._family
        labels = self._labels
        # The rate of the tokens after the first write, over the time from it to the last: what a
        # reader of the stream sees once it has started (the TTFT is measured apart).
        span_s = (self._last_ms - self._first_ms) / 1000.0
        if self._first_ms >= 0 and span_s > 0:
            family.rate.labels(*labels).observe((self._tokens - self._first_tokens) / span_s)
        family.duration.labels(*labels, outcome).observe(max(duration_ms, 0.0) / 1000.0)
        if family.outcomes is not None:
            family.outcomes.labels(*labels, outcome).inc()
        if family.active is not None:
            family.active.labels(labels[0]).dec()
        if self._on_end is not None:
            self._on_end()


class Metrics:
    """One server's metrics, in a registry of its own (``registry``; :meth:`exposition` is the body
    of ``GET /metrics``). A :class:`~fakellm.observe.StreamObserver`."""

    def __init__(self, *, model_cap: int = MODEL_CAP, scenario_cap: int = SCENARIO_CAP) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._multiprocess_dir = _multiprocess_dir
        self.model = LabelCap(model_cap)
        self.scenario = LabelCap(scenario_cap)
        self._counted: set[int] = set()  # id() of the entries whose stream counted them
        r = self.registry
        stream = ("format", "scenario")
        self.requests = Counter(
            "fakellm_requests",
            "Requests answered, by route template, wire format and HTTP status (0: no response head).",
            ("route", "format", "status"),
            registry=r,
        )
        self.head = Histogram(
            "fakellm_response_head_seconds",
            "From the request's arrival to its response head (status and headers).",
            ("route", "format"),
            buckets=HEAD_BUCKETS,
            registry=r,
        )
        self.streams = Counter(
            "fakellm_streams",
            "Answers by how they ended (the journal's outcome), streamed or not (stream label).",
            ("format", "scenario", "model", "stream", "outcome"),
            registry=r,
        )
        self.tokens = Counter(
            "fakellm_tokens",
            "Tokens sent to clients (the journal's tokens_sent), streamed or not.",
            stream,
            registry=r,
        )
        self.faults = Counter(
            "fakellm_faults",
            "Faults fired, by kind (the journal's faults[].fault).",
            ("fault", "format"),
            registry=r,
        )
        self.client = _Family(
            ttft=Histogram(
                "fakellm_ttft_seconds",
                "Time to first token as written: from the request's arrival to its first token frame sent.",
                stream,
                buckets=TTFT_BUCKETS,
                registry=r,
            ),
            ttft_scheduled=Histogram(
                "fakellm_ttft_scheduled_seconds",
                "Time to first token as planned: the first token frame's due time after arrival.",
                stream,
                buckets=TTFT_BUCKETS,
                registry=r,
            ),
            gap=Histogram(
                "fakellm_inter_token_gap_seconds",
                "Time between consecutive token frames of a stream, as written.",
                stream,
                buckets=GAP_BUCKETS,
                registry=r,
            ),
            rate=Histogram(
                "fakellm_stream_tokens_per_second",
                "Per stream: tokens after the first token frame, over the time from it to the last.",
                stream,
                buckets=TOKENS_PER_SECOND_BUCKETS,
                registry=r,
            ),
            duration=Histogram(
                "fakellm_stream_duration_seconds",
                "Per stream: from the request's arrival to its end (last byte, drop or disconnect).",
                (*stream, "outcome"),
                buckets=DURATION_BUCKETS,
                registry=r,
            ),
            outcomes=None,
            active=Gauge(
                "fakellm_active_streams",
                "Streams being written now.",
                ("format",),
                registry=r,
                # With workers: the sum over the live ones (a dead worker's streams are gone).
                multiprocess_mode="livesum",
            ),
        )
        upstream = ("format", "model")
        self.upstream_family = _Family(
            ttft=Histogram(
                "fakellm_upstream_ttft_seconds",
                "Proxy: from sending the request upstream to the first token event arriving from it.",
                upstream,
                buckets=TTFT_BUCKETS,
                registry=r,
            ),
            ttft_scheduled=None,
            gap=Histogram(
                "fakellm_upstream_inter_token_gap_seconds",
                "Proxy: time between consecutive reads from the upstream that brought tokens.",
                upstream,
                buckets=GAP_BUCKETS,
                registry=r,
            ),
            rate=Histogram(
                "fakellm_upstream_tokens_per_second",
                "Proxy, per upstream stream: tokens after its first token read, over the time to the last.",
                upstream,
                buckets=TOKENS_PER_SECOND_BUCKETS,
                registry=r,
            ),
            duration=Histogram(
                "fakellm_upstream_duration_seconds",
                "Proxy: from sending the request upstream to the end of its answer.",
                (*upstream, "outcome"),
                buckets=DURATION_BUCKETS,
                registry=r,
            ),
            outcomes=Counter(
                "fakellm_upstream_streams",
                "Proxy: how the upstream's answers ended (completed, error_event, dropped, truncated, "
                "http_error, upstream_error, client_disconnected).",
                (*upstream, "outcome"),
                registry=r,
            ),
            active=None,
        )

    # -- the observer ------------------------------------------------------------------------------
    def opened(self, entry: JournalEntry) -> StreamWatch:
        # A stream's answer is counted when it ends, with its entry final and before the journal
        # lets its readers go (transport.py), not when the request is over: the client may have
        # read the journal and scraped by then. ``answered`` then leaves it out.
        self._counted.add(id(entry))
        labels = (entry.format or NONE, self.scenario(entry.scenario))
        return _Watch(self.client, labels, lambda: self._count(entry, entry.format or NONE))

    def upstream(self, entry: JournalEntry) -> StreamWatch:
        return _Watch(self.upstream_family, (entry.format or NONE, self.model(entry.model)))

    def answered(self, answer: Answered) -> None:
        fmt = answer.format or NONE
        self.requests.labels(answer.route, fmt, str(answer.status)).inc()
        if answer.head_s is not None:
            self.head.labels(answer.route, fmt).observe(answer.head_s)
        entry = answer.entry
        if entry is None:
            return
        if id(entry) in self._counted:
            self._counted.discard(id(entry))
            return
        self._count(entry, fmt)

    def _count(self, entry: JournalEntry, fmt: str) -> None:
        """An answer that is over: its outcome, tokens and faults."""
        scenario = self.scenario(entry.scenario)
        streamed = "true" if entry.stream else "false"
        self.streams.labels(fmt, scenario, self.model(entry.model), streamed, entry.outcome).inc()
        if entry.tokens_sent:
            self.tokens.labels(fmt, scenario).inc(entry.tokens_sent)
        for fired in entry.faults:
            self.faults.labels(fired.fault, fmt).inc()

    def exposition(self) -> bytes:
        """The body of ``GET /metrics`` (Prometheus' text format, :data:`CONTENT_TYPE`): this
        server's registry, or with workers (:func:`use_multiprocess`) the sum of all of them."""
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        # A registry per scrape, as prometheus_client's multiprocess docs do: the collector reads
        # the files as they are now, every worker's (a worker restarted since has new files).
        gathered = CollectorRegistry()
        MultiProcessCollector(gathered, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(gathered)
