"""Tool calls a scenario scripts: what the model "decides" to call, format-neutral.

A :class:`ToolCall` is the scenario's word (``tool_calls: [{name, arguments, id?}]``); the
pipeline turns each into a ``tool_call`` block (``events.BlockStart``) whose tokens are fragments of
the arguments, so that the stream's pace and the faults' positions apply to them as to text
(``drop@3`` can cut a call in the middle of its arguments). The format writes the framing and,
unless the scenario fixes it, draws the call's id in its own shape (``call_…``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PlannedCall", "ToolCall"]


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
