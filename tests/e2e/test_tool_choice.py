"""Calls chosen from the request: ``tool_calls: auto`` and the request's ``tool_choice``, on a real
server, through the official SDKs' helpers (openai's ``chat.completions.stream()`` and
``parse()``, ``responses.stream()``, anthropic's ``messages.stream()``): every generated argument
document is checked against its tool's schema with jsonschema."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

import anthropic
import httpx
import jsonschema
import openai
import pytest
from anthropic.types import TextBlock, ToolUseBlock
from pydantic import BaseModel

from fakellm import Server

MakeServer = Callable[..., Server]
MESSAGES: list[Any] = [{"role": "user", "content": "Plan my day in Paris."}]
WEATHER: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
ADD: dict[str, Any] = {
    "type": "object",
    "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 9}, "b": {"type": "number"}},
    "required": ["a", "b"],
}
BOOKING: dict[str, Any] = {
    "type": "object",
    "properties": {
        "hotel": {"type": "string", "minLength": 3},
        "nights": {"type": "integer", "minimum": 1, "maximum": 14},
        "guests": {"type": "array", "items": {"type": "string", "format": "email"}, "minItems": 1},
    },
    "required": ["hotel", "nights", "guests"],
    "additionalProperties": False,
}
SCHEMAS = {"get_weather": WEATHER, "add": ADD, "book": BOOKING}
CHAT_TOOLS: list[Any] = [
    {"type": "function", "function": {"name": name, "parameters": schema}} for name, schema in SCHEMAS.items()
]
RESPONSES_TOOLS: list[Any] = [
    {"type": "function", "name": name, "parameters": schema} for name, schema in SCHEMAS.items()
]
ANTHROPIC_TOOLS: list[Any] = [{"name": name, "input_schema": schema} for name, schema in SCHEMAS.items()]
SCENARIOS = [
    {"name": "auto", "tool_calls": "auto"},
    {"name": "auto-after-text", "content": {"text": "Let me see."}, "tool_calls": "auto"},
    {"name": "talk", "content": {"text": "Just words."}},
    {
        "name": "weather",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}],
    },
    {"name": "structured", "content": {"json": "auto"}},
    {"name": "fixed-document", "content": {"json": {"hotel": "Ritz", "nights": 2, "guests": ["a@b.fr"]}}},
]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(seed=11, scenarios=SCENARIOS)


def oai(server: Server, seed: int | None = None) -> openai.OpenAI:
    headers = {"X-FakeLLM-Seed": str(seed)} if seed is not None else {}
    return openai.OpenAI(
        base_url=server.base_url, api_key="sk", max_retries=0, timeout=10, default_headers=headers
    )


def claude(server: Server) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="sk-ant", max_retries=0, timeout=10)


def valid(name: str, arguments: Any) -> None:
    """The arguments are a document valid against the tool's schema (formats checked too)."""
    document = json.loads(arguments) if isinstance(arguments, str) else arguments
    jsonschema.validate(document, SCHEMAS[name], format_checker=jsonschema.FormatChecker())


# --------------------------------------------------------------------------------------------------
# Chat Completions


def chat_final(server: Server, model: str, seed: int | None = None, **kwargs: Any) -> Any:
    with (
        oai(server, seed) as c,
        c.chat.completions.stream(model=model, messages=MESSAGES, tools=CHAT_TOOLS, **kwargs) as stream,
    ):
        return stream.get_final_completion().choices[0]


def test_required_makes_a_text_scenario_call_a_tool_with_valid_arguments(server: Server) -> None:
    choice = chat_final(server, "talk", tool_choice="required")
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None  # forced to call, the model writes no text
    (call,) = choice.message.tool_calls or []
    assert call.function.name in SCHEMAS and call.id.startswith("call_")
    valid(call.function.name, call.function.arguments)


def test_without_tool_choice_a_text_scenario_answers_text(server: Server) -> None:
    choice = chat_final(server, "talk")
    assert (choice.message.content, choice.finish_reason, choice.message.tool_calls) == (
        "Just words.",
        "stop",
        None,
    )


def test_auto_picks_one_of_the_request_tools_after_the_text(server: Server) -> None:
    choice = chat_final(server, "auto-after-text")
    assert choice.message.content == "Let me see." and choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    valid(call.function.name, call.function.arguments)


def test_auto_spreads_its_pick_over_the_tools_and_replays_under_a_seed(server: Server) -> None:
    picks = {}
    for seed in range(12):
        first, again = (chat_final(server, "auto", seed=seed).message.tool_calls[0] for _ in range(2))
        assert (first.id, first.function.name, first.function.arguments) == (
            again.id,
            again.function.name,
            again.function.arguments,
        )
        valid(first.function.name, first.function.arguments)
        picks[seed] = first.function.name
    assert len(set(picks.values())) >= 2, picks  # the pick is drawn, not always the first tool


def test_a_named_tool_is_called_with_arguments_from_its_schema(server: Server) -> None:
    choice = chat_final(server, "talk", tool_choice={"type": "function", "function": {"name": "book"}})
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "book" and choice.finish_reason == "tool_calls"
    valid("book", call.function.arguments)


def test_a_named_tool_the_scenario_calls_keeps_the_scenario_arguments(server: Server) -> None:
    named = {"type": "function", "function": {"name": "get_weather"}}
    (call,) = chat_final(server, "weather", tool_choice=named).message.tool_calls or []
    assert json.loads(call.function.arguments) == {"city": "Oslo", "unit": "celsius"}


def test_none_sends_text_even_when_the_scenario_calls_tools(server: Server) -> None:
    for model in ("weather", "auto"):
        choice = chat_final(server, model, tool_choice="none")
        assert choice.message.tool_calls is None and choice.finish_reason == "stop"
        assert (
            choice.message.content == "Hello! How can I help you today?"
        )  # a call-only scenario still answers


def test_auto_without_tools_in_the_request_answers_text(server: Server) -> None:
    with oai(server) as c, c.chat.completions.stream(model="auto-after-text", messages=MESSAGES) as stream:
        choice = stream.get_final_completion().choices[0]
    assert (choice.message.content, choice.finish_reason) == ("Let me see.", "stop")


class Weather(BaseModel):
    city: str
    unit: Literal["celsius", "fahrenheit"]


def test_parse_with_a_pydantic_function_tool_gives_parsed_arguments(server: Server) -> None:
    with oai(server) as c:
        completion = c.chat.completions.parse(
            model="auto", messages=MESSAGES, tools=[openai.pydantic_function_tool(Weather)]
        )
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.function.name == "Weather"
    assert isinstance(call.function.parsed_arguments, Weather)


def test_the_stream_helper_parses_a_forced_strict_pydantic_tool(server: Server) -> None:
    with (
        oai(server) as c,
        c.chat.completions.stream(
            model="talk",
            messages=MESSAGES,
            tools=[openai.pydantic_function_tool(Weather)],
            tool_choice={"type": "function", "function": {"name": "Weather"}},
        ) as stream,
    ):
        (call,) = stream.get_final_completion().choices[0].message.tool_calls or []
    assert isinstance(call.function.parsed_arguments, Weather)


def test_a_forced_tool_on_json_auto_is_structured_output_through_the_tool(server: Server) -> None:
    named = {"type": "function", "function": {"name": "book"}}
    choice = chat_final(server, "structured", tool_choice=named)
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    valid("book", call.function.arguments)


def test_a_non_streamed_answer_has_the_forced_call(server: Server) -> None:
    with oai(server) as c:
        completion = c.chat.completions.create(
            model="talk",
            messages=MESSAGES,
            tools=CHAT_TOOLS,
            tool_choice={"type": "function", "function": {"name": "add"}},
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    valid("add", call.function.arguments)


# --------------------------------------------------------------------------------------------------
# Responses


def test_responses_stream_with_auto_gives_a_function_call_valid_against_its_schema(server: Server) -> None:
    with (
        oai(server) as c,
        c.responses.stream(model="auto", input="Plan my day.", tools=RESPONSES_TOOLS) as stream,
    ):
        response = stream.get_final_response()
    assert response.status == "completed"
    (item,) = response.output
    assert item.type == "function_call" and item.call_id.startswith("call_")
    valid(item.name, item.arguments)


def test_responses_honours_a_named_tool_and_none(server: Server) -> None:
    with oai(server) as c:
        forced = c.responses.create(
            model="talk",
            input="Plan.",
            tools=RESPONSES_TOOLS,
            tool_choice={"type": "function", "name": "book"},
        )
        quiet = c.responses.create(model="weather", input="Plan.", tools=RESPONSES_TOOLS, tool_choice="none")
    (item,) = forced.output
    assert item.type == "function_call" and item.name == "book"
    valid("book", item.arguments)
    assert quiet.output_text == "Hello! How can I help you today?"
    assert [i.type for i in quiet.output] == ["message"]


# --------------------------------------------------------------------------------------------------
# Anthropic Messages


def claude_final(server: Server, model: str, **kwargs: Any) -> Any:
    kwargs.setdefault("tools", ANTHROPIC_TOOLS)
    with (
        claude(server) as c,
        c.messages.stream(model=model, max_tokens=500, messages=MESSAGES, **kwargs) as s,
    ):
        return s.get_final_message()


def test_anthropic_any_forces_a_tool_use_with_valid_input(server: Server) -> None:
    message = claude_final(server, "talk", tool_choice={"type": "any"})
    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert isinstance(block, ToolUseBlock) and block.id.startswith("toolu_01")
    valid(block.name, block.input)


def test_anthropic_forced_tool_on_json_auto_is_structured_output(server: Server) -> None:
    message = claude_final(server, "structured", tool_choice={"type": "tool", "name": "book"})
    (block,) = message.content
    assert isinstance(block, ToolUseBlock) and block.name == "book" and message.stop_reason == "tool_use"
    valid("book", block.input)


def test_anthropic_forced_tool_sends_a_fixed_document_as_its_input(server: Server) -> None:
    message = claude_final(server, "fixed-document", tool_choice={"type": "tool", "name": "book"})
    (block,) = message.content
    assert block.input == {"hotel": "Ritz", "nights": 2, "guests": ["a@b.fr"]}


def test_anthropic_auto_and_none(server: Server) -> None:
    picked = claude_final(server, "auto-after-text")
    text, call = picked.content
    assert isinstance(text, TextBlock) and text.text == "Let me see."
    assert isinstance(call, ToolUseBlock)
    valid(call.name, call.input)
    quiet = claude_final(server, "weather", tool_choice={"type": "none"})
    assert quiet.stop_reason == "end_turn" and [b.type for b in quiet.content] == ["text"]


# --------------------------------------------------------------------------------------------------
# Bad tools and tool_choice: a 400 in each format's shape


OPENAI_BAD: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/chat/completions", {"tools": CHAT_TOOLS, "tool_choice": "always"}, "tool_choice"),
    ("/v1/chat/completions", {"tools": CHAT_TOOLS, "tool_choice": 3}, "tool_choice"),
    ("/v1/chat/completions", {"tool_choice": "required"}, "tool_choice"),
    (
        "/v1/chat/completions",
        {"tools": CHAT_TOOLS, "tool_choice": {"type": "function", "function": {"name": "fly"}}},
        "tool_choice",
    ),
    (
        "/v1/chat/completions",
        {"tools": CHAT_TOOLS, "tool_choice": {"type": "function"}},
        "tool_choice.function",
    ),
    ("/v1/chat/completions", {"tools": {"get_weather": {}}}, "tools"),
    ("/v1/chat/completions", {"tools": []}, "tools"),
    ("/v1/chat/completions", {"tools": [{"type": "function"}]}, "tools[0].function"),
    (
        "/v1/chat/completions",
        {"tools": [{"type": "function", "function": {"name": "a b"}}]},
        "tools[0].function.name",
    ),
    (
        "/v1/chat/completions",
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]},
        "tools[0].function.parameters",
    ),
    ("/v1/chat/completions", {"tools": [{"type": "retrieval"}]}, "tools[0].type"),
    ("/v1/responses", {"tools": RESPONSES_TOOLS, "tool_choice": "maybe"}, "tool_choice"),
    (
        "/v1/responses",
        {"tools": RESPONSES_TOOLS, "tool_choice": {"type": "function", "name": "fly"}},
        "tool_choice",
    ),
    ("/v1/responses", {"tool_choice": {"type": "function", "name": "book"}}, "tool_choice"),
    ("/v1/responses", {"tools": [{"type": "function", "parameters": {}}]}, "tools[0].name"),
    ("/v1/responses", {"tools": RESPONSES_TOOLS, "tool_choice": {"type": "file_search"}}, "tool_choice.type"),
]


@pytest.mark.parametrize(("path", "extra", "param"), OPENAI_BAD)
def test_bad_openai_tools_are_a_400_naming_the_param(
    server: Server, path: str, extra: dict[str, Any], param: str
) -> None:
    body: dict[str, Any] = {"model": "talk", "stream": True, **extra}
    body.update({"messages": MESSAGES} if path == "/v1/chat/completions" else {"input": "hi"})
    answer = httpx.post(server.url + path, json=body, timeout=10)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param, error


def test_the_sdk_raises_bad_request_for_an_unknown_named_tool(server: Server) -> None:
    with oai(server) as c, pytest.raises(openai.BadRequestError) as raised:
        c.chat.completions.create(
            model="talk",
            messages=MESSAGES,
            tools=CHAT_TOOLS,
            tool_choice={"type": "function", "function": {"name": "fly"}},
        )
    assert "'fly'" in raised.value.message and raised.value.param == "tool_choice"


ANTHROPIC_BAD: list[tuple[dict[str, Any], str]] = [
    ({"tools": ANTHROPIC_TOOLS, "tool_choice": "any"}, "tool_choice: Input should be a valid dictionary"),
    ({"tools": ANTHROPIC_TOOLS, "tool_choice": {"type": "required"}}, "tool_choice: Input tag 'required'"),
    ({"tools": ANTHROPIC_TOOLS, "tool_choice": {}}, "tool_choice: Unable to extract tag"),
    ({"tools": ANTHROPIC_TOOLS, "tool_choice": {"type": "tool"}}, "tool_choice.tool.name: Field required"),
    ({"tools": ANTHROPIC_TOOLS, "tool_choice": {"type": "tool", "name": "fly"}}, "'fly'"),
    ({"tool_choice": {"type": "any"}}, "tool_choice:"),
    ({"tools": [{"name": "f"}]}, "tools.0.custom.input_schema: Field required"),
    ({"tools": [{"input_schema": {}}]}, "tools.0.custom.name: Field required"),
    ({"tools": [{"name": "a.b", "input_schema": {}}]}, "tools.0.custom.name: String should match pattern"),
    (
        {"tools": [{"name": "f", "input_schema": {}}, {"name": "f", "input_schema": {}}]},
        "Tool names must be unique",
    ),
    ({"tools": "f"}, "tools: Input should be a valid list"),
    (
        {
            "tools": ANTHROPIC_TOOLS,
            "tool_choice": {"type": "any"},
            "thinking": {"type": "enabled", "budget_tokens": 1024},
        },
        "Thinking may not be enabled when tool_choice forces tool use",
    ),
]


@pytest.mark.parametrize(("extra", "message"), ANTHROPIC_BAD)
def test_bad_anthropic_tools_are_a_400_in_anthropic_shape(
    server: Server, extra: dict[str, Any], message: str
) -> None:
    body = {"model": "talk", "max_tokens": 50, "messages": MESSAGES, **extra}
    answer = httpx.post(server.url + "/v1/messages", json=body, headers={"x-api-key": "k"}, timeout=10)
    assert answer.status_code == 400, answer.text
    payload = answer.json()
    assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
    assert message in payload["error"]["message"], payload


def test_server_tools_are_accepted_and_never_called(server: Server) -> None:
    web = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
    message = claude_final(server, "auto", tools=[web, *ANTHROPIC_TOOLS], tool_choice={"type": "any"})
    (block,) = message.content
    assert isinstance(block, ToolUseBlock) and block.name in SCHEMAS


def test_an_agent_loop_whose_first_turn_picks_from_the_request_tools(make_server: MakeServer) -> None:
    agent = {
        "name": "agent",
        "turns": [{"tool_calls": "auto"}, {"content": {"text": "Done: {tool_result}."}}],
    }
    server = make_server(seed=4, scenarios=[agent])
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
    messages: list[Any] = list(MESSAGES)
    with oai(server) as c:
        first = c.chat.completions.create(model="agent", messages=messages, tools=tools).choices[0]
        (call,) = first.message.tool_calls or []
        valid("get_weather", call.function.arguments)
        messages += [
            first.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ]
        second = c.chat.completions.create(model="agent", messages=messages, tools=tools).choices[0]
    assert (second.message.content, second.finish_reason) == ("Done: sunny.", "stop")
