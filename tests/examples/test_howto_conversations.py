"""How-to: a two-tool agent scripted as one conversation (turns=): each call's answer is chosen
from the request, by the tool whose result it sends back; the journal says which turn answered.
And the recorder's choices (n)."""

import json

import pytest

TOOLS = {"get_weather": lambda city: f"18 C in {city}", "get_time": lambda tz: f"09:00 {tz}"}


def agent(client, task):  # the code under test: runs each tool the model calls, until it answers
    messages = [{"role": "user", "content": task}]
    while True:
        message = client.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return message.content
        for call in message.tool_calls:
            result = TOOLS[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})


@pytest.mark.fakellm(
    turns=[
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"content": {"text": "Anything else?"}},  # by count: the 2nd call, unless a by-tool turn wins
        {"after_tool": "get_weather", "tool_calls": [{"name": "get_time", "arguments": {"tz": "CET"}}]},
        {"after_tool": "get_time", "content": {"text": "At {tool_result} it is sunny."}},
    ]
)
def test_each_tool_result_gets_its_turn(fakellm):
    assert agent(fakellm.openai_client(), "Weather and time?") == "At 09:00 CET it is sunny."
    assert [entry.turn for entry in fakellm.journal] == [1, 3, 4]


def test_each_choice_as_the_client_accumulated_it(fakellm):
    client = fakellm.openai_client()
    messages = [{"role": "user", "content": "Name a colour."}]
    with client.chat.completions.stream(model="gpt-4o", messages=messages, n=2) as stream:
        recording = fakellm.record(stream)
    sent = fakellm.journal.last.choices  # what the server sent, choice by choice
    assert [c.text for c in recording.choices] == [c.text for c in sent]
    assert [c.finish_reason for c in recording.choices] == ["stop", "stop"]
