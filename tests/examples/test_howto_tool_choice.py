"""How-to: calls chosen from the request (tool_calls="auto"), a forced tool_choice, and structured
output through a forced tool (Anthropic's pattern)."""

from typing import Literal

import openai
from pydantic import BaseModel


class GetWeather(BaseModel):
    city: str
    unit: Literal["celsius", "fahrenheit"]


def test_the_model_calls_one_of_your_tools(fakellm):
    fakellm.script(tool_calls="auto")  # one of the request's tools, arguments valid against its schema
    completion = fakellm.openai_client().chat.completions.parse(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[openai.pydantic_function_tool(GetWeather)],
    )
    call = completion.choices[0].message.tool_calls[0]
    assert isinstance(call.function.parsed_arguments, GetWeather)


def test_tool_choice_required_forces_a_call(fakellm):
    fakellm.script(text="I would rather chat.")  # a text answer, unless the request forces a call
    choice = (
        fakellm.openai_client()
        .chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[openai.pydantic_function_tool(GetWeather)],
            tool_choice="required",
        )
        .choices[0]
    )
    assert choice.finish_reason == "tool_calls" and choice.message.content is None


RECORD = {
    "name": "record_city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 0}},
        "required": ["city", "population"],
    },
}


def test_structured_output_through_a_forced_tool(fakellm):
    fakellm.script(json="auto")  # the forced tool's input: a document valid against its input_schema
    message = fakellm.anthropic_client().messages.create(
        model="claude-sonnet-4-5",
        max_tokens=200,
        messages=[{"role": "user", "content": "Describe Paris."}],
        tools=[RECORD],
        tool_choice={"type": "tool", "name": "record_city"},
    )
    block = message.content[0]
    assert (block.type, block.name, message.stop_reason) == ("tool_use", "record_city", "tool_use")
    assert isinstance(block.input["population"], int) and block.input["population"] >= 0
