"""The metrics without a server: label caps, model folding, what one stream's watch measures, and
the observer composite (observe.py). A server's figures against its journal: tests/e2e/test_metrics.py."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from fakellm.journal import JournalEntry
from fakellm.metrics import MAX_LABEL_CHARS, OTHER, LabelCap, Metrics
from fakellm.observe import NO_OBSERVER, Answered, Observers, StreamObserver, StreamWatch
from fakellm.stream import FaultFired


def entry(**fields: Any) -> JournalEntry:
    base: dict[str, Any] = {
        "index": 0,
        "time": 0.0,
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
    }
    return JournalEntry(**{**base, **fields})


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def answered(e: JournalEntry | None, route: str = "/v1/chat/completions", status: int = 200) -> Answered:
    return Answered(route, e.format if e is not None else None, status, 0.001, 0.01, e)


def test_a_cap_keeps_the_first_values_and_folds_the_rest() -> None:
    cap = LabelCap(3)
    assert [cap(v) for v in ("a", "b", "a", "c", "d", "b", "e")] == ["a", "b", "a", "c", OTHER, "b", OTHER]
    assert cap.kept == {"a", "b", "c"}
    assert cap(None) == cap("") == "none"  # no value is not a value: it takes no place
    assert cap.kept == {"a", "b", "c"}


def test_a_long_value_is_cut() -> None:
    cap = LabelCap(2)
    assert cap("m" * 5000) == "m" * MAX_LABEL_CHARS
    assert cap("m" * 6000) == "m" * MAX_LABEL_CHARS  # the same label, not a second value
    assert cap("x") == "x"


def test_models_and_scenarios_fold_past_their_caps() -> None:
    metrics = Metrics(model_cap=2, scenario_cap=1)
    for model, scenario in (("a", "s1"), ("b", "s2"), ("c", "s1"), ("a", "s3")):
        e = entry(format="openai.chat", model=model, scenario=scenario, stream=False, outcome="completed")
        metrics.answered(answered(e))
    labels = {"format": "openai.chat", "stream": "false", "outcome": "completed"}
    assert value(metrics, "fakellm_streams_total", model="a", scenario="s1", **labels) == 1
    assert value(metrics, "fakellm_streams_total", model="a", scenario=OTHER, **labels) == 1
    assert value(metrics, "fakellm_streams_total", model="b", scenario=OTHER, **labels) == 1
    assert value(metrics, "fakellm_streams_total", model=OTHER, scenario="s1", **labels) == 1


def test_a_watch_measures_ttft_gaps_rate_and_duration() -> None:
    metrics = Metrics()
    e = entry(format="openai.chat", scenario="default", model="m", stream=True)
    watch = metrics.opened(e)
    labels = {"format": "openai.chat", "scenario": "default"}
    assert value(metrics, "fakellm_active_streams", format="openai.chat") == 1
    watch.wrote(0.200, 205.0, 1)
    for i in range(1, 11):  # ten more frames, 20 ms apart, two tokens each
        watch.wrote(0.200 + i * 0.02, 205.0 + i * 20.0, 2)
    e.outcome, e.tokens_sent, e.duration_ms = "completed", 21, 410.0
    e.faults = [FaultFired("slow_tokens", 3, 100, 260.0)]
    watch.ended("completed", 410.0)
    assert value(metrics, "fakellm_ttft_seconds_sum", **labels) == pytest.approx(0.205)
    assert value(metrics, "fakellm_ttft_scheduled_seconds_sum", **labels) == pytest.approx(0.2)
    assert value(metrics, "fakellm_inter_token_gap_seconds_count", **labels) == 10
    assert value(metrics, "fakellm_inter_token_gap_seconds_sum", **labels) == pytest.approx(0.2)
    assert value(metrics, "fakellm_inter_token_gap_seconds_bucket", le="0.01", **labels) == 0
    assert value(metrics, "fakellm_inter_token_gap_seconds_bucket", le="0.02", **labels) == 10
    # 20 tokens after the first frame, over the 200 ms from it to the last
    assert value(metrics, "fakellm_stream_tokens_per_second_sum", **labels) == pytest.approx(100.0)
    assert value(metrics, "fakellm_stream_duration_seconds_sum", outcome="completed", **labels) == 0.41
    assert value(metrics, "fakellm_active_streams", format="openai.chat") == 0
    # the stream's answer is counted as it ends (its entry final), and not again with the request
    outcome = {
        "format": "openai.chat",
        "scenario": "default",
        "model": "m",
        "stream": "true",
        "outcome": "completed",
    }
    assert value(metrics, "fakellm_streams_total", **outcome) == 1
    assert value(metrics, "fakellm_tokens_total", **labels) == 21
    assert value(metrics, "fakellm_faults_total", fault="slow_tokens", format="openai.chat") == 1
    metrics.answered(answered(e))
    assert value(metrics, "fakellm_streams_total", **outcome) == 1
    assert (
        value(
            metrics,
            "fakellm_requests_total",
            route="/v1/chat/completions",
            format="openai.chat",
            status="200",
        )
        == 1
    )


def test_a_stream_of_one_frame_has_no_rate_or_gap() -> None:
    metrics = Metrics()
    watch = metrics.opened(entry(format="openai.chat", scenario="default"))
    watch.wrote(0.0, 1.0, 5)
    watch.ended("completed", 2.0)
    labels = {"format": "openai.chat", "scenario": "default"}
    assert value(metrics, "fakellm_stream_tokens_per_second_count", **labels) == 0
    assert value(metrics, "fakellm_inter_token_gap_seconds_count", **labels) == 0
    assert value(metrics, "fakellm_ttft_seconds_count", **labels) == 1


def test_the_upstream_watch_counts_how_upstream_streams_end() -> None:
    metrics = Metrics()
    e = entry(format="openai.chat", model="gpt-4o", scenario="default")
    for outcome in ("completed", "dropped", "completed"):
        watch = metrics.upstream(e)
        watch.wrote(0.5, 500.0, 1)
        watch.ended(outcome, 900.0)
    labels = {"format": "openai.chat", "model": "gpt-4o"}
    assert value(metrics, "fakellm_upstream_streams_total", outcome="completed", **labels) == 2
    assert value(metrics, "fakellm_upstream_streams_total", outcome="dropped", **labels) == 1
    assert value(metrics, "fakellm_upstream_ttft_seconds_sum", **labels) == pytest.approx(1.5)
    assert value(metrics, "fakellm_streams_total", outcome="completed") == 0  # the client side's own


def test_a_request_without_an_entry_counts_as_a_request_only() -> None:
    metrics = Metrics()
    metrics.answered(Answered("/metrics", None, 200, None, 0.001, None))
    assert value(metrics, "fakellm_requests_total", route="/metrics", format="none", status="200") == 1
    assert value(metrics, "fakellm_response_head_seconds_count", route="/metrics", format="none") == 0


def test_each_metrics_has_its_own_registry() -> None:
    one, two = Metrics(), Metrics()
    one.answered(Answered("/", None, 200, 0.0, 0.0, None))
    assert value(one, "fakellm_requests_total", route="/", format="none", status="200") == 1
    assert value(two, "fakellm_requests_total", route="/", format="none", status="200") == 0
    assert (
        REGISTRY.get_sample_value("fakellm_requests_total", {"route": "/", "format": "none", "status": "200"})
        is None
    )


class Tally:
    """An observer that keeps what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[Any, ...]] = []

    def opened(self, entry: JournalEntry) -> StreamWatch:
        return self.watch("opened")

    def upstream(self, entry: JournalEntry) -> StreamWatch:
        return self.watch("upstream")

    def watch(self, side: str) -> StreamWatch:
        told = self.told

        class Watch:
            def wrote(self, due: float, elapsed_ms: float, tokens: int) -> None:
                told.append((side, "wrote", tokens))

            def ended(self, outcome: str, duration_ms: float) -> None:
                told.append((side, "ended", outcome))

        return Watch()

    def answered(self, answer: Answered) -> None:
        self.told.append(("answered", answer.route))


def test_observers_fan_out_in_order_and_one_is_handed_back_itself() -> None:
    a, b = Tally(), Tally()
    both: StreamObserver = Observers(a, b)
    watch = both.opened(entry())
    watch.wrote(0.0, 1.0, 2)
    watch.ended("dropped", 3.0)
    both.upstream(entry()).ended("completed", 1.0)
    both.answered(Answered("/", None, 200, 0.0, 0.0, None))
    told = [
        ("opened", "wrote", 2),
        ("opened", "ended", "dropped"),
        ("upstream", "ended", "completed"),
        ("answered", "/"),
    ]
    assert a.told == b.told == told
    single = Tally()
    watch = Observers(single).opened(entry())
    assert type(watch).__name__ == "Watch"  # no fan-out between the transport and the one watcher
    assert type(Observers().opened(entry())) is type(NO_OBSERVER.opened(entry()))
