"""Tool calls a scenario scripts: what the model "decides" to call, format-neutral.

A :class:`ToolCall` is the scenario's word (``tool_calls: [{name, arguments, id?}]``); the
pipeline turns each into a ``tool_call`` block (``events.BlockStart``) whose tokens are fragments of
the arguments, so that the stream's pace and the faults' positions apply to them as to text
(``drop@3`` can cut a call in the middle of its arguments). The format writes the framing and,
unless the scenario fixes it, draws the call's id in its own shape (``call_…``).

The request's side: each format parses its ``tools`` into :class:`ToolSpec` (a name and the JSON
Schema of the arguments) and its ``tool_choice`` into one :class:`ToolChoice`; :func:`decide` is
the rule that combines them with what the scenario says (which calls go out, and whether the
scenario's text still comes before them). The arguments of a call the scenario does not script are
generated against the tool's schema by the pipeline (``schema_data.generate``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ANY_TOOL",
    "AUTO",
    "NO_ARGUMENTS",
    "CallDecision",
    "PlannedCall",
    "ToolCall",
    "ToolChoice",
    "ToolSpec",
    "decide",
]

NO_ARGUMENTS: Mapping[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
"""The schema of a tool declared without one: it takes no arguments (``{}``), as the APIs read it."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call as a scenario gives it: ``arguments`` is sent exactly as given (a mapping in the
    scenario is serialized as compact JSON when it is read; a string stays as written, so that a
    test can send invalid JSON on purpose)."""

    name: str
    arguments: str = "{}"
    id: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A call as one stream sends it: its id (the scenario's, or drawn from the stream's RNG) and
    the arguments cut into the fragments that stream one per token."""

    id: str
    name: str
    fragments: tuple[str, ...]

    @property
    def arguments(self) -> str:
        return "".join(self.fragments)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One function tool of the request: its name and the JSON Schema of its arguments (Chat's
    ``function.parameters``, Responses' ``parameters``, Anthropic's ``input_schema``)."""

    name: str
    schema: Mapping[str, Any] = field(default_factory=lambda: NO_ARGUMENTS)


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """The request's ``tool_choice``, in every format's words: ``auto`` (the model decides: the
    scenario does), ``none`` (no call), ``required`` (at least one call: Anthropic's ``any``) or
    ``tool`` (a call to the tool ``name``)."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None


AUTO = ToolChoice()


@dataclass(frozen=True, slots=True)
class CallDecision:
    """What the answer calls: the scenario's own ``calls`` (in its order), then, when ``pick`` is
    set, one call whose arguments are generated: to the tool ``pick`` names, or (``pick`` is
    ``"*"``) to one of ``candidates`` drawn by the stream's RNG. ``text``: whether the scenario's
    text still comes first (a call forced on a text-only scenario comes alone, as a model forced to
    call a tool writes no text before it)."""

    calls: tuple[ToolCall, ...] = ()
    pick: str | None = None
    candidates: tuple[ToolSpec, ...] = ()
    text: bool = True

    @property
    def calling(self) -> bool:
        return bool(self.calls) or self.pick is not None


ANY_TOOL = "*"


def decide(
    choice: ToolChoice, tools: Sequence[ToolSpec], scripted: Sequence[ToolCall], auto: bool
) -> CallDecision:
    """The calls an answer makes, from the request's ``tool_choice`` and ``tools`` and the
    scenario's ``tool_calls`` (``scripted``, or ``auto``: one call picked from the request's
    tools):

    - ``none``: no call, whatever the scenario says;
    - ``auto``: the scenario decides: its calls, or with ``auto`` a pick among the request's tools
      (no call when it has none: the answer is text);
    - ``required``: the scenario's calls if it has some, else a pick;
    - a named tool: the scenario's calls to that tool if it has some, else a call to it.

    A call the scenario did not ask for (it has neither calls nor ``auto``) comes without the
    scenario's text."""
    own = bool(scripted) or auto
    if choice.mode == "none":
        return CallDecision()
    if choice.mode == "tool":
        named = tuple(call for call in scripted if call.name == choice.name)
        if named:
            return CallDecision(named)
        return CallDecision(pick=choice.name, text=own)
    if scripted:
        return CallDecision(tuple(scripted))
    if choice.mode == "required" or (auto and tools):
        return CallDecision(pick=ANY_TOOL, candidates=tuple(tools), text=own)
    return CallDecision()
