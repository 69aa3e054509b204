"""Someone else's SSE stream, carried verbatim: a proxied upstream's, or a recording's.

Deliberate design: fakellm does not re-encode an upstream stream. :class:`EventSplitter` cuts the
bytes at SSE event boundaries (the blank lines), with :class:`~fakellm.wire.sse.SSEDecoder` as the
parser, and a :class:`Classifier` (the route's format's reader, ``WireFormat.reader``) turns each
block into an event *that keeps its own bytes*: a content event becomes a :class:`RawTextDelta` (a
:class:`~fakellm.events.TextDelta`), a finish a :class:`RawFinish`, the end a
:class:`RawStreamEnd`, and so on; anything else (a role chunk, a lifecycle event, a comment, a
provider's extra event) is :class:`~fakellm.events.Verbatim`. The faults then find their positions
exactly as in a generated stream, and :class:`PassthroughEncoder` writes every block back byte for
byte, ``event:`` lines and all, so a passthrough with no fault is byte-identical to the upstream.
Only the events a fault injects (error event, malformed event, end) are written by fakellm, in the
route's format, by its injector (``WireFormat.injector``), which continues the stream it has seen.

A *token*, for fault positions, is an upstream event that carries assistant output, in every
format: Chat's ``content``, ``refusal`` or tool-call ``arguments`` deltas; Responses'
``response.output_text.delta``, ``response.refusal.delta`` and
``response.function_call_arguments.delta``; Anthropic's ``text_delta`` and ``input_json_delta``;
legacy completions' ``text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..events import (
    Event,
    Finish,
    StreamEnd,
    StreamError,
    TextDelta,
    Usage,
    Verbatim,
)
from .format import WireFormat
from .openai import CHAT
from .sse import ServerSentEvent, SSEDecoder

__all__ = [
    "Classifier",
    "EventSplitter",
    "PassthroughEncoder",
    "RawFinish",
    "RawStreamEnd",
    "RawStreamError",
    "RawTextDelta",
    "RawUsage",
    "raw_bytes",
]


@dataclass(frozen=True, slots=True)
class RawTextDelta(TextDelta):
    """An upstream chunk carrying output (``text`` is its content or refusal text; empty for
    tool-call arguments, which still count as a token)."""

    raw: bytes = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class RawFinish(Finish):
    raw: bytes = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class RawUsage(Usage):
    raw: bytes = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class RawStreamError(StreamError):
    raw: bytes = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class RawStreamEnd(StreamEnd):
    raw: bytes = field(kw_only=True)


_RAW = (RawTextDelta, RawFinish, RawUsage, RawStreamError, RawStreamEnd)


def raw_bytes(event: Event) -> bytes | None:
    """The upstream bytes an event carries, or None for an event fakellm made."""
    if isinstance(event, Verbatim):
        return event.data
    if isinstance(event, _RAW):
        return event.raw
    return None


class Classifier:
    """One passthrough stream's classifier: its format's reader (:meth:`WireFormat.reader
    <fakellm.wire.format.WireFormat.reader>`) turns each SSE block into the neutral events it
    stands for, and the block becomes the one event that matters most for the faults, carrying
    its bytes: output (a content, refusal or tool-arguments delta, even one that also finishes)
    is a token; then an error, a finish (Responses' ``response.completed`` and Anthropic's
    ``message_delta`` are finishes that also end or report usage), usage, the end; anything else
    is :class:`Verbatim`."""

    __slots__ = ("_read",)

    def __init__(self, fmt: WireFormat) -> None:
        self._read = fmt.reader()

    def __call__(self, raw: bytes, sse: ServerSentEvent | None) -> Event:
        if sse is None:  # a comment, or a block that dispatched nothing
            return Verbatim(raw)
        events = self._read(sse)
        if not events:
            return Verbatim(raw)
        texts = [e.text for e in events if isinstance(e, TextDelta)]
        if texts:
            return RawTextDelta("".join(texts), raw=raw)
        for event in events:
            if isinstance(event, StreamError):
                return RawStreamError(event.message, event.type, event.param, event.code, raw=raw)
        for event in events:
            if isinstance(event, Finish):
                return RawFinish(event.reason, raw=raw)
        for event in events:
            if isinstance(event, Usage):
                return RawUsage(event.prompt_tokens, event.completion_tokens, raw=raw)
            if isinstance(event, StreamEnd):
                return RawStreamEnd(raw=raw)
        return Verbatim(raw)


_EOL = re.compile(rb"[\r\n]")


class EventSplitter:
    """Cut an SSE byte stream into blocks, one per event, as the bytes arrive.

    :meth:`feed` returns ``(raw, sse)`` for every block its bytes complete: ``raw`` the exact bytes
    from the end of the previous block through the blank line that ends this one (comments and
    all), ``sse`` the event as :class:`SSEDecoder` dispatched it (its ``event:`` name and data),
    or None when the block dispatched nothing (comments only). The concatenation of every ``raw``,
    plus :meth:`close`, is exactly the input. A CRLF split across reads is one line end, as the
    decoder sees it."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._block = bytearray()
        self._line_len = 0  # bytes of the current line so far, line end excluded
        self._pending_cr = False  # the last byte fed ended a line with CR; an LF may follow
        self._events: list[ServerSentEvent] = []

    def feed(self, chunk: bytes) -> list[tuple[bytes, ServerSentEvent | None]]:
        out: list[tuple[bytes, ServerSentEvent | None]] = []
        pos = 0
        size = len(chunk)
        if self._pending_cr and size and chunk[0] == 0x0A:
            # The LF of a CRLF whose CR ended the previous read. If that CR ended a block, the
            # block is already out: the LF opens the next one (the bytes stay in order).
            self._block += b"\n"
            self._collect(self._decoder.feed(b"\n"))
            pos = 1
        self._pending_cr = False
        while pos < size:
            match = _EOL.search(chunk, pos)
            if match is None:
                rest = chunk[pos:]
                self._block += rest
                self._line_len += len(rest)
                self._collect(self._decoder.feed(rest))
                break
            end = match.end()
            if chunk[match.start()] == 0x0D:
                if end < size and chunk[end] == 0x0A:
                    end += 1
                elif end == size:
                    self._pending_cr = True
            line = chunk[pos:end]
            blank = self._line_len == 0 and match.start() == pos
            self._block += line
            self._line_len = 0
            self._collect(self._decoder.feed(line))
            if blank:
                out.append(self._cut())
            pos = end
        return out

    def close(self) -> bytes:
        """The bytes of an unfinished block (an event cut off before its blank line), if any."""
        rest = bytes(self._block)
        self._block.clear()
        self._events.clear()
        self._line_len = 0
        self._decoder.close()
        return rest

    def _collect(self, events: list[ServerSentEvent]) -> None:
        self._events.extend(events)

    def _cut(self) -> tuple[bytes, ServerSentEvent | None]:
        raw = bytes(self._block)
        self._block.clear()
        sse = self._events[0] if self._events else None
        self._events.clear()
        # The decoder keeps every comment it reads; over a long stream (keep-alives through the
        # proxy) they would pile up, and the comments are in ``raw`` already.
        self._decoder.comments.clear()
        return raw, sse


class PassthroughEncoder:
    """Writes passthrough events back as their own bytes; what a fault injects (an error event, a
    malformed event, the end) is written by the format's injector, which has seen every carried
    event before it (Chat's when no format is given)."""

    def __init__(
        self, content_type: str = "text/event-stream; charset=utf-8", fmt: WireFormat | None = None
    ) -> None:
        self.content_type = content_type
        self._injector = (fmt or CHAT).injector()

    def encode(self, event: Event) -> bytes:
        raw = raw_bytes(event)
        if raw is not None:
            self._injector.observe(raw, event)
            return raw
        return self._injector.encode(event)
