"""The journal's ``choices`` (n > 1): each choice's text as it reached the wire and its finish
reason, checked against what the official openai SDK accumulated per index, and against the
bytes when a fault cuts the stream or re-slices its writes. ``text`` stays what it was: every
choice's tokens in the order sent (one choice: ``choices`` is empty)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from fakellm import Journal, Server
from fakellm.journal import PREFIX_CHARS
from tests.helpers import chat_body, raw_request, sse_data

MakeServer = Callable[..., Server]
SCENARIOS: list[dict[str, Any]] = [
    {"name": "default", "content": {"faker": {"paragraphs": 1, "sentences": 2}}, "timing": {"itl_ms": 0}},
]
MESSAGES: list[Any] = [{"role": "user", "content": "Tell me something."}]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(seed=5, scenarios=SCENARIOS)


def client(server: Server, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.base_url, api_key="sk", max_retries=0, timeout=10, default_headers=headers
    )


def by_index(body: bytes, field: str = "content") -> dict[int, str]:
    texts: dict[int, str] = {}
    for data in sse_data(body):
        if data == "[DONE]":
            continue
        for choice in json.loads(data)["choices"]:
            piece = choice["delta"].get(field) if "delta" in choice else choice.get(field)
            texts[choice["index"]] = texts.get(choice["index"], "") + (piece or "")
    return texts


def sent(server: Server) -> list[tuple[int, str, str | None]]:
    entry = server.journal.last
    assert entry is not None
    return [(c.index, c.text, c.finish_reason) for c in entry.choices]


def test_the_stream_helpers_choices_are_the_journals(server: Server) -> None:
    with client(server) as c, c.chat.completions.stream(model="gpt-4o", messages=MESSAGES, n=3) as stream:
        final = stream.get_final_completion()
    got = [(choice.index, choice.message.content, choice.finish_reason) for choice in final.choices]
    assert sent(server) == got
    assert len({text for _, text, _ in got}) == 3  # three different texts: a swap would show
    entry = server.journal.last
    assert entry is not None and entry.turn is None
    assert sorted(entry.text) == sorted("".join(text or "" for _, text, _ in got))  # all of it, as sent


def test_max_tokens_cuts_each_choice_with_length(server: Server) -> None:
    with client(server) as c:
        stream = c.chat.completions.create(model="gpt-4o", messages=MESSAGES, n=2, max_tokens=3, stream=True)
        reasons = {ch.index: ch.finish_reason for chunk in stream for ch in chunk.choices if ch.finish_reason}
    assert reasons == {0: "length", 1: "length"}
    assert [reason for _, _, reason in sent(server)] == ["length", "length"]


@pytest.mark.parametrize(
    "faults",
    ["fragment 1-5 bytes", "fragment coalesce=true", "fragment 3-40 bytes coalesce=true", "bandwidth 20000"],
)
def test_re_sliced_writes_keep_each_choices_text(server: Server, faults: str) -> None:
    headers = {"X-FakeLLM-Seed": "9", "X-FakeLLM-Faults": faults}
    body = raw_request(server.port, chat_body(n=2), headers=headers).body
    texts = by_index(body)
    assert sent(server) == [(0, texts[0], "stop"), (1, texts[1], "stop")]


def test_a_drop_keeps_what_each_choice_sent_and_no_finish(server: Server) -> None:
    headers = {"X-FakeLLM-Seed": "9", "X-FakeLLM-Faults": "drop@5"}
    body = raw_request(server.port, chat_body(n=2), headers=headers).body
    texts = by_index(body)
    entry = server.journal.last
    assert entry is not None and entry.outcome == "dropped" and entry.tokens_sent == 5
    # Choice 0 sent tokens 1, 3 and 5 of the stream, choice 1 tokens 2 and 4.
    assert sent(server) == [(0, texts[0], None), (1, texts[1], None)]
    full = raw_request(server.port, chat_body(n=2), headers={"X-FakeLLM-Seed": "9"}).body
    assert by_index(full)[0].startswith(texts[0]) and len(texts[0]) < len(by_index(full)[0])


def test_a_non_streamed_answer_lists_every_choice(server: Server) -> None:
    with client(server) as c:
        done = c.chat.completions.create(model="gpt-4o", messages=MESSAGES, n=2)
    assert sent(server) == [(ch.index, ch.message.content, ch.finish_reason) for ch in done.choices]


def test_completions_choices_and_the_journal_route(server: Server) -> None:
    with client(server) as c:
        stream = c.completions.create(model="gpt-4o", prompt=["a", "b"], n=2, stream=True)
        texts: dict[int, str] = {}
        for chunk in stream:
            for choice in chunk.choices:
                texts[choice.index] = texts.get(choice.index, "") + choice.text
    assert [(i, t) for i, t, _ in sent(server)] == sorted(texts.items())
    assert len(texts) == 4
    journal = httpx.get(f"{server.url}/_fakellm/journal", timeout=10).json()
    assert journal[-1]["choices"][3] == {
        "index": 3,
        "text": texts[3],
        "finish_reason": "stop",
        "truncated": False,
    }
    assert journal[-1]["turn"] is None


def test_one_choice_lists_none(server: Server) -> None:
    with client(server) as c:
        c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert sent(server) == []


def test_choices_over_the_journals_budget_keep_their_first_characters() -> None:
    journal = Journal(budget_bytes=100)
    entry = journal.open(time=0.0, method="POST", path="/v1/chat/completions", status=200)
    entry.plan_choices(["stop", "length"], ["a" * 5000, "b"])
    entry.outcome = "completed"
    entry.settled()
    assert [(c.text, c.finish_reason, c.truncated) for c in entry.choices] == [
        ("a" * PREFIX_CHARS, "stop", True),
        ("b", "length", False),
    ]
