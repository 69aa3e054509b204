"""Someone else's SSE stream, carried verbatim: a proxied upstream's, or a recording's.

Deliberate design: fakellm does not re-encode an upstream stream. :class:`EventSplitter` cuts the
bytes at SSE event boundaries (the blank lines), with :class:`~fakellm.wire.sse.SSEDecoder` as the
parser, and :func:`classify` turns each block into an event *that keeps its own bytes*: a content
chunk becomes a :class:`RawTextDelta` (a :class:`~fakellm.events.TextDelta`), a finish chunk a
:class:`RawFinish`, ``[DONE]`` a :class:`RawStreamEnd`, and so on; anything else (the role chunk, a
comment, a provider's extra chunk) is :class:`~fakellm.events.Verbatim`. The faults then find their
positions exactly as in a generated stream, and :class:`PassthroughEncoder` writes every block back
byte for byte, so a passthrough with no fault is byte-identical to the upstream. Only the events a
fault injects (error event, malformed chunk, ``[DONE]``) are encoded by fakellm, in OpenAI's format.

A *token*, for fault positions, is an upstream event that carries assistant output: ``content``,
``refusal`` or tool-call ``arguments`` text (OpenAI Chat Completions chunks). Other formats pass
through untouched, with no token positions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..events import (
    Event,
    Finish,
    StreamEnd,
    StreamError,
    TextDelta,
    Usage,
    Verbatim,
)
from .openai import OpenAIChatEncoder
from .sse import SSEDecoder

__all__ = [
    "EventSplitter",
    "PassthroughEncoder",
    "RawFinish",
    "RawStreamEnd",
    "RawStreamError",
    "RawTextDelta",
    "RawUsage",
    "classify",
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


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def classify(raw: bytes, data: str | None) -> Event:
    """The event for one SSE block: ``raw`` its bytes, ``data`` its dispatched data (None when the
    block dispatched nothing: comments, or a partial block)."""
    if data is None:
        return Verbatim(raw)
    if data.startswith("[DONE]"):  # a prefix, as the openai SDKs match it
        return RawStreamEnd(raw=raw)
    try:
        chunk = json.loads(data)
    except ValueError:
        return Verbatim(raw)
    if not isinstance(chunk, dict):
        return Verbatim(raw)
    error = chunk.get("error")
    if error:
        body = error if isinstance(error, dict) else {"message": str(error)}
        return RawStreamError(
            _text(body.get("message")) or "An error occurred during streaming",
            _text(body.get("type")) or "server_error",
            body.get("param") if isinstance(body.get("param"), str) else None,
            body.get("code") if isinstance(body.get("code"), str) else None,
            raw=raw,
        )
    choices = chunk.get("choices")
    text: list[str] = []
    output = False
    finish: str | None = None
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            for key in ("content", "refusal"):
                piece = _text(delta.get(key))
                if piece:
                    text.append(piece)
                    output = True
            calls = delta.get("tool_calls")
            for call in calls if isinstance(calls, list) else ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and _text(function.get("arguments")):
                    output = True
            legacy = delta.get("function_call")
            if isinstance(legacy, dict) and _text(legacy.get("arguments")):
                output = True
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            finish = reason
    if output:
        # A chunk with both output and a finish reason (some servers do that) counts as a token:
        # the positions "after the last token" then still come before the usage and [DONE].
        return RawTextDelta("".join(text), raw=raw)
    if finish is not None:
        return RawFinish(finish, raw=raw)
    usage = chunk.get("usage")
    if isinstance(usage, dict) and not choices:
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        return RawUsage(
            prompt if isinstance(prompt, int) else 0,
            completion if isinstance(completion, int) else 0,
            raw=raw,
        )
    return Verbatim(raw)


_EOL = re.compile(rb"[\r\n]")


class EventSplitter:
    """Cut an SSE byte stream into blocks, one per event, as the bytes arrive.

    :meth:`feed` returns ``(raw, data)`` for every block its bytes complete: ``raw`` the exact bytes
    from the end of the previous block through the blank line that ends this one (comments and
    all), ``data`` the event's data as :class:`SSEDecoder` dispatched it, or None when the block
    dispatched nothing (comments only). The concatenation of every ``raw``, plus :meth:`close`,
    is exactly the input. A CRLF split across reads is one line end, as the decoder sees it."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._block = bytearray()
        self._line_len = 0  # bytes of the current line so far, line end excluded
        self._pending_cr = False  # the last byte fed ended a line with CR; an LF may follow
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[tuple[bytes, str | None]]:
        out: list[tuple[bytes, str | None]] = []
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
        self._data.clear()
        self._line_len = 0
        self._decoder.close()
        return rest

    def _collect(self, events: list[Any]) -> None:
        self._data.extend(e.data for e in events)

    def _cut(self) -> tuple[bytes, str | None]:
        raw = bytes(self._block)
        self._block.clear()
        data = self._data[0] if self._data else None
        self._data.clear()
        # The decoder keeps every comment it reads; over a long stream (keep-alives through the
        # proxy) they would pile up, and the comments are in ``raw`` already.
        self._decoder.comments.clear()
        return raw, data


class PassthroughEncoder:
    """Writes passthrough events back as their own bytes; encodes what a fault injects (an error
    event, a malformed chunk, ``[DONE]``) as OpenAI does."""

    def __init__(self, content_type: str = "text/event-stream; charset=utf-8") -> None:
        self.content_type = content_type
        self._openai = OpenAIChatEncoder(id="", created=0, model="", system_fingerprint="")

    def encode(self, event: Event) -> bytes:
        raw = raw_bytes(event)
        if raw is not None:
            return raw
        return self._openai.encode(event)
