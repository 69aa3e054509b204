"""Reasoning (``reasoning.py``): the scenario's fields, the schedule's reasoning block, how each
format frames it, byte for byte against the real captures where there is one
(``fixtures/wire/anthropic_thinking.sse``: vercel/ai anthropic-clear-thinking.1, wire2 §2.3;
``fixtures/wire/openai-responses-reasoning.sse``: the first turn of vercel/ai
openai-reasoning-encrypted-content.1, a reasoning item then a function call, wire2 §1.3), and the
plan: what it costs in tokens, ``max_tokens`` and the formats that do not send it."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from fakellm.content import FixedText
from fakellm.errors import RequestError, ScenarioError
from fakellm.events import BlockEnd, BlockStart, Event, Finish, RoleStart, StreamEnd, TextDelta, Usage
from fakellm.journal import JournalEntry
from fakellm.pipeline import plan_stream, schedule
from fakellm.reasoning import PlannedReasoning
from fakellm.scenario import Scenario, Timing, scenario_from_dict
from fakellm.tools import PlannedCall
from fakellm.wire.anthropic_messages import MESSAGES, AnthropicMessagesEncoder
from fakellm.wire.format import WireFormat
from fakellm.wire.openai import CHAT, OpenAIChatEncoder
from fakellm.wire.openai_completions import COMPLETIONS
from fakellm.wire.openai_responses import RESPONSES, OpenAIResponsesEncoder
from fakellm.wire.sse import SSEDecoder

from .test_wire_openai_responses import normalise_pads, payloads

CAPTURES = Path(__file__).resolve().parents[2] / "fixtures" / "wire"
THINKING = (CAPTURES / "anthropic_thinking.sse").read_text()
REASONING = (CAPTURES / "openai-responses-reasoning.sse").read_text()

REQUESTS: dict[str, tuple[WireFormat, bytes]] = {
    "chat": (CHAT, b'{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'),
    "completions": (COMPLETIONS, b'{"model":"m","stream":true,"prompt":"hi"}'),
    "responses": (RESPONSES, b'{"model":"m","input":"hi","stream":true}'),
    "messages": (
        MESSAGES,
        b'{"model":"m","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}',
    ),
}


def reasoning_stream(thoughts: list[str]) -> list[Event]:
    return [RoleStart(), BlockStart("reasoning", 0), *(TextDelta(t) for t in thoughts), BlockEnd(0)]


# --------------------------------------------------------------------------------------------------
# Anthropic: the thinking block (wire2 §2.3)

_SIGNATURE = re.compile(r'"signature":"([A-Za-z0-9+/=]+)"')


def test_a_thinking_block_is_framed_as_the_captured_stream() -> None:
    """From the thinking block's start to the text block's stop, byte for byte: the start with
    ``"thinking":"","signature":""``, the ping, each token a ``thinking_delta``, the empty
    ``thinking_delta``, exactly one ``signature_delta`` just before the block's stop, then the
    text block at index 1. Only the signature's value differs (it is opaque; ours is seeded)."""
    captured = SSEDecoder().feed(THINKING.encode())
    deltas = [json.loads(e.data)["delta"] for e in captured if e.event == "content_block_delta"]
    thoughts = [d["thinking"] for d in deltas if d["type"] == "thinking_delta" and d["thinking"]]
    words = [d["text"] for d in deltas if d["type"] == "text_delta"]
    encoder = AnthropicMessagesEncoder(
        id="msg_01Y6V41gqPaKWEw7iPouH7iW", model="claude-sonnet-4-5-20250929", input_tokens=69
    )
    events: list[Event] = [
        *reasoning_stream(thoughts),
        BlockStart("text", 1),
        *(TextDelta(w) for w in words),
        BlockEnd(1),
        Finish("stop"),
    ]
    ours = b"".join(encoder.encode(e) for e in events).decode()
    blocks = ours[ours.index("event: content_block_start") :]
    theirs = THINKING[THINKING.index("event: content_block_start") : THINKING.index("event: message_delta")]
    signature = _SIGNATURE.search(blocks)
    assert signature is not None and len(_SIGNATURE.findall(blocks)) == 1
    assert blocks == _SIGNATURE.sub(f'"signature":"{signature.group(1)}"', theirs)
    # The captured signature's shape: base64 of a protobuf opening EvQB, a few hundred characters.
    assert signature.group(1).startswith("EvQB") and 300 <= len(signature.group(1)) <= 400


def test_the_signature_is_seeded_by_the_message() -> None:
    def signature(id: str) -> str:
        return AnthropicMessagesEncoder(id=id, model="c", input_tokens=1).signature()

    assert signature("msg_01a") == signature("msg_01a") != signature("msg_01b")


def test_the_non_streamed_message_has_the_thinking_block_first() -> None:
    encoder = AnthropicMessagesEncoder(id="msg_01x", model="c", input_tokens=3)
    body = encoder.completion(
        "185", "stop", Usage(3, 5, 4), reasoning=PlannedReasoning(("925", " ÷ 5", " =", " 185"))
    )
    assert body["content"] == [
        {"type": "thinking", "thinking": "925 ÷ 5 = 185", "signature": encoder.signature()},
        {"type": "text", "text": "185"},
    ]
    assert body["usage"]["output_tokens"] == 5  # thinking counts in Anthropic's output tokens


def test_a_thinking_block_cut_by_max_tokens_is_the_only_block() -> None:
    encoder = AnthropicMessagesEncoder(id="msg_01x", model="c", input_tokens=3)
    body = encoder.completion("", "length", Usage(3, 2, 2), reasoning=PlannedReasoning(("a", "b")))
    assert [b["type"] for b in body["content"]] == ["thinking"]
    assert body["stop_reason"] == "max_tokens"


# --------------------------------------------------------------------------------------------------
# Responses: the reasoning item (wire2 §1.3)

_ENCRYPTED = re.compile(r'"encrypted_content":"([A-Za-z0-9_=-]+)"')


def normalise(body: str) -> str:
    """Pads by length (the format's rule), encrypted content by presence (opaque, and the live
    API's ``output_item.added`` one differs from its ``.done`` one)."""
    return _ENCRYPTED.sub('"encrypted_content":"…"', normalise_pads(body))


def reasoning_capture() -> tuple[OpenAIResponsesEncoder, list[Event]]:
    """The encoder the capture's first turn would have had (its ids, its echo, encrypted content
    asked for), and the events of its answer: reasoning, then a call."""
    events = payloads(REASONING)
    response, rs, fc = events[0]["response"], events[2]["item"], events[39]["item"]
    request = {k: response[k] for k in ("reasoning", "store", "tools", "top_p")}
    encoder = OpenAIResponsesEncoder(
        response_id=response["id"],
        message_id="msg_unused",
        created_at=response["created_at"],
        model=response["model"],
        request={**request, "include": ["reasoning.encrypted_content"]},
        item_id=lambda kind: rs["id"] if kind == "rs_" else fc["id"],
        obfuscation=random.Random(7),
    )
    thoughts = [e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta"]
    fragments = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    stream = [
        *reasoning_stream(thoughts),
        BlockStart("tool_call", 1, id=fc["call_id"], name=fc["name"]),
        *(TextDelta(f) for f in fragments),
        BlockEnd(1),
        Finish("tool_calls"),
        Usage(134, 28, 0),  # the capture says reasoning_tokens 0 (its summary is not its reasoning)
        StreamEnd(),
    ]
    return encoder, stream


def test_a_reasoning_item_is_framed_as_the_captured_stream() -> None:
    """The capture's first turn event by event, bytes equal but for the pads' letters and the
    encrypted content: the ``reasoning`` item added (``rs_`` id, ``summary: []``), its summary part
    added, the ``reasoning_summary_text.delta`` events (``summary_index``, ``obfuscation``), the
    text's and the part's ``.done``, the item done with its summary, then the call at
    ``output_index`` 1 and ``completed`` listing both."""
    encoder, stream = reasoning_capture()
    body = b"".join(encoder.encode(e) for e in stream).decode()
    ours, theirs = normalise(body).split("\n\n"), normalise(REASONING).split("\n\n")
    for mine, captured in zip(ours, theirs, strict=True):
        assert mine == captured


def test_the_non_streamed_reasoning_is_what_completed_carries() -> None:
    encoder, _ = reasoning_capture()
    events = payloads(REASONING)
    thoughts = tuple(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    completed = events[-1]["response"]
    fc = completed["output"][1]
    call = PlannedCall(fc["call_id"], fc["name"], (fc["arguments"],))
    body = encoder.completion(
        "", "tool_calls", Usage(134, 28, 0), [call], reasoning=PlannedReasoning(thoughts)
    )
    compact: dict[str, Any] = {"separators": (",", ":"), "ensure_ascii": False}
    assert normalise(json.dumps(body, **compact)) == normalise(json.dumps(completed, **compact))


def test_reasoning_then_text_the_message_at_output_index_1() -> None:
    encoder, _ = reasoning_capture()
    events = [
        *reasoning_stream(["Thinking", "."]),
        BlockStart("text", 1),
        TextDelta("Hi"),
        BlockEnd(1),
        Finish("stop"),
        Usage(3, 3, 2),
        StreamEnd(),
    ]
    sent = payloads(b"".join(encoder.encode(e) for e in events))
    assert [e["sequence_number"] for e in sent] == list(range(len(sent)))
    message = [e for e in sent if e["type"].startswith(("response.output_text", "response.content_part"))]
    assert {e["output_index"] for e in message} == {1}
    done = sent[-1]["response"]
    assert [item["type"] for item in done["output"]] == ["reasoning", "message"]
    assert done["output"][0]["summary"] == [{"type": "summary_text", "text": "Thinking."}]
    assert done["usage"]["output_tokens_details"] == {"reasoning_tokens": 2}


# --------------------------------------------------------------------------------------------------
# Chat Completions: only in a named field


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_chat_sends_reasoning_in_the_named_delta_field_alone(field: str) -> None:
    encoder = OpenAIChatEncoder(id="chatcmpl-x", created=1, model="m", system_fingerprint="fp_1")
    events: list[Event] = [
        RoleStart(),
        BlockStart("reasoning", 0, name=field),
        TextDelta("Hmm"),
        BlockEnd(0),
        BlockStart("text", 1),
        TextDelta("Hi"),
        BlockEnd(1),
        Finish("stop"),
        StreamEnd(),
    ]
    data = b"".join(encoder.encode(e) for e in events)
    assert (
        b'data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"m","service_tier":'
        b'"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"%b":"Hmm"},"logprobs":null,'
        b'"finish_reason":null}]}\n\n' % field.encode()
    ) in data
    chunks = [json.loads(e.data) for e in SSEDecoder().feed(data)[:-1]]
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": "", "refusal": None},
        {field: "Hmm"},
        {"content": "Hi"},
        {},
    ]
    body = encoder.completion("Hi", "stop", Usage(1, 2, 1), reasoning=PlannedReasoning(("Hmm",), field))
    message = body["choices"][0]["message"]
    assert list(message)[:3] == ["role", "content", field] and message[field] == "Hmm"
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 1


# --------------------------------------------------------------------------------------------------
# The schedule and the plan


def test_the_reasoning_block_comes_first_at_its_own_pace() -> None:
    timed = list(
        schedule(
            ["Hi", "!"],
            Timing(ttft_ms=100, itl_ms=10, reasoning_itl_ms=50),
            random.Random(0),
            finish_reason="stop",
            usage=None,
            reasoning=PlannedReasoning(("a", "b", "c"), "reasoning"),
        )
    )
    assert [t.event for t in timed] == [
        RoleStart(),
        BlockStart("reasoning", 0, name="reasoning"),
        TextDelta("a"),
        TextDelta("b"),
        TextDelta("c"),
        BlockEnd(0),
        BlockStart("text", 1),
        TextDelta("Hi"),
        TextDelta("!"),
        BlockEnd(1),
        Finish("stop"),
        StreamEnd(),
    ]
    tokens = [round(t.due * 1000) for t in timed if isinstance(t.event, TextDelta)]
    assert tokens == [100, 150, 200, 210, 220]  # reasoning_itl_ms between thoughts, itl_ms after


def test_without_reasoning_itl_ms_thoughts_go_at_itl_ms() -> None:
    timed = schedule(
        [],
        Timing(itl_ms=20),
        random.Random(0),
        finish_reason="stop",
        usage=None,
        reasoning=PlannedReasoning(("a", "b")),
    )
    due = [round(t.due * 1000) for t in timed if isinstance(t.event, TextDelta)]
    assert due == [0, 20]


SCENARIO = Scenario(
    name="s",
    content=FixedText("one two three"),
    seed=1,
    reasoning=FixedText("I think so"),
    reasoning_field="reasoning_content",
)


@pytest.mark.parametrize("name", ["chat", "responses", "messages"])
def test_reasoning_tokens_count_in_usage_where_the_format_sends_them(name: str) -> None:
    fmt, raw = REQUESTS[name]
    plan = plan_stream(fmt.parse_request(raw, {}), SCENARIO, format=fmt)
    assert plan.reasoning is not None and plan.reasoning.text == "I think so"
    assert plan.usage.reasoning_tokens == len(plan.reasoning.tokens) > 0
    assert plan.usage.completion_tokens == len(plan.tokens) + plan.usage.reasoning_tokens
    assert plan.text == "one two three"  # unchanged by the reasoning (its own RNG)
    bare = plan_stream(
        fmt.parse_request(raw, {}), Scenario(name="s", content=FixedText("one two three"), seed=1), format=fmt
    )
    assert b"".join(f.data for f in bare.frames()) != b"".join(f.data for f in plan.frames())


@pytest.mark.parametrize("name", list(REQUESTS))
def test_where_reasoning_is_not_sent_it_is_not_there_at_all(name: str) -> None:
    """Chat without ``reasoning_field`` (OpenAI never streams reasoning there) and Completions:
    no tokens, no time, no usage: the same bytes as without reasoning."""
    fmt, raw = REQUESTS[name]
    quiet = Scenario(name="s", content=FixedText("one two"), seed=1, reasoning=FixedText("thinking"))
    plan = plan_stream(fmt.parse_request(raw, {}), quiet, format=fmt)
    if fmt in (RESPONSES, MESSAGES):
        assert plan.reasoning is not None
        return
    assert plan.reasoning is None and plan.usage.reasoning_tokens == 0
    bare = plan_stream(
        fmt.parse_request(raw, {}), Scenario(name="s", content=FixedText("one two"), seed=1), format=fmt
    )
    assert b"".join(f.data for f in bare.frames()) == b"".join(f.data for f in plan.frames())
    assert bare.completion_delay() == plan.completion_delay()


@pytest.mark.parametrize(("limit", "thoughts", "text", "finish"), [(2, 2, 0, "length"), (4, 3, 1, "length")])
def test_max_tokens_counts_the_reasoning_first(limit: int, thoughts: int, text: int, finish: str) -> None:
    """OpenAI counts reasoning in the limit: a limit inside the thinking cuts it and leaves no
    answer (no text block either); one past it leaves what remains for the text."""
    raw = b'{"model":"m","max_tokens":%d,"stream":true,"messages":[{"role":"user","content":"hi"}]}' % limit
    scenario = Scenario(
        name="s", content=FixedText("one two three"), seed=1, reasoning=FixedText("I think so")
    )
    plan = plan_stream(MESSAGES.parse_request(raw, {}), scenario, format=MESSAGES)
    assert plan.reasoning is not None
    assert (len(plan.reasoning.tokens), len(plan.tokens), plan.finish_reason) == (thoughts, text, finish)
    assert plan.usage.completion_tokens == limit and plan.usage.reasoning_tokens == thoughts
    kinds = [
        t.event.kind
        for t in schedule(
            plan.tokens,
            plan.timing,
            random.Random(0),
            finish_reason=plan.finish_reason,
            usage=None,
            reasoning=plan.reasoning,
        )
        if isinstance(t.event, BlockStart)
    ]
    assert kinds == (["reasoning"] if not text else ["reasoning", "text"])


def test_n_with_reasoning_sent_is_a_400_naming_n() -> None:
    raw = b'{"model":"m","n":2,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
    with pytest.raises(RequestError) as caught:
        plan_stream(CHAT.parse_request(raw, {}), SCENARIO, format=CHAT)
    assert caught.value.status == 400 and caught.value.param == "n"
    quiet = Scenario(name="s", content=FixedText("x"), reasoning=FixedText("y"))  # not sent on Chat
    assert len(plan_stream(CHAT.parse_request(raw, {}), quiet, format=CHAT).more) == 1


def test_the_journal_keeps_the_reasoning_that_reached_the_wire() -> None:
    entry = JournalEntry(index=0, time=0.0, method="POST", path="/v1/messages", status=200)
    entry.planned_reasoning = ("I", " think", " so")
    entry.tokens_sent = 2
    assert entry.reasoning == "I think"
    entry.tokens_sent = 9
    assert entry.as_dict()["reasoning"] == "I think so"


# --------------------------------------------------------------------------------------------------
# Scenario fields


def test_the_scenario_fields() -> None:
    scenario = scenario_from_dict(
        {
            "name": "s",
            "reasoning": {"faker": {"sentences": 2}},
            "reasoning_field": "reasoning",
            "timing": {"reasoning_itl_ms": 5},
        }
    )
    assert scenario.reasoning is not None and scenario.reasoning_field == "reasoning"
    assert scenario.timing.reasoning_itl_ms == 5.0 and Timing().reasoning_itl_ms is None
    turns = scenario_from_dict(
        {"name": "t", "reasoning_field": "reasoning_content", "turns": [{"reasoning": "first"}, {}]}
    ).turns
    assert turns[0].reasoning == FixedText("first") and turns[1].reasoning is None


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"reasoning": 3}, "reasoning", "a string or a mapping"),
        ({"reasoning": {"json": "auto"}}, "reasoning.json", "unknown field"),
        (
            {"reasoning": "x", "reasoning_field": "thoughts"},
            "reasoning_field",
            "reasoning_content, reasoning",
        ),
        ({"reasoning_field": "reasoning"}, "reasoning_field", "no reasoning to send"),
        ({"reasoning": "x", "timing": {"reasoning_itl_ms": -1}}, "timing.reasoning_itl_ms", ">= 0"),
        ({"turns": [{"content": {"text": "a"}}], "reasoning": "x"}, "reasoning", "inside 'turns'"),
    ],
)
def test_bad_reasoning_fields_name_the_field(data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict({"name": "s", **data})
    assert caught.value.field == field and words in str(caught.value)
