"""Logprobs on a real server, read by the official openai SDK: Chat's stream helper accumulates them
(``logprobs.content.delta`` / ``.done`` events), legacy Completions' parallel arrays, Responses'
``include``; the same seed gives the same values, a seeded body is the same with and without them,
byte faults leave each token with its own, and bad values are 400s naming the field."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import openai
import pytest

from fakellm import Server
from tests.helpers import chat_body, raw_request, sse_data

MakeServer = Callable[..., Server]
FAST = {"ttft_ms": 0, "itl_ms": 0}
SCENARIOS: list[dict[str, Any]] = [
    {"name": "default", "content": {"faker": {"paragraphs": 1, "sentences": 2}}, "timing": FAST},
    {"name": "fixed", "content": {"text": "Hello there, world! How are you today?"}, "timing": FAST},
    {"name": "calls", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
]
MESSAGES: list[Any] = [{"role": "user", "content": "Tell me something."}]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(scenarios=SCENARIOS)


def client(server: Server, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.base_url, api_key="sk", max_retries=0, timeout=10, default_headers=headers
    )


def seeded(seed: int, **more: str) -> dict[str, str]:
    return {"X-FakeLLM-Seed": str(seed), **more}


def chat_logprobs(server: Server, headers: dict[str, str], **kw: Any) -> tuple[str, list[Any]]:
    """The text and the logprob entries the stream helper accumulated."""
    with (
        client(server, **headers) as c,
        c.chat.completions.stream(model="gpt-4o", messages=MESSAGES, **kw) as stream,
    ):
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    return choice.message.content or "", choice.logprobs.content


# --------------------------------------------------------------------------------------------------
# Chat Completions


def test_the_chat_stream_helper_accumulates_them(server: Server) -> None:
    deltas: list[Any] = []
    done: list[Any] = []
    with (
        client(server) as c,
        c.chat.completions.stream(model="gpt-4o", messages=MESSAGES, logprobs=True, top_logprobs=3) as stream,
    ):
        for event in stream:
            if event.type == "logprobs.content.delta":
                deltas.append(event.content)
            elif event.type == "logprobs.content.done":
                done.append(event.content)
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    entries = choice.logprobs.content
    assert "".join(e.token for e in entries) == choice.message.content
    assert len(deltas) == len(entries) and all(len(d) == 1 for d in deltas)  # one token a chunk
    assert done == [entries]
    for entry in entries:
        assert entry.bytes == list(entry.token.encode())
        assert entry.logprob <= 0
        assert entry.top_logprobs[0].token == entry.token
        assert len(entry.top_logprobs) == 3
        assert sorted((t.logprob for t in entry.top_logprobs), reverse=True) == [
            t.logprob for t in entry.top_logprobs
        ]


def test_without_top_logprobs_each_entry_lists_none(server: Server) -> None:
    text, entries = chat_logprobs(server, seeded(3), logprobs=True)
    assert "".join(e.token for e in entries) == text
    assert all(e.top_logprobs == [] for e in entries)


def test_the_same_seed_gives_the_same_logprobs_and_another_seed_others(server: Server) -> None:
    first = chat_logprobs(server, seeded(5), logprobs=True, top_logprobs=2)
    assert chat_logprobs(server, seeded(5), logprobs=True, top_logprobs=2) == first
    other = chat_logprobs(server, {**seeded(6), "X-FakeLLM-Scenario": "fixed"}, logprobs=True)
    again = chat_logprobs(server, {**seeded(7), "X-FakeLLM-Scenario": "fixed"}, logprobs=True)
    assert other[0] == again[0]  # the same text...
    assert [e.logprob for e in other[1]] != [e.logprob for e in again[1]]  # ...in other streams


_LOGPROBS_FIELD = re.compile(r',"logprobs":(\{"content":\[.*?\],"refusal":null\}|null)')


def test_a_seeded_body_is_the_same_with_and_without_them(server: Server) -> None:
    headers = seeded(9)
    plain = raw_request(server.port, chat_body(), headers=headers).body
    with_them = raw_request(server.port, chat_body(logprobs=True, top_logprobs=5), headers=headers).body
    assert b'"top_logprobs":[{' in with_them
    strip = [_LOGPROBS_FIELD.sub("", d) for d in sse_data(with_them)]
    assert strip == [_LOGPROBS_FIELD.sub("", d) for d in sse_data(plain)]


def test_the_non_streamed_body_has_the_streams_logprobs(server: Server) -> None:
    text, streamed = chat_logprobs(server, seeded(11), logprobs=True, top_logprobs=2)
    with client(server, **seeded(11)) as c:
        completion = c.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, logprobs=True, top_logprobs=2
        )
    choice = completion.choices[0]
    assert choice.message.content == text
    assert choice.logprobs is not None and choice.logprobs.content == streamed


def test_each_choice_its_own(server: Server) -> None:
    headers = {**seeded(12), "X-FakeLLM-Scenario": "fixed"}
    with (
        client(server, **headers) as c,
        c.chat.completions.stream(model="gpt-4o", messages=MESSAGES, n=2, logprobs=True) as stream,
    ):
        final = stream.get_final_completion()
    lists = []
    for choice in final.choices:
        assert choice.logprobs is not None and choice.logprobs.content is not None
        assert "".join(e.token for e in choice.logprobs.content) == choice.message.content
        lists.append([e.logprob for e in choice.logprobs.content])
    assert final.choices[0].message.content == final.choices[1].message.content
    assert lists[0] != lists[1]


def test_tool_call_fragments_carry_none(server: Server) -> None:
    body = raw_request(server.port, chat_body(logprobs=True), headers={"X-FakeLLM-Scenario": "calls"}).body
    chunks = [json.loads(d) for d in sse_data(body) if d != "[DONE]"]
    fragments = [c["choices"][0] for c in chunks if c["choices"] and "tool_calls" in c["choices"][0]["delta"]]
    assert fragments and fragments[0]["logprobs"] == {"content": [], "refusal": None}  # the role chunk's
    assert all(f["logprobs"] is None for f in fragments[1:])


@pytest.mark.parametrize(
    "spec",
    [
        "fragment 1-7 bytes delay_ms=0",
        "fragment coalesce",
        "fragment coalesce min_bytes=3 max_bytes=40 delay_ms=0",
    ],
)
def test_byte_faults_leave_each_token_with_its_own(server: Server, spec: str) -> None:
    """A fragment fault re-cuts the bytes and coalescing joins whole events into one write: each
    chunk still carries its own token's logprobs, so the helper accumulates the same list."""
    plain = chat_logprobs(server, seeded(13), logprobs=True, top_logprobs=2)
    faulted = chat_logprobs(server, seeded(13, **{"X-FakeLLM-Faults": spec}), logprobs=True, top_logprobs=2)
    assert faulted == plain


def test_an_error_event_keeps_the_logprobs_of_the_tokens_sent(server: Server) -> None:
    headers = seeded(14, **{"X-FakeLLM-Faults": "error_event@3"})
    body = raw_request(server.port, chat_body(logprobs=True), headers=headers).body
    tokens: list[str] = []
    text = ""
    for data in sse_data(body):
        chunk = json.loads(data)
        for choice in chunk.get("choices", []):
            text += choice["delta"].get("content") or ""
            if choice["logprobs"]:
                tokens += [e["token"] for e in choice["logprobs"]["content"]]
    assert len(tokens) == 3 and "".join(tokens) == text


# --------------------------------------------------------------------------------------------------
# Legacy Completions


def test_completions_parallel_arrays_through_the_sdk(server: Server) -> None:
    prompt = "Say something."
    with client(server, **seeded(15)) as c:
        stream = c.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompt, logprobs=2, stream=True)
        chunks = list(stream)
        whole = c.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompt, logprobs=2)
    text = "".join(ch.choices[0].text for ch in chunks)
    tokens: list[str] = []
    offsets: list[int] = []
    token_logprobs: list[float] = []
    for chunk in chunks:
        logprobs = chunk.choices[0].logprobs
        assert logprobs is not None and logprobs.tokens is not None and logprobs.top_logprobs is not None
        assert logprobs.token_logprobs is not None and logprobs.text_offset is not None
        assert (
            len(logprobs.tokens)
            == len(logprobs.top_logprobs)
            == len(logprobs.text_offset)
            == (1 if chunk.choices[0].text else 0)  # one token a chunk; none on the finish's
        )
        for token, top in zip(logprobs.tokens, logprobs.top_logprobs, strict=True):
            assert next(iter(top)) == token and len(top) == 2  # the sent token first
        tokens += logprobs.tokens
        offsets += logprobs.text_offset
        token_logprobs += logprobs.token_logprobs
    assert "".join(tokens) == text
    assert offsets[0] == len(prompt)  # counted from the prompt's start, as the API does
    assert all(text[o - len(prompt) :].startswith(t) for o, t in zip(offsets, tokens, strict=True))
    full = whole.choices[0].logprobs
    assert whole.choices[0].text == text
    assert full is not None and full.tokens == tokens and full.text_offset == offsets
    assert full.token_logprobs == token_logprobs


# --------------------------------------------------------------------------------------------------
# Responses


def test_the_responses_stream_helper_carries_them_to_the_final_response(server: Server) -> None:
    deltas: list[Any] = []
    with (
        client(server, **seeded(16)) as c,
        c.responses.stream(
            model="gpt-4.1",
            input="Tell me something.",
            include=["message.output_text.logprobs"],
            top_logprobs=2,
        ) as stream,
    ):
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas += event.logprobs
            elif event.type == "response.output_text.done":
                done = event.logprobs
        final = stream.get_final_response()
    part = final.output[0].content[0]  # type: ignore[union-attr]
    assert part.type == "output_text"
    assert part.logprobs is not None
    assert "".join(lp.token for lp in part.logprobs) == final.output_text
    assert [lp.token for lp in deltas] == [lp.token for lp in part.logprobs] == [lp.token for lp in done]
    assert [lp.logprob for lp in deltas] == [lp.logprob for lp in part.logprobs]
    for lp in part.logprobs:
        assert lp.bytes == list(lp.token.encode())
        assert lp.top_logprobs[0].token == lp.token and len(lp.top_logprobs) == 2
    with client(server, **seeded(16)) as c:
        whole = c.responses.create(
            model="gpt-4.1",
            input="Tell me something.",
            include=["message.output_text.logprobs"],
            top_logprobs=2,
        )
    assert whole.output[0].content[0].logprobs == part.logprobs  # type: ignore[union-attr]


def test_responses_without_include_send_empty_lists(server: Server) -> None:
    with (
        client(server) as c,
        c.responses.stream(model="gpt-4.1", input="Hi", top_logprobs=2) as stream,
    ):
        logprobs = [e.logprobs for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert logprobs and all(lp == [] for lp in logprobs)
    assert final.output[0].content[0].logprobs == []  # type: ignore[union-attr]
    assert final.top_logprobs == 2  # echoed


# --------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda c: c.chat.completions.create(model="m", messages=MESSAGES, top_logprobs=2), "top_logprobs"),
        (
            lambda c: c.chat.completions.create(model="m", messages=MESSAGES, logprobs=True, top_logprobs=21),
            "top_logprobs",
        ),
        (lambda c: c.completions.create(model="m", prompt="hi", logprobs=6), "logprobs"),
        (lambda c: c.responses.create(model="m", input="hi", top_logprobs=21), "top_logprobs"),
    ],
)
def test_bad_values_are_400s_naming_the_field(
    server: Server, call: Callable[[openai.OpenAI], Any], param: str
) -> None:
    with client(server) as c, pytest.raises(openai.BadRequestError) as info:
        call(c)
    assert info.value.status_code == 400
    assert isinstance(info.value.body, dict) and info.value.body["param"] == param


def test_the_async_chat_stream_helper_accumulates_them(server: Server) -> None:
    async def run() -> tuple[str, list[Any]]:
        async with (
            openai.AsyncOpenAI(
                base_url=server.base_url, api_key="sk", max_retries=0, timeout=10, default_headers=seeded(17)
            ) as c,
            c.chat.completions.stream(
                model="gpt-4o", messages=MESSAGES, logprobs=True, top_logprobs=1
            ) as stream,
        ):
            final = await stream.get_final_completion()
        choice = final.choices[0]
        assert choice.logprobs is not None and choice.logprobs.content is not None
        return choice.message.content or "", choice.logprobs.content

    assert asyncio.run(run()) == chat_logprobs(server, seeded(17), logprobs=True, top_logprobs=1)


def test_responses_logprobs_survive_coalescing(server: Server) -> None:
    def final(headers: dict[str, str]) -> list[Any]:
        with (
            client(server, **headers) as c,
            c.responses.stream(
                model="gpt-4.1", input="Hi", include=["message.output_text.logprobs"]
            ) as stream,
        ):
            response = stream.get_final_response()
        return response.output[0].content[0].logprobs or []  # type: ignore[union-attr]

    plain = final(seeded(18))
    assert plain
    assert (
        final(seeded(18, **{"X-FakeLLM-Faults": "fragment coalesce min_bytes=2 max_bytes=30 delay_ms=0"}))
        == plain
    )
