"""The Node clients (openai-node, the Vercel AI SDK with @ai-sdk/openai and @ai-sdk/anthropic,
# One Node process plays every case (the module fixture ``results``): the module's tests are one
# xdist group, so that it runs once, on one worker.
pytestmark = pytest.mark.xdist_group("node-clients")

@anthropic-ai/sdk) against a real fakellm server: the default text, faults, and scripted tool calls.

``tests/node/clients.mjs`` runs every case concurrently in one node process (a process per case
would cost a second each) and prints a JSON line per case; the test module runs it once and each
test asserts on its own line. Locally the tests skip without ``tests/node/node_modules``; under
``CI`` they fail instead, so CI cannot skip them silently (``.ci/run`` runs ``npm ci``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakellm.server import Server

NODE_DIR = Path(__file__).parent.parent / "node"
SCRIPT = NODE_DIR / "clients.mjs"

STREAMING = [
    "openai.chat.create",
    "openai.chat.stream",
    "openai.responses.stream",
    "openai.responses.create",
    "anthropic.messages.stream",
    "ai.chat.streamText",
    "ai.responses.streamText",
    "ai.anthropic.streamText",
]
# generateText asks for a non-streamed body: error_event and drop act on stream events and
# frames, so only the 429 (before any byte) applies to it.
GENERATE = ["ai.chat.generateText", "ai.responses.generateText", "ai.anthropic.generateText"]
LEGACY = ["openai.completions.create", "openai.embeddings.create", "ai.embed"]
# Scripted tool calls, alone and (":text") after a sentence, read by streamText's fullStream and
# openai-node's stream helper.
TOOLS = ["ai.chat.tools", "ai.responses.tools", "ai.anthropic.tools", "openai.chat.stream.tools"]
SCENARIOS: list[dict[str, Any]] = [
    {"name": "weather", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    {
        "name": "weather-after-text",
        "content": {"text": "Let me check the weather."},
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    },
    {"name": "weather-auto", "tool_calls": "auto"},  # ":auto": picked from the request's tools
    {"name": "chat", "content": {"text": "Just chatting."}},  # ":forced": the request's tool_choice
]

CASES = (
    [*STREAMING, *GENERATE, *LEGACY, *TOOLS]
    + [f"{c}:{v}" for c in TOOLS for v in ("text", "auto", "forced")]
    + [f"{c}:{f}" for c in STREAMING for f in ("error", "drop", "429")]
    + [f"{c}:429" for c in GENERATE]
)


def _ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


@pytest.fixture(scope="module")
def results() -> Callable[[str], dict[str, Any]]:
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    elif not (NODE_DIR / "node_modules").is_dir():
        missing = "tests/node/node_modules is missing: run `npm ci --prefix tests/node`"
    if missing:
        if _ci():
            pytest.fail(f"CI must run the Node client tests: {missing}")
        pytest.skip(missing)
    server = Server(scenarios=SCENARIOS).start()
    try:
        out = subprocess.run(
            ["node", str(SCRIPT), server.base_url, *CASES],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        journal = httpx.get(f"{server.url}/_fakellm/journal", timeout=10).json()
    finally:
        server.stop()
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    by_case = {r["case"]: r for r in lines}
    assert out.returncode == 0 and len(by_case) == len(CASES), out.stderr[-3000:]
    by_case["journal"] = {"statuses": [entry["status"] for entry in journal]}

    def get(case: str) -> dict[str, Any]:
        return by_case[case]

    return get


@pytest.mark.parametrize("case", [*STREAMING, *GENERATE])
def test_client_reads_the_whole_stream(results: Callable[[str], dict[str, Any]], case: str) -> None:
    r = results(case)
    assert r["ok"], r["error"]
    assert r["error"] is None
    assert len(r["text"]) > 50


@pytest.mark.parametrize("case", [c for c in STREAMING if not c.startswith("ai.")])
def test_sdk_raises_on_a_mid_stream_error(results: Callable[[str], dict[str, Any]], case: str) -> None:
    r = results(f"{case}:error")
    assert not r["ok"]
    assert r["error"].startswith("APIError: ")


@pytest.mark.parametrize("case", [c for c in STREAMING if c.startswith("ai.")])
def test_ai_sdk_yields_an_error_part(results: Callable[[str], dict[str, Any]], case: str) -> None:
    r = results(f"{case}:error")
    assert "error" in r["parts"]
    assert "AI_StreamProviderError" in r["error"]
    assert "text-delta" in r["parts"]


@pytest.mark.parametrize("case", STREAMING)
def test_client_surfaces_a_drop(results: Callable[[str], dict[str, Any]], case: str) -> None:
    r = results(f"{case}:drop")
    assert not r["ok"]
    assert "terminated" in r["error"] or "Failed to process successful response" in r["error"]


@pytest.mark.parametrize("case", [*STREAMING, *GENERATE])
def test_client_retries_a_429(results: Callable[[str], dict[str, Any]], case: str) -> None:
    r = results(f"{case}:429")
    assert r["ok"], r["error"]
    assert len(r["text"]) > 50


def test_every_429_case_was_answered_429_once(results: Callable[[str], dict[str, Any]]) -> None:
    # The retry tests above prove something only if each case really got its 429 first.
    assert results("journal")["statuses"].count(429) == sum(c.endswith(":429") for c in CASES)


def test_openai_node_streams_legacy_completions(results: Callable[[str], dict[str, Any]]) -> None:
    r = results("openai.completions.create")
    assert r["ok"], r["error"]
    assert len(r["text"]) > 50


@pytest.mark.parametrize("case", ["openai.embeddings.create", "ai.embed"])
def test_embeddings(results: Callable[[str], dict[str, Any]], case: str) -> None:
    r = results(case)
    assert r["ok"], r["error"]
    assert r["parts"] == ["1536"]  # the vector's length


@pytest.mark.parametrize("variant", ["", ":text"])
@pytest.mark.parametrize("case", TOOLS)
def test_client_reads_a_tool_call(results: Callable[[str], dict[str, Any]], case: str, variant: str) -> None:
    r = results(case + variant)
    assert r["ok"], r["error"]
    (call,) = r["calls"]
    assert (call["toolName"], call["input"]) == ("get_weather", {"city": "Paris"})
    # The id is the one the format draws: Anthropic's toolu_, OpenAI's call_ (Responses' call_id).
    assert call["id"].startswith("toolu_01" if "anthropic" in case else "call_")
    assert r["text"] == ("Let me check the weather." if variant else "")
    finish = "tool_calls" if case.startswith("openai.") else "tool-calls"
    assert r["parts"][0] == finish


@pytest.mark.parametrize("case", [c for c in TOOLS if c.startswith("ai.")])
def test_ai_sdk_streams_the_tool_input(results: Callable[[str], dict[str, Any]], case: str) -> None:
    # The input arrives as deltas between tool-input-start and -end, then the parsed tool-call.
    parts = results(case)["parts"]
    assert "text-delta" not in parts
    calls = ["tool-input-start", "tool-input-delta", "tool-input-end", "tool-call", "finish"]
    assert [p for p in parts if p in calls] == calls
    assert "text-delta" in results(f"{case}:text")["parts"]


@pytest.mark.parametrize("variant", ["auto", "forced"])
@pytest.mark.parametrize("case", TOOLS)
def test_client_reads_a_call_chosen_from_the_request(
    results: Callable[[str], dict[str, Any]], case: str, variant: str
) -> None:
    # get_weather is the request's only tool: its arguments are generated from its schema
    # ({city: string}, required, nothing else), and a forced call comes without the text.
    r = results(f"{case}:{variant}")
    assert r["ok"], r["error"]
    (call,) = r["calls"]
    assert call["toolName"] == "get_weather"
    assert list(call["input"]) == ["city"] and isinstance(call["input"]["city"], str)
    assert r["text"] == ""
    assert r["parts"][0] == ("tool_calls" if case.startswith("openai.") else "tool-calls")
