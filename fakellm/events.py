"""The events of a stream, independent of any wire format.

A token source produces text; the pipeline turns it into these events; a wire encoder turns each
event into bytes. Semantic faults (error event, truncation, malformed chunk) act on events, before
encoding, so they work for every wire format.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Event",
    "Finish",
    "Hold",
    "Malformed",
    "RoleStart",
    "StreamEnd",
    "StreamError",
    "TextDelta",
    "Usage",
]


@dataclass(frozen=True, slots=True)
class RoleStart:
    """The opening of the assistant message (OpenAI's role-only first chunk)."""

    role: str = "assistant"


@dataclass(frozen=True, slots=True)
class TextDelta:
    """One content token."""

    text: str


@dataclass(frozen=True, slots=True)
class Finish:
    """The end of the choice: ``stop``, ``length``, ``tool_calls`` or ``content_filter``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class StreamError:
    """An error reported inside a 200 stream (OpenAI: ``data: {"error": {...}}``)."""

    message: str
    type: str = "server_error"
    param: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Malformed:
    """An event whose payload is deliberately not valid JSON."""

    payload: str


@dataclass(frozen=True, slots=True)
class Hold:
    """Nothing more is sent, and the connection stays open (until the client leaves)."""


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The format's end-of-stream sentinel (OpenAI: ``data: [DONE]``)."""


Event = RoleStart | TextDelta | Finish | Usage | StreamError | Malformed | Hold | StreamEnd
