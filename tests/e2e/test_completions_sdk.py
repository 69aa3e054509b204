"""``client.completions.create`` (legacy Completions) with the official openai SDK, real server."""

from __future__ import annotations

import openai
import pytest

from fakellm import Server


def test_sync_stream_with_usage_and_journal(server: Server) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-x", max_retries=0, timeout=10) as client:
        chunks = list(
            client.completions.create(
                model="gpt-3.5-turbo-instruct",
                prompt="Say hi",
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text
    assert chunks[0].id.startswith("cmpl-")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    entry = server.journal.last
    assert entry is not None and entry.format == "openai.completions"


def test_non_streamed(server: Server) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-x", max_retries=0, timeout=10) as client:
        done = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi")
    assert done.object == "text_completion"
    assert done.choices[0].text and done.usage is not None


@pytest.mark.asyncio
async def test_async_mid_stream_error(server: Server) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-x", max_retries=0, timeout=10)
    async with client:
        stream = await client.completions.create(
            model="m", prompt="hi", stream=True, extra_headers={"X-FakeLLM-Faults": "error_event@3"}
        )
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass


def test_429_is_retried(server: Server) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-x", max_retries=2, timeout=10) as client:
        done = client.completions.create(
            model="m", prompt="hi", extra_headers={"X-FakeLLM-Faults": "http_error 429 times=1"}
        )
    assert done.choices[0].text


def test_bad_prompt_is_a_400(server: Server) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-x", max_retries=0, timeout=10)
    with client, pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model="m", prompt=[[1, 2]])
    assert "prompt" in str(info.value)


def test_dropped_connection_is_a_connection_error(server: Server) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-x", max_retries=0, timeout=10) as client:
        stream = client.completions.create(
            model="m", prompt="hi", stream=True, extra_headers={"X-FakeLLM-Faults": "drop@3"}
        )
        with pytest.raises(openai.APIConnectionError):
            for _ in stream:
                pass
