"""The events of a stream, independent of any wire format.

A token source produces text; the pipeline turns it into these events (``pipeline.schedule``); a
wire encoder turns each event into bytes. Semantic faults (error event, truncation, malformed
chunk) act on events, before encoding, so they work for every wire format.

The shape of one answer::

    RoleStart                                  the assistant message opens
      BlockStart(kind, index)                  a content block opens: "text", "reasoning", "tool_call"
        TextDelta(text) ...                    its tokens: text, reasoning text, or argument fragments
      BlockEnd(index)                          it closes; further blocks follow the same way
    Finish(reason)                             why the choice stopped
    Usage                                      only when the request asks for it
    StreamEnd                                  the format's end of stream

Deliberate choices:

- **A token is a TextDelta, whatever its block.** Fault positions (``error_event@N``) count
  TextDelta events only, so the block events never move a position, and a tool call's argument
  fragments and reasoning text count as tokens when issue 12 streams them. A TextDelta belongs to
  the block open in its choice: within one choice blocks are sequential in every format (Anthropic
  and Responses stream one block at a time, Chat Completions sends a choice's tool calls in index
  order), so a delta needs no block index, and the per-token hot path stays one small object.
- **``index``** is the block's position in its choice's output: Anthropic's content block
  ``index`` and Responses' ``output_index``. A format that numbers blocks otherwise counts for
  itself (Chat's ``tool_calls[].index`` counts tool-call blocks only).
- **``choice``** (default 0) says which of several choices (``n``, Chat and Completions) an event
  belongs to. Choices interleave; blocks of one choice do not. ``Usage`` and ``StreamEnd`` are
  per stream.
- **Where the framing goes out** is the pipeline's business, not the encoder's: each event is
  encoded in order, but ``RoleStart`` and ``BlockEnd`` are sent with the frame after them (the
  first block's start, the finish), so a stream is written in the same writes as when the message
  opened and closed its block implicitly; a block still open when a fault ends the stream is never
  closed, as when a real stream fails (``pipeline._encode``).

How each format frames these events (ARCHITECTURE.md has the table, with what issue 12 adds for
reasoning, tool calls and several choices):

- Chat Completions: RoleStart is the role chunk; a text block has no framing of its own; each
  TextDelta is a ``delta.content`` chunk; Finish the ``finish_reason`` chunk.
- Responses: RoleStart is ``response.created`` + ``response.in_progress``; BlockStart(text) the
  message's ``output_item.added`` + ``content_part.added``; BlockEnd(text) ``output_text.done`` +
  ``content_part.done``; Finish the message's ``output_item.done`` (its status needs the reason).
- Anthropic Messages: RoleStart is ``message_start``; BlockStart ``content_block_start`` (and
  ``ping`` after the first); BlockEnd ``content_block_stop``; Finish keeps the stop reason for
  ``message_delta``, which goes out with Usage or StreamEnd.
- Completions: no role and no block framing; each TextDelta a ``text`` chunk; Finish a chunk
  with ``"text":""`` and the reason.

Finish reasons are neutral (:data:`FINISH_REASONS`); each format maps them to its own words
(Anthropic ``STOP_REASONS``: ``end_turn``, ``max_tokens``, ``tool_use``, ``refusal``; Responses
``FINISH_STATUS``: ``completed`` or ``incomplete`` with a reason; Chat and Completions send them
as they are).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FINISH_REASONS",
    "Abort",
    "BlockEnd",
    "BlockKind",
    "BlockStart",
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


BlockKind = Literal["text", "reasoning", "tool_call"]
"""What a content block holds: the answer's text, reasoning (thinking) text, or one tool call."""

FINISH_REASONS: tuple[str, ...] = ("stop", "length", "tool_calls", "content_filter")
"""The neutral finish reasons (Chat Completions' words), which each format maps to its own."""


@dataclass(frozen=True, slots=True)
class RoleStart:
    """The opening of the assistant message (OpenAI's role-only first chunk, Anthropic's
    ``message_start``, Responses' ``response.created``)."""

    role: str = "assistant"
    choice: int = 0


@dataclass(frozen=True, slots=True)
class BlockStart:
    """A content block opens: ``index`` is its position in the choice's output (see the module
    notes). A ``tool_call`` block carries the call's ``id`` (None: the format makes one in its own
    shape) and the function's ``name``; its arguments follow as TextDelta fragments."""

    kind: BlockKind = "text"
    index: int = 0
    choice: int = 0
    id: str | None = None
    name: str | None = None  # a reasoning block's: the Chat delta field it goes out in, if any


@dataclass(frozen=True, slots=True)
class TextDelta:
    """One content token of the block open in its choice: answer text, reasoning text, or a
    fragment of a tool call's arguments."""

    text: str
    choice: int = 0


@dataclass(frozen=True, slots=True)
class BlockEnd:
    """The block opened by the ``BlockStart`` with this ``index`` (and ``choice``) closes."""

    index: int = 0
    choice: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    """The end of the choice: one of :data:`FINISH_REASONS` (``stop``, ``length``,
    ``tool_calls``, ``content_filter``)."""

    reason: str
    choice: int = 0
    # The request's stop sequence that ended the text (reason ``stop``), or None. Chat and
    # Completions only say ``stop``; Anthropic names it (``stop_reason: "stop_sequence"`` and
    # ``stop_sequence`` in ``message_delta``), so the finish has to carry which one matched.
    stop_sequence: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """The answer's token counts. ``completion_tokens`` counts every output token, reasoning
    included (as OpenAI and Anthropic count them); ``reasoning_tokens`` says how many of them were
    reasoning (Chat's ``completion_tokens_details.reasoning_tokens``, Responses'
    ``output_tokens_details.reasoning_tokens``)."""

    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int = 0

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


Event = (
    RoleStart
    | BlockStart
    | TextDelta
    | BlockEnd
    | Finish
    | Usage
    | StreamError
    | Malformed
    | Hold
    | StreamEnd
    | Verbatim
    | Abort
)
