"""How-to: an agent loop that survives a stream broken in the middle of a tool call's arguments.
The scenario file scripts three turns; its turn 2 drops once, mid-arguments (a per-turn fault)."""

import json
from pathlib import Path

import openai

import fakellm

SCENARIOS = Path(__file__).parents[2] / "fixtures" / "scenarios" / "agent-weather.yaml"
TOOLS = {
    "get_weather": lambda city: f"18 C and sunny in {city}",
    "convert_temperature": lambda celsius, to: f"{celsius * 9 / 5 + 32:.1f} F",
}
SCHEMAS = [{"type": "function", "function": {"name": name, "parameters": {}}} for name in TOOLS]


def agent(client, question):  # the code under test
    messages = [{"role": "user", "content": question}]
    while True:
        for attempt in range(3):  # the SDK retries a request, never a stream that already started
            try:
                with client.chat.completions.stream(
                    model="agent-weather", messages=messages, tools=SCHEMAS
                ) as stream:
                    choice = stream.get_final_completion().choices[0]
                break
            except openai.APIConnectionError:
                if attempt == 2:
                    raise
        messages.append(choice.message.model_dump(exclude_none=True, exclude={"parsed"}))
        if choice.finish_reason != "tool_calls":
            return choice.message.content
        for call in choice.message.tool_calls:
            result = TOOLS[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})


def test_agent_retries_the_broken_turn():
    with fakellm.Server(scenarios=fakellm.load_scenario_files([SCENARIOS])) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused")
        assert agent(client, "Weather in Paris, in Fahrenheit?") == "In Paris it is 64.4 F."
        client.close()
    outcomes = [entry.outcome for entry in server.journal]
    assert outcomes == ["completed", "dropped", "completed", "completed"]
