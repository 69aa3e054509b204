"""The events of a stream, independent of any wire format.

A token source produces text; the pipeline turns it into these events; a wire encoder turns each
event into bytes. Semantic faults (error event, truncation, malformed chunk) act on events, before
encoding, so they work for every wire format.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Abort",
    "Event",
    "Finish",
    "Hold",
    "Malformed",
    "RoleStart",
    "StreamEnd",
    "StreamError",
    "TextDelta",
    "Usage",
    "Verbatim",
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


@dataclass(frozen=True, slots=True)
class Verbatim:
    """Bytes sent exactly as given, neither content nor the end of it: a proxied or recorded event
    with no content (a role chunk, a comment, a provider's extra chunk). Proxied or recorded
    content and closing events are the events above, subclassed to carry their own bytes
    (``wire/passthrough.py``), so that faults find their positions in them."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Abort:
    """The connection closes abruptly, with no end of body: what a proxied or recorded upstream did."""


Event = RoleStart | TextDelta | Finish | Usage | StreamError | Malformed | Hold | StreamEnd | Verbatim | Abort
