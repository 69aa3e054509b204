"""The official ``openai`` SDK's Responses API against a real fakellm server: streamed events, the
stream helper's final response, non-streamed create and retrieve."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from fakellm import Server

from ..conftest import FAST_TEXT


@pytest.fixture
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-anything", max_retries=0, timeout=10) as c:
        yield c


def test_stream_events(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="gpt-4o", input="Say hello.", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert "".join(d.delta for d in deltas) == FAST_TEXT
    assert all(d.output_index == 0 and d.content_index == 0 for d in deltas)


def test_stream_helper_final_response(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-4o", input="Say hello.", instructions="Be terse.") as stream:
        final = stream.get_final_response()
    assert final.output_text == FAST_TEXT
    assert final.status == "completed" and final.id.startswith("resp_")
    assert final.usage is not None and final.usage.output_tokens > 0
    assert client.responses.retrieve(final.id).output_text == FAST_TEXT


def test_non_stream_and_retrieve(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o", input=[{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}]
    )
    assert response.output_text == FAST_TEXT and response.status == "completed"
    assert client.responses.retrieve(response.id).id == response.id


def test_store_false_is_not_retrievable(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o", input="Hi", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


@pytest.mark.asyncio
async def test_async_stream(server: Server) -> None:
    async with (
        openai.AsyncOpenAI(base_url=server.base_url, api_key="sk", max_retries=0) as c,
        c.responses.stream(model="gpt-4o", input="Hi") as stream,
    ):
        final = await stream.get_final_response()
    assert final.output_text == FAST_TEXT


def faulted(server: Server, faults: str, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.base_url,
        api_key="sk",
        timeout=5,
        default_headers={"X-FakeLLM-Faults": faults},
        **kwargs,  # type: ignore[arg-type]
    )


def test_error_event_raises_from_the_helper(server: Server) -> None:
    with (
        faulted(server, "error_event@3", max_retries=0) as c,
        pytest.raises(openai.APIError),
        c.responses.stream(model="gpt-4o", input="Hi") as stream,
    ):
        stream.get_final_response()


def test_error_event_raises_from_raw_events(server: Server) -> None:
    seen: list[str] = []
    with faulted(server, "error_event@3", max_retries=0) as c, pytest.raises(openai.APIError):
        for event in c.responses.create(model="gpt-4o", input="Hi", stream=True):
            seen.append(event.type)
    # the SDK raises at the nested `event: error`, after the deltas that came before it
    assert seen[0] == "response.created" and "response.output_text.delta" in seen


def test_drop_raises_and_is_journaled(server: Server) -> None:
    with faulted(server, "drop@3", max_retries=0) as c, pytest.raises(openai.APIConnectionError):
        list(c.responses.create(model="gpt-4o", input="Hi", stream=True))
    last = server.journal.last
    assert last is not None and last.outcome == "dropped" and last.format == "openai.responses"


def test_429_is_retried(server: Server) -> None:
    with faulted(server, "http_error 429 times=1 retry_after_ms=10", max_retries=1) as c:
        assert c.responses.create(model="gpt-4o", input="Hi").output_text == FAST_TEXT
    assert len(server.journal) == 2


def test_bad_input_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="", input="Hi")
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-4o", input=42)  # type: ignore[arg-type]
    assert client.responses.create(model="gpt-4o", input="Hi").output_text == FAST_TEXT
