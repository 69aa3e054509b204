"""The three streaming routes agree: a fault position counts content tokens in every format, and a
seed gives byte-identical bodies on each route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest

from fakellm import Server

MakeServer = Callable[..., Server]
MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]
BODIES = {
    "/v1/chat/completions": {"model": "m", "messages": MESSAGES, "stream": True},
    "/v1/responses": {"model": "m", "input": "Hi", "stream": True},
    "/v1/messages": {"model": "m", "max_tokens": 1000, "messages": MESSAGES, "stream": True},
}


@pytest.fixture
def faker_server(make_server: MakeServer) -> Server:
    server: Server = make_server(scenarios=[{"name": "default", "content": {"faker": {"paragraphs": 1}}}])
    return server


def texts(server: Server, faults: str) -> list[str]:
    """The text each SDK accumulated before the stream ended or broke, Chat, Responses, Messages."""
    headers = {"X-FakeLLM-Faults": faults, "X-FakeLLM-Seed": "11"}
    out: list[str] = []
    parts: list[str] = []
    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, default_headers=headers) as c:
        try:
            for chunk in c.chat.completions.create(model="m", messages=MESSAGES, stream=True):
                parts.extend(ch.delta.content or "" for ch in chunk.choices)
        except openai.APIConnectionError:
            pass
        out.append("".join(parts))
        parts = []
        try:
            for event in c.responses.create(model="m", input="Hi", stream=True):
                if event.type == "response.output_text.delta":
                    parts.append(event.delta)
        except openai.APIConnectionError:
            pass
        out.append("".join(parts))
    parts = []
    with anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0, default_headers=headers) as a:
        try:
            with a.messages.stream(model="m", max_tokens=1000, messages=MESSAGES) as stream:
                parts.extend(stream.text_stream)
        except Exception:
            pass
        out.append("".join(parts))
    return out


@pytest.mark.parametrize("faults", ["truncate@4", "drop@4"])
def test_a_fault_position_counts_tokens_in_every_format(faker_server: Server, faults: str) -> None:
    chat, responses, messages = texts(faker_server, faults)
    assert chat and chat == responses == messages


@pytest.mark.parametrize("path", list(BODIES))
def test_a_seed_gives_identical_bytes(faker_server: Server, path: str) -> None:
    def body(seed: str) -> bytes:
        answer = httpx.post(f"{faker_server.url}{path}", json=BODIES[path], headers={"X-FakeLLM-Seed": seed})
        return answer.content

    assert body("5") == body("5")
    assert body("5") != body("6")


def test_match_path_keeps_a_scenario_to_one_format(make_server: MakeServer) -> None:
    server = make_server(
        scenarios=[
            {"name": "claude-only", "match": {"path": "/v1/messages"}, "content": {"text": "Only here."}},
            {"name": "default", "content": {"text": "Everywhere else."}},
        ]
    )
    for path, body in BODIES.items():
        answer = httpx.post(f"{server.url}{path}", json={**body, "stream": False}, timeout=10)
        assert answer.status_code == 200
        want = "claude-only" if path == "/v1/messages" else "default"
        assert answer.headers["x-fakellm-scenario"] == want, path
