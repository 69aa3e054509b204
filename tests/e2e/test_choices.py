"""Several choices (``n``) on Chat Completions and legacy Completions, and a list of prompts, read by
the official openai SDK (the stream helper sizes its list of choices from the first chunk, so choice
0 must come first: wire2 §4.4 C6) and on the bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from fakellm import Server
from tests.helpers import chat_body, raw_request, sse_data

MakeServer = Callable[..., Server]
FAST = {"ttft_ms": 0, "itl_ms": 0}
SCENARIOS: list[dict[str, Any]] = [
    {"name": "default", "content": {"faker": {"paragraphs": 1, "sentences": 2}}, "timing": FAST},
    {"name": "echo", "content": {"echo": True}, "timing": FAST},
    {"name": "calls", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
]
MESSAGES: list[Any] = [{"role": "user", "content": "Tell me something."}]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(seed=11, scenarios=SCENARIOS)


def client(server: Server, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.base_url, api_key="sk", max_retries=0, timeout=10, default_headers=headers
    )


def chunks(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(d) for d in sse_data(body) if d != "[DONE]"]


def texts_by_index(body: bytes, field: str = "content") -> dict[int, str]:
    texts: dict[int, str] = {}
    for chunk in chunks(body):
        for choice in chunk["choices"]:
            piece = choice["delta"].get(field) if "delta" in choice else choice.get(field)
            texts[choice["index"]] = texts.get(choice["index"], "") + (piece or "")
    return texts


def test_the_chat_stream_helper_accumulates_two_choices(server: Server) -> None:
    with (
        client(server) as c,
        c.chat.completions.stream(model="gpt-4o", messages=MESSAGES, n=2) as stream,
    ):
        final = stream.get_final_completion()
    assert [choice.index for choice in final.choices] == [0, 1]
    first, second = (choice.message.content for choice in final.choices)
    assert first and second and first != second  # each choice seeded apart
    assert [choice.finish_reason for choice in final.choices] == ["stop", "stop"]
    assert [choice.message.role for choice in final.choices] == ["assistant", "assistant"]  # said once


def test_chat_chunks_interleave_one_choice_each_with_its_role_and_finish(server: Server) -> None:
    body = raw_request(server.port, chat_body(n=3, stream_options={"include_usage": True})).body
    sent = chunks(body)
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in sent)
    assert all(len(chunk["choices"]) == 1 for chunk in sent[:-1])
    indices = [chunk["choices"][0]["index"] for chunk in sent[:-1]]
    assert indices[:6] == [0, 0, 1, 1, 2, 2]  # role, first token; choice by choice, 0 first
    roles = [c["choices"][0]["index"] for c in sent[:-1] if "role" in c["choices"][0]["delta"]]
    finishes = [(c["choices"][0]["index"], c["choices"][0]["finish_reason"]) for c in sent[:-1]]
    assert roles == [0, 1, 2]
    assert [f for f in finishes if f[1]] == [(0, "stop"), (1, "stop"), (2, "stop")]
    assert sent[-1]["choices"] == []
    tokens = sum(1 for c in sent[:-1] if c["choices"][0]["delta"].get("content"))
    assert sent[-1]["usage"]["completion_tokens"] == tokens  # summed over the choices


def test_choice_zero_is_the_answer_with_one_choice(server: Server) -> None:
    """Choice 0 draws as a stream with one choice does: its text is the same, and the other
    choices' seeds come after every draw of today, so n=1 bodies never change."""
    seed = {"X-FakeLLM-Seed": "42"}
    one = raw_request(server.port, chat_body(), headers=seed).body
    explicit = raw_request(server.port, chat_body(n=1), headers=seed).body
    several = raw_request(server.port, chat_body(n=2), headers=seed).body
    assert one == explicit
    assert texts_by_index(several)[0] == texts_by_index(one)[0]
    assert sse_data(several)[0] == sse_data(one)[0]  # same id, created, fingerprint: same draws


def test_seeded_replay_is_identical(server: Server) -> None:
    seed = {"X-FakeLLM-Seed": "7"}
    for path, body in (
        ("/v1/chat/completions", chat_body(n=3)),
        ("/v1/completions", {"model": "m", "prompt": ["a", "b"], "n": 2, "stream": True}),
    ):
        first = raw_request(server.port, body, path=path, headers=seed).body
        again = raw_request(server.port, body, path=path, headers=seed).body
        assert first == again
        assert len(set(texts_by_index(first, "text" if "prompt" in body else "content").values())) > 1


def test_non_streamed_chat_lists_every_choice(server: Server) -> None:
    seed = {"X-FakeLLM-Seed": "5"}
    streamed = texts_by_index(raw_request(server.port, chat_body(n=2), headers=seed).body)
    with client(server, **seed) as c:
        done = c.chat.completions.create(model="gpt-4o", messages=MESSAGES, n=2)
    assert [choice.message.content for choice in done.choices] == [streamed[0], streamed[1]]
    assert done.usage is not None
    entry = server.journal.last
    assert entry is not None and entry.tokens_sent == done.usage.completion_tokens  # both choices'


def test_completions_list_of_prompts_streams_a_choice_each(server: Server) -> None:
    with client(server) as c:
        stream = c.completions.create(
            model="echo",
            prompt=["first prompt", "second one"],
            stream=True,
            stream_options={"include_usage": True},
        )
        sent = list(stream)
    texts: dict[int, str] = {}
    for chunk in sent:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
    assert texts == {0: "first prompt", 1: "second one"}  # the echo scenario repeats each one's own
    assert sent[0].choices[0].index == 0
    usage = sent[-1].usage
    tokens = sum(1 for chunk in sent for choice in chunk.choices if choice.text)
    assert usage is not None and usage.completion_tokens == tokens  # both choices' tokens


def test_completions_prompts_times_n_are_prompt_major(server: Server) -> None:
    body = {"model": "echo", "prompt": ["a b", "c"], "n": 2, "stream": True}
    streamed = texts_by_index(raw_request(server.port, body, path="/v1/completions").body, "text")
    assert streamed == {0: "a b", 1: "a b", 2: "c", 3: "c"}
    with client(server) as c:
        done = c.completions.create(model="echo", prompt=["a b", "c"], n=2)
    assert [(choice.index, choice.text) for choice in done.choices] == [
        (0, "a b"),
        (1, "a b"),
        (2, "c"),
        (3, "c"),
    ]


def test_completions_n_gives_different_texts(server: Server) -> None:
    with client(server) as c:
        done = c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi", n=2)
    assert len({choice.text for choice in done.choices}) == 2


def test_max_tokens_cuts_each_choice(server: Server) -> None:
    body = raw_request(server.port, chat_body(n=2, max_tokens=3)).body
    sent = chunks(body)
    for index in (0, 1):
        mine = [c["choices"][0] for c in sent if c["choices"][0]["index"] == index]
        assert sum(1 for c in mine if c["delta"].get("content")) == 3
        assert mine[-1]["finish_reason"] == "length"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_a_drop_counts_the_tokens_of_every_choice(server: Server, path: str) -> None:
    body: dict[str, Any] = (
        chat_body(n=2) if "chat" in path else {"model": "m", "prompt": "hi", "n": 2, "stream": True}
    )
    response = raw_request(server.port, body, path=path, headers={"X-FakeLLM-Faults": "drop@3"})
    assert not response.terminated  # the connection was cut, not ended
    field = "content" if "chat" in path else "text"
    sent = [c["choices"][0] for c in chunks(response.body)]
    content = [(c["index"]) for c in sent if (c["delta"].get(field) if "delta" in c else c.get(field))]
    assert content == [0, 1, 0]  # three tokens: the first of each choice, then choice 0's second
    entry = server.journal.last
    assert entry is not None and entry.tokens_sent == 3


def test_the_sdk_sees_a_drop_across_choices(server: Server) -> None:
    with client(server, **{"X-FakeLLM-Faults": "drop@3"}) as c:
        stream = c.chat.completions.create(model="gpt-4o", messages=MESSAGES, n=2, stream=True)
        seen: list[int] = []
        with pytest.raises(openai.APIConnectionError):
            for chunk in stream:
                seen += [choice.index for choice in chunk.choices if choice.delta.content]
    assert seen == [0, 1, 0]


def test_n_with_tool_calls_is_a_clear_400(server: Server) -> None:
    with client(server) as c, pytest.raises(openai.BadRequestError) as info:
        c.chat.completions.create(model="calls", messages=MESSAGES, n=2)
    error = info.value.body
    assert isinstance(error, dict) and error["param"] == "n" and "tool" in error["message"]


@pytest.mark.parametrize("n", [0, 129, "x"])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_bounds_of_n_are_400s_in_the_format_shape(server: Server, path: str, n: object) -> None:
    body = chat_body(n=n) if "chat" in path else {"model": "m", "prompt": "hi", "n": n}
    response = httpx.post(server.base_url + path.removeprefix("/v1"), json=body, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert list(error) == ["message", "type", "param", "code"] and error["param"] == "n"


def test_n_with_a_recording_is_a_clear_400(make_server: MakeServer) -> None:
    recorded = Path(__file__).parents[2] / "fixtures" / "recorded" / "openai-text-usage.json"
    server = make_server(scenario_paths=[recorded])
    response = raw_request(server.port, chat_body(model="openai-text-usage", n=2))
    assert response.status == 400
    error = json.loads(response.body)["error"]
    assert error["param"] == "n" and "record" in error["message"]


@pytest.mark.asyncio
async def test_the_async_stream_helper_accumulates_three_choices(server: Server) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10)
    async with client, client.chat.completions.stream(model="gpt-4o", messages=MESSAGES, n=3) as stream:
        final = await stream.get_final_completion()
    assert [choice.index for choice in final.choices] == [0, 1, 2]
    assert len({choice.message.content for choice in final.choices}) == 3
