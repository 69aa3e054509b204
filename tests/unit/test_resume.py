"""resume.py: the resumable streams a server keeps, bounded in count, bytes and time, and how far each
one's generation has got at a moment (``GET /_fakellm/streams/{id}``)."""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest

from fakellm import Scenario, ServerConfig, scenario_from_dict
from fakellm.content import FakerText, FixedText
from fakellm.faults import parse_fault_spec
from fakellm.pipeline import plan_stream
from fakellm.resume import (
    RECORD_OVERHEAD_BYTES,
    MemoryResumeStore,
    ResumeRecord,
    due_by,
    keep,
    plan_again,
    progress,
)
from fakellm.scenario import Timing
from fakellm.state import ServerState
from fakellm.wire import SSEDecoder, WireFormat
from fakellm.wire.openai import CHAT
from fakellm.wire.openai_responses import RESPONSES

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
        store.keep(_record(id))
    assert [store.kept(id) is not None for id in "abc"] == [False, True, True]
    assert len(store) == 2


def test_records_are_bounded_in_bytes() -> None:
    store = MemoryResumeStore(max_bytes=3000)
    for id in "abcd":
        store.keep(_record(id, size=1000))
    assert store.bytes <= 3000
    assert store.kept("a") is None and store.kept("d") is not None
    store.keep(_record("huge", size=3001))  # never kept: it would push out every other one
    assert store.kept("huge") is None and store.kept("d") is not None


def test_records_expire_after_their_time_to_live() -> None:
    store = MemoryResumeStore(ttl_s=60)
    store.keep(_record("old", started=time.time() - 61))
    store.keep(_record("new"))
    assert store.kept("old") is None and store.kept("new") is not None
    assert store.bytes == RECORD_OVERHEAD_BYTES


def test_a_second_cancel_keeps_the_first_moment_and_attempts_are_noted() -> None:
    asyncio.run(_cancel_twice())


async def _cancel_twice() -> None:
    store = MemoryResumeStore()
    await store.put(_record("a"))
    await store.attempt("a", 3)
    await store.attempt("a", 7)
    assert await store.cancel("a", 1.5) is not None
    record = await store.cancel("a", 9.0)
    assert record is not None and record.cancelled_after_s == 1.5 and record.attempts == [3, 7]
    assert store.cancelled_after("a") == 1.5 and store.cancelled_after("missing") is None
    assert await store.cancel("missing", 1.0) is None
    assert await store.get("a") is record
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


# -- progress: what GET /_fakellm/streams/{id} answers -------------------------------------------
PACED = Timing(ttft_ms=100, itl_ms=10)  # the role and "one" at 100 ms, then a token every 10 ms


def _kept(
    scenario: Scenario, faults: str = "", fmt: WireFormat = CHAT, body: bytes | None = None
) -> ResumeRecord:
    request = REQUEST if body is None else fmt.parse_request(body, {})
    plan = plan_stream(
        request, scenario, format=fmt, extra_faults=parse_fault_spec(faults), now=1_800_000_000.0
    )
    return keep(plan, scenario, path=fmt.path, arrived=0.0, now=0.0, body_bytes=70)


COUNTING = Scenario(name="s", content=FixedText("one two three four five"), timing=PACED)


@pytest.mark.parametrize(
    ("elapsed_s", "events", "text"),
    [
        (0.0, 0, ""),
        (0.099, 0, ""),  # before the first token is due, nothing is
        (0.105, 2, "one"),  # the role's event and the first token's
        (0.125, 4, "one two three"),
        (0.135, 5, "one two three four"),
    ],
)
def test_progress_while_the_schedule_runs_is_the_events_due_so_far(
    elapsed_s: float, events: int, text: str
) -> None:
    now = progress(_kept(COUNTING), CHAT, elapsed_s)
    assert (now.status, now.events, now.text, now.finish_reason) == ("in_progress", events, text, None)
    assert now.tokens == len(text.split())


@pytest.mark.parametrize("elapsed_s", [0.145, 60.0, math.inf])
def test_progress_once_the_schedule_is_over_is_completed_with_its_finish_reason(elapsed_s: float) -> None:
    record = _kept(COUNTING)
    now = progress(record, CHAT, elapsed_s)
    assert (now.status, now.text, now.tokens, now.finish_reason) == (
        "completed",
        "one two three four five",
        5,
        "stop",
    )
    # Every event of the stream: its last one's id is <id>:<events - 1>.
    ids = [e.id for f in plan_again(record, CHAT).frames() for e in SSEDecoder().feed(f.data)]
    assert now.events == len(ids) == 8 and ids[-1] == f"{record.id}:{now.events - 1}"


@pytest.mark.parametrize(
    ("faults", "status", "text"),
    [
        ("error_event@2", "failed", "one two"),  # a content fault: the generation's own
        ("truncate@2", "incomplete", "one two"),
        ("drop@2", "completed", "one two three four five"),  # a connection's: the generation goes on
        ("stall@1 5000ms", "completed", "one two three four five"),
    ],
)
def test_progress_ends_as_the_generation_does_not_as_its_first_attempt(
    faults: str, status: str, text: str
) -> None:
    now = progress(_kept(COUNTING, faults), CHAT, 60.0)
    assert (now.status, now.text) == (status, text)
    assert now.finish_reason == ("stop" if status == "completed" else None)


def test_a_cancelled_stream_stops_where_it_was_cancelled() -> None:
    record = _kept(COUNTING)
    record.cancelled_after_s = 0.125
    assert progress(record, CHAT, 0.115).status == "in_progress"  # not cancelled yet at that moment
    for elapsed_s in (0.125, 0.2, 60.0):
        now = progress(record, CHAT, elapsed_s)
        assert (now.status, now.text, now.tokens, now.finish_reason) == (
            "cancelled",
            "one two three",
            3,
            None,
        )


def test_progress_holds_tool_call_arguments_as_far_as_they_went() -> None:
    scenario = scenario_from_dict(
        {
            "name": "t",
            "timing": {"ttft_ms": 100, "itl_ms": 10},
            "content": {"text": "ok"},
            "tool_calls": [{"id": "call_A", "name": "get_weather", "arguments": {"city": "Paris"}}],
        }
    )
    record = _kept(scenario)
    partial = progress(record, CHAT, 0.135)  # "ok" at 100 ms, then an argument fragment every 10 ms
    assert partial.status == "in_progress" and partial.text == "ok"
    assert partial.tool_calls == ({"id": "call_A", "name": "get_weather", "arguments": '{"city'},)
    done = progress(record, CHAT, 60.0)
    assert done.tool_calls == ({"id": "call_A", "name": "get_weather", "arguments": '{"city":"Paris"}'},)
    assert (done.status, done.finish_reason) == ("completed", "tool_calls")


def test_progress_holds_the_reasoning_so_far_and_counts_every_event_of_the_format() -> None:
    scenario = scenario_from_dict(
        {
            "name": "r",
            "timing": {"ttft_ms": 100, "itl_ms": 10},
            "content": {"text": "done"},
            "reasoning": "let me think",
        }
    )
    record = _kept(scenario, fmt=RESPONSES, body=b'{"model":"m","input":"hi","stream":true}')
    thinking = progress(record, RESPONSES, 0.115)
    assert (thinking.status, thinking.reasoning, thinking.text) == ("in_progress", "let me", "")
    done = progress(record, RESPONSES, 60.0)
    assert (done.reasoning, done.text, done.tokens) == ("let me think", "done", 4)  # reasoning tokens count
    # On Responses an event's number is its sequence_number: the last one's is events - 1.
    last = [e.data for f in plan_again(record, RESPONSES).frames() for e in SSEDecoder().feed(f.data)][-1]
    assert json.loads(last)["sequence_number"] == done.events - 1


def test_the_server_state_keeps_streams_within_the_configured_bounds() -> None:
    state = ServerState(ServerConfig(resume_ttl_s=5.0, resume_max=3))
    store = state.resumable
    assert isinstance(store, MemoryResumeStore)
    assert (store.ttl_s, store.max_entries, store.max_bytes) == (5.0, 3, MemoryResumeStore.MAX_BYTES)
