"""LangChain's chat models against a real fakellm server: ``ChatOpenAI(...).bind_tools([...])
.stream(...)`` and ``ChatAnthropic`` merge the streamed ``tool_call_chunks`` into ``tool_calls``
with parsed arguments, also when the writes are cut anywhere; the agent's next call (after a
``ToolMessage``) gets turn 2's text quoting the tool's result. Each builds its own SDK client
(openai 3.x, anthropic 2.x): only base_url and api_key are passed."""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from fakellm import Server

SCENARIOS: list[dict[str, Any]] = [
    {
        "name": "weather-agent",
        "turns": [
            {
                "content": {"text": "Let me check."},
                "tool_calls": [
                    {"name": "get_weather", "arguments": {"city": "Paris"}},
                    {"name": "get_weather", "arguments": {"city": "Rome"}},
                ],
            },
            {"content": {"text": "It is {tool_result}."}},
        ],
    }
]


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


Model = Callable[[Server, dict[str, str]], Any]
MODELS: dict[str, Model] = {
    "openai": lambda server, headers: ChatOpenAI(
        model="weather-agent",
        base_url=server.base_url,
        api_key="sk",  # type: ignore[arg-type]
        max_retries=0,
        default_headers=headers,
    ),
    "anthropic": lambda server, headers: ChatAnthropic(  # type: ignore[call-arg]
        model="weather-agent",
        base_url=server.url,
        api_key="sk",  # type: ignore[arg-type]
        max_retries=0,
        default_headers=headers,
    ),
}


@pytest.fixture(scope="module")
def server() -> Any:
    started = Server(scenarios=SCENARIOS).start()
    yield started
    started.stop()


@pytest.mark.parametrize("faults", [None, "fragment 1-7 bytes", "fragment coalesce"])
@pytest.mark.parametrize("provider", sorted(MODELS))
def test_bind_tools_stream_merges_the_scenarios_tool_calls(
    server: Server, provider: str, faults: str | None
) -> None:
    headers = {"X-FakeLLM-Faults": faults} if faults else {}
    model = MODELS[provider](server, headers).bind_tools([get_weather])
    messages: list[BaseMessage] = [HumanMessage("Weather in Paris and Rome?")]
    chunks = list(model.stream(messages))
    assert len(chunks) > 3 and all(isinstance(c, AIMessageChunk) for c in chunks)
    merged = reduce(lambda a, b: a + b, chunks)
    assert isinstance(merged, AIMessageChunk)
    calls = merged.tool_calls
    assert [(c["name"], c["args"]) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    prefix = "toolu_01" if provider == "anthropic" else "call_"
    assert all(c["id"] and c["id"].startswith(prefix) for c in calls)
    assert len({c["id"] for c in calls}) == 2
    assert merged.invalid_tool_calls == []
    text = merged.text if isinstance(merged.text, str) else merged.text()
    assert text == "Let me check."

    # The agent's next step: the tools' results go back, turn 2 quotes the last one.
    messages.append(merged)
    for call in calls:
        messages.append(ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"]))
    answer = reduce(lambda a, b: a + b, model.stream(messages))
    assert answer.tool_calls == []
    final = answer.text if isinstance(answer.text, str) else answer.text()
    assert final == "It is sunny in Rome."
