"""The streaming ASGI transport of in-process mode (fakellm/inprocess.py): chunks arrive as the app
produces them (no buffering), closing a response disconnects the app, the client's read timeout
applies, a dropped stream is a transport error in httpx and httpx2 alike, and respx routes the
OpenAI URL only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest
import respx

from fakellm import InProcess, Server

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
SLOW = {"name": "default", "content": {"text": "a b c d e"}, "timing": {"ttft_ms": 300, "itl_ms": 100}}


@pytest.fixture
def fake() -> Iterator[InProcess]:
    with InProcess(scenarios=[SLOW]) as inprocess:
        yield inprocess


def _arrivals(reads: Iterator[bytes]) -> list[float]:
    start = time.perf_counter()
    return [
        time.perf_counter() - start
        for read in reads
        if b'"content":"' in read and b'"content":""' not in read
    ]


def _check_streamed(times: list[float]) -> None:
    # Five tokens, the first after ~300 ms and then one every ~100 ms: a buffering transport would
    # deliver all five at once, after ~700 ms.
    assert len(times) == 5
    assert times[0] < 1.0
    assert times[-1] - times[0] > 0.25


def test_sync_chunks_arrive_as_produced(fake: InProcess) -> None:
    with fake.httpx_client() as client, client.stream("POST", "chat/completions", json=BODY) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        _check_streamed(_arrivals(response.iter_raw()))
    assert fake.journal.last is not None and fake.journal.last.outcome == "completed"


@pytest.mark.asyncio
async def test_async_chunks_arrive_as_produced(fake: InProcess) -> None:
    async with fake.async_httpx_client() as client, client.stream("POST", "chat/completions", json=BODY) as r:
        start = time.perf_counter()
        times = [time.perf_counter() - start async for read in r.aiter_raw() if b'"content":"' in read]
    _check_streamed(times[1:])  # the role chunk has "content":""


@pytest.mark.asyncio
async def test_httpx2_client(fake: InProcess) -> None:
    async with httpx2.AsyncClient(transport=fake.transport2(), base_url=fake.base_url) as client:
        response = await client.post("chat/completions", json={**BODY, "stream": False})
    assert response.json()["choices"][0]["message"]["content"] == "a b c d e"


def test_closing_the_response_disconnects_the_app(fake: InProcess) -> None:
    with fake.httpx_client() as client, client.stream("POST", "chat/completions", json=BODY) as response:
        next(response.iter_raw())
    deadline = time.monotonic() + 3
    entry = fake.journal.last
    assert entry is not None
    while entry.outcome == "streaming" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert entry.outcome == "client_disconnected"
    assert entry.tokens_sent < 5


@pytest.mark.parametrize("library", [httpx, httpx2])
def test_read_timeout_applies_to_a_stall(library: Any) -> None:
    stalled = {"name": "default", "content": {"text": "a b"}, "faults": ["stall@1 duration_ms=null"]}
    with InProcess(scenarios=[stalled]) as fake:
        transport = fake.transport() if library is httpx else fake.transport2()
        client = library.Client(transport=transport, base_url=fake.base_url, timeout=0.3)
        stream = client.stream("POST", "chat/completions", json=BODY)
        with client, stream as response, pytest.raises(library.ReadTimeout):
            for _ in response.iter_raw():
                pass


@pytest.mark.asyncio
@pytest.mark.parametrize("library", [httpx, httpx2])
async def test_drop_is_a_transport_error(library: Any) -> None:
    dropped = {"name": "default", "content": {"text": "a b c"}, "faults": ["drop@1"]}
    with InProcess(scenarios=[dropped]) as fake:
        transport = fake.transport() if library is httpx else fake.transport2()
        client = library.AsyncClient(transport=transport, base_url=fake.base_url)
        async with client, client.stream("POST", "chat/completions", json=BODY) as response:
            with pytest.raises(library.RemoteProtocolError, match="incomplete chunked read"):
                async for _ in response.aiter_raw():
                    pass
        assert fake.problems == []


def test_reset_cannot_be_done_and_says_so() -> None:
    reset = {"name": "default", "content": {"text": "a b c"}, "faults": ["drop@1 rst"]}
    with InProcess(scenarios=[reset]) as fake:
        client = fake.openai_client(max_retries=0)
        with pytest.raises(openai.APIConnectionError) as caught:
            for _ in client.chat.completions.create(**BODY):
                pass
        assert "cannot reset a connection" in str(caught.value.__cause__)
        assert len(fake.problems) == 1 and "drop' with mode: rst" in fake.problems[0]


def test_intercept_routes_only_the_openai_url(fake: InProcess) -> None:
    real = Server(scenarios=[{"name": "default", "content": {"text": "from the real server"}}])
    with real as server, fake.intercept(), httpx.Client() as client:
        routed = client.post("https://api.openai.com/v1/chat/completions", json={**BODY, "stream": False})
        passed = client.post(f"{server.base_url}/chat/completions", json={**BODY, "stream": False})
    assert routed.json()["choices"][0]["message"]["content"] == "a b c d e"
    assert passed.json()["choices"][0]["message"]["content"] == "from the real server"


def test_intercept_leaves_other_urls_to_the_tests_own_respx(fake: InProcess) -> None:
    with respx.mock(assert_all_called=False) as own, fake.intercept(), httpx.Client() as client:
        own.get("https://example.com/ping").respond(200, text="pong")
        assert client.get("https://example.com/ping").text == "pong"
        routed = client.post("https://api.openai.com/v1/chat/completions", json={**BODY, "stream": False})
    assert routed.json()["choices"][0]["message"]["content"] == "a b c d e"


@pytest.mark.asyncio
async def test_sync_client_inside_async_code_is_routed(fake: InProcess) -> None:
    with fake.intercept(), httpx.Client() as client:
        # The point: a sync client in async code (respx resolves it on its sync path).
        response = client.post(  # noqa: ASYNC212
            "https://api.openai.com/v1/chat/completions", json={**BODY, "stream": False}
        )
        await asyncio.sleep(0)
    assert response.status_code == 200


def test_intercept_refuses_openai3_default_clients(fake: InProcess) -> None:
    with fake.intercept():
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        with pytest.raises(openai.APIConnectionError) as caught:
            client.models.list()
    assert "through httpx2, which respx does not patch" in str(caught.value.__cause__)
    assert len(fake.problems) == 1
    # Outside intercept() httpx2 is left alone.
    assert httpx2.HTTPTransport.handle_request.__name__ == "handle_request"
    assert httpx2.HTTPTransport.handle_request.__qualname__ == "HTTPTransport.handle_request"
