"""The official ``anthropic`` SDK against a real fakellm server: the stream helper, raw events,
non-streamed create, count_tokens and both ways to authenticate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from fakellm import Server
from tests.helpers import ANTHROPIC_DROP

from ..conftest import FAST_TEXT

MESSAGES: list[Any] = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def client(server: Server) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key="sk-ant", max_retries=0, timeout=10) as c:
        yield c


def test_stream_helper(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model="claude-x", max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == FAST_TEXT
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_raw_events_in_order(client: anthropic.Anthropic) -> None:
    types = [
        e.type for e in client.messages.create(model="c", max_tokens=100, messages=MESSAGES, stream=True)
    ]
    assert types[:3] == ["message_start", "content_block_start", "ping"] or types[:2] == [
        "message_start",
        "content_block_start",
    ]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_non_stream_and_count_tokens(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="c", max_tokens=100, messages=MESSAGES)
    assert message.content[0].type == "text" and message.content[0].text == FAST_TEXT
    assert client.messages.count_tokens(model="c", messages=MESSAGES).input_tokens > 0


def test_auth_token_and_odd_version(server: Server) -> None:
    with anthropic.Anthropic(
        base_url=server.url,
        auth_token="tok",
        default_headers={"anthropic-version": "1999-01-01"},
        max_retries=0,
    ) as c:
        assert c.messages.create(model="c", max_tokens=100, messages=MESSAGES).stop_reason == "end_turn"


@pytest.mark.asyncio
async def test_async_stream(server: Server) -> None:
    async with (
        anthropic.AsyncAnthropic(base_url=server.url, api_key="k", max_retries=0) as c,
        c.messages.stream(model="c", max_tokens=100, messages=MESSAGES) as stream,
    ):
        final = await stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == FAST_TEXT


def test_max_tokens_cuts_the_message(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="c", max_tokens=3, messages=MESSAGES)
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 3


def faulted(server: Server, faults: str, max_retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=server.url,
        api_key="k",
        timeout=5,
        max_retries=max_retries,
        default_headers={"X-FakeLLM-Faults": faults},
    )


def test_error_event_raises_from_the_helper(server: Server) -> None:
    with (
        faulted(server, "error_event@3") as c,
        pytest.raises(anthropic.APIStatusError),
        c.messages.stream(model="c", max_tokens=100, messages=MESSAGES) as stream,
    ):
        stream.get_final_message()


def test_drop_raises_and_is_journaled(server: Server) -> None:
    with faulted(server, "drop@3") as c, pytest.raises(ANTHROPIC_DROP):
        # anthropic 2.x lets the transport's error through mid-stream (not APIConnectionError)
        list(c.messages.create(model="c", max_tokens=100, messages=MESSAGES, stream=True))
    last = server.journal.last
    assert last is not None and last.outcome == "dropped" and last.format == "anthropic.messages"


@pytest.mark.parametrize("status", [429, 529])
def test_retried_statuses(server: Server, status: int) -> None:
    with faulted(server, f"http_error {status} times=1 retry_after_ms=10", max_retries=1) as c:
        assert c.messages.create(model="c", max_tokens=100, messages=MESSAGES).stop_reason == "end_turn"
    assert len(server.journal) == 2


def test_bad_input_is_a_400(server: Server, client: anthropic.Anthropic) -> None:
    # the SDK itself refuses a missing max_tokens, so send that one raw
    answer = httpx.post(f"{server.url}/v1/messages", json={"model": "c", "messages": MESSAGES})
    assert answer.status_code == 400 and answer.json()["type"] == "error"
    assert answer.headers.get("request-id")
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="c", max_tokens="x", messages=MESSAGES)  # type: ignore[arg-type]
    assert client.messages.create(model="c", max_tokens=100, messages=MESSAGES).stop_reason == "end_turn"
