"""Reasoning in the plugin: script(reasoning=...) and the marker, the recorder's ``reasoning`` in
every format, also under fragmentation (run by tests/plugin/test_reasoning.py; every test here
passes when the plugin is right)."""

from __future__ import annotations

from typing import Any

import pytest

from fakellm import ScenarioError
from pytest_fakellm import FakeLLM

THINKING = "First the greeting, then a question back."
MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]


def test_anthropic_thinking_is_recorded(fakellm: FakeLLM) -> None:
    fakellm.script(reasoning=THINKING, text="Hello!")
    client = fakellm.anthropic_client(max_retries=0)
    with client.messages.stream(model="c", max_tokens=100, messages=MESSAGES) as stream:
        recording = fakellm.record(stream)
    assert (recording.reasoning, recording.text) == (THINKING, "Hello!")
    assert fakellm.journal.last is not None and fakellm.journal.last.reasoning == THINKING


@pytest.mark.fakellm(reasoning={"faker": {"sentences": 1, "paragraphs": 1}}, text="Hello!")
def test_responses_reasoning_from_the_marker_is_recorded(fakellm: FakeLLM) -> None:
    client = fakellm.openai_client(max_retries=0)
    recording = fakellm.record(client.responses.create(model="m", input="Hi", stream=True))
    assert fakellm.journal.last is not None
    assert recording.reasoning == fakellm.journal.last.reasoning != ""
    assert recording.text == "Hello!"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_chat_reasoning_survives_fragmentation(fakellm: FakeLLM, field: str) -> None:
    fakellm.script(reasoning=THINKING, text="Hello!", reasoning_field=field, faults="fragment 1-7 bytes")
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    with fakellm.httpx_client() as client, client.stream("POST", "/chat/completions", json=body) as r:
        recording = fakellm.record(r.iter_bytes())
    assert (recording.reasoning, recording.text) == (THINKING, "Hello!")


def test_bad_reasoning_keywords_name_the_keyword(fakellm: FakeLLM) -> None:
    with pytest.raises(ScenarioError, match="reasoning_field"):
        fakellm.script(reasoning_field="reasoning_content")  # no reasoning to send
    with pytest.raises(ScenarioError) as caught:
        fakellm.script(reasoning=THINKING, reasoning_itl_ms=-1)
    assert caught.value.field == "reasoning_itl_ms"
