"""Scripted tool calls on Anthropic Messages, through the official anthropic SDK: the
``messages.stream()`` helper (it parses each ``tool_use`` block's ``input_json_delta`` fragments
with jiter as they come, and raises on JSON that cannot become valid), its raw event iterator and
the non-streamed ``message``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import TextBlock, ToolUseBlock

from fakellm import Server
from tests.helpers import ANTHROPIC_DROP

MakeServer = Callable[..., Server]
MESSAGES: list[Any] = [{"role": "user", "content": "Weather in Paris and the time?"}]
TOOLS: list[Any] = [
    {
        "name": "get_weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
WEATHER = {"city": "Paris", "unit": "celsius"}
SCENARIOS = [
    {"name": "weather", "tool_calls": [{"name": "get_weather", "arguments": WEATHER}]},
    {
        "name": "two-calls-after-text",
        "content": {"text": "Let me look that up."},
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "toolu_fixed"},
            {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},  # a string: sent as written
        ],
    },
    {"name": "broken", "tool_calls": [{"name": "get_time", "arguments": '{"tz": Paris}'}]},
    {"name": "no-arguments", "tool_calls": [{"name": "refresh"}, {"name": "refresh", "arguments": ""}]},
]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(seed=3, scenarios=SCENARIOS)


def client(server: Server, faults: str | None = None) -> anthropic.Anthropic:
    headers = {"X-FakeLLM-Faults": faults} if faults else {}
    return anthropic.Anthropic(
        base_url=server.url, api_key="sk-ant", max_retries=0, timeout=10, default_headers=headers
    )


def partials(server: Server, model: str, max_tokens: int = 100) -> list[tuple[int, str]]:
    """Every ``input_json_delta`` of a raw stream, with its block index."""
    out: list[tuple[int, str]] = []
    with client(server) as c:
        for event in c.messages.create(model=model, max_tokens=max_tokens, messages=MESSAGES, stream=True):
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                out.append((event.index, event.delta.partial_json))
    return out


def test_the_stream_helper_gives_the_call_with_its_input_parsed(server: Server) -> None:
    with (
        client(server) as c,
        c.messages.stream(model="weather", max_tokens=100, messages=MESSAGES, tools=TOOLS) as stream,
    ):
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    (block,) = final.content
    assert isinstance(block, ToolUseBlock)
    assert block.name == "get_weather" and block.input == WEATHER
    assert block.id.startswith("toolu_01") and len(block.id) == 30  # drawn, in Anthropic's shape
    assert final.usage.output_tokens > 5  # the argument fragments count as output


def test_text_then_two_calls_with_a_fixed_id_and_raw_arguments(server: Server) -> None:
    with (
        client(server) as c,
        c.messages.stream(model="two-calls-after-text", max_tokens=100, messages=MESSAGES) as stream,
    ):
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    text, weather, time = final.content
    assert isinstance(text, TextBlock) and text.text == "".join(texts) == "Let me look that up."
    assert isinstance(weather, ToolUseBlock) and isinstance(time, ToolUseBlock)
    assert (weather.id, weather.name, weather.input) == ("toolu_fixed", "get_weather", {"city": "Paris"})
    assert (time.name, time.input) == ("get_time", {"tz": "Europe/Paris"})
    assert time.id.startswith("toolu_01") and time.id != weather.id
    # On the wire: blocks 1 and 2, each opening with an empty fragment, the string as written.
    sent = partials(server, "two-calls-after-text")
    assert [i for i, p in sent if p == ""] == [1, 2]
    assert "".join(p for i, p in sent if i == 2) == '{"tz": "Europe/Paris"}'


def test_the_non_streamed_answer_has_the_calls(server: Server) -> None:
    with client(server) as c:
        answer = c.messages.create(model="two-calls-after-text", max_tokens=100, messages=MESSAGES)
    assert answer.stop_reason == "tool_use"
    assert [b.type for b in answer.content] == ["text", "tool_use", "tool_use"]
    calls = [b for b in answer.content if isinstance(b, ToolUseBlock)]
    assert (calls[0].id, calls[0].input) == ("toolu_fixed", {"city": "Paris"})
    assert calls[1].input == {"tz": "Europe/Paris"}
    with client(server) as c:
        alone = c.messages.create(model="weather", max_tokens=100, messages=MESSAGES)
    (block,) = alone.content
    assert isinstance(block, ToolUseBlock) and block.input == WEATHER
    assert alone.usage.output_tokens > 5


def test_invalid_arguments_stream_raw_and_the_helper_refuses_them(server: Server) -> None:
    """A scenario's invalid JSON goes out as written; the SDK helper raises as it would on a model's
    bad JSON. The non-streamed body, which the real API always sends with an object, carries the
    raw string as ``input`` (docs/streaming-server.md)."""
    assert "".join(p for _, p in partials(server, "broken")) == '{"tz": Paris}'
    with (
        client(server) as c,
        pytest.raises(ValueError, match="Unable to parse tool parameter JSON"),
        c.messages.stream(model="broken", max_tokens=100, messages=MESSAGES) as stream,
    ):
        stream.get_final_message()
    raw = httpx2.post(
        f"{server.url}/v1/messages",
        json={"model": "broken", "max_tokens": 100, "messages": MESSAGES},
        headers={"x-api-key": "sk-ant"},
        timeout=10,
    )
    assert raw.status_code == 200
    assert raw.json()["content"][0]["input"] == '{"tz": Paris}'


def test_a_drop_cuts_a_call_in_the_middle_of_its_input(server: Server) -> None:
    sent: list[tuple[int, str]] = []
    # anthropic lets the transport's error through (tests/e2e/test_sdk_matrix.py)
    with client(server, "drop@3") as c, pytest.raises(ANTHROPIC_DROP):
        for event in c.messages.create(model="weather", max_tokens=100, messages=MESSAGES, stream=True):
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                sent.append((event.index, event.delta.partial_json))
    fragments = [p for _, p in sent if p]
    assert len(fragments) == 3  # the empty first delta is framing, not a token
    whole = json.dumps(WEATHER, separators=(",", ":"))
    assert whole.startswith("".join(fragments)) and "".join(fragments) != whole
    entry = server.journal.last
    assert entry is not None and entry.outcome == "dropped"


def test_max_tokens_cuts_the_input_with_max_tokens(server: Server) -> None:
    with (
        client(server) as c,
        c.messages.stream(model="weather", max_tokens=4, messages=MESSAGES) as stream,
    ):
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens"
    (block,) = final.content
    assert isinstance(block, ToolUseBlock) and block.input != WEATHER  # parsed as far as it came
    assert final.usage.output_tokens == 4
    sent = "".join(p for _, p in partials(server, "weather", max_tokens=4))
    assert json.dumps(WEATHER, separators=(",", ":")).startswith(sent) and len(sent) < 30
    with client(server) as c:
        answer = c.messages.create(model="weather", max_tokens=4, messages=MESSAGES)
    assert answer.stop_reason == "max_tokens"
    (cut,) = answer.content
    assert isinstance(cut, ToolUseBlock)
    kept: Any = cut.input  # typed a dict; the SDK keeps the raw string it got
    assert kept == sent


def test_the_ids_replay_under_a_seed(server: Server) -> None:
    def ids(seed: str) -> list[str]:
        with client(server) as c:
            events = list(
                c.messages.create(
                    model="two-calls-after-text",
                    max_tokens=100,
                    messages=MESSAGES,
                    stream=True,
                    extra_headers={"X-FakeLLM-Seed": seed},
                )
            )
        return [
            e.content_block.id
            for e in events
            if e.type == "content_block_start" and e.content_block.type == "tool_use"
        ]

    first = ids("7")
    assert first == ids("7") and first[0] == "toolu_fixed" and first[1] != ids("8")[1]


def test_calls_without_arguments_have_an_empty_input(server: Server) -> None:
    with (
        client(server) as c,
        c.messages.stream(model="no-arguments", max_tokens=100, messages=MESSAGES) as stream,
    ):
        streamed = stream.get_final_message()
    with client(server) as c:
        answer = c.messages.create(model="no-arguments", max_tokens=100, messages=MESSAGES)
    for message in (streamed, answer):
        assert [(b.type, b.input) for b in message.content if isinstance(b, ToolUseBlock)] == [
            ("tool_use", {}),
            ("tool_use", {}),
        ]


@pytest.mark.asyncio
async def test_the_async_stream_helper_gives_the_same_calls(server: Server) -> None:
    async with (
        anthropic.AsyncAnthropic(base_url=server.url, api_key="sk-ant", max_retries=0, timeout=10) as c,
        c.messages.stream(model="two-calls-after-text", max_tokens=100, messages=MESSAGES) as stream,
    ):
        final = await stream.get_final_message()
    calls = [(b.id, b.name, b.input) for b in final.content if isinstance(b, ToolUseBlock)]
    assert calls[0] == ("toolu_fixed", "get_weather", {"city": "Paris"})
    assert calls[1][1:] == ("get_time", {"tz": "Europe/Paris"})
