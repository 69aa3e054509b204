"""The events stage: semantic faults over timed events, before the wire encoder, so they work for
every wire format (``slow_tokens``, ``malformed``, ``error_event``, ``truncate``).

They see the frozen ``events`` vocabulary only, never bytes; a fault's position counts
:class:`TextDelta` events, the same in every format.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..events import Finish, Hold, Malformed, StreamEnd, StreamError, TextDelta, Usage
from ..stream import StreamContext, Timed
from .base import Stage, _Positioned
from .bounds import MAX_FACTOR, _within


def _split_at(fault: _Positioned, events: Iterator[Timed]) -> Iterator[tuple[Timed | None, int, float]]:
    """Walk ``events`` yielding ``(event, tokens_before, due)``, and ``(None, tokens, due)`` once at
    the point where ``fault`` fires (before the event it precedes): at its position, or at the
    natural end of the content (finish, usage or sentinel) if the position is never reached. An
    error event or a hold means an earlier fault ended the stream: then it never fires."""
    tokens = 0
    live = True
    last_due = 0.0
    for timed in events:
        if live:
            ev = timed.event
            if isinstance(ev, StreamError | Hold):
                live = False
            elif (isinstance(ev, TextDelta) and fault.reached(tokens, timed.due)) or isinstance(
                ev, Finish | Usage | StreamEnd
            ):
                live = False
                yield None, tokens, fault._when(timed.due, last_due)
        yield timed, tokens, timed.due
        last_due = timed.due
        if isinstance(timed.event, TextDelta):
            tokens += 1


@dataclass(frozen=True, slots=True)
class SlowTokens(_Positioned):
    """From the N-th token on, every inter-token gap is ``factor`` times longer."""

    name: ClassVar[str] = "slow_tokens"
    stage: ClassVar[Stage] = "events"
    rank: ClassVar[int] = 0
    primary: ClassVar[str | None] = "factor"

    factor: float = 4.0

    def __post_init__(self) -> None:
        _Positioned.__post_init__(self)
        _within(self.factor, 0, MAX_FACTOR, "factor", strict=True)

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        anchor: float | None = None
        previous = 0.0
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                # After N tokens: the gap before token N+1 is the first slow one. After T ms: time
                # runs slow from T on.
                anchor = due if self.after_ms is not None else min(previous, due)
                ctx.fire(self.name, at_token=tokens, due=anchor, detail=f"x{self.factor:g}")
                continue
            previous = timed.due
            if anchor is not None and timed.due > anchor:
                yield Timed(anchor + (timed.due - anchor) * self.factor, timed.event)
            else:
                yield timed


@dataclass(frozen=True, slots=True)
class MalformedChunk(_Positioned):
    """One event whose data is not valid JSON (a chunk cut off mid-object), then the stream goes on."""

    name: ClassVar[str] = "malformed"
    stage: ClassVar[Stage] = "events"
    rank: ClassVar[int] = 1
    primary: ClassVar[str | None] = "payload"

    payload: str | None = None  # default: the start of a chunk, cut off inside a JSON string

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                ctx.fire(self.name, at_token=tokens, due=due)
                payload = self.payload if self.payload is not None else '{"id":"chatcmpl-'
                yield Timed(due, Malformed(payload))
                continue
            yield timed


@dataclass(frozen=True, slots=True)
class ErrorEvent(_Positioned):
    """An error inside the 200 stream (``data: {"error": {...}}``, the form the openai SDKs raise
    ``APIError`` on), then the body ends cleanly (``then: close``), or ``[DONE]`` follows
    (``then: done``), or the connection stays open with nothing more sent (``then: hold``)."""

    name: ClassVar[str] = "error_event"
    stage: ClassVar[Stage] = "events"
    rank: ClassVar[int] = 2
    primary: ClassVar[str | None] = "then"
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {"then": ("close", "done", "hold")}

    message: str = "The server had an error while processing your request. Sorry about that!"
    type: str = "server_error"
    code: str | None = None
    param: str | None = None
    then: str = "close"

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                ctx.fire(self.name, at_token=tokens, due=due, detail=f"then {self.then}")
                ctx.ending = "error_event"
                yield Timed(due, StreamError(self.message, self.type, self.param, self.code))
                if self.then == "done":
                    yield Timed(due, StreamEnd())
                elif self.then == "hold":
                    yield Timed(due, Hold())
                return
            yield timed


@dataclass(frozen=True, slots=True)
class Truncate(_Positioned):
    """End the body cleanly after N tokens: no finish chunk, no usage, no ``[DONE]`` (the failure
    SDKs do not notice)."""

    name: ClassVar[str] = "truncate"
    stage: ClassVar[Stage] = "events"
    rank: ClassVar[int] = 3

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                ctx.fire(self.name, at_token=tokens, due=due)
                ctx.ending = "truncated"
                return
            yield timed
