"""tools.decide (which calls an answer makes, from the request's tool_choice and the scenario),
``tool_calls: auto`` in scenario files, and the plan it gives (pipeline.plan_stream)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fakellm.errors import RequestError, ScenarioError
from fakellm.pipeline import plan_stream
from fakellm.scenario import scenario_from_dict
from fakellm.scenario_files import load_scenario_files
from fakellm.tools import ANY_TOOL, AUTO, CallDecision, ToolCall, ToolChoice, ToolSpec, decide
from fakellm.wire.anthropic_messages import MESSAGES
from fakellm.wire.openai import CHAT
from fakellm.wire.openai_completions import COMPLETIONS

TOOLS = (ToolSpec("get_weather", {"type": "object"}), ToolSpec("add", {"type": "object"}))
CALL = ToolCall("get_weather", '{"city":"Paris"}')
REQUIRED, NONE = ToolChoice("required"), ToolChoice("none")


@pytest.mark.parametrize(
    ("choice", "scripted", "auto", "decision"),
    [
        (AUTO, (), False, CallDecision()),
        (AUTO, (CALL,), False, CallDecision((CALL,))),
        (AUTO, (), True, CallDecision(pick=ANY_TOOL, candidates=TOOLS)),
        (NONE, (CALL,), False, CallDecision()),
        (NONE, (), True, CallDecision()),
        (REQUIRED, (CALL,), False, CallDecision((CALL,))),
        (REQUIRED, (), False, CallDecision(pick=ANY_TOOL, candidates=TOOLS, text=False)),
        (REQUIRED, (), True, CallDecision(pick=ANY_TOOL, candidates=TOOLS)),
        (ToolChoice("tool", "get_weather"), (CALL, ToolCall("add")), False, CallDecision((CALL,))),
        (ToolChoice("tool", "add"), (CALL,), False, CallDecision(pick="add")),
        (ToolChoice("tool", "add"), (), False, CallDecision(pick="add", text=False)),
        (ToolChoice("tool", "add"), (), True, CallDecision(pick="add")),
    ],
)
def test_decide(
    choice: ToolChoice, scripted: tuple[ToolCall, ...], auto: bool, decision: CallDecision
) -> None:
    assert decide(choice, TOOLS, scripted, auto) == decision


def test_auto_without_tools_calls_nothing() -> None:
    assert not decide(AUTO, (), (), True).calling


def chat(**body: Any) -> Any:
    raw = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True, **body}
    return CHAT.parse_request(json.dumps(raw).encode(), {})


SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer", "minimum": 3, "maximum": 5}, "tag": {"enum": ["x", "y"]}},
    "required": ["n", "tag"],
    "additionalProperties": False,
}
CHAT_TOOLS = [
    {"type": "function", "function": {"name": "pick", "parameters": SCHEMA}},
    {"type": "function", "function": {"name": "ping"}},  # no parameters: no arguments
]


def test_the_request_tools_and_tool_choice_are_parsed_into_the_neutral_request() -> None:
    request = chat(tools=CHAT_TOOLS, tool_choice={"type": "function", "function": {"name": "ping"}})
    assert [t.name for t in request.tools] == ["pick", "ping"]
    assert request.tools[0].schema == SCHEMA
    assert request.tool_choice == ToolChoice("tool", "ping")
    assert chat().tools == () and chat().tool_choice == AUTO


def test_a_tool_without_parameters_is_called_with_no_arguments() -> None:
    scenario = scenario_from_dict({"name": "s", "content": {"text": "hi"}})
    plan = plan_stream(
        chat(tools=CHAT_TOOLS, tool_choice={"type": "function", "function": {"name": "ping"}}), scenario
    )
    (call,) = plan.calls
    assert (call.name, call.arguments) == ("ping", "{}")


def test_a_generated_call_leaves_every_earlier_draw_as_it_was() -> None:
    """The auto call is drawn after the text and the format's ids: the same seed gives the same
    text and completion id whether the request has tools or not."""
    scenario = scenario_from_dict({"name": "s", "content": {"faker": True}, "tool_calls": "auto"})
    plain = plan_stream(chat(), scenario, header_seed=9)
    calling = plan_stream(chat(tools=CHAT_TOOLS), scenario, header_seed=9)
    assert plain.text == calling.text and plain.calls == ()
    assert plain.encoder.id == calling.encoder.id  # type: ignore[attr-defined]
    (call,) = calling.calls
    assert calling.finish_reason == "tool_calls" and plain.finish_reason == "stop"
    if call.name == "pick":
        jsonschema.validate(json.loads(call.arguments), SCHEMA)


def test_max_tokens_cuts_a_generated_call() -> None:
    scenario = scenario_from_dict({"name": "s", "tool_calls": "auto"})
    request = chat(tools=CHAT_TOOLS[:1], max_tokens=3)
    plan = plan_stream(request, scenario, header_seed=1)
    assert plan.finish_reason == "length" and len(plan.calls[0].fragments) == 3


def test_an_unservable_tool_schema_is_a_400_naming_tools() -> None:
    bad = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "not": {}}}}]
    scenario = scenario_from_dict({"name": "s", "tool_calls": "auto"})
    with pytest.raises(RequestError) as raised:
        plan_stream(chat(tools=bad), scenario)
    assert raised.value.status == 400 and raised.value.param == "tools"
    assert raised.value.code == "unsupported_schema" and "'f'" in raised.value.message


def test_a_forced_call_with_several_choices_is_a_400_naming_n() -> None:
    scenario = scenario_from_dict({"name": "s", "content": {"text": "hi"}})
    with pytest.raises(RequestError) as raised:
        plan_stream(chat(tools=CHAT_TOOLS, tool_choice="required", n=2), scenario)
    assert raised.value.param == "n"


def test_anthropic_any_is_required() -> None:
    raw = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "f", "input_schema": SCHEMA}, {"type": "bash_20250124", "name": "bash"}],
        "tool_choice": {"type": "any"},
    }
    request = MESSAGES.parse_request(json.dumps(raw).encode(), {})
    assert request.tools == (ToolSpec("f", SCHEMA),) and request.tool_choice == REQUIRED


def test_auto_on_legacy_completions_answers_text() -> None:
    """Completions has no tools: an auto scenario answers there with its text, not a 400."""
    scenario = scenario_from_dict({"name": "s", "tool_calls": "auto"})
    request = COMPLETIONS.parse_request(json.dumps({"model": "m", "prompt": "hi"}).encode(), {})
    plan = plan_stream(request, scenario, format=COMPLETIONS)
    assert plan.text == "Hello! How can I help you today?" and plan.calls == ()


def test_tool_calls_auto_in_files_and_turns(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "scenarios:\n"
        "  - name: agent\n"
        "    turns:\n"
        "      - tool_calls: auto\n"
        "      - content: {text: 'It is {tool_result}.'}\n"
        "  - name: plain\n"
        "    tool_calls: auto\n"
        "    finish_reason: tool_calls\n"
    )
    agent, plain = load_scenario_files([path])
    assert agent.turns[0].auto_calls and agent.turns[0].finish_reason == "tool_calls"
    assert not agent.turns[1].auto_calls
    assert plain.auto_calls and plain.tool_calls == ()


def test_tool_calls_must_be_a_list_or_auto(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("scenarios:\n  - name: s\n    tool_calls: sometimes\n")
    with pytest.raises(ScenarioError) as raised:
        load_scenario_files([path])
    assert "s.yaml:3" in str(raised.value) and "field 'tool_calls'" in str(raised.value)
    assert "calls or 'auto'" in str(raised.value)


def test_a_recorded_stream_replays_what_it_holds_whatever_tool_choice_asks() -> None:
    (scenario,) = load_scenario_files(
        [Path(__file__).parents[2] / "fixtures" / "recorded" / "openai-text-usage.json"]
    )
    for choice in ("required", "none"):
        plan = plan_stream(chat(tools=CHAT_TOOLS, tool_choice=choice), scenario)
        assert plan.source is not None and plan.calls == ()
