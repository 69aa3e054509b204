"""A real agent loop (model -> tool -> model -> tool -> model -> answer) against a real
``fakellm serve`` process reading one scenario file (fixtures/scenarios/agent-weather.yaml), through
the official SDKs' streaming helpers. The first stream answering turn 2 breaks in the middle of the
tool call's arguments (a per-turn ``drop``, ``times: 1``): the agent must retry the same request.
The journal shows the dropped attempt and the retry. The Node side is tests/e2e/test_node_clients.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import httpx
import httpx2
import openai
import pytest

from fakellm import Server, load_scenario_files
from fakellm.errors import ScenarioError
from tests.helpers import fakellm_process

SCENARIO_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios" / "agent-weather.yaml"
LISTENING = re.compile(r"fakellm listening on (http://127\.0\.0\.1:\d+)/v1\b")
T = TypeVar("T")


# -- the agent's tools ------------------------------------------------------------------------------
def get_weather(city: str) -> str:
    return f"18 C and sunny in {city}"


def convert_temperature(celsius: float, to: str) -> str:
    assert to == "fahrenheit"
    return f"{celsius * 9 / 5 + 32:.1f} F"


TOOLS: dict[str, Callable[..., str]] = {
    "get_weather": get_weather,
    "convert_temperature": convert_temperature,
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "get_weather": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "convert_temperature": {
        "type": "object",
        "properties": {"celsius": {"type": "number"}, "to": {"type": "string"}},
        "required": ["celsius", "to"],
    },
}
CHAT_TOOLS: list[Any] = [
    {"type": "function", "function": {"name": name, "parameters": schema}} for name, schema in SCHEMAS.items()
]
ANTHROPIC_TOOLS: list[Any] = [{"name": name, "input_schema": schema} for name, schema in SCHEMAS.items()]
QUESTION = "What is the weather in Paris, in Fahrenheit?"
FINAL = "In Paris it is 64.4 F."  # turn 3 quotes the last tool result


@dataclass
class Run:
    answer: str = ""
    calls: list[str] = field(default_factory=list)  # the tools the agent ran, in order
    failures: list[Exception] = field(default_factory=list)  # the broken streams it retried


def retrying(run: Run, errors: tuple[type[Exception], ...], attempt: Callable[[], T], tries: int = 3) -> T:
    """The agent's own retry: a stream that breaks half-way is asked again, whole (the SDKs retry
    a failed request before its first byte, never a stream that already started)."""
    for _ in range(tries - 1):
        try:
            return attempt()
        except errors as exc:
            run.failures.append(exc)
    return attempt()


def openai_agent(client: openai.OpenAI, max_steps: int = 5) -> Run:
    run = Run()
    messages: list[Any] = [{"role": "user", "content": QUESTION}]

    def step() -> Any:
        with client.chat.completions.stream(model="agent-weather", messages=messages, tools=CHAT_TOOLS) as s:
            return s.get_final_completion().choices[0]

    for _ in range(max_steps):
        choice = retrying(run, (openai.APIConnectionError,), step)
        messages.append(choice.message.model_dump(exclude_none=True, exclude={"parsed"}))
        if choice.finish_reason != "tool_calls":
            run.answer = choice.message.content or ""
            return run
        for call in choice.message.tool_calls or []:
            run.calls.append(call.function.name)
            result = TOOLS[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise AssertionError(f"no answer after {max_steps} steps")


def anthropic_agent(client: anthropic.Anthropic, max_steps: int = 5) -> Run:
    run = Run()
    messages: list[Any] = [{"role": "user", "content": QUESTION}]

    def step() -> Any:
        with client.messages.stream(
            model="agent-weather", max_tokens=512, messages=messages, tools=ANTHROPIC_TOOLS
        ) as s:
            return s.get_final_message()

    # anthropic 2.x lets httpx2's transport error through unwrapped on a dropped stream.
    errors = (anthropic.APIConnectionError, httpx2.TransportError)
    for _ in range(max_steps):
        message = retrying(run, errors, step)
        messages.append(
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]}
        )
        if message.stop_reason != "tool_use":
            run.answer = "".join(b.text for b in message.content if b.type == "text")
            return run
        results = []
        for use in (b for b in message.content if b.type == "tool_use"):
            run.calls.append(use.name)
            result = TOOLS[use.name](**use.input)
            results.append({"type": "tool_result", "tool_use_id": use.id, "content": result})
        messages.append({"role": "user", "content": results})
    raise AssertionError(f"no answer after {max_steps} steps")


# -- a real `fakellm serve` per test: `times: 1` counts per server ------------------------------------
@dataclass
class Served:
    url: str  # without /v1

    def journal(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/_fakellm/journal", timeout=10).json()


@pytest.fixture
def served() -> Iterator[Served]:
    with fakellm_process("serve", "--port", "0", "--scenarios", str(SCENARIO_FILE)) as process:
        found = LISTENING.search(process.first_line)
        assert found, process.first_line
        yield Served(found.group(1))
    assert process.process.returncode == 0, process.err


def assert_dropped_then_retried(journal: list[dict[str, Any]]) -> None:
    # Turn 1, turn 2 broken inside convert_temperature's arguments, turn 2 again whole, turn 3.
    assert [e["outcome"] for e in journal] == ["completed", "dropped", "completed", "completed"]
    dropped, retried = journal[1], journal[2]
    assert [f["fault"] for f in dropped["faults"]] == ["drop"] and dropped["faults"][0]["at_token"] == 4
    (cut,) = dropped["tool_calls"]
    assert cut["name"] == "convert_temperature" and cut["arguments"] == '{"celsius'
    assert retried["faults"] == [] and retried["request"] == dropped["request"]
    (whole,) = retried["tool_calls"]
    assert json.loads(whole["arguments"]) == {"celsius": 18, "to": "fahrenheit"}


def test_openai_agent_survives_a_drop_in_the_second_turns_arguments(served: Served) -> None:
    with openai.OpenAI(base_url=f"{served.url}/v1", api_key="sk", max_retries=2, timeout=10) as client:
        run = openai_agent(client)
    assert run.calls == ["get_weather", "convert_temperature"]
    assert run.answer == FINAL
    (failure,) = run.failures
    assert isinstance(failure, openai.APIConnectionError)
    journal = served.journal()
    assert_dropped_then_retried(journal)
    # The weather reached the model: turn 2's request holds get_weather's result.
    assert journal[1]["request"]["messages"][-1]["content"] == get_weather("Paris")


def test_anthropic_agent_survives_a_drop_in_the_second_turns_arguments(served: Served) -> None:
    with anthropic.Anthropic(base_url=served.url, api_key="sk", max_retries=2, timeout=10) as client:
        run = anthropic_agent(client)
    assert run.calls == ["get_weather", "convert_temperature"]
    assert run.answer == FINAL
    (failure,) = run.failures
    # anthropic-python up to 2.16 let the transport's error through; 2.17 wraps it, as openai does.
    assert isinstance(failure, (httpx2.RemoteProtocolError, anthropic.APIConnectionError))
    journal = served.journal()
    assert_dropped_then_retried(journal)
    (result,) = journal[1]["request"]["messages"][-1]["content"]
    assert result["content"] == get_weather("Paris")


def test_without_a_retry_the_broken_turn_reaches_the_agent(served: Served) -> None:
    # The same loop allowed one try: the drop is the agent's problem, not hidden by the SDK.
    with openai.OpenAI(base_url=f"{served.url}/v1", api_key="sk", max_retries=2, timeout=10) as client:
        messages: list[Any] = [{"role": "user", "content": QUESTION}]
        first = client.chat.completions.create(model="agent-weather", messages=messages, tools=CHAT_TOOLS)
        (call,) = first.choices[0].message.tool_calls or []
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny"})
        with (
            pytest.raises(openai.APIConnectionError),
            client.chat.completions.stream(model="agent-weather", messages=messages, tools=CHAT_TOOLS) as s,
        ):
            s.get_final_completion()
    # A non-streamed first turn: the drop (a stream fault) is turn 2's only.
    assert [e["outcome"] for e in served.journal()] == ["completed", "dropped"]


# -- Node: the AI SDK's streamText with tools, stopWhen and maxRetries (tests/node/agent.mjs) ----------
NODE_DIR = Path(__file__).parent.parent / "node"
PROVIDERS = ["chat", "responses", "anthropic"]


def node(base_url: str, mode: str, provider: str) -> dict[str, Any]:
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    elif not (NODE_DIR / "node_modules").is_dir():
        missing = "tests/node/node_modules is missing: run `npm ci --prefix tests/node`"
    if missing:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"CI must run the Node agent tests: {missing}")
        pytest.skip(missing)
    out = subprocess.run(
        ["node", str(NODE_DIR / "agent.mjs"), base_url, mode, provider],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.startswith("{"), out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize("provider", PROVIDERS)
def test_ai_sdk_agent_survives_a_drop_in_the_second_turns_arguments(served: Served, provider: str) -> None:
    r = node(f"{served.url}/v1", "loop", provider)
    assert r["ok"], r
    assert r["ran"] == ["get_weather", "convert_temperature"]
    assert r["text"] == FINAL
    # The AI SDK's maxRetries and streamRetries do not cover a connection dropped mid-stream: the
    # loop's own retry resumed from the finished steps, so the dropped step was asked once more.
    assert r["failures"] == ["APICallError: Failed to process successful response"]
    assert r["steps"] == ["tool-calls", "tool-calls", "stop"]
    assert_dropped_then_retried(served.journal())


WEATHER = {"name": "weather", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_what_the_ai_sdk_surfaces_for_a_fault_in_a_tool_calls_arguments(
    make_server: Callable[..., Server], provider: str
) -> None:
    server = make_server(scenarios=[WEATHER])
    cases = node(server.base_url, "faults", provider)["cases"]
    # An error event mid-arguments is an error part; the step still finishes. Chat's provider
    # even emits the cut call, its input the raw fragment, and the SDK answers it with tool-error.
    error = cases["error"]
    assert len(error["errors"]) == 1 and error["errors"][0].startswith("StreamProviderError: ")
    assert error["thrown"] is None and "finish" in error["parts"]
    if provider == "chat":
        assert error["calls"] == ['{"city'] and "tool-error" in error["parts"]
    else:
        assert error["calls"] == [] and "tool-call" not in error["parts"]
    # streamRetries reruns the step after an error part: the second stream has the whole call.
    retried = cases["error+streamRetries"]
    assert retried["calls"] == [{"city": "Paris"}] and retried["errors"] == []
    # A drop rejects the stream's read: fullStream throws, no tool-call part.
    drop = cases["drop"]
    assert drop["thrown"] == "APICallError: Failed to process successful response"
    assert drop["calls"] == [] and "tool-input-delta" in drop["parts"]
    # streamRetries does not cover it: the read rejects, no error part comes to retry on.
    dropped = cases["drop+streamRetries"]
    assert dropped["thrown"] == "APICallError: Failed to process successful response"
    assert dropped["calls"] == []


# -- the turn's faults in the scenario file ---------------------------------------------------------
def test_the_same_fault_on_two_turns_counts_apart(make_server: Callable[..., Server]) -> None:
    # One `drop@2 times: 1` on turns 1 and 2, and one on the scenario: the scenario's breaks the first
    # request only; each turn's breaks the first stream answering that turn.
    drop = {"type": "drop", "after_tokens": 2, "times": 1}
    server = make_server(
        scenarios=[
            {
                "name": "s",
                "faults": [{"type": "error_event", "after_tokens": 1, "times": 1}],
                "turns": [
                    {"content": {"text": "one two three four"}, "faults": [drop]},
                    {"content": {"text": "five six seven eight"}, "faults": [drop]},
                    {"content": {"text": "nine ten eleven"}},
                ],
            }
        ]
    )
    turn = [[{"role": "user", "content": "hi"}]]
    for _ in (1, 2):
        turn.append([*turn[-1], {"role": "assistant", "content": "x"}, {"role": "user", "content": "go"}])
    sent = [0, 0, 1, 1, 2, 2]  # each turn twice
    with openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10) as client:
        for k in sent:
            try:
                with client.chat.completions.stream(model="s", messages=turn[k]) as s:
                    s.get_final_completion()
            except openai.APIError:
                pass
    journal = httpx.get(f"{server.url}/_fakellm/journal", timeout=10).json()
    outcomes = [(e["outcome"], [f["fault"] for f in e["faults"]]) for e in journal]
    assert outcomes == [
        ("error_event", ["error_event"]),  # the scenario's fault fires first (at token 1)
        ("completed", []),
        ("dropped", ["drop"]),
        ("completed", []),
        ("completed", []),
        ("completed", []),
    ]


@pytest.mark.parametrize(
    ("faults", "field", "reason"),
    [
        ("drop", "turns[1].faults", "must be a list"),
        ("[{type: drop, after_tokens: -1}]", "turns[1].faults[0].after_tokens", "must be >= 0"),
        ("[{type: nope}]", "turns[1].faults[0].type", "unknown fault 'nope'"),
        ('["drop@x"]', "turns[1].faults[0]", "drop"),
    ],
)
def test_a_bad_turn_fault_names_its_file_line_and_field(
    tmp_path: Path, faults: str, field: str, reason: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"scenarios:\n  - name: s\n    turns:\n      - {{}}\n      - faults: {faults}\n")
    with pytest.raises(ScenarioError) as raised:
        load_scenario_files([path])
    message = str(raised.value)
    assert f"field '{field}'" in message and reason in message and "s.yaml:5" in message, message
