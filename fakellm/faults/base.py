"""What every fault is: the :class:`Fault` settings base (probability, times, fixed choices) and
:class:`_Positioned`, the base of faults that fire at a token count or a time.

The stages (request.py, events.py, frames.py) subclass these; spec.py reads their fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ..errors import ScenarioError
from ..stream import Frame, StreamContext, Timed
from .bounds import MAX_POSITION_TOKENS, MAX_TIMES, _duration_ms, _within

Stage = Literal["request", "events", "frames"]


@dataclass(frozen=True, slots=True)
class Fault:
    """Settings every fault has."""

    name: ClassVar[str] = ""
    stage: ClassVar[Stage] = "frames"
    rank: ClassVar[int] = 0  # order inside the stage
    primary: ClassVar[str | None] = None  # the field a bare value sets in the compact spec
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {}  # string fields with a fixed set of values
    aliases: ClassVar[Mapping[str, tuple[str, Any]]] = {}  # bare words of the compact spec

    probability: float = 1.0
    times: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ScenarioError(f"must be between 0 and 1, got {self.probability!r}", field="probability")
        _within(self.times, 0, MAX_TIMES, "times")
        for key, allowed in self.choices.items():
            value = getattr(self, key)
            if value not in allowed:
                raise ScenarioError(f"must be one of {', '.join(allowed)}, got {value!r}", field=key)

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        return events

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        return frames

    def apply_head(self, headers: list[tuple[str, str]], ctx: StreamContext) -> list[tuple[str, str]]:
        """The headers of a stream's response head, as this fault leaves them (called once, when
        the head is sent; only ``accel_buffering`` changes them)."""
        return headers


@dataclass(frozen=True, slots=True)
class _Positioned(Fault):
    after_tokens: int | None = None
    after_ms: float | None = None

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        _within(self.after_tokens, 0, MAX_POSITION_TOKENS, "after_tokens")
        _duration_ms(self.after_ms, "after_ms")
        if self.after_tokens is not None and self.after_ms is not None:
            raise ScenarioError("give after_tokens or after_ms, not both", field="after_ms")

    def reached(self, tokens: int, due: float) -> bool:
        if self.after_ms is not None:
            return due * 1000.0 >= self.after_ms
        return tokens >= (self.after_tokens or 0)

    def _when(self, due: float, last_due: float) -> float:
        """The moment the fault takes effect: an ``after_ms`` between two events is exact."""
        if self.after_ms is None:
            return due
        return max(last_due, min(due, self.after_ms / 1000.0))
