"""Conversations by tool (``after_tool:``): a two-tool agent through the official SDKs on every
format. Turn 1 calls ``get_weather``; the turn that names ``get_weather`` answers its result by
calling ``get_time``; the turn that names ``get_time`` answers that one in text. The tool is read
from the request alone: its last message is a tool result, and the assistant call it answers (by
its id) names the tool. The journal says which turn answered."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from fakellm import Server, load_scenario_files
from fakellm.errors import ScenarioError
from fakellm.pipeline import last_tool_name

MakeServer = Callable[..., Server]
TWO_TOOLS: dict[str, Any] = {
    "name": "two-tools",
    "turns": [
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"content": {"text": "Counted turn 2."}},
        {"after_tool": "get_weather", "tool_calls": [{"name": "get_time", "arguments": {"tz": "CET"}}]},
        {"after_tool": "get_time", "content": {"text": "At {tool_result} it is sunny."}},
    ],
}
TOOLS = {"get_weather": lambda city: f"18 C in {city}", "get_time": lambda tz: f"09:00 {tz}"}
CHAT_TOOLS: list[Any] = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}} for name in TOOLS
]
RESPONSES_TOOLS: list[Any] = [
    {"type": "function", "name": name, "parameters": {"type": "object"}} for name in TOOLS
]
ANTHROPIC_TOOLS: list[Any] = [{"name": name, "input_schema": {"type": "object"}} for name in TOOLS]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(scenarios=[TWO_TOOLS])


def turns_journaled(server: Server) -> list[int | None]:
    return [entry.turn for entry in server.journal]


def test_a_chat_agent_gets_the_turn_of_each_tool_result(server: Server) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]
    answers = []
    with openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10) as c:
        for _ in range(3):
            with c.chat.completions.stream(model="two-tools", messages=messages, tools=CHAT_TOOLS) as stream:
                choice = stream.get_final_completion().choices[0]
            answers.append(choice)
            messages.append(choice.message.model_dump(exclude_none=True))
            for call in choice.message.tool_calls or []:
                result = TOOLS[call.function.name](**json.loads(call.function.arguments))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    first, second, third = answers
    assert [call.function.name for call in first.message.tool_calls or []] == ["get_weather"]
    # By count this is turn 2; the request ends with get_weather's result: its turn wins.
    assert [call.function.name for call in second.message.tool_calls or []] == ["get_time"]
    assert third.finish_reason == "stop" and third.message.content == "At 09:00 CET it is sunny."
    assert turns_journaled(server) == [1, 3, 4]


def test_a_responses_agent_gets_the_turn_of_each_function_call_output(server: Server) -> None:
    items: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]
    answers = []
    with openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10) as c:
        for _ in range(3):
            with c.responses.stream(model="two-tools", input=items, tools=RESPONSES_TOOLS) as stream:
                response = stream.get_final_response()
            answers.append(response)
            items += [item.model_dump(exclude_none=True) for item in response.output]
            for item in response.output:
                if item.type == "function_call":
                    result = TOOLS[item.name](**json.loads(item.arguments))
                    items.append({"type": "function_call_output", "call_id": item.call_id, "output": result})
    calls = [[item.name for item in r.output if item.type == "function_call"] for r in answers]
    assert calls == [["get_weather"], ["get_time"], []]
    assert answers[2].output_text == "At 09:00 CET it is sunny."
    assert turns_journaled(server) == [1, 3, 4]


def test_an_anthropic_agent_gets_the_turn_of_each_tool_result_block(server: Server) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]
    answers = []
    with anthropic.Anthropic(base_url=server.url, api_key="sk", max_retries=0, timeout=10) as c:
        for _ in range(3):
            with c.messages.stream(
                model="two-tools", max_tokens=256, messages=messages, tools=ANTHROPIC_TOOLS
            ) as stream:
                message = stream.get_final_message()
            answers.append(message)
            messages.append(
                {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]}
            )
            results = [
                {"type": "tool_result", "tool_use_id": b.id, "content": TOOLS[b.name](**b.input)}  # type: ignore[arg-type]
                for b in message.content
                if b.type == "tool_use"
            ]
            if results:
                messages.append({"role": "user", "content": results})
    calls = [[b.name for b in m.content if b.type == "tool_use"] for m in answers]
    assert calls == [["get_weather"], ["get_time"], []]
    assert [b.text for b in answers[2].content if b.type == "text"] == ["At 09:00 CET it is sunny."]
    assert answers[2].stop_reason == "end_turn"
    assert turns_journaled(server) == [1, 3, 4]


def chat(server: Server, messages: list[Any]) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/chat/completions", json={"model": "two-tools", "messages": messages}, timeout=10
    )


def call(call_id: str, name: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


def test_parallel_results_answer_by_the_last_one(server: Server) -> None:
    """Two calls in one turn, their results in either order: the last result's tool decides (the
    result ``{tool_result}`` quotes)."""
    asked = [
        {"role": "user", "content": "Both?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("w", "get_weather"), call("t", "get_time")],
        },
    ]
    weather = {"role": "tool", "tool_call_id": "w", "content": "rain"}
    time = {"role": "tool", "tool_call_id": "t", "content": "noon"}
    ends_with_time = chat(server, [*asked, weather, time]).json()["choices"][0]["message"]
    assert ends_with_time["content"] == "At noon it is sunny."
    ends_with_weather = chat(server, [*asked, time, weather]).json()["choices"][0]["message"]
    assert ends_with_weather["tool_calls"][0]["function"]["name"] == "get_time"
    assert turns_journaled(server) == [4, 3]


@pytest.mark.parametrize(
    ("tail", "turn"),
    [
        # A user message after the result: no tool result ends the conversation, so by count.
        ([{"role": "tool", "tool_call_id": "w", "content": "rain"}, {"role": "user", "content": "And?"}], 2),
        # A result for a call the conversation does not hold, or for a tool no turn names.
        ([{"role": "tool", "tool_call_id": "nobody", "content": "rain"}], 2),
        ([{"role": "tool", "content": "rain"}], 2),
    ],
)
def test_without_a_named_tools_result_the_count_decides(server: Server, tail: list[Any], turn: int) -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call("w", "get_weather")]},
        *tail,
    ]
    assert chat(server, messages).status_code == 200
    assert turns_journaled(server) == [turn]


def test_a_tool_no_turn_names_is_answered_by_count(make_server: MakeServer) -> None:
    server = make_server(scenarios=[TWO_TOOLS])
    messages = [
        {"role": "user", "content": "News?"},
        {"role": "assistant", "content": None, "tool_calls": [call("n", "get_news")]},
        {"role": "tool", "tool_call_id": "n", "content": "none"},
    ]
    assert chat(server, messages).json()["choices"][0]["message"]["content"] == "Counted turn 2."
    assert turns_journaled(server) == [2]


def test_a_scenario_without_turns_journals_no_turn(make_server: MakeServer) -> None:
    server = make_server(scenarios=[{"name": "default", "content": {"text": "hi"}}])
    assert chat(server, [{"role": "user", "content": "hi"}]).status_code == 200
    assert turns_journaled(server) == [None]
    journal = httpx.get(f"{server.url}/_fakellm/journal", timeout=10).json()
    assert journal[-1]["turn"] is None


@pytest.mark.parametrize(
    ("messages", "name"),
    [
        ([], None),
        ([{"role": "user", "content": "hi"}], None),
        # Malformed shapes a format does not check are skipped, never a crash.
        ([{"role": "assistant", "tool_calls": "x"}, {"role": "tool", "tool_call_id": "a"}], None),
        (
            [
                {"role": "assistant", "tool_calls": [{"id": "a", "function": "f"}]},
                {"role": "tool", "tool_call_id": "a"},
            ],
            None,
        ),
        (
            [
                {"role": "assistant", "content": [1, {"type": "tool_use", "id": "a"}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a"}]},
            ],
            None,
        ),
        ([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": 3}]}], None),
        # Anthropic: the last tool_result block of the last (user) message, a text block beside it.
        (
            [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "a", "name": "f"},
                        {"type": "tool_use", "id": "b", "name": "g"},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "b"},
                        {"type": "tool_result", "tool_use_id": "a"},
                        {"type": "text", "text": "go"},
                    ],
                },
            ],
            "f",
        ),
        # The latest call with that id wins (an id reused later in a long conversation).
        (
            [
                {"role": "assistant", "tool_calls": [call("a", "old")]},
                {"role": "tool", "tool_call_id": "a"},
                {"role": "assistant", "tool_calls": [call("a", "new")]},
                {"role": "tool", "tool_call_id": "a"},
            ],
            "new",
        ),
    ],
)
def test_which_tool_a_conversation_ends_with(messages: list[dict[str, Any]], name: str | None) -> None:
    assert last_tool_name(messages) == name


@pytest.mark.parametrize(
    ("turns", "field", "reason"),
    [
        ([{}, {"after_tool": ""}], "turns[1].after_tool", "non-empty string"),
        ([{}, {"after_tool": 3}], "turns[1].after_tool", "non-empty string"),
        ([{}, {"after_tool": "a b"}], "turns[1].after_tool", "tool name"),
        (
            [{}, {"after_tool": "f"}, {"after_tool": "f"}],
            "turns[2].after_tool",
            "already the after_tool of turn 2",
        ),
        ([{}, {"after_tol": "f"}], "turns[1].after_tol", "did you mean 'after_tool'"),
    ],
)
def test_a_bad_after_tool_names_its_file_line_and_field(
    tmp_path: Path, turns: list[Any], field: str, reason: str
) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"scenarios": [{"name": "s", "turns": turns}]}, indent=1))
    with pytest.raises(ScenarioError) as raised:
        load_scenario_files([path])
    message = str(raised.value)
    assert f"field '{field}'" in message and reason in message and "s.json:" in message
    assert ":1," not in message  # the line of the field, not of the file's start
