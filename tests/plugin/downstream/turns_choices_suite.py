"""Conversations in script() and the marker, and the recorder's choices (run by
tests/plugin/test_turns_choices.py; every test here passes when the plugin is right)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fakellm import ScenarioError
from pytest_fakellm import FakeLLM

TOOLS = {"get_weather": lambda city: f"18 C in {city}", "get_time": lambda tz: f"09:00 {tz}"}
TURNS: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    {"content": {"text": "By count."}},
    {"after_tool": "get_weather", "tool_calls": [{"name": "get_time", "arguments": {"tz": "CET"}}]},
    {
        "after_tool": "get_time",
        "content": {"text": "At {tool_result} it is sunny."},
        "timing": {"ttft_ms": 1},
    },
]
MESSAGES: list[Any] = [{"role": "user", "content": "Tell me something."}]


def agent(fakellm: FakeLLM) -> list[Any]:
    """The code under test: a chat agent that runs each tool the model calls, until it answers."""
    client = fakellm.openai_client(max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "Weather and time?"}]
    for _ in range(5):
        message = client.chat.completions.create(model="m", messages=messages).choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return messages
        for call in message.tool_calls:
            result = TOOLS[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise AssertionError("the agent did not finish")


def test_script_takes_turns(fakellm: FakeLLM) -> None:
    fakellm.script(turns=TURNS, itl_ms=0)
    messages = agent(fakellm)
    assert messages[-1]["content"] == "At 09:00 CET it is sunny."
    assert [entry.turn for entry in fakellm.journal] == [1, 3, 4]
    report = fakellm.report()  # a failed test's report says which turn answered each call
    assert "' turn 1, seed" in report and "' turn 4, seed" in report


@pytest.mark.fakellm(turns=TURNS)
def test_the_marker_takes_turns(fakellm: FakeLLM) -> None:
    assert agent(fakellm)[-1]["content"] == "At 09:00 CET it is sunny."
    assert [entry.turn for entry in fakellm.journal] == [1, 3, 4]


def test_a_list_of_responses_may_hold_a_conversation(fakellm: FakeLLM) -> None:
    fakellm.script([{"turns": [{"content": {"text": "One."}}, {"content": {"text": "Two."}}]}, "Next."])
    client = fakellm.openai_client(max_retries=0)
    conversation = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "x"}]
    assert (
        client.chat.completions.create(model="m", messages=conversation).choices[0].message.content == "Two."
    )
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "Next."


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"turns": []}, "turns", "non-empty list"),
        ({"turns": "hi"}, "turns", "non-empty list"),
        ({"turns": ["hi"]}, "turns[0]", "must be a mapping"),
        ({"turns": [{"text": "hi"}]}, "turns[0].text", "unknown field"),
        ({"turns": [{}, {"after_tool": "a b"}]}, "turns[1].after_tool", "tool name"),
        ({"turns": [{}, {"content": {"txt": "x"}}]}, "turns[1].content.txt", "unknown field"),
        ({"turns": [{"timing": {"ttft_ms": -1}}]}, "turns[0].timing.ttft_ms", "must be >= 0"),
        ({"turns": [{}], "text": "x"}, "text", "inside 'turns'"),
        ({"turns": [{}], "tool_calls": [{"name": "f"}]}, "tool_calls", "inside 'turns'"),
    ],
)
def test_a_bad_turn_is_named_as_in_a_file(
    fakellm: FakeLLM, fields: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(ScenarioError) as raised:
        fakellm.script(**fields)
    assert raised.value.field == field and reason in str(raised.value)


def chunks(fakellm: FakeLLM, **kwargs: Any) -> Iterator[Any]:
    client = fakellm.openai_client(max_retries=0)
    return iter(client.chat.completions.create(model="m", messages=MESSAGES, stream=True, **kwargs))


def test_the_recorder_keeps_each_choice(fakellm: FakeLLM) -> None:
    fakellm.script(faker={"sentences": 2})
    recording = fakellm.record(chunks(fakellm, n=3, max_tokens=12))
    entry = fakellm.journal.last
    assert entry is not None
    assert [(c.index, c.text, c.finish_reason) for c in recording.choices] == [
        (c.index, c.text, c.finish_reason) for c in entry.choices
    ]
    assert len({c.text for c in recording.choices}) == 3
    assert {c.finish_reason for c in recording.choices} <= {"stop", "length"}
    assert recording.text == entry.text  # every chunk's first choice: all of them, as sent


def test_one_choice_is_one_recorded_choice(fakellm: FakeLLM) -> None:
    fakellm.script(text="Only one.", tool_calls=[{"name": "get_time", "arguments": {"tz": "CET"}}])
    recording = fakellm.record(chunks(fakellm))
    (choice,) = recording.choices
    assert (choice.index, choice.text, choice.finish_reason) == (0, "Only one.", "tool_calls")
    assert [(c.name, c.parsed) for c in choice.tool_calls] == [("get_time", {"tz": "CET"})]
    assert fakellm.journal.last is not None and fakellm.journal.last.choices == []


def test_the_chat_stream_helper_is_recorded_from_its_chunk_events(fakellm: FakeLLM) -> None:
    fakellm.script(text="Same text.", faults="fragment 1-4 bytes")
    client = fakellm.openai_client(max_retries=0)
    with client.chat.completions.stream(model="m", messages=MESSAGES, n=2) as stream:
        recording = fakellm.record(stream)
    assert recording.format == "chat"
    assert [(c.text, c.finish_reason) for c in recording.choices] == [("Same text.", "stop")] * 2
    assert recording.finish_reason == "stop" and recording.completed


def test_completions_choices_of_a_list_of_prompts(fakellm: FakeLLM) -> None:
    fakellm.script(echo=True)
    client = fakellm.openai_client(max_retries=0)
    stream = client.completions.create(model="m", prompt=["one", "two"], n=2, stream=True)
    recording = fakellm.record(stream)
    assert recording.format == "completions"
    assert [c.index for c in recording.choices] == [0, 1, 2, 3]
    assert ["one" in c.text for c in recording.choices] == [True, True, False, False]
    assert ["two" in c.text for c in recording.choices] == [False, False, True, True]
    assert all(c.finish_reason == "stop" for c in recording.choices)


def test_raw_sse_reads_choices_and_skips_a_bogus_index(fakellm: FakeLLM) -> None:
    lines = [
        'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"a"}}]}',
        'data: {"object":"chat.completion.chunk","choices":[{"index":2,"delta":{"content":"c"}}]}',
        'data: {"object":"chat.completion.chunk","choices":[{"index":99999999,"delta":{"content":"x"}}]}',
        'data: {"object":"chat.completion.chunk","choices":[{"index":"1","delta":{"content":"y"}}]}',
        'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
        "data: [DONE]",
    ]
    recording = fakellm.record(line for event in lines for line in (event, ""))  # as iter_lines()
    assert [(c.index, c.text, c.finish_reason) for c in recording.choices] == [
        (0, "a", "stop"),
        (1, "", None),
        (2, "c", None),
    ]


def test_other_formats_have_no_choices(fakellm: FakeLLM) -> None:
    fakellm.script(text="Hi.")
    client = fakellm.openai_client(max_retries=0)
    with client.responses.stream(model="m", input="Hi") as stream:
        recording = fakellm.record(stream)
    assert recording.text == "Hi." and recording.choices == []
