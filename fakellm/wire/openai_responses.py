"""OpenAI Responses API (``POST /v1/responses``): the request, the event stream, the response object.

The format's rules (shared/wire2.md §1, checklist §8; W1 = shared/wire.md):

- Every event is ``event: <type>`` + ``data: <compact JSON>`` (§1.1), written by
  :func:`~fakellm.wire.sse.encode_sse` (the per-token event is precomputed; a test pins it equal).
  Keys in the wire's order: ``type, sequence_number, <fields>`` (§1.1); non-ASCII escaped, as in
  Chat Completions (W1 §1.3).
- ``sequence_number`` counts from 0 across *every* event, ``error`` included (§1.1).
- One message: ``response.created`` → ``response.in_progress`` (both the whole object,
  ``status:"in_progress"``, ``output:[]``, ``usage:null``) → ``output_item.added`` →
  ``content_part.added`` → N ``output_text.delta`` → ``output_text.done`` → ``content_part.done``
  → ``output_item.done`` → ``response.completed`` (§1.2). ``output_index`` and ``content_index`` are
  always sent, zeros included (§1.5, R17); ``logprobs:[]`` on text deltas and ``.done`` (§1.2),
  the tokens' (``fakellm/logprobs.py``) when ``include`` holds ``message.output_text.logprobs``.
- ``response.completed`` carries the full ``output[]`` and ``usage`` (§1.5, R4b: with ``output:[]``
  the SDK's final text is silently empty). No ``[DONE]``: the terminal event ends the body (§1.1).
- A mid-stream error is the nested ``event: error`` (``{"type":"error","sequence_number":n,
  "error":{"type","code","message","param"}}``), the form openai-python raises ``APIError`` on,
  then ``response.failed`` (§1.4, W1 §3.3).
- A tool call is a ``function_call`` output item (§1.3): ``output_item.added`` with ``id`` (``fc_``),
  ``status``, ``arguments:""``, ``call_id``, ``name``; ``function_call_arguments.delta`` events on
  the item id (no ``content_index``, no ``logprobs``); ``function_call_arguments.done`` (no
  ``name``, as captured); ``output_item.done``. Each item has its own ``output_index``.
- Reasoning is a ``reasoning`` output item (§1.3's elided first item; the vercel/ai capture):
  ``output_item.added`` (``rs_`` id, ``summary: []``, no status), ``reasoning_summary_part.added``,
  ``reasoning_summary_text.delta`` events (``summary_index``, ``obfuscation``), the text's and the
  part's ``.done``, ``output_item.done`` with the summary; ``encrypted_content`` when the request's
  ``include`` asks for it.
- ``obfuscation`` on each text delta, ``[A-Za-z0-9]`` with ``len(delta) + len(obfuscation)`` a
  multiple of 16 (§1.2); ``stream_options.include_obfuscation: false`` drops it.
- HTTP errors before the stream are Chat-shaped ``{"error":{message,type,param,code}}`` with
  ``x-request-id`` (§1.4, W1 §1.6). The non-streamed body is the ``response.completed`` object (§1.6).

Deliberate choices:

- Neutral events map to groups of wire events: ``RoleStart`` opens the response (``created``,
  ``in_progress``); ``BlockStart`` (text) opens the message item and its text part, ``BlockStart``
  (tool_call) a function call item, at ``output_index`` = the block's index; ``BlockEnd`` closes
  the part (``output_text.done``, ``content_part.done``; a call's ``arguments.done``); the next
  ``BlockStart`` or ``Finish`` closes the item (``output_item.done``: ``completed`` before another
  block, the finish's status for the last, so a call cut by ``length`` is ``incomplete``);
  ``Usage`` is kept for the terminal event; ``StreamEnd`` is the terminal event
  (``response.completed``, or ``response.incomplete`` for ``length``/``content_filter``);
  ``StreamError`` is ``error`` + ``response.failed`` at once, so an ``error_event`` fault's
  ``then: close`` and ``then: done`` send the same bytes (the format has no sentinel), and
  ``then: hold`` holds after them.
- The encoder never writes a sequence the SDK helper rejects: an event that needs the response or
  the message open opens it first (an error before any output is ``created``, ``in_progress``,
  ``error``, ``failed``, as in the real capture ``openai-error.1``).
- ``response.failed`` lists the items output so far, the open one (a partial message or call)
  ``status:"incomplete"``; no capture shows that case, only ``output:[]`` when nothing was output.
- A malformed event goes out as an ``output_text.delta`` whose data is the payload, and uses up a
  sequence number (it stands for an event that was sent and arrived broken).
- Obfuscation pads are windows on one random string drawn per stream (the RNG is drawn once, not
  per token), so the hot path costs a slice.
- The response object echoes the request's settings (``instructions``, ``tools``, ``reasoning``,
  ``text``, ``temperature``, ``store``...), defaults from the Dec 2025 captures where absent;
  ``service_tier`` is the requested one (``auto``) until ``response.completed``, which says
  ``default`` (§1.2).
- ``background: true`` (§6.1): the object says ``background: true``, and the stream opens
  ``response.created`` and ``response.queued`` (``status: "queued"``) before
  ``response.in_progress``, all three in the first write (at the first token's time: a real
  server sends the first two at once; not checked against a capture). The rest is the same
  stream. :class:`ResponseAccumulator` reads a stream's events back into the response object
  as it stands (``GET /v1/responses/{id}`` of a background response, ``background.py``).
- Ids have the captures' shape: ``resp_``/``msg_`` + 50 hex digits, 18 shared by a response's ids,
  then ``created_at`` in hex (:func:`new_ids`). Function call items' ``fc_`` ids (:func:`item_ids`)
  come from an RNG seeded by the response id, so that no draw is added to the stream's RNG (seeded
  bodies without calls stay byte-identical); ``call_id`` is the format's ``tool_call_id``.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

from ..errors import RequestError
from ..events import (
    Abort,
    BlockEnd,
    BlockStart,
    Event,
    Finish,
    Hold,
    Malformed,
    RoleStart,
    StreamEnd,
    StreamError,
    TextDelta,
    Usage,
    Verbatim,
)
from ..logprobs import MAX_TOP_LOGPROBS, StreamLogprobs
from ..reasoning import PlannedReasoning
from ..tokens import tokens_for
from ..tools import PlannedCall
from .format import Answer, ChatRequest, EventReader, Injector, OpenedStream
from .openai import function_tools, openai_error, openai_headers, output_schema, tool_choice
from .sse import ServerSentEvent, SSEDecoder, encode_sse

__all__ = [
    "CONTENT_TYPE",
    "FINISH_STATUS",
    "RESPONSES",
    "TERMINAL_STATUSES",
    "OpenAIResponsesEncoder",
    "ResponseAccumulator",
    "ResponseIds",
    "Responses",
    "ResponsesInjector",
    "encoder_for",
    "error_body",
    "error_headers",
    "finish_reason_of",
    "finish_status",
    "is_background",
    "item_ids",
    "new_ids",
    "parse_responses_request",
    "read_event",
    "responses_logprobs",
    "usage_object",
]

CONTENT_TYPE = "text/event-stream; charset=utf-8"
_ALNUM = string.ascii_letters + string.digits
_POOL = 64  # obfuscation pads are windows of up to 15 characters on a string this long (+15)

# Neutral finish reason → (response status, incomplete_details.reason).
FINISH_STATUS: Mapping[str, tuple[str, str | None]] = {
    "stop": ("completed", None),
    "tool_calls": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
}


def finish_status(reason: str) -> tuple[str, str | None]:
    """The response ``status`` and ``incomplete_details.reason`` for a neutral finish reason."""
    try:
        return FINISH_STATUS[reason]
    except KeyError:
        raise ValueError(f"not a finish reason: {reason!r}") from None


def finish_reason_of(response: Mapping[str, Any]) -> str:
    """The neutral finish reason a response object stands for (the inverse of :func:`finish_status`)."""
    if response.get("status") == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, Mapping) else None
        return "content_filter" if reason == "content_filter" else "length"
    output = response.get("output")
    items = output if isinstance(output, list) else []
    if any(isinstance(item, Mapping) and item.get("type") == "function_call" for item in items):
        return "tool_calls"
    return "stop"


def usage_object(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _dumps(value: Any, ascii_only: bool) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only)


# --------------------------------------------------------------------------------------------------
# Ids


@dataclass(frozen=True, slots=True)
class ResponseIds:
    response_id: str
    message_id: str
    created_at: int


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def new_ids(rng: random.Random, *, now: float | None = None) -> ResponseIds:
    """Ids drawn from ``rng`` in a fixed order (never reorder: it changes every body): a 2025
    ``created_at`` (``now`` instead when given, drawn anyway), an 18-digit prefix the response and
    its items share, then each id's own digits. Shape as in the captures (wire2.md §1.2):
    prefix + ``created_at`` as 8 hex digits + 4 hex + ``81`` + 2 hex + 16 hex."""
    drawn = 1_735_689_600 + rng.randrange(31_536_000)
    created = drawn if now is None else int(now)
    prefix = _hex(rng, 18) + f"{created:08x}"

    def one() -> str:
        return f"{prefix}{_hex(rng, 4)}81{_hex(rng, 2)}{_hex(rng, 16)}"

    return ResponseIds(response_id="resp_" + one(), message_id="msg_" + one(), created_at=created)


# --------------------------------------------------------------------------------------------------
# The encoder

# What a response object says about the request, in the wire's key order, with the defaults of
# the Dec 2025 captures (wire2.md §1.2, openai-error.1). ``None`` in the request means "not given".
_ECHO_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("instructions", None),
    ("max_output_tokens", None),
    ("max_tool_calls", None),
    ("parallel_tool_calls", True),
    ("previous_response_id", None),
    ("prompt_cache_key", None),
    ("prompt_cache_retention", None),
    ("reasoning", {"effort": None, "summary": None}),
    ("safety_identifier", None),
    ("service_tier", "auto"),
    ("store", True),
    ("temperature", 1),
    ("text", {"format": {"type": "text"}, "verbosity": "medium"}),
    ("tool_choice", "auto"),
    ("tools", []),
    ("top_logprobs", 0),
    ("top_p", 1),
    ("truncation", "disabled"),
    ("user", None),
    ("metadata", {}),
)
_MERGED = ("reasoning", "text")  # objects whose given keys are laid over the defaults


def _echo(request: Mapping[str, Any]) -> dict[str, Any]:
    echo: dict[str, Any] = {}
    for key, default in _ECHO_DEFAULTS:
        value = request.get(key)
        if value is None:
            value = default
        elif key in _MERGED and isinstance(value, Mapping):
            value = {**default, **value}
        echo[key] = value
    return echo


def item_ids(response_id: str, created_at: int) -> Callable[[str], str]:
    """New output item ids after the message's (``fc_`` for function calls), in the captures' shape:
    the response's 26-digit prefix, then each id's own digits. They are drawn from an RNG seeded by
    the response id, not from the stream's: no draw is added to it, so a seeded body without such
    items is unchanged, and one with them replays (the response id does)."""
    rng = random.Random(response_id)
    prefix = response_id.removeprefix("resp_")[:26]

    def new(kind: str) -> str:
        return f"{kind}{prefix}{_hex(rng, 4)}81{_hex(rng, 2)}{_hex(rng, 16)}"

    return new


@dataclass(slots=True)
class _Item:
    """One output item as the stream builds it: the message (its text so far) or a function call
    (its arguments so far, ``call_id`` and ``name``)."""

    index: int  # output_index
    id: str
    call_id: str | None = None  # a function call's; None for the message
    name: str | None = None
    parts: list[str] = field(default_factory=list)
    status: str = "in_progress"
    part_done: bool = False  # the text part's (or the arguments') .done events are out
    logprobs: list[dict[str, Any]] = field(default_factory=list)  # the message's tokens', if asked
    reasoning: bool = False  # a reasoning item: its text is the summary's
    encrypted: str | None = None  # a reasoning item's encrypted_content, when the request asks

    def json(self) -> dict[str, Any]:
        text = "".join(self.parts)
        if self.reasoning:
            # No status: the captures' reasoning items have none (wire2 §1.3).
            item: dict[str, Any] = {"id": self.id, "type": "reasoning"}
            if self.encrypted is not None:
                item["encrypted_content"] = self.encrypted
            item["summary"] = [{"type": "summary_text", "text": text}] if self.parts else []
            return item
        if self.call_id is None:
            return {
                "id": self.id,
                "type": "message",
                "status": self.status,
                "content": [_part(text, self.logprobs)],
                "role": "assistant",
            }
        return {
            "id": self.id,
            "type": "function_call",
            "status": self.status,
            "arguments": text,
            "call_id": self.call_id,
            "name": self.name,
        }


class OpenAIResponsesEncoder:
    """Encodes :mod:`fakellm.events` as Responses API SSE events for one stream. It keeps the
    stream's state: the sequence number, the output items so far (their text or arguments, for the
    ``.done`` events and the final object), the usage seen, and which lifecycle events have gone
    out.

    Each block is an output item at its ``output_index`` (``BlockStart.index``): a text block the
    message, a ``tool_call`` block a ``function_call`` item (wire2.md §1.3). An item's
    ``output_item.done`` waits for the next block or the finish, because its status depends on
    why the answer stopped (``incomplete`` for the item a ``length`` finish cut)."""

    content_type = CONTENT_TYPE

    def __init__(
        self,
        *,
        response_id: str,
        message_id: str,
        created_at: int,
        model: str,
        request: Mapping[str, Any] | None = None,
        obfuscation: random.Random | None = None,
        ascii_only: bool = True,
        item_id: Callable[[str], str] | None = None,
        logprobs: StreamLogprobs | None = None,
        background: bool = False,
    ) -> None:
        self.response_id = response_id
        self.background = background
        self.message_id = message_id
        self.created_at = created_at
        self.model = model
        self.ascii_only = ascii_only
        self._echo = _echo(request or {})
        include = (request or {}).get("include")
        self._encrypted = isinstance(include, list) and "reasoning.encrypted_content" in include
        self._item_id = item_id or item_ids(response_id, created_at)
        self._seq = 0
        self._items: list[_Item] = []  # every item opened, in order
        self._open: _Item | None = None  # the item whose output_item.done has not gone out
        self._block = False  # a block is open: its tokens go out through the delta templates
        self._parts: list[str] = []  # the open block's text (its item's parts)
        self._usage: Usage | None = None
        self._reason: str | None = None
        self._created = False  # response.created and response.in_progress are out
        self._ended = False  # a terminal event is out
        self.latest: dict[str, Any] | None = None  # the response object as last sent (GET /v1/responses/{id})
        self._quote = encode_basestring_ascii if ascii_only else encode_basestring
        self._pool = "".join(obfuscation.choices(_ALNUM, k=_POOL + 15)).encode() if obfuscation else None
        self._offset = 0
        # ``include: ["message.output_text.logprobs"]``: each text delta lists its token's, and
        # the message's list (``_entries``, while it is open) goes into every event that carries
        # its text: output_text.done, content_part.done, output_item.done, the final object.
        self._logprobs = logprobs
        self._entries: list[dict[str, Any]] | None = None
        self._templates("response.output_text.delta", message_id, 0)

    def _templates(self, kind: str, item_id: str, index: int) -> None:
        """The per-token event of the block that opens, precomputed as one bytes template (a test
        pins it equal to what encode_sse writes for the same JSON): the sequence number, the quoted
        text, the pad. Text deltas carry ``content_index`` and ``logprobs``, argument deltas not."""
        logprobs = "[%b]" if self._logprobs is not None else "[]"
        fields = {
            "response.output_text.delta": f'"content_index":0,"delta":%b,"logprobs":{logprobs}',
            "response.reasoning_summary_text.delta": '"summary_index":0,"delta":%b',
        }.get(kind, '"delta":%b')
        head = (
            f'event: {kind}\ndata: {{"type":"{kind}","sequence_number":%d,'
            f'"item_id":{self._quote(item_id).replace("%", "%%")},"output_index":{index},' + fields
        ).encode()
        self._delta = head + b"}\n\n"
        self._padded_delta = head + b',"obfuscation":"%b"}\n\n'

    # -- the per-token hot path ----------------------------------------------------------------

    def encode(self, event: Event) -> bytes:
        if type(event) is TextDelta and self._block:
            if self._entries is not None:
                return self._delta_with_logprobs(event.text)
            text = event.text
            self._parts.append(text)
            seq = self._seq
            self._seq = seq + 1
            pool = self._pool
            if pool is None:
                return self._delta % (seq, self._quote(text).encode())
            n = -len(text) % 16
            offset = self._offset
            self._offset = (offset + n + 1) % _POOL
            return self._padded_delta % (seq, self._quote(text).encode(), pool[offset : offset + n])
        return self._encode_other(event)

    def _delta_with_logprobs(self, text: str) -> bytes:
        """A text delta with its token's logprobs (one token per delta), kept for the message."""
        assert self._logprobs is not None and self._entries is not None
        self._parts.append(text)
        entry = self._logprobs.next(text).json()
        self._entries.append(entry)
        logprobs = _dumps(entry, self.ascii_only).encode("utf-8", "backslashreplace")
        seq = self._seq
        self._seq = seq + 1
        pool = self._pool
        if pool is None:
            return self._delta % (seq, self._quote(text).encode(), logprobs)
        n = -len(text) % 16
        offset = self._offset
        self._offset = (offset + n + 1) % _POOL
        return self._padded_delta % (seq, self._quote(text).encode(), logprobs, pool[offset : offset + n])

    def _encode_other(self, event: Event) -> bytes:
        if isinstance(event, TextDelta):  # before BlockStart, or a subclass: open first
            return self._open_message(len(self._items)) + self.encode(TextDelta(event.text))
        if isinstance(event, RoleStart):
            return self._open_response()
        if isinstance(event, BlockStart) and event.kind == "text":
            return self._open_message(event.index)
        if isinstance(event, BlockStart) and event.kind == "tool_call":
            return self._open_call(event)
        if isinstance(event, BlockStart) and event.kind == "reasoning":
            return self._open_reasoning(event)
        if isinstance(event, BlockEnd):
            return self._close_part()
        if isinstance(event, Finish):
            return self._finish(event.reason)
        if isinstance(event, Usage):
            self._usage = event
            return b""
        if isinstance(event, StreamEnd):
            return self._terminal()
        if isinstance(event, StreamError):
            return self._error(event)
        if isinstance(event, Malformed):
            self._seq += 1
            return encode_sse(event.payload, event="response.output_text.delta")
        if isinstance(event, Verbatim):
            return event.data
        if isinstance(event, Hold | Abort):
            return b""
        raise TypeError(f"OpenAIResponsesEncoder cannot encode {event!r}")

    # -- the rest, once per stream or per block ----------------------------------------------------

    def _event(self, type: str, fields: dict[str, Any]) -> bytes:
        payload = {"type": type, "sequence_number": self._seq, **fields}
        self._seq += 1
        return encode_sse(_dumps(payload, self.ascii_only), event=type)

    def _open_response(self) -> bytes:
        if self._created:
            return b""
        self._created = True
        out = b""
        if self.background:
            # A background response is created queued (response.created, response.queued), then
            # taken up (response.in_progress): the Open Responses summary (wire2.md §6.1).
            queued = _dumps(self._response("queued", []), self.ascii_only)
            for kind in ("response.created", "response.queued"):
                data = f'{{"type":"{kind}","sequence_number":{self._seq},"response":{queued}}}'
                self._seq += 1
                out += encode_sse(data, event=kind)
        # The two events carry the same object: it is dumped once (the byte tests pin the result).
        self.latest = self._response("in_progress", [])
        snapshot = _dumps(self.latest, self.ascii_only)
        kinds = ("response.in_progress",) if self.background else ("response.created", "response.in_progress")
        for kind in kinds:
            data = f'{{"type":"{kind}","sequence_number":{self._seq},"response":{snapshot}}}'
            self._seq += 1
            out += encode_sse(data, event=kind)
        return out

    def _open_message(self, index: int) -> bytes:
        if self._open is not None and self._open.call_id is None and not self._open.reasoning:
            return b""  # the message is open (a delta came before its BlockStart)
        head = self._open_response() + self._close_item("completed")
        item = self._start(_Item(index, self.message_id))
        self._entries = item.logprobs if self._logprobs is not None else None
        self._templates("response.output_text.delta", item.id, index)
        added = {**item.json(), "content": []}
        return (
            head
            + self._event("response.output_item.added", {"output_index": index, "item": added})
            + self._event("response.content_part.added", {**self._where(item), "part": _part("")})
        )

    def _open_call(self, event: BlockStart) -> bytes:
        """A function call item (wire2.md §1.3): ``fc_`` item id, ``call_id`` and ``name`` once, in
        ``output_item.added``; its tokens are ``function_call_arguments.delta`` events."""
        head = self._open_response() + self._close_item("completed")
        item = self._start(_Item(event.index, self._item_id("fc_"), event.id or "", event.name or ""))
        self._entries = None  # a call's argument fragments have no logprobs
        self._templates("response.function_call_arguments.delta", item.id, event.index)
        return head + self._event(
            "response.output_item.added", {"output_index": item.index, "item": item.json()}
        )

    def _open_reasoning(self, event: BlockStart) -> bytes:
        """A reasoning item (wire2 §1.3, the vercel/ai capture openai-reasoning-encrypted-content):
        ``output_item.added`` with ``rs_`` id and ``summary: []``, one summary part
        (``reasoning_summary_part.added``); its tokens are ``reasoning_summary_text.delta`` events."""
        head = self._open_response() + self._close_item("completed")
        item = self._start(self._reasoning_item(event.index))
        self._entries = None  # reasoning summary deltas have no logprobs
        self._templates("response.reasoning_summary_text.delta", item.id, event.index)
        return (
            head
            + self._event("response.output_item.added", {"output_index": item.index, "item": item.json()})
            + self._event(
                "response.reasoning_summary_part.added", {**self._summary(item), "part": _summary("")}
            )
        )

    def _reasoning_item(self, index: int, text: str | None = None) -> _Item:
        """A reasoning item: its ``rs_`` id; with ``include: ["reasoning.encrypted_content"]`` an
        opaque ``encrypted_content`` in the captures' shape (Fernet-like ``gAAAAAB`` + urlsafe
        base64), seeded by the item id. The same in ``output_item.added`` and ``.done`` (the live
        API may send a partial one first; clients are told to keep the done one)."""
        item = _Item(index, self._item_id("rs_"), parts=[] if text is None else [text], reasoning=True)
        if self._encrypted:
            pad = random.Random(item.id).randbytes(480)
            item.encrypted = "gAAAAAB" + base64.urlsafe_b64encode(pad).decode()
        return item

    @staticmethod
    def _summary(item: _Item) -> dict[str, Any]:
        return {"item_id": item.id, "output_index": item.index, "summary_index": 0}

    def _start(self, item: _Item) -> _Item:
        self._items.append(item)
        self._open = item
        self._parts = item.parts
        self._block = True
        return item

    @staticmethod
    def _where(item: _Item) -> dict[str, Any]:
        return {"item_id": item.id, "output_index": item.index, "content_index": 0}

    def _close_part(self) -> bytes:
        """The open block's ``.done`` events (BlockEnd): the text part's, or the arguments'. The
        item stays open: its ``output_item.done`` carries a status that depends on what comes next
        (:meth:`_close_item`)."""
        item = self._open
        if item is None or item.part_done or self._ended:
            return b""
        item.part_done = True
        text = "".join(item.parts)
        if item.call_id is not None:
            self._block = False  # a stray token after the call would open a message
            where = {"item_id": item.id, "output_index": item.index}
            return self._event("response.function_call_arguments.done", {**where, "arguments": text})
        if item.reasoning:
            self._block = False  # likewise after the reasoning
            return self._event(
                "response.reasoning_summary_text.done", {**self._summary(item), "text": text}
            ) + self._event(
                "response.reasoning_summary_part.done", {**self._summary(item), "part": _summary(text)}
            )
        return self._event(
            "response.output_text.done", {**self._where(item), "text": text, "logprobs": item.logprobs}
        ) + self._event(
            "response.content_part.done", {**self._where(item), "part": _part(text, item.logprobs)}
        )

    def _close_item(self, status: str) -> bytes:
        item = self._open
        if item is None:
            return b""
        head = self._close_part()
        self._open = None
        item.status = status
        return head + self._event(
            "response.output_item.done", {"output_index": item.index, "item": item.json()}
        )

    def _finish(self, reason: str) -> bytes:
        if self._reason is not None or self._ended:
            return b""
        head = self._open_message(0) if not self._items else b""
        self._reason = reason
        return head + self._close_item(finish_status(reason)[0])

    def _terminal(self) -> bytes:
        if self._ended:
            return b""
        # A stream that ends with no Finish (nothing in fakellm sends one) still closes its message.
        head = self._finish("stop") if self._reason is None else b""
        self._ended = True
        status, incomplete = finish_status(self._reason or "stop")
        response = self._response(
            status,
            [item.json() for item in self._items],
            usage=self._usage,
            incomplete=incomplete,
            service_tier=self._resolved_tier(),
        )
        self.latest = response
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return head + self._event(kind, {"response": response})

    def _error(self, error: StreamError) -> bytes:
        head = self._open_response()
        nested = {"type": error.type, "code": error.code, "message": error.message, "param": error.param}
        out = head + self._event("error", {"error": nested})
        if self._ended:
            return out
        self._ended = True
        if self._open is not None:
            self._open.status = "incomplete"
        output = [item.json() for item in self._items]
        failed = {"code": error.code or error.type, "message": error.message}
        self.latest = self._response("failed", output, error=failed)
        return out + self._event("response.failed", {"response": self.latest})

    def _resolved_tier(self) -> Any:
        tier = self._echo["service_tier"]
        return "default" if tier == "auto" else tier

    def _response(
        self,
        status: str,
        output: list[dict[str, Any]],
        *,
        usage: Usage | None = None,
        error: dict[str, Any] | None = None,
        incomplete: str | None = None,
        service_tier: Any = None,
    ) -> dict[str, Any]:
        echo = self._echo
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": self.background,
            "error": error,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "instructions": echo["instructions"],
            "max_output_tokens": echo["max_output_tokens"],
            "max_tool_calls": echo["max_tool_calls"],
            "model": self.model,
            "output": output,
            "parallel_tool_calls": echo["parallel_tool_calls"],
            "previous_response_id": echo["previous_response_id"],
            "prompt_cache_key": echo["prompt_cache_key"],
            "prompt_cache_retention": echo["prompt_cache_retention"],
            "reasoning": echo["reasoning"],
            "safety_identifier": echo["safety_identifier"],
            "service_tier": echo["service_tier"] if service_tier is None else service_tier,
            "store": echo["store"],
            "temperature": echo["temperature"],
            "text": echo["text"],
            "tool_choice": echo["tool_choice"],
            "tools": echo["tools"],
            "top_logprobs": echo["top_logprobs"],
            "top_p": echo["top_p"],
            "truncation": echo["truncation"],
            "usage": usage_object(usage) if usage is not None else None,
            "user": echo["user"],
            "metadata": echo["metadata"],
        }

    def completion(
        self,
        text: str,
        finish_reason: str,
        usage: Usage,
        calls: Sequence[PlannedCall] = (),
        *,
        stop_sequence: str | None = None,
        reasoning: PlannedReasoning | None = None,
    ) -> dict[str, Any]:
        """The non-streamed response object (§1.6): what ``response.completed`` carries, the same
        items with the same ids as the stream would send (the reasoning item first, if any; the
        message unless the answer only calls tools or thinks, then a ``function_call`` item per
        call). ``stop_sequence`` is never given: this API has no stop sequences."""
        status, incomplete = finish_status(finish_reason)
        items = []
        if reasoning is not None:
            items.append(self._reasoning_item(0, reasoning.text))
        if text or not (calls or reasoning):
            message = _Item(len(items), self.message_id, parts=[text], status="completed")
            if self._logprobs is not None:
                message.logprobs = [e.json() for e in self._logprobs.of(tokens_for(text))]
            items.append(message)
        for call in calls:
            items.append(
                _Item(len(items), self._item_id("fc_"), call.id, call.name, [call.arguments], "completed")
            )
        items[-1].status = status  # the item the finish cut, if it did
        self.latest = self._response(
            status,
            [item.json() for item in items],
            usage=usage,
            incomplete=incomplete,
            service_tier=self._resolved_tier(),
        )
        return self.latest


def _part(text: str, logprobs: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": list(logprobs), "text": text}


def _summary(text: str) -> dict[str, Any]:
    return {"type": "summary_text", "text": text}


def encoder_for(
    request: ChatRequest,
    ids: ResponseIds,
    *,
    obfuscation_rng: random.Random,
    ascii_only: bool = True,
    logprobs: StreamLogprobs | None = None,
) -> OpenAIResponsesEncoder:
    """The encoder for a parsed request: its echo, and obfuscation unless the request turned it
    off (``stream_options.include_obfuscation: false``)."""
    options = request.body.get("stream_options")
    include = not (isinstance(options, Mapping) and options.get("include_obfuscation") is False)
    return OpenAIResponsesEncoder(
        response_id=ids.response_id,
        message_id=ids.message_id,
        created_at=ids.created_at,
        model=request.model,
        request=request.body,
        obfuscation=obfuscation_rng if include else None,
        ascii_only=ascii_only,
        logprobs=logprobs,
        background=is_background(request),
    )


def is_background(request: ChatRequest) -> bool:
    """Whether the request asks for a background response (``background: true``)."""
    return request.body.get("background") is True


# --------------------------------------------------------------------------------------------------
# HTTP errors

_ERROR_TYPES: Mapping[int, str] = {408: "timeout", 429: "requests", 504: "timeout"}


def error_body(
    status: int,
    message: str,
    *,
    type: str | None = None,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """The body of an HTTP error on this route: OpenAI's ``ErrorResponse`` with all four keys
    (W1 §1.6). ``type`` defaults by status: ``invalid_request_error`` for 4xx, ``requests`` for 429
    (a requests-per-minute limit), ``timeout`` for 408/504, ``server_error`` for other 5xx."""
    if type is None:
        type = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_headers(request_id: str) -> dict[str, str]:
    """The headers an error answer needs besides its content type: the SDK reads ``x-request-id``
    into ``APIStatusError.request_id`` (§1.1)."""
    return {"x-request-id": request_id, "openai-version": "2020-10-01"}


# --------------------------------------------------------------------------------------------------
# Reading events back (the proxy, recordings, the plugin's recorder)

_TOKEN_DELTAS = ("response.output_text.delta", "response.refusal.delta")
# Output that is not the content's text: a token with no text, as for Chat tool calls.
_OTHER_DELTAS = ("response.function_call_arguments.delta", "response.reasoning_summary_text.delta")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_event(sse: ServerSentEvent) -> tuple[Event, ...]:
    """The neutral events one Responses SSE event stands for, in stream order; ``()`` for the
    events that carry no content, finish, usage or error (lifecycle, ``.added``, ``.done``...).

    - ``output_text.delta`` / ``refusal.delta``: ``TextDelta(delta)``; ``function_call_arguments
      .delta``: ``TextDelta("")`` (a token of output with no text, as for Chat tool calls).
    - ``response.completed`` / ``response.incomplete``: ``Finish``, ``Usage`` (when the object
      has it), ``StreamEnd``.
    - ``error`` (nested, or the spec's flat form): ``StreamError``; the ``response.failed`` after
      it is ``StreamEnd`` (the error it repeats was read already).
    - ``data: [DONE]`` (a gateway's sentinel, §1.1): ``StreamEnd``.

    Routed by the JSON ``type`` (the ``event:`` line is optional to the SDK, R10)."""
    data = sse.data
    if data.startswith("[DONE]"):
        return (StreamEnd(),)
    try:
        payload = json.loads(data)
    except ValueError:
        return ()
    if not isinstance(payload, dict):
        return ()
    kind = payload.get("type")
    if kind in _TOKEN_DELTAS:
        return (TextDelta(_str(payload.get("delta")) or ""),)
    if kind in _OTHER_DELTAS:
        return (TextDelta(""),)
    if kind in ("response.completed", "response.incomplete"):
        response = payload.get("response")
        if not isinstance(response, dict):
            response = {}
        events: list[Event] = [Finish(finish_reason_of(response))]
        usage = response.get("usage")
        if isinstance(usage, dict):
            prompt, completion = usage.get("input_tokens"), usage.get("output_tokens")
            events.append(
                Usage(
                    prompt if isinstance(prompt, int) else 0,
                    completion if isinstance(completion, int) else 0,
                )
            )
        events.append(StreamEnd())
        return tuple(events)
    if kind == "error":
        nested = payload.get("error")
        # The flat form's own ``type`` is "error": its kind is in ``code``.
        body = nested if isinstance(nested, dict) else {**payload, "type": None}
        return (
            StreamError(
                _str(body.get("message")) or "An error occurred during streaming",
                _str(body.get("type")) or _str(body.get("code")) or "server_error",
                _str(body.get("param")),
                _str(body.get("code")),
            ),
        )
    if kind == "response.failed":
        return (StreamEnd(),)
    return ()


TERMINAL_STATUSES = ("completed", "incomplete", "failed", "cancelled")
"""The statuses a response does not leave."""


class ResponseAccumulator:
    """A Responses stream's events read back into the response object as it stands after them
    (``GET /v1/responses/{id}`` of a background response): the last lifecycle object
    (``response.created``, ``queued``, ``in_progress``; a terminal one is taken whole) with the
    items output so far, their text, arguments and summaries accumulated from the deltas, their
    ``.done`` versions once sent. ``take`` each event's JSON in stream order."""

    def __init__(self) -> None:
        self.response: dict[str, Any] | None = None
        self.terminal = False  # a terminal object was taken: it is the answer as it is
        self._items: dict[int, dict[str, Any]] = {}

    def take(self, payload: Mapping[str, Any]) -> None:
        kind = payload.get("type")
        if self.terminal or not isinstance(kind, str):
            return
        response = payload.get("response")
        if kind.startswith("response.") and isinstance(response, dict):
            self.response = response
            self.terminal = response.get("status") in TERMINAL_STATUSES
            return
        index = payload.get("output_index")
        if not isinstance(index, int):
            return
        if kind in ("response.output_item.added", "response.output_item.done"):
            item = payload.get("item")
            if isinstance(item, dict):
                self._items[index] = json.loads(json.dumps(item))  # a copy: deltas change it
            return
        item = self._items.get(index)
        if item is None:
            return
        if kind == "response.content_part.added":
            item.setdefault("content", []).append(dict(payload.get("part") or {}))
        elif kind == "response.output_text.delta":
            part = _at(item.get("content"), payload.get("content_index"))
            if part is not None:
                part["text"] = part.get("text", "") + (_str(payload.get("delta")) or "")
                logprobs = payload.get("logprobs")
                if isinstance(logprobs, list) and logprobs:
                    part.setdefault("logprobs", []).extend(logprobs)
        elif kind == "response.function_call_arguments.delta":
            item["arguments"] = item.get("arguments", "") + (_str(payload.get("delta")) or "")
        elif kind == "response.reasoning_summary_part.added":
            item.setdefault("summary", []).append(dict(payload.get("part") or {}))
        elif kind == "response.reasoning_summary_text.delta":
            part = _at(item.get("summary"), payload.get("summary_index"))
            if part is not None:
                part["text"] = part.get("text", "") + (_str(payload.get("delta")) or "")

    def result(self, *, cancelled: bool = False) -> dict[str, Any] | None:
        """The response object so far (None before the first lifecycle event); ``cancelled``: it
        was cancelled here, its unfinished items ``incomplete``."""
        if self.response is None:
            return None
        if self.terminal:
            return self.response
        output = [self._items[i] for i in sorted(self._items)]
        if cancelled:
            for item in output:
                if item.get("status") == "in_progress":
                    item["status"] = "incomplete"
        status = "cancelled" if cancelled else self.response.get("status")
        return {**self.response, "status": status, "output": output}


def _at(parts: Any, index: Any) -> dict[str, Any] | None:
    if isinstance(parts, list) and isinstance(index, int) and 0 <= index < len(parts):
        part = parts[index]
        return part if isinstance(part, dict) else None
    return None


# --------------------------------------------------------------------------------------------------
# Requests


def _bad(message: str, param: str | None, code: str | None = None) -> RequestError:
    return RequestError(400, message, param=param, code=code)


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _invalid_type(where: str, expected: str, value: Any) -> RequestError:
    return _bad(
        f"Invalid type for '{where}': expected {expected}, but got {_type_name(value)} instead.",
        where,
        "invalid_type",
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Echoed settings: their JSON type is checked, as the API does, so what the response object
# reflects is well-formed. Anything else in the body is accepted and ignored.
_SETTING_TYPES: tuple[tuple[str, str, Any], ...] = (
    ("instructions", "a string", lambda v: isinstance(v, str)),
    ("max_tool_calls", "an integer", _is_int),
    ("parallel_tool_calls", "a boolean", lambda v: isinstance(v, bool)),
    ("previous_response_id", "a string", lambda v: isinstance(v, str)),
    ("prompt_cache_key", "a string", lambda v: isinstance(v, str)),
    ("prompt_cache_retention", "a string", lambda v: isinstance(v, str)),
    ("reasoning", "an object", lambda v: isinstance(v, dict)),
    ("safety_identifier", "a string", lambda v: isinstance(v, str)),
    ("service_tier", "a string", lambda v: isinstance(v, str)),
    ("store", "a boolean", lambda v: isinstance(v, bool)),
    ("temperature", "a number", _is_number),
    ("text", "an object", lambda v: isinstance(v, dict)),
    ("tool_choice", "a string or an object", lambda v: isinstance(v, str | dict)),
    ("tools", "an array", lambda v: isinstance(v, list)),
    ("top_logprobs", "an integer", _is_int),
    ("top_p", "a number", _is_number),
    ("truncation", "a string", lambda v: isinstance(v, str)),
    ("user", "a string", lambda v: isinstance(v, str)),
    ("metadata", "an object", lambda v: isinstance(v, dict)),
    ("background", "a boolean", lambda v: isinstance(v, bool)),
)

_ROLES = ("user", "assistant", "system", "developer")
_OUTPUT_PARTS = ("output_text", "refusal")  # what an assistant message holds
_TEXT_PARTS = ("input_text", "output_text")


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    """One ``message`` input item as a chat-style message (text parts become ``text`` parts)."""
    role = item.get("role")
    if role is None:
        raise _bad(
            f"Missing required parameter: '{where}.role'.", f"{where}.role", "missing_required_parameter"
        )
    if role not in _ROLES:
        raise _bad(
            f"Invalid value: {role!r}. Supported values are: 'assistant', 'system', 'developer', and 'user'.",
            f"{where}.role",
            "invalid_value",
        )
    content = item.get("content")
    if content is None:
        raise _bad(
            f"Missing required parameter: '{where}.content'.",
            f"{where}.content",
            "missing_required_parameter",
        )
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise _invalid_type(f"{where}.content", "a string or an array of content parts", content)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        if not isinstance(part, dict):
            raise _invalid_type(at, "an object", part)
        kind = part.get("type")
        if not isinstance(kind, str):
            raise _bad(
                f"Missing required parameter: '{at}.type'.", f"{at}.type", "missing_required_parameter"
            )
        # The API refuses input parts in an assistant turn and output parts in the others.
        if role == "assistant" and kind.startswith("input_"):
            raise _bad(
                f"Invalid value: {kind!r}. Supported values are: 'output_text' and 'refusal'.",
                at,
                "invalid_value",
            )
        if role != "assistant" and kind in _OUTPUT_PARTS:
            raise _bad(
                f"Invalid value: {kind!r}. Supported values are: 'input_text', 'input_image', and "
                "'input_file'.",
                at,
                "invalid_value",
            )
        if kind in _TEXT_PARTS:
            text = part.get("text")
            if not isinstance(text, str):
                raise _invalid_type(f"{at}.text", "a string", text)
            parts.append({"type": "text", "text": text})
        elif kind == "refusal":
            parts.append({"type": "refusal", "refusal": part.get("refusal")})
        else:
            parts.append(part)  # images, files: no text to count or match
    return {"role": role, "content": parts}


def _conversation(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise _invalid_type("input", "one of a string or an array of input items", value)
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise _invalid_type(where, "an object", item)
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call_output":
            # A tool's answer is part of the prompt (its tokens count); other items (reasoning,
            # references) are accepted and carry no text fakellm reads.
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "content": output if isinstance(output, str) else "",
                    "tool_call_id": item.get("call_id"),
                }
            )
        elif kind == "function_call":
            # The model's call, as Chat writes it: a tool call of the assistant turn it belongs
            # to (the message item just before it, or a turn of its own), so that a conversation
            # counts its answers the same way in every format (scenario ``turns:``).
            call = {
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments")},
            }
            if messages and messages[-1]["role"] == "assistant":
                messages[-1].setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif not isinstance(kind, str):
            raise _invalid_type(f"{where}.type", "a string", kind)
    return messages


def _parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except RecursionError:
        raise _bad(
            "We could not parse the JSON body of your request: it is nested too deeply.", None, "invalid_json"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(
            f"We could not parse the JSON body of your request. ({exc}) The OpenAI API expects a "
            "JSON payload, but what was sent was not valid JSON.",
            None,
            "invalid_json",
        ) from None
    if not isinstance(body, dict):
        raise _invalid_type("request body", "an object", body)
    return body


def parse_responses_request(raw: bytes) -> ChatRequest:
    """Validate a ``POST /v1/responses`` body into the neutral request, raising
    :class:`RequestError` (400) in the API's wording. ``messages`` is the conversation as chat
    messages, ``instructions`` first as a ``system`` message; ``include_usage`` is always true (a
    response always reports its usage)."""
    body = _parse_json(raw)

    model = body.get("model")
    if model is None:
        raise _bad("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise _invalid_type("model", "a non-empty string", model)

    for key, expected, check in _SETTING_TYPES:
        value = body.get(key)
        if value is not None and not check(value):
            raise _invalid_type(key, expected, value)

    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        messages.append({"role": "system", "content": instructions})
    value = body.get("input")
    if value is not None:
        messages += _conversation(value)

    stream = body.get("stream")
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _invalid_type("stream", "a boolean", stream)

    max_tokens = body.get("max_output_tokens")
    if max_tokens is not None:
        if not _is_int(max_tokens):
            raise _invalid_type("max_output_tokens", "an integer", max_tokens)
        if max_tokens < 16:
            raise _bad(
                "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, "
                f"but got {max_tokens} instead.",
                "max_output_tokens",
                "integer_below_min_value",
            )

    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise _invalid_type("stream_options", "an object", options)
        flag = options.get("include_obfuscation")
        if flag is not None and not isinstance(flag, bool):
            raise _invalid_type("stream_options.include_obfuscation", "a boolean", flag)

    return ChatRequest(body, model, messages, stream, max_tokens, True)


LOGPROBS_INCLUDE = "message.output_text.logprobs"
"""The ``include`` value that asks for the message's logprobs."""


def responses_logprobs(body: Mapping[str, Any]) -> int | None:
    """How many ``top_logprobs`` each token lists when ``include`` holds
    ``message.output_text.logprobs`` (``top_logprobs`` 0 to 20, 0 when absent), None when it does
    not (``top_logprobs`` alone is echoed and sends none); a :class:`RequestError` for an
    ``include`` that is not an array, or a ``top_logprobs`` out of bounds."""
    include = body.get("include")
    if include is not None and not isinstance(include, list):
        raise _invalid_type("include", "an array of strings", include)
    top = body.get("top_logprobs")
    if top is not None and not 0 <= top <= MAX_TOP_LOGPROBS:  # its type is checked with the echo
        bound = "below minimum" if top < 0 else "above maximum"
        expected = ">= 0" if top < 0 else f"<= {MAX_TOP_LOGPROBS}"
        raise _bad(
            f"Invalid 'top_logprobs': integer {bound} value. Expected a value {expected}, but got {top} "
            "instead.",
            "top_logprobs",
            "integer_below_min_value" if top < 0 else "integer_above_max_value",
        )
    if include is None or LOGPROBS_INCLUDE not in include:
        return None
    return top or 0


# --------------------------------------------------------------------------------------------------
# The format (wire/format.py)


class Responses:
    """OpenAI Responses, ``POST /v1/responses``; a stored response is ``GET /v1/responses/{id}``."""

    name = "openai.responses"
    path = "/v1/responses"

    def parse_request(self, raw: bytes, headers: dict[str, str]) -> ChatRequest:
        request = parse_responses_request(raw)
        responses_logprobs(request.body)  # checked here, read again by open_stream
        text = request.body.get("text")
        if isinstance(text, dict):
            request.output_schema = output_schema(text.get("format"), "text.format")
        request.tools = function_tools(request.body.get("tools"), flat=True)
        request.tool_choice = tool_choice(request.body.get("tool_choice"), request.tools, flat=True)
        return request

    def open_stream(
        self,
        request: ChatRequest,
        rng: random.Random,
        *,
        now: float | None,
        prompt_tokens: int,
        ascii_only: bool,
    ) -> OpenedStream:
        # Fixed order: the ids, the request id, the obfuscation pads' seed. Never reorder.
        ids = new_ids(rng, now=now)
        request_id = f"req_{rng.getrandbits(128):032x}"
        pads = random.Random(rng.getrandbits(64))
        top = responses_logprobs(request.body)
        # Keyed by the response id (drawn from the seed): no draw is added to the stream's RNG.
        logprobs = None if top is None else StreamLogprobs(ids.response_id, top)
        encoder = encoder_for(request, ids, obfuscation_rng=pads, ascii_only=ascii_only, logprobs=logprobs)
        if request.body.get("store") is False:
            return OpenedStream(encoder, request_id)

        def stored() -> tuple[str, dict[str, Any]] | None:
            return None if encoder.latest is None else (ids.response_id, encoder.latest)

        return OpenedStream(encoder, request_id, stored)

    def headers(self, request_id: str, processing_ms: int) -> list[tuple[str, str]]:
        return openai_headers(request_id, processing_ms)

    def tool_call_id(self, rng: random.Random) -> str | None:
        return "call_" + "".join(rng.choices(_ALNUM, k=24))  # call_AB6AaRZ1FYZB2RwS6A5vbdqn (§1.3)

    def sends_reasoning(self, field: str | None) -> bool:
        """Always: a ``reasoning`` output item before the message (§1.3)."""
        return True

    def error(self, error: RequestError, request_id: str) -> Answer:
        return openai_error(error, request_id)

    def reader(self) -> EventReader:
        return read_event

    def injector(self) -> Injector:
        return ResponsesInjector()


# --------------------------------------------------------------------------------------------------
# Writing into someone else's stream (proxy, recordings)

_SEQUENCE = re.compile(rb'"sequence_number":(\d+)')
_SNAPSHOTS = (b'"type":"response.created"', b'"type":"response.in_progress"')


class ResponsesInjector:
    """What a fault adds to a proxied or recorded Responses stream, continuing it: the nested
    ``error`` event then ``response.failed``, numbered on from the last ``sequence_number`` seen,
    the failed response being the upstream's own object (its id, model and echo, from
    ``response.created`` / ``in_progress``) with the message as it stood. The SDK's helper checks
    nothing of the numbering, but a client that orders or dedupes by it would see a replay.

    ``observe`` costs one regex search per event (the snapshots, once or twice per stream, are
    parsed)."""

    def __init__(self) -> None:
        self._seq = 0
        self._snapshot: dict[str, Any] | None = None
        self._message_id: str | None = None
        self._parts: list[str] = []
        self._ended = False

    def observe(self, raw: bytes, event: Event) -> None:
        found = _SEQUENCE.search(raw)
        if found is not None:
            self._seq = int(found.group(1)) + 1
        if isinstance(event, TextDelta):
            self._parts.append(event.text)
        elif isinstance(event, StreamError | StreamEnd):  # the upstream failed or ended by itself
            self._ended = True
        elif b'"type":"response.output_item.added"' in raw or any(s in raw for s in _SNAPSHOTS):
            payload = self._payload(raw)
            if payload.get("type") == "response.output_item.added":
                item = payload.get("item")
                if isinstance(item, dict) and item.get("type") == "message" and self._message_id is None:
                    self._message_id = _str(item.get("id"))
            elif isinstance(payload.get("response"), dict):
                self._snapshot = payload["response"]

    @staticmethod
    def _payload(raw: bytes) -> dict[str, Any]:
        events = SSEDecoder().feed(raw)
        try:
            payload = json.loads(events[0].data) if events else None
        except ValueError:
            return {}
        return payload if isinstance(payload, dict) else {}

    def _event(self, type: str, fields: dict[str, Any]) -> bytes:
        payload = {"type": type, "sequence_number": self._seq, **fields}
        self._seq += 1
        return encode_sse(_dumps(payload, True), event=type)

    def encode(self, event: Event) -> bytes:
        if isinstance(event, StreamError):
            nested = {"type": event.type, "code": event.code, "message": event.message, "param": event.param}
            out = self._event("error", {"error": nested})
            if self._ended or self._snapshot is None:
                return out
            self._ended = True
            output = []
            if self._message_id is not None:
                output.append(
                    {
                        "id": self._message_id,
                        "type": "message",
                        "status": "incomplete",
                        "content": [_part("".join(self._parts))],
                        "role": "assistant",
                    }
                )
            failed = {
                **self._snapshot,
                "status": "failed",
                "error": {"code": event.code or event.type, "message": event.message},
                "output": output,
            }
            return out + self._event("response.failed", {"response": failed})
        if isinstance(event, Malformed):
            self._seq += 1
            return encode_sse(event.payload, event="response.output_text.delta")
        if isinstance(event, StreamEnd | Hold | Abort | RoleStart):
            # The end is the upstream's own event (carried); after an injected error it is
            # response.failed, already written.
            return b""
        raise TypeError(f"ResponsesInjector cannot encode {event!r}")


RESPONSES = Responses()
