"""How-to: async code (pytest-asyncio, strict or auto mode): `await fakellm.arecord(...)`."""

import pytest

from pytest_fakellm import assert_accumulated, assert_stream_completed


async def answer(client, question):
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": question}], stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


@pytest.mark.asyncio
@pytest.mark.fakellm(faker={"paragraphs": 2}, itl_ms=1, faults="fragment 8-64 bytes")
async def test_async_answer(fakellm):
    async with fakellm.async_openai_client() as client:
        recording = await fakellm.arecord(answer(client, "Tell me a story"))
    assert_accumulated(recording)
    assert_stream_completed(recording)
