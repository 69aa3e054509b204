"""Limits, stop sequences and contradictions through the plugin (run by tests/plugin/test_limits.py;
every test here passes when the plugin is right): ``fakellm.script()`` refuses a scenario that
contradicts itself naming the keyword, and the recorder and the journal hold what was sent."""

from __future__ import annotations

from typing import Any

import pytest

from fakellm.errors import ScenarioError
from pytest_fakellm import FakeLLM

MESSAGES: list[Any] = [{"role": "user", "content": "Go"}]


def test_script_refuses_a_tool_calls_finish_without_calls(fakellm: FakeLLM) -> None:
    with pytest.raises(ScenarioError) as info:
        fakellm.script(text="hi", finish_reason="tool_calls")
    assert (info.value.scenario, info.value.field) == ("scripted", "finish_reason")
    assert "no tool_calls to send" in str(info.value)


def test_script_names_the_response_of_a_list(fakellm: FakeLLM) -> None:
    with pytest.raises(ScenarioError) as info:
        fakellm.script(["fine", {"text": "hi", "finish_reason": "tool_calls"}])
    assert (info.value.scenario, info.value.field) == ("scripted-2", "finish_reason")


def test_the_recording_and_the_journal_hold_the_text_before_the_stop(fakellm: FakeLLM) -> None:
    fakellm.script(text="Hello there. STOP and more.")
    client = fakellm.openai_client(max_retries=0)
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True, stop=["STOP"])
    recording = fakellm.record(stream)
    assert recording.text == "Hello there. " and recording.finish_reason == "stop"
    entry = fakellm.journal.last
    assert entry is not None and entry.text == "Hello there. "


def test_an_anthropic_recording_holds_the_text_before_the_stop(fakellm: FakeLLM) -> None:
    fakellm.script(text="Hello there. STOP and more.")
    client = fakellm.anthropic_client(max_retries=0)
    with client.messages.stream(
        model="c", max_tokens=100, messages=MESSAGES, stop_sequences=["STOP"]
    ) as stream:
        recording = fakellm.record(stream)
        final = stream.get_final_message()
    assert recording.text == "Hello there. "
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "STOP")


def test_a_length_finish_is_recorded(fakellm: FakeLLM) -> None:
    fakellm.script(text="one two three four five six")
    client = fakellm.openai_client(max_retries=0)
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True, max_tokens=2)
    recording = fakellm.record(stream)
    assert recording.text == "one two" and recording.finish_reason == "length"
