"""Conversations (``turns:``): a real agent loop through the official SDKs. Turn 1 calls
``get_weather``; the test runs the tool and sends its result back; turn 2 answers in text quoting
it. The turn is read from the request's own conversation (no server-side counter), so the same
request always gets the same answer, and a seed replays it."""

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

MakeServer = Callable[..., Server]
WEATHER_SCENARIO: dict[str, Any] = {
    "name": "weather-agent",
    "turns": [
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"content": {"text": "It is {tool_result} in Paris."}},
        {"content": {"text": "Anything else?"}, "timing": {"ttft_ms": 1}},
    ],
}
CHAT_TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
ANTHROPIC_TOOLS: list[Any] = [
    {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
]


CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


def get_weather(city: str) -> str:
    """The agent's tool: what turn 2 must quote."""
    return f"18 C and sunny ({city})"


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(scenarios=[WEATHER_SCENARIO])


def test_a_chat_agent_loop_calls_the_tool_then_quotes_its_result(server: Server) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    with openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10) as c:
        with c.chat.completions.stream(model="weather-agent", messages=messages, tools=CHAT_TOOLS) as stream:
            first = stream.get_final_completion().choices[0]
        assert first.finish_reason == "tool_calls"
        (call,) = first.message.tool_calls or []
        assert call.function.name == "get_weather"
        result = get_weather(**json.loads(call.function.arguments))
        messages.append(first.message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        with c.chat.completions.stream(model="weather-agent", messages=messages, tools=CHAT_TOOLS) as stream:
            second = stream.get_final_completion().choices[0]
        assert second.finish_reason == "stop" and not second.message.tool_calls
        assert second.message.content == "It is 18 C and sunny (Paris) in Paris."
        # Past the last turn, the last one repeats.
        messages += [
            {"role": "assistant", "content": second.message.content},
            {"role": "user", "content": "Thanks"},
        ]
        third = c.chat.completions.create(model="weather-agent", messages=messages)
        assert third.choices[0].message.content == "Anything else?"
        messages += [{"role": "assistant", "content": "Anything else?"}, {"role": "user", "content": "No"}]
        fourth = c.chat.completions.create(model="weather-agent", messages=messages)
        assert fourth.choices[0].message.content == "Anything else?"


def test_an_anthropic_agent_loop_quotes_the_tool_result_block(server: Server) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    with anthropic.Anthropic(base_url=server.url, api_key="sk", max_retries=0, timeout=10) as c:
        with c.messages.stream(
            model="weather-agent", max_tokens=256, messages=messages, tools=ANTHROPIC_TOOLS
        ) as stream:
            first = stream.get_final_message()
        assert first.stop_reason == "tool_use"
        (use,) = [block for block in first.content if block.type == "tool_use"]
        assert use.name == "get_weather" and use.input == {"city": "Paris"}
        messages.append(
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
        )
        result = get_weather(**use.input)  # type: ignore[arg-type]
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": use.id,
                        "content": [{"type": "text", "text": result}],
                    }
                ],
            }
        )
        with c.messages.stream(
            model="weather-agent", max_tokens=256, messages=messages, tools=ANTHROPIC_TOOLS
        ) as stream:
            second = stream.get_final_message()
        assert second.stop_reason == "end_turn"
        assert [b.text for b in second.content if b.type == "text"] == [
            "It is 18 C and sunny (Paris) in Paris."
        ]


def test_a_responses_agent_loop_counts_function_call_items(server: Server) -> None:
    tools: list[Any] = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    items: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    with openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10) as c:
        with c.responses.stream(model="weather-agent", input=items, tools=tools) as stream:
            first = stream.get_final_response()
        (call,) = [item for item in first.output if item.type == "function_call"]
        assert call.name == "get_weather"
        items += [item.model_dump(exclude_none=True) for item in first.output]
        items.append({"type": "function_call_output", "call_id": call.call_id, "output": "rain"})
        second = c.responses.create(model="weather-agent", input=items, tools=tools)
        assert second.output_text == "It is rain in Paris."


def test_the_same_conversation_under_a_seed_replays_byte_for_byte(server: Server) -> None:
    body = {
        "model": "weather-agent",
        "stream": True,
        "messages": [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "hail"},
        ],
    }
    url = f"{server.base_url}/chat/completions"
    first = httpx.post(url, json=body, headers={"X-FakeLLM-Seed": "7"}, timeout=10)
    again = httpx.post(url, json=body, headers={"X-FakeLLM-Seed": "7"}, timeout=10)
    assert first.status_code == 200 and first.content == again.content
    assert b"hail" in first.content and b"tool_calls" not in first.content
    turn_one = httpx.post(
        url, json={**body, "messages": body["messages"][:1]}, headers={"X-FakeLLM-Seed": "7"}
    )
    assert b'"name":"get_weather"' in turn_one.content


@pytest.mark.parametrize(
    ("scenario", "field", "reason"),
    [
        ({"name": "s", "turns": []}, "turns", "non-empty list"),
        ({"name": "s", "turns": ["hi"]}, "turns[0]", "must be a mapping"),
        ({"name": "s", "turns": [{"text": "hi"}]}, "turns[0].text", "unknown field"),
        (
            {"name": "s", "turns": [{"finish_reason": "tool_calls"}]},
            "turns[0].finish_reason",
            "no tool_calls",
        ),
        (
            {"name": "s", "turns": [{}, {"tool_calls": [{"name": "a b"}]}]},
            "turns[1].tool_calls[0].name",
            "letters",
        ),
        ({"name": "s", "turns": [{}, {"content": {"txt": "x"}}]}, "turns[1].content.txt", "unknown field"),
        ({"name": "s", "content": {"text": "x"}, "turns": [{}]}, "content", "inside 'turns'"),
    ],
)
def test_a_bad_turn_names_its_file_line_and_field(
    tmp_path: Path, scenario: dict[str, Any], field: str, reason: str
) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"scenarios": [scenario]}, indent=1))
    with pytest.raises(ScenarioError) as raised:
        load_scenario_files([path])
    message = str(raised.value)
    assert f"field '{field}'" in message and reason in message and "s.json:" in message


def test_no_server_counter_a_fresh_server_answers_the_second_turn(make_server: MakeServer) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "fog"},
    ]
    for _ in range(2):  # two servers, as two processes of fakellm serve: each reads the request only
        server = make_server(scenarios=[WEATHER_SCENARIO])
        with openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10) as c:
            answer = c.chat.completions.create(model="weather-agent", messages=messages)
        assert answer.choices[0].message.content == "It is fog in Paris."
