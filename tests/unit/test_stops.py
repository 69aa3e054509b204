"""stops.py: where a stop sequence ends the tokens of an answer, and plan_stream's use of it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakellm import Scenario
from fakellm.content import FixedText
from fakellm.events import Finish
from fakellm.pipeline import plan_stream, schedule
from fakellm.stops import cut_at_stop
from fakellm.tokens import EXACT_LIMIT, Pieces, joined, tokens_for
from fakellm.tools import ToolCall
from fakellm.wire.anthropic_messages import MESSAGES
from fakellm.wire.openai import CHAT, parse_chat_request

TOKENS = ("Hello", ",", " wor", "ld", "!", " Bye", ".")  # "Hello, world! Bye."


@pytest.mark.parametrize(
    ("stops", "kept", "matched"),
    [
        (["world"], ("Hello", ",", " "), "world"),  # the token holding the start is cut
        ([" wor"], ("Hello", ","), " wor"),  # a cut at a token's start leaves no empty token
        (["Hello"], (), "Hello"),  # at the very start: nothing is sent
        (["!"], ("Hello", ",", " wor", "ld"), "!"),
        (["nope"], TOKENS, None),
        (["Bye", "world"], ("Hello", ",", " "), "world"),  # the first reached, not the first listed
        (["ld! Bye", "!"], ("Hello", ",", " wor", "ld"), "!"),  # ends first wins over starts first
        (["rld", "orld"], ("Hello", ",", " w"), "orld"),  # the same end: the earlier start
        (["lo, w", "lo, w"], ("Hel",), "lo, w"),
    ],
)
def test_cut_at_stop(stops: list[str], kept: tuple[str, ...], matched: str | None) -> None:
    tokens, found = cut_at_stop(TOKENS, stops)
    assert (tuple(tokens), found) == (kept, matched)


def test_a_sequence_past_max_tokens_is_not_reached() -> None:
    assert cut_at_stop(TOKENS, ["Bye"], max_tokens=5) == (TOKENS, None)
    assert cut_at_stop(TOKENS, ["Bye"], max_tokens=6) == ((*TOKENS[:5], " "), "Bye")  # " Bye": token 6
    # One that only starts within the limit is not reached either.
    assert cut_at_stop(TOKENS, ["! Bye"], max_tokens=5) == (TOKENS, None)


def test_no_stops_or_no_tokens_change_nothing() -> None:
    assert cut_at_stop(TOKENS, []) == (TOKENS, None)
    assert cut_at_stop((), ["a"]) == ((), None)
    assert cut_at_stop(TOKENS, [""]) == (TOKENS, None)  # refused by the formats; never ends all


def test_a_long_text_stays_lazy_pieces() -> None:
    text = "x" * EXACT_LIMIT + "STOP" + "y" * 100
    tokens = tokens_for(text)
    assert isinstance(tokens, Pieces)
    cut, matched = cut_at_stop(tokens, ["STOP"])
    assert isinstance(cut, Pieces) and matched == "STOP"
    assert joined(cut) == "x" * EXACT_LIMIT and list(cut) == list(tokens)[: len(cut)]


# --------------------------------------------------------------------------------------------------
# plan_stream


def chat(**body: Any) -> Any:
    return parse_chat_request(
        json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], **body}).encode()
    )


def plan(text: str, seed: int = 1, fmt: Any = CHAT, request: Any = None, **scenario: Any) -> Any:
    return plan_stream(
        request or chat(stop="world"),
        Scenario(name="s", content=FixedText(text), **scenario),
        format=fmt,
        server_seed=seed,
    )


def test_the_plan_ends_before_the_sequence_and_counts_what_is_sent() -> None:
    stopped = plan("Hello, world! Bye.")
    assert (stopped.text, stopped.finish_reason, stopped.stop_sequence) == ("Hello, ", "stop", "world")
    assert stopped.usage.completion_tokens == len(stopped.tokens) == 3
    finish = [t.event for t in schedule_of(stopped) if isinstance(t.event, Finish)]
    assert finish == [Finish("stop", stop_sequence="world")]


def schedule_of(p: Any) -> list[Any]:
    return list(
        schedule(
            p.tokens,
            p.timing,
            p.ctx.fork("timing"),
            finish_reason=p.finish_reason,
            usage=None,
            calls=p.calls,
            more=p.more,
            stop_sequence=p.stop_sequence,
        )
    )


def test_a_stop_sequence_overrides_the_scenario_finish_and_drops_the_tool_calls() -> None:
    calls = (ToolCall("get_weather", '{"city":"Paris"}'),)
    stopped = plan("Let me check the world.", tool_calls=calls, finish_reason="tool_calls")
    assert (stopped.text, stopped.finish_reason, stopped.calls) == ("Let me check the ", "stop", ())
    kept = plan("Let me check.", tool_calls=calls, finish_reason="tool_calls")
    assert kept.finish_reason == "tool_calls" and len(kept.calls) == 1
    # The calls' ids are drawn either way: nothing drawn after them moves.
    assert kept.ctx.rng.random() == stopped.ctx.rng.random()


def test_a_stop_sequence_changes_no_other_draw() -> None:
    body = {"stream": True}
    cut = plan("Hello, world!", request=chat(stop=["world"], **body))
    whole = plan("Hello, world!", request=chat(**body))
    assert cut.request_id == whole.request_id and cut.encoder.id == whole.encoder.id


def test_each_choice_is_cut_on_its_own() -> None:
    p = plan_stream(
        chat(n=3, stop=["o"]),
        Scenario(name="s", content=FixedText("Hello, world")),
        server_seed=1,
    )
    assert [joined(c.tokens) for c in (p, *p.more)] == ["Hell"] * 3
    assert [c.stop_sequence for c in p.more] == ["o", "o"]
    assert p.usage.completion_tokens == 3 * len(p.tokens)


def test_anthropic_names_the_sequence_in_the_stream_and_the_body() -> None:
    raw = {"model": "c", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    request = MESSAGES.parse_request(json.dumps({**raw, "stop_sequences": ["!", "world"]}).encode(), {})
    p = plan("Hello, world! Bye.", fmt=MESSAGES, request=request)
    stream = b"".join(frame.data for frame in p.frames()).decode()
    assert '"delta":{"stop_reason":"stop_sequence","stop_sequence":"world"}' in stream
    body = p.completion()
    assert (body["stop_reason"], body["stop_sequence"]) == ("stop_sequence", "world")
    assert body["content"] == [{"type": "text", "text": "Hello, "}]
    unmatched = plan("Bye.", fmt=MESSAGES, request=request).completion()
    assert (unmatched["stop_reason"], unmatched["stop_sequence"]) == ("end_turn", None)
