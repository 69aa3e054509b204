"""resume.py: the resumable streams a server keeps, bounded in count, bytes and time."""

from __future__ import annotations

import time

from fakellm import Scenario
from fakellm.content import FakerText, FixedText
from fakellm.faults import parse_fault_spec
from fakellm.pipeline import plan_stream
from fakellm.resume import RECORD_OVERHEAD_BYTES, MemoryResumeStore, ResumeRecord, due_by, keep, plan_again
from fakellm.scenario import Timing
from fakellm.wire import SSEDecoder
from fakellm.wire.openai import CHAT

REQUEST = CHAT.parse_request(b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}', {})


def _record(id: str, *, size: int = 0, started: float | None = None) -> ResumeRecord:
    return ResumeRecord(
        id=id,
        path="/v1/chat/completions",
        request=REQUEST,
        scenario=Scenario(name="s", content=FixedText("x")),
        seed=1,
        timing=Timing(),
        created=None,
        arrived=0.0,
        started=time.time() if started is None else started,
        size=size,
    )


def test_the_oldest_records_go_first_past_the_count() -> None:
    store = MemoryResumeStore(max_entries=2)
    for id in "abc":
        store.put(_record(id))
    assert [store.get(id) is not None for id in "abc"] == [False, True, True]
    assert len(store) == 2


def test_records_are_bounded_in_bytes() -> None:
    store = MemoryResumeStore(max_bytes=3000)
    for id in "abcd":
        store.put(_record(id, size=1000))
    assert store.bytes <= 3000
    assert store.get("a") is None and store.get("d") is not None
    store.put(_record("huge", size=3001))  # never kept: it would push out every other one
    assert store.get("huge") is None and store.get("d") is not None


def test_records_expire_after_their_time_to_live() -> None:
    store = MemoryResumeStore(ttl_s=60)
    store.put(_record("old", started=time.time() - 61))
    store.put(_record("new"))
    assert store.get("old") is None and store.get("new") is not None
    assert store.bytes == RECORD_OVERHEAD_BYTES


def test_a_second_cancel_keeps_the_first_moment_and_attempts_are_noted() -> None:
    store = MemoryResumeStore()
    store.put(_record("a"))
    store.attempt("a", 3)
    store.attempt("a", 7)
    assert store.cancel("a", 1.5) is not None
    record = store.cancel("a", 9.0)
    assert record is not None and record.cancelled_after_s == 1.5 and record.attempts == [3, 7]
    assert store.cancel("missing", 1.0) is None
    store.clear()
    assert len(store) == 0 and store.bytes == 0


def test_a_kept_stream_planned_again_is_the_same_stream_and_due_by_cuts_it_at_a_moment() -> None:
    scenario = Scenario(name="s", content=FakerText(sentences=2), timing=Timing(ttft_ms=100, itl_ms=10))
    faults = parse_fault_spec("slow_tokens@3 x2; drop@5")
    plan = plan_stream(REQUEST, scenario, extra_faults=faults, now=1_800_000_000.0)
    record = keep(plan, scenario, path=CHAT.path, arrived=5.0, now=5.25, body_bytes=70)
    assert [f.name for f in record.event_faults] == ["slow_tokens"]  # the drop was the connection's
    assert record.size == 70 + RECORD_OVERHEAD_BYTES and time.time() - record.started >= 0.25
    whole = list(plan_again(record, CHAT).frames())
    assert [f.due for f in whole] == [
        f.due
        for f in plan_stream(
            REQUEST, scenario, stream_seed=plan.seed, created=plan.created, faults=record.event_faults
        ).frames()
    ]
    ids = [e.id for f in whole for e in SSEDecoder().feed(f.data)]
    assert ids[0] == f"{plan.request_id}:0" and len(set(ids)) == len(ids)
    moment = whole[4].due
    held = list(due_by(record, CHAT, moment))
    assert held == whole[:5]
    record.cancelled_after_s = whole[2].due
    assert list(due_by(record, CHAT, 1e9)) == whole[:3]
