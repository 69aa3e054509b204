"""Logprobs in the recorder (run by tests/plugin/test_logprobs.py; every test here passes when the
plugin is right): ``recording.logprobs`` holds each token's (token, logprob), in every OpenAI format."""

from __future__ import annotations

from typing import Any

from pytest_fakellm import FakeLLM

MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]
TEXT = "Hello there, world!"


def test_chat_chunks(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT)
    client = fakellm.openai_client(max_retries=0)
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True, logprobs=True)
    recording = fakellm.record(stream)
    assert "".join(token for token, _ in recording.logprobs) == TEXT == recording.text
    assert all(logprob <= 0 for _, logprob in recording.logprobs)


def test_chat_sse_bytes(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT, faults="fragment 1-5 bytes")
    body = {"model": "m", "messages": MESSAGES, "stream": True, "logprobs": True}
    with fakellm.httpx_client() as client, client.stream("POST", "/chat/completions", json=body) as r:
        recording = fakellm.record(r.iter_bytes())
    assert "".join(token for token, _ in recording.logprobs) == TEXT


def test_completions_arrays(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT)
    client = fakellm.openai_client(max_retries=0)
    stream = client.completions.create(model="m", prompt="Hi", stream=True, logprobs=1)
    recording = fakellm.record(stream)
    assert "".join(token for token, _ in recording.logprobs) == TEXT


def test_responses_deltas(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT)
    client = fakellm.openai_client(max_retries=0)
    stream = client.responses.create(
        model="m", input="Hi", stream=True, include=["message.output_text.logprobs"]
    )
    recording = fakellm.record(stream)
    assert "".join(token for token, _ in recording.logprobs) == TEXT


def test_none_unless_asked(fakellm: FakeLLM) -> None:
    fakellm.script(text=TEXT)
    client = fakellm.openai_client(max_retries=0)
    recording = fakellm.record(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert recording.text == TEXT and recording.logprobs == []
