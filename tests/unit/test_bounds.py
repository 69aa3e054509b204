"""What the server keeps per distinct thing a client sends is bounded (issue 10, defect 5)."""

from __future__ import annotations

from fakellm import HttpError
from fakellm.pipeline import FaultCounters


def test_fault_counts_are_kept_for_the_header_values_used_last() -> None:
    counters = FaultCounters()
    scenario_fault = HttpError(status=503, times=1)
    assert counters.take("scenario:s", 0, scenario_fault) == 0
    fault = HttpError(status=429, times=1)
    assert counters.take("header:first", 0, fault) == 0
    assert counters.take("header:first", 0, fault) is None  # used up
    for i in range(3 * FaultCounters.MAX_HEADER_SCOPES):
        counters.take(f"header:{i} " + "x" * 1000, 0, fault)
    assert counters.scopes <= FaultCounters.MAX_HEADER_SCOPES + 1
    # The scenario's count is never dropped; a header value not seen for long counts anew.
    assert counters.take("scenario:s", 0, scenario_fault) is None
    assert counters.take("header:first", 0, fault) == 0


def test_a_header_value_in_use_keeps_its_count() -> None:
    counters = FaultCounters()
    fault = HttpError(status=429, times=2)
    assert counters.take("header:kept", 0, fault) == 0
    for i in range(2 * FaultCounters.MAX_HEADER_SCOPES):
        counters.take(f"header:{i}", 0, fault)
        if i % 100 == 0:
            counters.take("header:kept", 1, fault)  # used now and then: never the oldest
    assert counters.take("header:kept", 0, fault) == 1
