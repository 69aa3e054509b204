"""Scripted reasoning on a real server, read by the official SDKs' stream helpers: anthropic's
``messages.stream()`` (thinking events, the final message's thinking block with its signature),
openai's ``responses.stream()`` (the reasoning item in the final response, ``output_text``) and
``chat.completions.stream()`` with a ``reasoning_field`` (the accumulated ``reasoning_content``);
a drop inside the thinking, ``max_tokens`` inside it, ``reasoning_itl_ms``, the journal and the
plugin's recorder."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic.types import TextBlock, ThinkingBlock

from fakellm import Server
from pytest_fakellm import record
from tests.helpers import ANTHROPIC_DROP

MakeServer = Callable[..., Server]
THOUGHT = "The user greets me. A short, friendly answer is best."
ANSWER = "Hello! How can I help?"
SCENARIOS: list[dict[str, Any]] = [
    {"name": "think", "content": {"text": ANSWER}, "reasoning": THOUGHT},
    {
        "name": "think-chat",
        "content": {"text": ANSWER},
        "reasoning": THOUGHT,
        "reasoning_field": "reasoning_content",
    },
    {"name": "think-or", "content": {"text": ANSWER}, "reasoning": THOUGHT, "reasoning_field": "reasoning"},
    {
        "name": "think-slowly",
        "content": {"text": ANSWER},
        "reasoning": THOUGHT,
        "timing": {"ttft_ms": 0, "itl_ms": 0, "reasoning_itl_ms": 40},
    },
    {"name": "think-long", "content": {"text": ANSWER}, "reasoning": THOUGHT * 3},
    {
        "name": "think-then-call",
        "reasoning": {"faker": {"sentences": 1, "paragraphs": 1}},
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    },
    {
        "name": "agent",
        "turns": [
            {
                "reasoning": "I need the weather first.",
                "tool_calls": [{"name": "get_weather", "arguments": {}}],
            },
            {"reasoning": "Now I can answer.", "content": {"text": "It is {tool_result}."}},
        ],
    },
]
MESSAGES: list[Any] = [{"role": "user", "content": "Hi!"}]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(seed=11, scenarios=SCENARIOS)


def claude(server: Server, faults: str | None = None) -> anthropic.Anthropic:
    headers = {"X-FakeLLM-Faults": faults} if faults else {}
    return anthropic.Anthropic(
        base_url=server.url, api_key="sk-ant", max_retries=0, timeout=10, default_headers=headers
    )


def gpt(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10)


# --------------------------------------------------------------------------------------------------
# Anthropic


def test_messages_stream_yields_thinking_and_the_final_message_has_the_signed_block(server: Server) -> None:
    with claude(server) as c, c.messages.stream(model="think", max_tokens=200, messages=MESSAGES) as stream:
        thinking = "".join(e.thinking for e in stream if e.type == "thinking")
        final = stream.get_final_message()
    assert thinking == THOUGHT
    first, second = final.content
    assert isinstance(first, ThinkingBlock) and first.thinking == THOUGHT
    assert first.signature.startswith("EvQB") and len(first.signature) > 300
    assert isinstance(second, TextBlock) and second.text == ANSWER
    assert final.stop_reason == "end_turn"
    entry = server.journal.last
    assert entry is not None and entry.reasoning == THOUGHT and entry.text == ANSWER
    assert final.usage.output_tokens == entry.tokens_sent  # the thinking counts as output


def test_the_non_streamed_message_has_the_same_blocks(server: Server) -> None:
    with claude(server) as c:
        message = c.messages.create(model="think", max_tokens=200, messages=MESSAGES)
        with c.messages.stream(model="think", max_tokens=200, messages=MESSAGES) as stream:
            streamed = stream.get_final_message()
    assert [b.model_dump() for b in message.content] == [b.model_dump() for b in streamed.content]
    assert server.journal.entries()[0].reasoning == THOUGHT


def test_thinking_then_a_tool_call(server: Server) -> None:
    with (
        claude(server) as c,
        c.messages.stream(model="think-then-call", max_tokens=200, messages=MESSAGES) as s,
    ):
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "tool_use"]
    assert final.content[1].input == {"city": "Paris"} and final.stop_reason == "tool_use"


def test_each_turn_thinks_its_own_thoughts(server: Server) -> None:
    """An agent loop on Anthropic: the first call thinks then calls the tool; the second, whose
    conversation holds that turn (its signed thinking block sent back, as agents do) and the
    tool's result, thinks again and answers."""
    with claude(server) as c:
        first = c.messages.create(model="agent", max_tokens=200, messages=MESSAGES)
        assert [b.type for b in first.content] == ["thinking", "tool_use"]
        assert first.content[0].thinking == "I need the weather first."
        call = first.content[1]
        conversation: list[Any] = [
            *MESSAGES,
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
            },
        ]
        with c.messages.stream(model="agent", max_tokens=200, messages=conversation) as stream:
            second = stream.get_final_message()
    assert [b.type for b in second.content] == ["thinking", "text"]
    assert second.content[0].thinking == "Now I can answer."
    assert second.content[1].text == "It is sunny."


def test_a_drop_cuts_the_thinking(server: Server) -> None:
    seen: list[str] = []
    with claude(server, "drop@2") as c, pytest.raises(ANTHROPIC_DROP):
        for event in c.messages.create(model="think", max_tokens=200, messages=MESSAGES, stream=True):
            if event.type == "content_block_delta" and event.delta.type == "thinking_delta":
                seen.append(event.delta.thinking)
            assert not (event.type == "content_block_delta" and event.delta.type == "text_delta")
    assert len(seen) == 2 and THOUGHT.startswith("".join(seen))
    entry = server.journal.last
    assert entry is not None and entry.outcome == "dropped"
    assert entry.reasoning == "".join(seen) and entry.text == ""


def test_max_tokens_inside_the_thinking_leaves_no_answer(server: Server) -> None:
    with claude(server) as c, c.messages.stream(model="think", max_tokens=3, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 3
    (block,) = final.content
    assert (
        isinstance(block, ThinkingBlock) and THOUGHT.startswith(block.thinking) and block.thinking != THOUGHT
    )


def test_reasoning_itl_ms_paces_the_thinking_not_the_answer(server: Server) -> None:
    """40 ms between thoughts (about a dozen of them), nothing between the answer's tokens:
    generous bounds, the thinking's span measured on the client."""
    stamps: list[tuple[str, float]] = []
    with claude(server) as c:
        for event in c.messages.create(model="think-slowly", max_tokens=200, messages=MESSAGES, stream=True):
            if event.type == "content_block_delta":
                stamps.append((event.delta.type, time.perf_counter()))
    thoughts = [t for kind, t in stamps if kind == "thinking_delta"]
    words = [t for kind, t in stamps if kind == "text_delta"]
    gaps = len(thoughts) - 2  # the last thinking_delta is the empty one, with the signature
    assert gaps >= 8
    assert thoughts[-2] - thoughts[0] >= gaps * 0.040 * 0.8
    assert words[-1] - words[0] < 0.2


# --------------------------------------------------------------------------------------------------
# Responses


def test_responses_stream_final_response_has_the_reasoning_item(server: Server) -> None:
    with gpt(server) as c, c.responses.stream(model="think", input="Hi!") as stream:
        summary = "".join(e.delta for e in stream if e.type == "response.reasoning_summary_text.delta")
        final = stream.get_final_response()
    assert summary == THOUGHT
    reasoning, message = final.output
    assert reasoning.type == "reasoning" and reasoning.id.startswith("rs_")
    assert [s.text for s in reasoning.summary] == [THOUGHT]
    assert message.type == "message" and final.output_text == ANSWER
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens > 0
    assert final.usage.output_tokens == server.journal.last.tokens_sent


def test_responses_max_output_tokens_inside_the_reasoning(server: Server) -> None:
    with gpt(server) as c:
        events = list(c.responses.create(model="think-long", input="Hi!", max_output_tokens=16, stream=True))
    last = events[-1]
    assert last.type == "response.incomplete"
    assert [item.type for item in last.response.output] == ["reasoning"]
    assert (
        last.response.usage is not None and last.response.usage.output_tokens_details.reasoning_tokens == 16
    )


def test_responses_non_streamed_and_encrypted_content(server: Server) -> None:
    with gpt(server) as c:
        response = c.responses.create(model="think", input="Hi!", include=["reasoning.encrypted_content"])
    reasoning = response.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content.startswith("gAAAAAB")
    assert response.output_text == ANSWER


# --------------------------------------------------------------------------------------------------
# Chat Completions


@pytest.mark.parametrize(("model", "field"), [("think-chat", "reasoning_content"), ("think-or", "reasoning")])
def test_chat_stream_helper_accumulates_the_reasoning_field(server: Server, model: str, field: str) -> None:
    with (
        gpt(server) as c,
        c.chat.completions.stream(
            model=model, messages=MESSAGES, stream_options={"include_usage": True}
        ) as stream,
    ):
        deltas = [
            getattr(e.chunk.choices[0].delta, field, None)
            for e in stream
            if e.type == "chunk" and e.chunk.choices
        ]
        final = stream.get_final_completion()
    assert "".join(d for d in deltas if d) == THOUGHT
    message = final.choices[0].message
    assert message.content == ANSWER and getattr(message, field) == THOUGHT
    assert final.usage is not None and final.usage.completion_tokens_details is not None
    assert final.usage.completion_tokens_details.reasoning_tokens > 0


def test_chat_without_a_reasoning_field_sends_none_of_it(server: Server) -> None:
    raw = httpx.post(
        f"{server.base_url}/chat/completions",
        json={"model": "think", "messages": MESSAGES, "stream": True},
        timeout=10,
    )
    assert raw.status_code == 200 and b"reasoning" not in raw.content
    entry = server.journal.last
    assert entry is not None and entry.reasoning == "" and entry.text == ANSWER


def test_chat_non_streamed_message_has_the_field(server: Server) -> None:
    with gpt(server) as c:
        completion = c.chat.completions.create(model="think-chat", messages=MESSAGES)
    assert getattr(completion.choices[0].message, "reasoning_content") == THOUGHT  # noqa: B009


# --------------------------------------------------------------------------------------------------
# The recorder


def test_the_recorder_accumulates_reasoning_in_every_format(server: Server) -> None:
    with claude(server) as c, c.messages.stream(model="think", max_tokens=200, messages=MESSAGES) as stream:
        recordings = {"anthropic": record(stream)}
    with gpt(server) as o:
        recordings["responses"] = record(o.responses.create(model="think", input="Hi!", stream=True))
        recordings["chat"] = record(
            o.chat.completions.create(model="think-chat", messages=MESSAGES, stream=True)
        )
    body = {"model": "think-or", "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body, timeout=10) as raw:
        recordings["sse"] = record(raw.iter_lines())
    for name, rec in recordings.items():
        assert (rec.reasoning, rec.text) == (THOUGHT, ANSWER), (name, rec.summary())
