"""Stop sequences through the official SDKs on a real server: Chat ``stop`` (the stream helper, the
raw stream, the non-streamed answer, several choices), legacy Completions ``stop``, Anthropic
``stop_sequences`` (``stop_reason: stop_sequence`` naming the one matched); the answer ends just
before the sequence, tool calls after it are not sent, usage and the journal count what was sent;
malformed stops are 400s in each format's shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from fakellm import Server

MakeServer = Callable[..., Server]
MESSAGES: list[Any] = [{"role": "user", "content": "Tell me a story."}]
STORY = "Once upon a time. THE END. Epilogue follows."
BEFORE = "Once upon a time. "  # the token " THE" is cut to " "
SCENARIOS = [
    {"name": "story", "content": {"text": STORY}},
    {
        "name": "lookup",
        "content": {"text": "Let me check. DONE"},
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    },
    {"name": "prose", "content": {"faker": {"paragraphs": 1, "sentences": 3}}},
]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(seed=5, scenarios=SCENARIOS)


def chat(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10)


def claude(server: Server) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="sk-ant", max_retries=0, timeout=10)


# --------------------------------------------------------------------------------------------------
# Chat Completions


def test_the_stream_helper_ends_before_the_sequence(server: Server) -> None:
    with (
        chat(server) as c,
        c.chat.completions.stream(
            model="story", messages=MESSAGES, stop=["THE END"], stream_options={"include_usage": True}
        ) as stream,
    ):
        # (the role chunk's empty content is a delta of the helper's too)
        deltas = [e.delta for e in stream if e.type == "content.delta" and e.delta]
        final = stream.get_final_completion()
    assert "".join(deltas) == BEFORE and deltas[-1] == " "
    assert final.choices[0].message.content == BEFORE
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.completion_tokens == len(deltas)
    entry = server.journal.last
    assert entry is not None and entry.text == BEFORE and entry.tokens_sent == len(deltas)


@pytest.mark.parametrize("stop", ["THE END", ["nothing", "THE END"]])
def test_a_string_or_a_list_and_the_non_streamed_answer(server: Server, stop: Any) -> None:
    with chat(server) as c:
        answer = c.chat.completions.create(model="story", messages=MESSAGES, stop=stop)
        whole = c.chat.completions.create(model="story", messages=MESSAGES, stop="absent")
    assert answer.choices[0].message.content == BEFORE and answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and whole.usage is not None
    assert answer.usage.completion_tokens < whole.usage.completion_tokens
    assert whole.choices[0].message.content == STORY
    entry = server.journal.last
    assert entry is not None and entry.text == STORY


def test_each_choice_is_cut_at_its_own_first_sequence(server: Server) -> None:
    with chat(server) as c:
        whole = c.chat.completions.create(model="prose", messages=MESSAGES, n=3)
        cut = c.chat.completions.create(model="prose", messages=MESSAGES, n=3, stop=".")
    texts = [choice.message.content or "" for choice in whole.choices]
    assert len(set(texts)) == 3  # seeded apart
    for full, choice in zip(texts, cut.choices, strict=True):
        assert "." in full and choice.finish_reason == "stop"
        assert choice.message.content == full.split(".")[0]
    with (
        chat(server) as c,
        c.chat.completions.stream(model="prose", messages=MESSAGES, n=3, stop=".") as stream,
    ):
        final = stream.get_final_completion()
    assert [ch.message.content for ch in final.choices] == [ch.message.content for ch in cut.choices]


def test_tool_calls_after_the_sequence_are_not_sent(server: Server) -> None:
    with chat(server) as c:
        with c.chat.completions.stream(model="lookup", messages=MESSAGES, stop="DONE") as stream:
            stopped = stream.get_final_completion()
        with c.chat.completions.stream(model="lookup", messages=MESSAGES) as stream:
            called = stream.get_final_completion()
    assert stopped.choices[0].message.content == "Let me check. "
    assert not stopped.choices[0].message.tool_calls and stopped.choices[0].finish_reason == "stop"
    assert called.choices[0].finish_reason == "tool_calls" and called.choices[0].message.tool_calls
    entry = server.journal.entries()[-2]
    assert entry.tool_calls == [] and entry.text == "Let me check. "


def test_a_sequence_past_max_tokens_is_a_length_finish(server: Server) -> None:
    with chat(server) as c:
        answer = c.chat.completions.create(model="story", messages=MESSAGES, stop="Epilogue", max_tokens=3)
    assert answer.choices[0].finish_reason == "length" and answer.choices[0].message.content == "Once upon a"


# --------------------------------------------------------------------------------------------------
# Legacy Completions


def test_completions_stop(server: Server) -> None:
    with chat(server) as c:
        chunks = list(c.completions.create(model="story", prompt="Go", stop=["THE END"], stream=True))
        answer = c.completions.create(model="story", prompt="Go", stop="THE END")
    assert "".join(ch.text for chunk in chunks for ch in chunk.choices) == BEFORE
    assert [ch.finish_reason for chunk in chunks for ch in chunk.choices if ch.finish_reason] == ["stop"]
    assert answer.choices[0].text == BEFORE and answer.choices[0].finish_reason == "stop"


# --------------------------------------------------------------------------------------------------
# Anthropic Messages


def test_anthropic_names_the_sequence_it_stopped_at(server: Server) -> None:
    with (
        claude(server) as c,
        c.messages.stream(
            model="story", max_tokens=100, messages=MESSAGES, stop_sequences=["Epilogue", "THE END"]
        ) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == BEFORE
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "THE END")
    assert final.usage.output_tokens == 6  # "Once", " upon", " a", " time", ".", " "
    with claude(server) as c:
        message = c.messages.create(model="story", max_tokens=100, messages=MESSAGES, stop_sequences=["END"])
        whole = c.messages.create(model="story", max_tokens=100, messages=MESSAGES, stop_sequences=["nope"])
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    assert message.content[0].type == "text" and message.content[0].text == "Once upon a time. THE "
    assert (whole.stop_reason, whole.stop_sequence) == ("end_turn", None)


def test_anthropic_sends_no_tool_use_after_the_sequence(server: Server) -> None:
    with (
        claude(server) as c,
        c.messages.stream(
            model="lookup", max_tokens=100, messages=MESSAGES, stop_sequences=["DONE"]
        ) as stream,
    ):
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["text"]
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "DONE")


# --------------------------------------------------------------------------------------------------
# Malformed stops


@pytest.mark.parametrize("path", ["chat", "completions"])
@pytest.mark.parametrize(
    ("stop", "code", "words"),
    [
        (["a", "b", "c", "d", "e"], "array_above_max_length", "Expected an array with maximum length 4"),
        ([""], "empty_string", "empty string"),
        ("", "empty_string", "empty string"),
        (5, "invalid_type", "expected a string or an array of strings"),
        (["a", 3], "invalid_type", "'stop[1]'"),
    ],
)
def test_a_bad_stop_is_a_400_naming_stop(server: Server, path: str, stop: Any, code: str, words: str) -> None:
    with chat(server) as c, pytest.raises(openai.BadRequestError) as info:
        if path == "chat":
            c.chat.completions.create(model="story", messages=MESSAGES, stop=stop)
        else:
            c.completions.create(model="story", prompt="Go", stop=stop)
    error = info.value
    assert (error.param, error.code) == ("stop", code) and words in error.message


@pytest.mark.parametrize(
    ("stops", "words"),
    [
        ([""], "stop_sequences: each stop sequence must be non-empty"),
        (["\n\n"], "stop_sequences: each stop sequence must contain non-whitespace"),
        ("END", "stop_sequences: Input should be a valid list"),
        (["END", 1], "stop_sequences.1: Input should be a valid string"),
    ],
)
def test_a_bad_stop_sequence_is_an_anthropic_400(server: Server, stops: Any, words: str) -> None:
    with claude(server) as c, pytest.raises(anthropic.BadRequestError) as info:
        c.messages.create(model="story", max_tokens=10, messages=MESSAGES, stop_sequences=stops)
    body: Any = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"] == words


@pytest.mark.asyncio
async def test_the_async_helpers_end_before_the_sequence(server: Server) -> None:
    openai_client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10)
    async with (
        openai_client,
        openai_client.chat.completions.stream(model="story", messages=MESSAGES, stop="THE END") as stream,
    ):
        completion = await stream.get_final_completion()
    assert completion.choices[0].message.content == BEFORE
    claude_client = anthropic.AsyncAnthropic(base_url=server.url, api_key="sk-ant", max_retries=0, timeout=10)
    async with (
        claude_client,
        claude_client.messages.stream(
            model="story", max_tokens=100, messages=MESSAGES, stop_sequences=["THE END"]
        ) as astream,
    ):
        message = await astream.get_final_message()
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "THE END")
