"""The official ``openai`` SDK (3.x, which sends through httpx2) against a real fakellm server:
sync and async, streaming and not, usage, models, and errors as the SDK's exception classes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from fakellm import Server
from fakellm.tokens import count_message_tokens, tokenize

from ..conftest import FAST_TEXT

MESSAGES: list[Any] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello."},
]
SEEDED = {"X-FakeLLM-Seed": "77"}


@pytest.fixture
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-anything", max_retries=0, timeout=10) as c:
        yield c


@pytest.fixture
def faker_server(make_server: Any) -> Server:
    server: Server = make_server(
        scenarios=[{"name": "default", "content": {"faker": {"paragraphs": 2, "markdown": True}}}]
    )
    return server


def test_sync_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    role, *tokens, finish, usage = chunks
    assert role.choices[0].delta.role == "assistant" and role.choices[0].delta.content == ""
    assert [c.choices[0].delta.content for c in tokens] == tokenize(FAST_TEXT)
    assert finish.choices[0].finish_reason == "stop"
    assert usage.choices == []
    assert usage.usage is not None
    assert usage.usage.completion_tokens == len(tokens)
    assert usage.usage.prompt_tokens == count_message_tokens(MESSAGES)
    assert usage.usage.total_tokens == usage.usage.prompt_tokens + usage.usage.completion_tokens
    assert {c.id for c in chunks} == {role.id} and role.id.startswith("chatcmpl-")
    assert {c.model for c in chunks} == {"gpt-4o"}
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_sync_stream_request_id(client: openai.OpenAI) -> None:
    response = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.request_id is not None and response.request_id.startswith("req_")
    text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text == FAST_TEXT


def test_sync_non_stream(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == FAST_TEXT
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len(tokenize(FAST_TEXT))
    assert completion.usage.prompt_tokens == count_message_tokens(MESSAGES)
    assert completion._request_id is not None


def test_non_stream_content_equals_the_streams_for_the_same_seed(faker_server: Server) -> None:
    with openai.OpenAI(base_url=faker_server.base_url, api_key="x", max_retries=0) as client:
        streamed = client.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=SEEDED,
        )
        chunks = list(streamed)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers=SEEDED)
    assert len(text) > 200
    assert completion.choices[0].message.content == text
    assert completion.id == chunks[0].id and completion.created == chunks[0].created
    assert completion.usage == chunks[-1].usage


def test_max_tokens_through_the_sdk(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_completion_tokens=2)
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "".join(tokenize(FAST_TEXT)[:2])
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=2, stream=True)
    finishes = [c.choices[0].finish_reason for c in stream if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]


def test_stream_helper_accumulates(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == FAST_TEXT
    assert final.choices[0].finish_reason == "stop"


def test_models(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids[:3] == ["default", "fast", "slow-start"] and "gpt-4o" in ids
    model = client.models.retrieve("fast")
    assert (model.id, model.object, model.owned_by) == ("fast", "model", "fakellm")
    assert client.models.retrieve("any-model-at-all").id == "any-model-at-all"


def test_scenario_as_model_name(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="slow-start", messages=MESSAGES)
    assert completion.choices[0].message.content == "Slow start."
    assert completion.model == "slow-start"


def test_bad_request_is_a_bad_request_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[])
    error = info.value
    assert error.status_code == 400
    assert error.code == "empty_array" and error.param == "messages"
    assert error.type == "invalid_request_error"


def test_n_above_128_is_a_bad_request_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, n=129)
    assert info.value.param == "n"
    assert info.value.code == "integer_above_max_value"


def test_n_three_answers_three_choices(client: openai.OpenAI) -> None:
    done = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, n=3)
    assert [choice.index for choice in done.choices] == [0, 1, 2]


def test_unknown_scenario_header_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, extra_headers={"X-FakeLLM-Scenario": "nope"}
        )
    assert "default, fast, slow-start" in info.value.message


# --------------------------------------------------------------------------------------------------
# async


@pytest.mark.asyncio
async def test_async_stream(server: Server) -> None:
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == FAST_TEXT
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(tokenize(FAST_TEXT))


@pytest.mark.asyncio
async def test_async_non_stream(server: Server) -> None:
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client:
        completion = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        models = [m.id async for m in client.models.list()]
        model = await client.models.retrieve("default")
    assert completion.choices[0].message.content == FAST_TEXT
    assert completion.usage is not None and completion.usage.prompt_tokens == count_message_tokens(MESSAGES)
    assert models[:3] == ["default", "fast", "slow-start"]
    assert model.id == "default"


@pytest.mark.asyncio
async def test_async_and_sync_agree_for_the_same_seed(faker_server: Server) -> None:
    async with openai.AsyncOpenAI(base_url=faker_server.base_url, api_key="x", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, extra_headers=SEEDED
        )
        async_text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        async_plain = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, extra_headers=SEEDED
        )
    with openai.OpenAI(base_url=faker_server.base_url, api_key="x", max_retries=0) as sync_client:
        sync_plain = sync_client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, extra_headers=SEEDED
        )
    assert async_text == async_plain.choices[0].message.content == sync_plain.choices[0].message.content


@pytest.mark.asyncio
async def test_async_concurrent_streams(server: Server) -> None:
    import asyncio

    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client:

        async def one(i: int) -> str:
            stream = await client.chat.completions.create(
                model="fast", messages=[{"role": "user", "content": f"n{i}"}], stream=True
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        texts = await asyncio.gather(*(one(i) for i in range(20)))
    assert texts == [FAST_TEXT] * 20
    # The SDK stops reading at [DONE]; the server's stream tasks end just after writing it.
    for _ in range(200):
        if len(server.state.streams) == 0:
            break
        await asyncio.sleep(0.01)
    assert len(server.state.streams) == 0
