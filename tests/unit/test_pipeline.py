"""plan_stream: how faults from each source are counted for ``times``, and the default rule;
schedule(): the events of an answer, and the writes their framing goes out in."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable

import pytest

from fakellm import HttpError, Scenario
from fakellm.content import FakerText, FixedText
from fakellm.events import (
    BlockEnd,
    BlockKind,
    BlockStart,
    Event,
    Finish,
    RoleStart,
    StreamEnd,
    TextDelta,
    Usage,
)
from fakellm.faults import parse_fault_spec
from fakellm.pipeline import (
    Choice,
    FaultCounters,
    answer_for_turn,
    compose,
    last_tool_result,
    plan_stream,
    schedule,
)
from fakellm.scenario import ScenarioBook, Timing, scenario_from_dict
from fakellm.stream import Frame, StreamContext, Timed
from fakellm.wire import SSEDecoder, WireFormat
from fakellm.wire.anthropic_messages import MESSAGES, AnthropicMessagesEncoder
from fakellm.wire.openai import CHAT, parse_chat_request
from fakellm.wire.openai_completions import COMPLETIONS
from fakellm.wire.openai_responses import RESPONSES

REQUEST = parse_chat_request(b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}')


def _errors(counters: FaultCounters, *, header: list[HttpError], scope: str) -> int | None:
    plan = plan_stream(
        REQUEST,
        Scenario(name="s", content=FixedText("x")),
        server_seed=1,
        global_faults=[HttpError(status=503, times=1)],
        extra_faults=header,
        extra_scope=scope,
        counters=counters,
    )
    return plan.http_error.status if plan.http_error is not None else None


def test_times_counts_each_fault_source_separately() -> None:
    counters = FaultCounters()
    header = [HttpError(status=429, times=1)]
    # The server-wide fault fires once, whichever header the request carries...
    assert _errors(counters, header=[], scope="header:") == 503
    assert _errors(counters, header=[], scope="header:") is None
    # ...and a header's own fault has its own count.
    assert _errors(counters, header=header, scope="header:http_error 429 times=1") == 429
    assert _errors(counters, header=header, scope="header:http_error 429 times=1") is None


def test_an_explicit_default_wins_over_a_loaded_scenario_named_default() -> None:
    loaded = Scenario(name="default", content=FixedText("from the file"))
    scripted = Scenario(name="default", content=FixedText("scripted"))
    book = ScenarioBook([loaded], default=scripted)
    assert book.select(None, "gpt-4o", "hi") is scripted


# --------------------------------------------------------------------------------------------------
# The schedule's events, and the frames their framing goes out in (pipeline._encode)

MESSAGES_REQUEST = b'{"model":"m","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}'


STREAM_REQUESTS: list[tuple[WireFormat, bytes]] = [
    (CHAT, b'{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'),
    (COMPLETIONS, b'{"model":"m","stream":true,"prompt":"hi"}'),
    (RESPONSES, b'{"model":"m","input":"hi","stream":true}'),
    (MESSAGES, MESSAGES_REQUEST),
]


def _kinds(events: Iterable[Timed]) -> list[str]:
    return [type(t.event).__name__ for t in events]


@pytest.mark.parametrize("usage", [Usage(3, 2), None], ids=["usage", "no-usage"])
def test_the_schedule_is_the_message_one_text_block_and_the_finish(usage: Usage | None) -> None:
    timed = list(
        schedule(
            ["Hel", "lo"], Timing(ttft_ms=100, itl_ms=10), random.Random(0), finish_reason="stop", usage=usage
        )
    )
    assert [t.event for t in timed] == [
        RoleStart(),
        BlockStart("text", 0),
        TextDelta("Hel"),
        TextDelta("lo"),
        BlockEnd(0),
        Finish("stop"),
        *([usage] if usage else []),
        StreamEnd(),
    ]
    # The block opens with the message (at the first token's moment) and closes with the last token.
    assert [round(t.due * 1000) for t in timed[:6]] == [100, 100, 100, 110, 110, 110]


def test_an_empty_answer_still_opens_and_closes_its_block() -> None:
    timed = schedule([], Timing(), random.Random(0), finish_reason="length", usage=None)
    assert _kinds(timed) == ["RoleStart", "BlockStart", "BlockEnd", "Finish", "StreamEnd"]


def _frames(fmt: WireFormat, raw: bytes, spec: str = "", text: str = "one two three") -> list[Frame]:
    request = fmt.parse_request(raw, {})
    scenario = Scenario(name="s", content=FixedText(text), seed=1)
    plan = plan_stream(request, scenario, format=fmt, extra_faults=parse_fault_spec(spec) if spec else ())
    return list(plan.frames())


def _names(frame: Frame) -> list[str]:
    return [e.event for e in SSEDecoder().feed(frame.data)]


def test_the_block_framing_rides_in_the_writes_of_the_message_and_the_finish() -> None:
    """Anthropic: message_start, the block's start and ping in one write; each token its own; the
    block's stop in the finish's (closing) write; no write of its own for any block event."""
    frames = _frames(MESSAGES, MESSAGES_REQUEST)
    assert [_names(f) for f in frames] == [
        ["message_start", "content_block_start", "ping"],
        ["content_block_delta"],
        ["content_block_delta"],
        ["content_block_delta"],
        ["content_block_stop"],
        ["message_delta"],
        ["message_stop"],
    ]
    assert [f.tokens for f in frames] == [0, 1, 1, 1, 0, 0, 0]
    assert [f.closing for f in frames] == [False, False, False, False, True, True, True]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 50])
def test_a_fault_position_counts_tokens_and_leaves_the_block_open(n: int) -> None:
    """error_event@N comes after exactly N tokens (or all of them), and before the block's stop:
    a stream that fails does not close its block."""
    frames = _frames(MESSAGES, MESSAGES_REQUEST, f"error_event@{n}")
    names = [name for f in frames for name in _names(f)]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * min(n, 3),
        "error",
    ]


def test_a_malformed_event_at_the_end_goes_out_before_the_blocks_stop() -> None:
    frames = _frames(MESSAGES, MESSAGES_REQUEST, "malformed@99")
    assert [_names(f) for f in frames][-4:] == [
        ["content_block_delta"],  # the malformed one, named as a delta
        ["content_block_stop"],
        ["message_delta"],
        ["message_stop"],
    ]


def test_a_truncated_stream_never_closes_its_block() -> None:
    frames = _frames(RESPONSES, b'{"model":"m","input":"hi","stream":true}', "truncate@3")
    names = [name for f in frames for name in _names(f)]
    assert names[-1] == "response.output_text.delta"
    assert "response.output_text.done" not in names


def test_the_same_writes_in_every_format() -> None:
    """One write for the opening, one per token, and the closing writes: the block events add none."""
    for fmt, raw in STREAM_REQUESTS:
        frames = _frames(fmt, raw)
        assert [f.tokens for f in frames[:5]] == [0, 1, 1, 1, 0], fmt.name
        assert frames[4].closing, fmt.name  # the finish, with the block's closing bytes


def test_a_second_block_opens_in_the_write_that_closes_the_first() -> None:
    """What issue 12's reasoning-then-text streams look like: the first block's stop and the
    second's start in one write, and the second block's deltas carry its index."""
    encoder = AnthropicMessagesEncoder(id="msg_01x", model="m", input_tokens=3)
    events: list[Event] = [
        RoleStart(),
        BlockStart("text", 0),
        TextDelta("a"),
        BlockEnd(0),
        BlockStart("text", 1),
        TextDelta("b"),
        BlockEnd(1),
        Finish("stop"),
        StreamEnd(),
    ]
    frames = list(compose(iter(Timed(0.0, e) for e in events), encoder, [], StreamContext.seeded(0)))
    assert [_names(f) for f in frames] == [
        ["message_start", "content_block_start", "ping"],
        ["content_block_delta"],
        ["content_block_stop", "content_block_start"],
        ["content_block_delta"],
        ["content_block_stop"],
        ["message_delta", "message_stop"],
    ]
    second = json.loads(SSEDecoder().feed(frames[3].data)[0].data)
    assert second["index"] == 1


def test_a_role_with_no_block_after_it_is_its_own_write() -> None:
    """A hand-made sequence (no BlockStart): the role is its own write. Chat's role chunk waits for
    the first block (a tool call would share it), so it goes out with the first token."""
    encoder = CHAT.open_stream(REQUEST, random.Random(0), now=None, prompt_tokens=1, ascii_only=True).encoder
    events: list[Event] = [RoleStart(), TextDelta("a"), Finish("stop"), StreamEnd()]
    frames = list(compose(iter(Timed(0.0, e) for e in events), encoder, [], StreamContext.seeded(0)))
    assert [f.tokens for f in frames] == [0, 1, 0, 0]
    assert frames[0].data == b""
    assert frames[1].data.index(b'"role":"assistant"') < frames[1].data.index(b'"content":"a"')


@pytest.mark.parametrize("kind", ["reasoning", "tool_call"])
def test_a_block_kind_a_format_does_not_frame_yet_fails_loudly(kind: BlockKind) -> None:
    """No encoder silently drops a block it has no framing for: legacy Completions frames neither,
    and Chat frames reasoning only in a field OpenAI-compatible servers use (not ``f``)."""
    for fmt, raw in STREAM_REQUESTS:
        if kind == "tool_call" and fmt in (CHAT, MESSAGES, RESPONSES):
            continue  # they frame tool calls (test_openai_wire.py, test_wire_*.py)
        if kind == "reasoning" and fmt in (MESSAGES, RESPONSES):
            continue  # they frame reasoning (test_wire_*.py)
        request = fmt.parse_request(raw, {})
        encoder = fmt.open_stream(
            request, random.Random(0), now=None, prompt_tokens=1, ascii_only=True
        ).encoder
        encoder.encode(RoleStart())
        with pytest.raises(TypeError, match="cannot encode"):
            encoder.encode(BlockStart(kind, 0, id="call_1", name="f"))


# --------------------------------------------------------------------------------------------------
# Several choices (n)


def test_choices_interleave_step_by_step_choice_0_first_and_finish_after_the_longest() -> None:
    more = [Choice(("x", "y", "z"), "length"), Choice((), "stop")]
    timed = list(
        schedule(
            ["a", "b"],
            Timing(ttft_ms=100, itl_ms=10),
            random.Random(0),
            finish_reason="stop",
            usage=Usage(1, 5),
            more=more,
        )
    )
    assert [t.event for t in timed] == [
        RoleStart(choice=0),
        BlockStart("text", 0, choice=0),
        TextDelta("a", 0),
        RoleStart(choice=1),
        BlockStart("text", 0, choice=1),
        TextDelta("x", 1),
        RoleStart(choice=2),
        BlockStart("text", 0, choice=2),
        TextDelta("b", 0),
        TextDelta("y", 1),
        TextDelta("z", 1),
        BlockEnd(0, 0),
        Finish("stop", 0),
        BlockEnd(0, 1),
        Finish("length", 1),
        BlockEnd(0, 2),
        Finish("stop", 2),
        Usage(1, 5),
        StreamEnd(),
    ]
    due = {(type(t.event).__name__, getattr(t.event, "text", None)): round(t.due * 1000) for t in timed}
    assert due[("TextDelta", "a")] == due[("TextDelta", "x")] == 100  # one step, one moment
    assert due[("TextDelta", "b")] == due[("TextDelta", "y")] == 110
    assert due[("TextDelta", "z")] == due[("Finish", None)] == 120


def test_choice_0_of_several_is_the_answer_alone() -> None:
    """The other choices' seeds are drawn after every draw of one choice: choice 0's text, ids and
    timing are those of n=1, and each later choice has its own text."""
    scenario = Scenario(name="s", content=FakerText(paragraphs=1, sentences=2), seed=9)
    one = plan_stream(
        parse_chat_request(b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}'),
        scenario,
    )
    three = plan_stream(
        parse_chat_request(b'{"model":"m","n":3,"messages":[{"role":"user","content":"hi"}],"stream":true}'),
        scenario,
    )
    assert (three.text, three.request_id, three.encoder.id) == (one.text, one.request_id, one.encoder.id)
    texts = {three.text, *("".join(c.tokens) for c in three.more)}
    assert len(texts) == 3
    assert three.usage.completion_tokens == len(three.tokens) + sum(len(c.tokens) for c in three.more)
    alone = [(f.due, f.data) for f in one.frames() if f.tokens]
    first = [(f.due, f.data) for f in three.frames() if f.tokens and b'"choices":[{"index":0,' in f.data]
    assert first == alone  # the same bytes at the same moments


def test_a_fault_position_counts_the_tokens_of_every_choice() -> None:
    request = CHAT.parse_request(
        b'{"model":"m","n":2,"stream":true,"messages":[{"role":"user","content":"hi"}]}', {}
    )
    scenario = Scenario(name="s", content=FixedText("one two three"), seed=1)
    plan = plan_stream(request, scenario, extra_faults=parse_fault_spec("error_event@3"))
    frames = list(plan.frames())
    sent = [json.loads(e.data) for f in frames for e in SSEDecoder().feed(f.data)]
    content = [
        c["choices"][0]["index"] for c in sent if "choices" in c and c["choices"][0]["delta"].get("content")
    ]
    assert content == [0, 1, 0] and "error" in sent[-1]


def test_a_turn_is_chosen_from_the_conversation_and_quotes_the_last_tool_result() -> None:
    scenario = scenario_from_dict(
        {
            "name": "s",
            "turns": [{"tool_calls": [{"name": "f"}]}, {"content": {"text": '{"r": "{tool_result}"}'}}],
        }
    )
    user = {"role": "user", "content": "hi"}
    calls = {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}
    first = answer_for_turn(scenario, [user])
    assert first.tool_calls[0].name == "f" and first.finish_reason == "tool_calls"
    anthropic_result = {
        "role": "user",
        "content": [{"type": "tool_result", "content": [{"type": "text", "text": "7"}]}],
    }
    second = answer_for_turn(scenario, [user, calls, anthropic_result])
    assert second.content == FixedText('{"r": "7"}') and second.tool_calls == ()
    assert (
        last_tool_result([user, calls, {"role": "tool", "content": "x"}, {"role": "user", "content": "?"}])
        == "x"
    )
    assert last_tool_result([user]) == ""
    # Past the last turn, the last one repeats.
    assert answer_for_turn(scenario, [user, calls, calls, calls]).content == FixedText('{"r": ""}')
