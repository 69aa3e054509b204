"""Scripted tool calls on Chat Completions, read by the official openai SDK's streaming helper
(``ChatCompletionStreamState``: it concatenates every string it sees again, so a repeated id or name
would show), its raw iterator and the non-streamed answer; and the scenario file's rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from fakellm import Server, load_scenario_files
from fakellm.errors import ScenarioError
from tests.helpers import UNUSED_PLUGINS

MakeServer = Callable[..., Server]
MESSAGES: list[Any] = [{"role": "user", "content": "Weather in Paris and the time?"}]
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
SCENARIOS = [
    {
        "name": "weather",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}],
    },
    {
        "name": "two-calls-after-text",
        "content": {"text": "Let me look that up."},
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_fixed"},
            {"name": "get_time", "arguments": '{"tz": "Europe/Paris"'},  # invalid JSON on purpose
        ],
    },
]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(seed=3, scenarios=SCENARIOS)


def client(server: Server, faults: str | None = None) -> openai.OpenAI:
    headers = {"X-FakeLLM-Faults": faults} if faults else {}
    return openai.OpenAI(
        base_url=server.base_url, api_key="sk", max_retries=0, timeout=10, default_headers=headers
    )


def test_the_stream_helper_accumulates_the_call(server: Server) -> None:
    with (
        client(server) as c,
        c.chat.completions.stream(model="weather", messages=MESSAGES, tools=TOOLS) as stream,
    ):
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert call.id.startswith("call_") and len(call.id) == 29  # drawn, in OpenAI's shape


def test_text_then_two_calls_with_a_fixed_id_and_raw_arguments(server: Server) -> None:
    with (
        client(server) as c,
        c.chat.completions.stream(model="two-calls-after-text", messages=MESSAGES, tools=TOOLS) as stream,
    ):
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Let me look that up."
    calls = message.tool_calls or []
    assert (calls[0].id, calls[0].function.name) == ("call_fixed", "get_weather")
    assert calls[1].function.name == "get_time"
    assert calls[1].function.arguments == '{"tz": "Europe/Paris"'  # sent exactly as written


def test_the_ids_replay_under_a_seed(server: Server) -> None:
    def ids() -> list[str]:
        with client(server) as c:
            chunks = list(c.chat.completions.create(model="weather", messages=MESSAGES, stream=True))
        return [t.id for ch in chunks for d in ch.choices for t in (d.delta.tool_calls or []) if t.id]

    assert ids() == ids() and len(ids()) == 1


def test_a_drop_cuts_a_call_in_the_middle_of_its_arguments(server: Server) -> None:
    fragments: list[str] = []
    with client(server, "drop@3") as c, pytest.raises(openai.APIConnectionError):
        for chunk in c.chat.completions.create(model="weather", messages=MESSAGES, stream=True):
            for delta_call in chunk.choices[0].delta.tool_calls or []:
                if delta_call.function and delta_call.function.arguments:
                    fragments.append(delta_call.function.arguments)
    assert len(fragments) == 3
    whole = json.dumps({"city": "Paris", "unit": "celsius"}, separators=(",", ":"))
    assert whole.startswith("".join(fragments)) and "".join(fragments) != whole
    entry = server.journal.last
    assert entry is not None and entry.outcome == "dropped"


def test_the_non_streamed_answer_has_the_calls(server: Server) -> None:
    with client(server) as c:
        answer = c.chat.completions.create(model="weather", messages=MESSAGES, tools=TOOLS)
    message = answer.choices[0].message
    assert answer.choices[0].finish_reason == "tool_calls" and message.content is None
    (call,) = message.tool_calls or []
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert answer.usage is not None and answer.usage.completion_tokens > 5  # the argument tokens


def test_max_tokens_cuts_the_arguments_with_length(server: Server) -> None:
    with client(server) as c:
        answer = c.chat.completions.create(model="weather", messages=MESSAGES, max_tokens=4)
    choice = answer.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.tool_calls is not None
    assert len(choice.message.tool_calls[0].function.arguments) < len('{"city":"Paris","unit":"celsius"}')


def test_another_format_says_it_does_not_stream_tool_calls_yet(server: Server) -> None:
    # Legacy completions never stream tool calls (the API has none).
    answer = httpx.post(
        f"{server.url}/v1/completions",
        json={"model": "weather", "max_tokens": 100, "prompt": "Weather in Paris?"},
        timeout=10,
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "unsupported_scenario" and "tool calls" in error["message"]


def test_the_plugin_script_takes_tool_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import json

        def test_call(fakellm):
            fakellm.script(tool_calls=[{"name": "lookup", "arguments": {"q": "x"}}])
            with fakellm.openai_client() as c, c.chat.completions.stream(
                model="m", messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                final = stream.get_final_completion()
            message = final.choices[0].message
            assert message.content is None
            assert json.loads(message.tool_calls[0].function.arguments) == {"q": "x"}
        """
    )
    assert pytester.runpytest_subprocess("-p", "no:randomly", *UNUSED_PLUGINS).ret == 0


@pytest.mark.parametrize(
    ("scenario", "field", "reason"),
    [
        ({"name": "s", "finish_reason": "tool_calls"}, "finish_reason", "no tool_calls"),
        ({"name": "s", "tool_calls": []}, "tool_calls", "non-empty list"),
        ({"name": "s", "tool_calls": [{"arguments": {}}]}, "tool_calls[0].name", "required"),
        ({"name": "s", "tool_calls": [{"name": "a b"}]}, "tool_calls[0].name", "letters"),
        ({"name": "s", "tool_calls": [{"name": "f", "arguments": 3}]}, "tool_calls[0].arguments", "mapping"),
        ({"name": "s", "tool_calls": [{"name": "f", "args": {}}]}, "tool_calls[0].args", "unknown field"),
    ],
)
def test_scenario_file_mistakes_name_the_line_and_field(
    tmp_path: Path, scenario: dict[str, Any], field: str, reason: str
) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"scenarios": [scenario]}, indent=1))
    with pytest.raises(ScenarioError) as raised:
        load_scenario_files([path])
    message = str(raised.value)
    assert f"field '{field}'" in message and reason in message and "s.json:" in message
