"""Scripted tool calls on OpenAI Responses, read by the official openai SDK: the streaming helper
(``responses.stream()``: ``ResponseStreamState`` builds each ``function_call`` item from its
``output_item.added`` and argument deltas, checks every item is done, and parses a strict tool's
arguments), the raw event iterator, and the non-streamed object."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from openai.types.responses import ParsedResponseFunctionToolCall, ResponseFunctionToolCall

from fakellm import Server
from tests.helpers import UNUSED_PLUGINS

MakeServer = Callable[..., Server]
INPUT = "Weather in Paris and the time?"
WEATHER_ARGUMENTS = {"city": "Paris", "unit": "celsius"}
TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "get_weather",
        "strict": True,  # the helper parses a strict tool's arguments (parsed_arguments)
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    }
]
LONG_QUERY = "the weather in Paris, Lyon, Marseille, Toulouse, Nice, Nantes and Bordeaux tomorrow morning"
SCENARIOS = [
    {"name": "weather", "tool_calls": [{"name": "get_weather", "arguments": WEATHER_ARGUMENTS}]},
    {
        "name": "two-calls-after-text",
        "content": {"text": "Let me look that up."},
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}, "id": "call_fixed"},
            {"name": "get_time", "arguments": '{"tz": "Europe/Paris"'},  # invalid JSON on purpose
        ],
    },
    {"name": "long-call", "tool_calls": [{"name": "search", "arguments": {"query": LONG_QUERY}}]},
]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(seed=3, scenarios=SCENARIOS)


def client(server: Server, faults: str | None = None) -> openai.OpenAI:
    headers = {"X-FakeLLM-Faults": faults} if faults else {}
    return openai.OpenAI(
        base_url=server.base_url, api_key="sk", max_retries=0, timeout=10, default_headers=headers
    )


def calls_of(response: Any) -> list[ResponseFunctionToolCall]:
    return [item for item in response.output if isinstance(item, ResponseFunctionToolCall)]


def test_the_stream_helper_has_the_call_with_parsed_arguments(server: Server) -> None:
    with client(server) as c, c.responses.stream(model="weather", input=INPUT, tools=TOOLS) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds.count("response.function_call_arguments.delta") > 3
    assert "response.function_call_arguments.done" in kinds
    (call,) = final.output  # the call alone: no message item
    assert isinstance(call, ParsedResponseFunctionToolCall) and call.status == "completed"
    assert call.name == "get_weather" and json.loads(call.arguments) == WEATHER_ARGUMENTS
    assert call.parsed_arguments == WEATHER_ARGUMENTS
    assert call.call_id.startswith("call_") and len(call.call_id) == 29  # drawn, in OpenAI's shape
    assert call.id is not None and call.id.startswith("fc_") and len(call.id) == 53
    assert final.output_text == "" and final.status == "completed"


def test_text_then_two_calls_with_a_fixed_id_and_raw_arguments(server: Server) -> None:
    with (
        client(server) as c,
        c.responses.stream(model="two-calls-after-text", input=INPUT, tools=TOOLS) as stream,
    ):
        final = stream.get_final_response()
    assert final.output_text == "Let me look that up."
    assert [item.type for item in final.output] == ["message", "function_call", "function_call"]
    first, second = calls_of(final)
    assert isinstance(first, ParsedResponseFunctionToolCall)
    assert (first.call_id, first.name) == ("call_fixed", "get_weather")
    assert first.parsed_arguments == {"city": "Paris", "unit": "celsius"}
    assert second.name == "get_time" and second.arguments == '{"tz": "Europe/Paris"'  # as written
    assert first.id != second.id


def test_the_non_streamed_answer_has_the_calls(server: Server) -> None:
    with client(server) as c:
        answer = c.responses.create(model="two-calls-after-text", input=INPUT)
    assert answer.status == "completed" and answer.output_text == "Let me look that up."
    first, second = calls_of(answer)
    assert first.call_id == "call_fixed" and json.loads(first.arguments) == {
        "city": "Paris",
        "unit": "celsius",
    }
    assert second.arguments == '{"tz": "Europe/Paris"'
    assert answer.usage is not None and answer.usage.output_tokens > 10  # the argument tokens count


def test_a_drop_cuts_a_call_in_the_middle_of_its_arguments(server: Server) -> None:
    fragments: list[str] = []
    with client(server, "drop@3") as c, pytest.raises(openai.APIConnectionError):
        for event in c.responses.create(model="weather", input=INPUT, stream=True):
            if event.type == "response.function_call_arguments.delta":
                fragments.append(event.delta)
    assert len(fragments) == 3
    whole = json.dumps(WEATHER_ARGUMENTS, separators=(",", ":"))
    assert whole.startswith("".join(fragments)) and "".join(fragments) != whole
    entry = server.journal.last
    assert entry is not None and entry.outcome == "dropped"


def test_max_output_tokens_cuts_the_arguments_incomplete(server: Server) -> None:
    whole = json.dumps({"query": LONG_QUERY}, separators=(",", ":"))
    with client(server) as c:
        events = list(c.responses.create(model="long-call", input=INPUT, max_output_tokens=16, stream=True))
        answer = c.responses.create(model="long-call", input=INPUT, max_output_tokens=16)
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"
    (cut,) = calls_of(last.response)
    assert cut.status == "incomplete" and whole.startswith(cut.arguments) and cut.arguments != whole
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(deltas) == 16 and "".join(deltas) == cut.arguments
    assert answer.status == "incomplete" and calls_of(answer)[0].arguments == cut.arguments


def test_the_call_ids_replay_under_a_seed(server: Server) -> None:
    def ids() -> list[tuple[str, str | None]]:
        with client(server) as c:
            events = list(c.responses.create(model="weather", input=INPUT, stream=True))
        return [
            (e.item.call_id, e.item.id)
            for e in events
            if e.type == "response.output_item.added" and isinstance(e.item, ResponseFunctionToolCall)
        ]

    first = ids()
    assert first == ids() and len(first) == 1


@pytest.mark.asyncio
async def test_the_async_stream_helper_has_the_calls(server: Server) -> None:
    async with (
        openai.AsyncOpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10) as c,
        c.responses.stream(model="two-calls-after-text", input=INPUT, tools=TOOLS) as stream,
    ):
        final = await stream.get_final_response()
    assert final.output_text == "Let me look that up."
    assert [call.name for call in calls_of(final)] == ["get_weather", "get_time"]


def test_the_calls_leave_the_rest_of_a_seeded_body_unchanged(make_server: MakeServer) -> None:
    """The call's ids are drawn after the format's own: the same text with and without a call
    after it has the same response and message ids, and the same bytes up to the message's end."""
    text = {"text": "Let me look that up."}
    server = make_server(
        scenarios=[
            {"name": "text", "content": text},
            {"name": "text-and-call", "content": text, "tool_calls": [{"name": "get_time"}]},
        ]
    )

    def body(scenario: str) -> bytes:
        headers = {"X-FakeLLM-Seed": "5", "X-FakeLLM-Scenario": scenario}  # the same model echoed
        with client(server) as c:
            raw = c.responses.with_raw_response.create(
                model="m", input=INPUT, stream=True, extra_headers=headers
            )
            return raw.http_response.read()

    plain, with_call = body("text"), body("text-and-call")
    end = plain.index(b"event: response.output_item.done")
    assert with_call[:end] == plain[:end] and b'"type":"function_call"' in with_call


def test_the_plugin_script_takes_tool_calls_on_responses(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import json

        def test_call(fakellm):
            fakellm.script(tool_calls=[{"name": "lookup", "arguments": {"q": "x"}}])
            with fakellm.openai_client() as c, c.responses.stream(model="m", input="hi") as stream:
                final = stream.get_final_response()
            (call,) = final.output
            assert call.type == "function_call" and call.name == "lookup"
            assert json.loads(call.arguments) == {"q": "x"} and final.output_text == ""
        """
    )
    assert pytester.runpytest_subprocess("-p", "no:randomly", *UNUSED_PLUGINS).ret == 0
