"""Prints what each test got from the unscripted default (run by tests/plugin/test_seed.py with
--fakellm-seed, to check that a seed replays a test whatever else runs)."""

from __future__ import annotations

import pytest

from pytest_fakellm import FakeLLM

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


def show(name: str, fakellm: FakeLLM, text: str) -> None:
    entry = fakellm.journal.last
    assert entry is not None and entry.text == text
    print(f"FAKELLM-TEXT {name} {entry.seed} {text[:60]!r}")
    print(f"FAKELLM-SEED {name} {fakellm.seed}")


def test_first(fakellm: FakeLLM) -> None:
    with fakellm.httpx_client() as client, client.stream("POST", "chat/completions", json=BODY) as response:
        show("first", fakellm, fakellm.record(response.iter_lines()).text)


def test_2nd(fakellm: FakeLLM) -> None:
    with fakellm.httpx_client() as client:
        answer = client.post("chat/completions", json={**BODY, "stream": False}).json()
    show("2nd", fakellm, answer["choices"][0]["message"]["content"])


@pytest.mark.asyncio
async def test_async(fakellm: FakeLLM) -> None:
    fakellm.script(faker={"paragraphs": 1}, faults="fragment 1-9 bytes delay_ms=0")
    async with fakellm.async_openai_client() as client:
        stream = await client.chat.completions.create(**BODY)
        show("async", fakellm, (await fakellm.arecord(stream)).text)
