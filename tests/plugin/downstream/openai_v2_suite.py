"""The plugin with openai 2.x, which sends through httpx (run by tests/plugin/test_openai_v2.py with
openai 2.x first on the path): its clients, and in process, clients that the code under test builds
itself, which respx routes to the app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest

from pytest_fakellm import FakeLLM, assert_accumulated, assert_error_event, assert_ttft

TEXT = "one two three four five"


def pieces(client: Any) -> Iterator[str]:
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


async def apieces(client: Any) -> AsyncIterator[str]:
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def test_it_is_openai_2() -> None:
    assert openai.__version__.startswith("2.")


def test_client_and_drop(fakellm: FakeLLM) -> None:
    fakellm.script([{"text": TEXT, "ttft_ms": 100}, {"text": TEXT, "faults": ["drop@2"]}])
    client = fakellm.openai_client(max_retries=0)
    recording = fakellm.record(pieces(client))
    assert_accumulated(recording)
    assert_ttft(recording, min_ms=60)
    # 2.x lets the raw httpx error out (3.x wraps it in APIConnectionError).
    assert_error_event(fakellm.record(pieces(client)), exception=httpx.RemoteProtocolError)


def test_code_under_test_builds_its_own_client(fakellm_inprocess: FakeLLM) -> None:
    fakellm_inprocess.script(text=TEXT, ttft_ms=100)
    client = openai.OpenAI(api_key="sk-test")  # the default base URL, api.openai.com
    recording = fakellm_inprocess.record(pieces(client))
    client.close()
    assert_accumulated(recording)
    assert_ttft(recording, min_ms=60)
    assert fakellm_inprocess.journal.last is not None
    assert fakellm_inprocess.journal.last.headers["authorization"] != ""


@pytest.mark.asyncio
async def test_code_under_test_builds_its_own_async_client(fakellm_inprocess: FakeLLM) -> None:
    fakellm_inprocess.script(text=TEXT)
    async with openai.AsyncOpenAI(api_key="sk-test") as client:
        recording = await fakellm_inprocess.arecord(apieces(client))
    assert_accumulated(recording)
