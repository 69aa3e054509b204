"""How-to: an agent's tool call, scripted, read through the openai SDK's stream helper."""

import json

import openai
import pytest

WEATHER = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def ask(client):
    with client.chat.completions.stream(
        model="gpt-4o", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS
    ) as stream:
        return stream.get_final_completion().choices[0]


@pytest.mark.fakellm(tool_calls=WEATHER)
def test_the_agent_gets_the_call(fakellm):
    choice = ask(fakellm.openai_client())
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_a_drop_in_the_middle_of_the_arguments(fakellm):
    fakellm.script(tool_calls=WEATHER, faults="drop@3")  # cut after 3 argument fragments
    with pytest.raises(openai.APIConnectionError):
        ask(fakellm.openai_client(max_retries=0))
