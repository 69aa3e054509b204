"""resume.py: the resumable streams a server keeps, bounded in count, bytes and time."""

from __future__ import annotations

import time

from fakellm import Scenario
from fakellm.content import FixedText
from fakellm.resume import RECORD_OVERHEAD_BYTES, MemoryResumeStore, ResumeRecord
from fakellm.scenario import Timing
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
