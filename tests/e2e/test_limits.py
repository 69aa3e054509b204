"""Token limits through the official SDKs' stream helpers on a real server, in every format: Chat
``max_tokens`` / ``max_completion_tokens`` (the helper raises ``LengthFinishReasonError`` on a
``length`` finish, carrying the cut completion: text, tool-call arguments, every choice),
Completions ``max_tokens``, Responses ``max_output_tokens`` (``status: incomplete``,
``incomplete_details.reason: max_output_tokens``) and Anthropic ``max_tokens`` (``stop_reason:
max_tokens``). Usage counts what was sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from fakellm import Server
from fakellm.tokens import tokenize

MakeServer = Callable[..., Server]
MESSAGES: list[Any] = [{"role": "user", "content": "Tell me a story."}]
STORY = (
    "Once upon a time a small dragon lived under a hill, and every morning it counted the sheep "
    "in the valley below before going back to sleep until the evening came."
)
ARGUMENTS = {"query": "the weather in Paris, Lyon, Marseille, Toulouse and Nice tomorrow"}
SCENARIOS = [
    {"name": "story", "content": {"text": STORY}},
    {"name": "call", "tool_calls": [{"name": "search", "arguments": ARGUMENTS}]},
    {"name": "prose", "content": {"faker": {"paragraphs": 1, "sentences": 3}}},
]
WHOLE_ARGUMENTS = json.dumps(ARGUMENTS, separators=(",", ":"))


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(seed=9, scenarios=SCENARIOS)


def chat(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10)


def claude(server: Server) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="sk-ant", max_retries=0, timeout=10)


# --------------------------------------------------------------------------------------------------
# Chat Completions: chat.completions.stream()


@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
def test_the_chat_stream_helper_reports_a_length_finish(server: Server, key: str) -> None:
    limit: Any = {key: 5}
    with (
        chat(server) as c,
        c.chat.completions.stream(
            model="story", messages=MESSAGES, stream_options={"include_usage": True}, **limit
        ) as stream,
    ):
        text = "".join(e.delta for e in stream if e.type == "content.delta")
        with pytest.raises(openai.LengthFinishReasonError) as info:
            stream.get_final_completion()
    cut = info.value.completion
    assert text == "".join(tokenize(STORY)[:5]) == cut.choices[0].message.content
    assert cut.choices[0].finish_reason == "length"
    assert cut.usage is not None and cut.usage.completion_tokens == 5


def test_max_completion_tokens_wins_over_max_tokens_through_the_sdk(server: Server) -> None:
    with chat(server) as c:
        answer = c.chat.completions.create(
            model="story", messages=MESSAGES, max_tokens=2, max_completion_tokens=4
        )
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens == 4


def test_the_chat_stream_helper_holds_cut_arguments(server: Server) -> None:
    with (
        chat(server) as c,
        c.chat.completions.stream(model="call", messages=MESSAGES, max_completion_tokens=6) as stream,
    ):
        for _ in stream:
            pass
        with pytest.raises(openai.LengthFinishReasonError) as info:
            stream.get_final_completion()
    (call,) = info.value.completion.choices[0].message.tool_calls or []
    arguments = call.function.arguments
    assert WHOLE_ARGUMENTS.startswith(arguments) and arguments != WHOLE_ARGUMENTS
    assert len(tokenize(arguments)) <= 6


def test_the_chat_stream_helper_cuts_every_choice(server: Server) -> None:
    with (
        chat(server) as c,
        c.chat.completions.stream(model="prose", messages=MESSAGES, n=3, max_tokens=4) as stream,
    ):
        for _ in stream:
            pass
        with pytest.raises(openai.LengthFinishReasonError) as info:
            stream.get_final_completion()
    choices = info.value.completion.choices
    assert [choice.finish_reason for choice in choices] == ["length"] * 3
    assert all(len(tokenize(choice.message.content or "")) == 4 for choice in choices)
    assert len({choice.message.content for choice in choices}) == 3


# --------------------------------------------------------------------------------------------------
# Legacy Completions


def test_completions_max_tokens(server: Server) -> None:
    with chat(server) as c:
        chunks = list(
            c.completions.create(
                model="prose",
                prompt="Go",
                n=2,
                max_tokens=3,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        answer = c.completions.create(model="story", prompt="Go", max_tokens=3)
    reasons = {ch.index: ch.finish_reason for chunk in chunks for ch in chunk.choices if ch.finish_reason}
    assert reasons == {0: "length", 1: "length"}
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 6
    assert (
        answer.choices[0].text == "".join(tokenize(STORY)[:3]) and answer.choices[0].finish_reason == "length"
    )


# --------------------------------------------------------------------------------------------------
# Responses: responses.stream()


def test_the_responses_stream_helper_ends_incomplete(server: Server) -> None:
    # The helper yields the terminal response.incomplete (its response lists the output so far);
    # get_final_response() answers only after response.completed, as against the real API.
    with chat(server) as c, c.responses.stream(model="story", input="Go", max_output_tokens=16) as stream:
        events = list(stream)
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    last = events[-1]
    assert last.type == "response.incomplete"
    final = last.response
    assert text == "".join(tokenize(STORY)[:16]) == final.output_text
    assert final.status == "incomplete"
    assert final.incomplete_details is not None and final.incomplete_details.reason == "max_output_tokens"
    assert final.usage is not None and final.usage.output_tokens == 16


def test_the_responses_stream_helper_holds_cut_arguments(server: Server) -> None:
    with chat(server) as c, c.responses.stream(model="call", input="Go", max_output_tokens=16) as stream:
        last = list(stream)[-1]
    assert last.type == "response.incomplete" and last.response.status == "incomplete"
    (item,) = last.response.output
    assert item.type == "function_call" and item.status == "incomplete"
    assert WHOLE_ARGUMENTS.startswith(item.arguments) and item.arguments != WHOLE_ARGUMENTS


def test_responses_under_the_limit_is_completed(server: Server) -> None:
    with chat(server) as c, c.responses.stream(model="story", input="Go", max_output_tokens=1000) as stream:
        final = stream.get_final_response()
    assert final.status == "completed" and final.incomplete_details is None and final.output_text == STORY


# --------------------------------------------------------------------------------------------------
# Anthropic Messages: messages.stream()


def test_the_anthropic_stream_helper_stops_at_max_tokens(server: Server) -> None:
    with claude(server) as c, c.messages.stream(model="story", max_tokens=7, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "".join(tokenize(STORY)[:7])
    assert (final.stop_reason, final.stop_sequence, final.usage.output_tokens) == ("max_tokens", None, 7)


def test_max_tokens_zero_sends_an_empty_message(server: Server) -> None:
    with claude(server) as c, c.messages.stream(model="story", max_tokens=0, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 0
    assert "".join(block.text for block in final.content if block.type == "text") == ""
