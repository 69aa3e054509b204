"""The pitfalls openai-python's ``chat.completions.stream()`` punishes (../shared/wire2.md §4.4),
pinned on our encoder through the helper itself, not only the raw iterator: it concatenates every
string it sees again (a repeated id, name or role would read ``call_Acall_A``), assigns tool calls
and choices by index into lists sized by what it saw first (index 1 before 0 is an IndexError), and
skips every chunk without ``"object"``. Each under faults that re-slice or coalesce the writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from fakellm import Server
from tests.helpers import sse_data

MakeServer = Callable[..., Server]
SCENARIOS: list[dict[str, Any]] = [
    {
        "name": "parallel",
        "content": {"text": "Checking both."},
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris"}},
            {"name": "get_time", "arguments": {"tz": "Europe/Paris"}, "id": "call_fixed"},
        ],
    },
    {"name": "words", "content": {"text": "one two three four five six seven"}},
]
# None, and faults that cut writes anywhere (inside JSON strings, between chunks) or merge them.
SLICINGS = [None, "fragment 1-7 bytes", "fragment coalesce", "fragment 1-3 bytes coalesce", "sse crlf"]
MESSAGES: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]


@pytest.fixture(scope="module")
def server() -> Any:
    started = Server(scenarios=SCENARIOS, seed=5).start()
    yield started
    started.stop()


def client(server: Server, faults: str | None) -> openai.OpenAI:
    headers = {"X-FakeLLM-Faults": faults} if faults else {}
    return openai.OpenAI(
        base_url=server.base_url, api_key="sk", max_retries=0, timeout=10, default_headers=headers
    )


@pytest.mark.parametrize("faults", SLICINGS)
def test_parallel_calls_accumulate_exact_ids_names_and_role(server: Server, faults: str | None) -> None:
    with (
        client(server, faults) as c,
        c.chat.completions.stream(model="parallel", messages=MESSAGES) as stream,
    ):
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.role == "assistant" and message.content == "Checking both."
    calls = message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert [c.type for c in calls] == ["function", "function"]
    first, second = calls
    assert first.id.startswith("call_") and len(first.id) == len("call_") + 24, first.id
    assert second.id == "call_fixed"
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Paris"}, {"tz": "Europe/Paris"}]
    # The helper's per-call events came in index order, each once.
    assert [(e.index, e.name) for e in done] == [(0, "get_weather"), (1, "get_time")]
    assert final.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("faults", SLICINGS)
def test_two_choices_accumulate_in_index_order(server: Server, faults: str | None) -> None:
    with (
        client(server, faults) as c,
        c.chat.completions.stream(model="words", messages=MESSAGES, n=2) as stream,
    ):
        indices = [e.snapshot.choices[-1].index for e in stream if e.type == "chunk"]
        final = stream.get_final_completion()
    assert [choice.index for choice in final.choices] == [0, 1]
    assert final.choices[0].message.content == "one two three four five six seven"
    assert final.choices[1].message.content  # seeded apart, its own text
    assert all(choice.message.role == "assistant" for choice in final.choices)
    assert all(choice.finish_reason == "stop" for choice in final.choices)
    assert indices and indices[-1] == 1


@pytest.mark.parametrize(
    ("scenario", "body", "faults"),
    [
        ("words", {}, None),
        ("words", {"stream_options": {"include_usage": True}}, None),
        ("words", {"n": 2, "stream_options": {"include_usage": True}}, "fragment coalesce"),
        ("parallel", {"stream_options": {"include_usage": True}}, "fragment 1-5 bytes"),
        ("words", {}, "slow_tokens@2 3"),
        ("words", {}, "truncate@3"),
        ("words", {"stream_options": {"include_usage": True}}, "stall@2 50ms"),
        ("parallel", {}, "error_event@20"),
    ],
)
def test_every_chunk_carries_its_object(
    server: Server, scenario: str, body: dict[str, Any], faults: str | None
) -> None:
    headers = {"X-FakeLLM-Faults": faults} if faults else {}
    raw = httpx.post(
        f"{server.base_url}/chat/completions",
        json={"model": scenario, "messages": MESSAGES, "stream": True, **body},
        headers=headers,
        timeout=10,
    )
    assert raw.status_code == 200, raw.text
    chunks = [json.loads(d) for d in sse_data(raw.content) if d != "[DONE]"]
    assert chunks
    errors = [c for c in chunks if "error" in c]
    # OpenAI's own mid-stream error is {"error": {...}} with no "object": the SDK raises on it
    # before the helper's object check, so it must stay so.
    assert all(set(c) == {"error"} for c in errors)
    assert len(errors) == (1 if faults and faults.startswith("error_event") else 0)
    others = [c for c in chunks if "error" not in c]
    assert others and all(c.get("object") == "chat.completion.chunk" for c in others), others
    if body.get("stream_options"):
        assert others[-1]["choices"] == [] and others[-1]["usage"]["completion_tokens"] > 0


def test_the_helper_raises_on_an_error_event_it_would_otherwise_skip(server: Server) -> None:
    with (
        client(server, "error_event@20") as c,
        pytest.raises(openai.APIError),
        c.chat.completions.stream(model="parallel", messages=MESSAGES) as stream,
    ):
        stream.get_final_completion()
