"""Tool calls in the recorder and assert_tool_calls (run by tests/plugin/test_tool_calls.py; every
test here passes when the plugin is right)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from pytest_fakellm import FakeLLM, assert_tool_calls

MESSAGES: list[Any] = [{"role": "user", "content": "Weather?"}]
CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
    {"name": "get_time", "arguments": {"tz": "Europe/Paris"}, "id": "call_fixed"},
]


def chunks(fakellm: FakeLLM) -> Iterator[Any]:
    client = fakellm.openai_client(max_retries=0)
    return iter(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))


def test_the_recorder_accumulates_each_call(fakellm: FakeLLM) -> None:
    fakellm.script(text="Checking.", tool_calls=CALLS)
    recording = fakellm.record(chunks(fakellm))
    assert recording.text == "Checking." and recording.finish_reason == "tool_calls"
    assert [(c.name, c.parsed) for c in recording.tool_calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"}),
        ("get_time", {"tz": "Europe/Paris"}),
    ]
    assert recording.tool_calls[1].id == "call_fixed"
    assert recording.tool_calls[0].id is not None and recording.tool_calls[0].id.startswith("call_")
    assert_tool_calls(recording)
    assert_tool_calls(recording, expected=CALLS)
    assert fakellm.journal.last is not None
    assert [c["name"] for c in fakellm.journal.last.tool_calls] == ["get_weather", "get_time"]


def test_fragmented_bytes_still_give_the_same_calls(fakellm: FakeLLM) -> None:
    fakellm.script(tool_calls=CALLS, faults="fragment 1-5 bytes")
    with (
        fakellm.httpx_client() as client,
        client.stream(
            "POST", "/chat/completions", json={"model": "m", "messages": MESSAGES, "stream": True}
        ) as r,
    ):
        recording = fakellm.record(r.iter_bytes())
    assert recording.kind == "sse" and len(recording.tool_calls) == 2
    assert_tool_calls(recording, expected=CALLS)


def test_a_drop_inside_the_arguments_is_what_both_sides_saw(fakellm: FakeLLM) -> None:
    fakellm.script(tool_calls=CALLS[:1], faults="drop@3")
    recording = fakellm.record(chunks(fakellm))
    assert isinstance(recording.error, openai.APIConnectionError)
    (call,) = recording.tool_calls
    assert call.parsed is None and len(call.arguments) > 0  # cut mid-JSON
    assert_tool_calls(recording)  # the client kept exactly the fragments that were sent
    with pytest.raises(AssertionError, match=r"arguments .* parse to None"):
        assert_tool_calls(recording, expected=CALLS[:1])


def test_a_client_that_loses_a_fragment_gets_a_diff(fakellm: FakeLLM) -> None:
    fakellm.script(tool_calls=CALLS[:1])

    def lossy() -> Iterator[Any]:
        for i, chunk in enumerate(chunks(fakellm)):
            if i != 3:  # a naive reader that drops one chunk
                yield chunk

    recording = fakellm.record(lossy())
    with pytest.raises(AssertionError) as raised:
        assert_tool_calls(recording)
    message = str(raised.value)
    assert "not what the server sent" in message
    assert "--- server sent" in message and "+++ client accumulated" in message


def test_expected_names_the_difference(fakellm: FakeLLM) -> None:
    fakellm.script(tool_calls=CALLS[:1])
    recording = fakellm.record(chunks(fakellm))
    with pytest.raises(AssertionError, match=r"call 0: name 'get_weather', expected 'lookup'"):
        assert_tool_calls(recording, expected=[{"name": "lookup"}])
    with pytest.raises(AssertionError, match="expected 2 tool call"):
        assert_tool_calls(recording, expected=CALLS)


def test_the_journal_lists_the_calls(fakellm: FakeLLM) -> None:
    fakellm.script(tool_calls=CALLS[:1])
    list(chunks(fakellm))
    with fakellm.httpx_client() as client:
        entries = client.get(fakellm.base_url.removesuffix("/v1") + "/_fakellm/journal").json()
    (call,) = entries[-1]["tool_calls"]
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == CALLS[0]["arguments"]


def test_anthropic_tool_use_blocks_are_recorded(fakellm: FakeLLM) -> None:
    fakellm.script(text="Checking.", tool_calls=CALLS)
    client = fakellm.anthropic_client(max_retries=0)
    with client.messages.stream(model="c", max_tokens=500, messages=MESSAGES) as stream:
        recording = fakellm.record(stream)  # the helper's own events too: counted once
    assert recording.text == "Checking." and recording.finish_reason == "tool_use"
    assert [c.name for c in recording.tool_calls] == ["get_weather", "get_time"]
    assert recording.tool_calls[0].id is not None and recording.tool_calls[0].id.startswith("toolu_")
    assert_tool_calls(recording, expected=CALLS)
    assert_tool_calls(recording)


def test_responses_function_calls_are_recorded(fakellm: FakeLLM) -> None:
    fakellm.script(text="Checking.", tool_calls=CALLS)
    client = fakellm.openai_client(max_retries=0)
    with client.responses.stream(model="g", input="Weather?") as stream:
        recording = fakellm.record(stream)
    assert recording.text == "Checking."
    assert [c.name for c in recording.tool_calls] == ["get_weather", "get_time"]
    assert recording.tool_calls[1].id == "call_fixed"
    assert_tool_calls(recording, expected=CALLS)
    assert_tool_calls(recording)


TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.mark.fakellm(tool_calls="auto")
def test_the_marker_takes_auto(fakellm: FakeLLM) -> None:
    client = fakellm.openai_client(max_retries=0)
    stream = client.chat.completions.create(model="m", messages=MESSAGES, tools=TOOLS, stream=True)
    recording = fakellm.record(iter(stream))
    (call,) = recording.tool_calls
    assert call.name == "get_weather" and isinstance((call.parsed or {}).get("city"), str)
    assert_tool_calls(recording)


def test_script_auto_answers_text_under_tool_choice_none(fakellm: FakeLLM) -> None:
    fakellm.script(text="No tools today.", tool_calls="auto")
    client = fakellm.openai_client(max_retries=0)
    stream = client.chat.completions.create(
        model="m", messages=MESSAGES, tools=TOOLS, tool_choice="none", stream=True
    )
    recording = fakellm.record(iter(stream))
    assert recording.text == "No tools today." and recording.tool_calls == []
    assert recording.finish_reason == "stop"
