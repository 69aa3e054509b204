"""background.py and the Responses background variant: the stream a background response sends,
its object at a moment (ResponseAccumulator), cancel, the GET query's checks; event_ids' ``ids``
and ``until_s``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from openai.types.responses import Response

from fakellm import Scenario
from fakellm.background import cancel, keep_background, response_at, stream_query, until_cancelled
from fakellm.content import FixedText
from fakellm.errors import RequestError
from fakellm.event_ids import ResumePoint
from fakellm.faults import parse_fault_spec
from fakellm.pipeline import plan_stream
from fakellm.resume import MemoryResumeStore, plan_again
from fakellm.scenario import Timing
from fakellm.stream import StreamContext
from fakellm.tokens import tokenize
from fakellm.wire.openai_responses import RESPONSES, ResponseAccumulator

TEXT = "One two three four five six seven eight."
SCENARIO = Scenario(name="s", content=FixedText(TEXT), timing=Timing(ttft_ms=100, itl_ms=10))


def _request(**fields: Any) -> Any:
    body = {"model": "m", "input": "hi", "stream": True, **fields}
    return RESPONSES.parse_request(json.dumps(body).encode(), {})


def _events(frames: Any) -> list[dict[str, Any]]:
    data = b"".join(frame.data for frame in frames).decode()
    return [json.loads(line[6:]) for line in data.splitlines() if line.startswith("data: ")]


def _plan(**fields: Any) -> Any:
    return plan_stream(_request(**fields), SCENARIO, format=RESPONSES, server_seed=3)


def test_a_background_stream_is_the_same_stream_opened_queued() -> None:
    foreground = _events(_plan().frames())
    background = _events(_plan(background=True).frames())
    assert [e["type"] for e in background[:3]] == [
        "response.created",
        "response.queued",
        "response.in_progress",
    ]
    assert [e["response"]["status"] for e in background[:3]] == ["queued", "queued", "in_progress"]
    assert [e["sequence_number"] for e in background] == list(range(len(background)))

    def same(event: dict[str, Any]) -> dict[str, Any]:
        # What differs: one more event before (each number one up), background: true.
        out = {**event, "sequence_number": event["sequence_number"] - 1}
        if "response" in event:
            out["response"] = {**event["response"], "background": False}
        return out

    assert [same(e) for e in background[2:]] == foreground[1:]
    assert background[0]["response"]["id"] == foreground[0]["response"]["id"]


def test_the_sequence_number_is_the_event_id() -> None:
    plan = _plan()
    plan.resume = ResumePoint("s1")  # numbered as a resumable stream is
    data = b"".join(frame.data for frame in plan.frames()).decode()
    blocks = [b for b in data.split("\n\n") if b]
    for block in blocks:
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        assert lines["id"] == f"s1:{json.loads(lines['data'])['sequence_number']}"


def test_without_ids_the_skip_works_and_no_id_is_written() -> None:
    whole = _events(_plan().frames())
    plan = _plan()
    plan.resume = ResumePoint("s1", after=6, ids=False)
    frames = list(plan.frames())
    assert b"id:" not in b"".join(f.data for f in frames)
    assert _events(frames) == whole[7:]


def test_until_s_stops_the_stream_at_a_moment_of_its_schedule() -> None:
    plan = _plan()
    plan.resume = ResumePoint("s1", offset_s=0.1, ids=False, until_s=0.125)
    frames = list(plan.frames())
    assert frames and all(f.due <= 0.025 for f in frames)  # moved 0.1 s earlier, cut at 0.125
    deltas = [e["delta"] for e in _events(frames) if e["type"] == "response.output_text.delta"]
    assert deltas == tokenize(TEXT)[:3]  # the tokens due at 100, 110 and 120 ms


def _record(**fields: Any) -> Any:
    store = MemoryResumeStore()
    plan = plan_stream(_request(background=True, **fields), SCENARIO, format=RESPONSES, server_seed=3)
    return store, asyncio.run(keep_background(store, plan, SCENARIO, arrived=10.0, now=10.0, body_bytes=60))


def test_the_object_as_it_stands_queued_then_in_progress_then_completed() -> None:
    store, record = _record()
    assert record.id.startswith("resp_") and store.kept(record.id) is record
    queued = response_at(record, 0.05)
    assert (queued["status"], queued["output"], queued["background"]) == ("queued", [], True)
    tokens = tokenize(TEXT)
    partial = Response.model_validate(response_at(record, 0.125))
    assert partial.status == "in_progress" and partial.output_text == "".join(tokens[:3])
    final = response_at(record, 60.0)
    whole = _events(plan_again(record, RESPONSES).frames())
    assert final == whole[-1]["response"] and final["status"] == "completed"
    # Validated but for its usage: openai 3.57's model requires input_tokens_details
    # .cache_write_tokens, which the captures fakellm follows do not have (the SDK constructs its
    # objects without validating them: it reads them all the same).
    assert Response.model_validate({**final, "usage": None}).output_text == TEXT


def test_an_accumulator_builds_calls_and_summaries_from_their_deltas() -> None:
    accumulator = ResponseAccumulator()
    item = {
        "id": "fc_1",
        "type": "function_call",
        "status": "in_progress",
        "arguments": "",
        "call_id": "c",
        "name": "f",
    }
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": []}
    for event in [
        {"type": "response.created", "response": {"id": "r", "status": "in_progress", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": reasoning},
        {
            "type": "response.reasoning_summary_part.added",
            "output_index": 0,
            "summary_index": 0,
            "part": {"type": "summary_text", "text": ""},
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "summary_index": 0,
            "delta": "Thin",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "summary_index": 0,
            "delta": "king",
        },
        {"type": "response.output_item.added", "output_index": 1, "item": item},
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": '{"a":'},
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "1}"},
        {"type": "response.output_text.delta", "output_index": 5, "delta": "stray"},  # no such item
    ]:
        accumulator.take(event)
    result = accumulator.result()
    assert result is not None
    assert result["output"][0]["summary"] == [{"type": "summary_text", "text": "Thinking"}]
    assert result["output"][1]["arguments"] == '{"a":1}'
    assert item["arguments"] == ""  # the event's own item is left as it was
    cancelled = accumulator.result(cancelled=True)
    assert cancelled is not None and cancelled["status"] == "cancelled"
    assert cancelled["output"][1]["status"] == "incomplete"


def test_an_error_event_ends_the_object_failed() -> None:
    store = MemoryResumeStore()
    request = _request(background=True)
    plan = plan_stream(
        request, SCENARIO, format=RESPONSES, server_seed=3, extra_faults=parse_fault_spec("error_event@2")
    )
    record = asyncio.run(keep_background(store, plan, SCENARIO, arrived=0.0, now=0.0, body_bytes=60))
    failed = response_at(record, 60.0)
    assert failed["status"] == "failed" and failed["error"] is not None
    assert Response.model_validate(failed).output_text == "".join(tokenize(TEXT)[:2])


def test_cancel_stops_the_schedule_and_a_second_answers_the_same() -> None:
    store, record = _record()
    first = asyncio.run(cancel(store, record, 0.125))
    assert first["status"] == "cancelled" and record.cancelled_after_s == 0.125
    assert Response.model_validate(first).output_text == "".join(tokenize(TEXT)[:3])
    assert asyncio.run(cancel(store, record, 5.0)) == first == response_at(record, 99.0)
    # A stream of it stops at the cancellation, with no terminal event.
    replay = _events(plan_again(record, RESPONSES, offset_s=1.0).frames())
    assert replay[-1]["type"] == "response.output_text.delta"
    # Cancelled before its first event: cancelled with nothing.
    store, early = _record()
    assert asyncio.run(cancel(store, early, 0.01))["output"] == []


def test_cancel_after_the_schedule_is_over_changes_nothing() -> None:
    store, record = _record()
    done = asyncio.run(cancel(store, record, 60.0))
    assert done["status"] == "completed" and record.cancelled_after_s is None


def test_a_live_stream_stops_at_a_cancel_made_while_it_runs() -> None:
    store, record = _record()
    ctx = StreamContext.seeded(1)
    frames = until_cancelled(plan_again(record, RESPONSES).frames(), store, record.id, 0.0, ctx)
    taken = [next(frames), next(frames)]  # the first token's write, then the second token's
    asyncio.run(store.cancel(record.id, taken[-1].due))
    assert list(frames) == [] and ctx.ending == "cancelled"


@pytest.mark.parametrize(
    ("query", "stream", "after"),
    [
        (b"", False, None),
        (b"stream=true", True, None),
        (b"stream=True&starting_after=0", True, 0),
        (b"stream=false", False, None),
    ],
)
def test_stream_queries(query: bytes, stream: bool, after: int | None) -> None:
    parsed = stream_query(query)
    assert (parsed.stream, parsed.starting_after) == (stream, after)


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("starting_after=1", "starting_after"),
        ("stream=true&starting_after=-1", "starting_after"),
        ("stream=true&starting_after=1e3", "starting_after"),
        ("stream=true&starting_after=", "starting_after"),
        ("stream=true&starting_after=9999999999999", "starting_after"),
        ("stream=1", "stream"),
    ],
)
def test_bad_stream_queries(query: str, param: str) -> None:
    with pytest.raises(RequestError) as caught:
        stream_query(query)
    assert (caught.value.status, caught.value.param, caught.value.type) == (
        400,
        param,
        "invalid_request_error",
    )
