"""Anthropic Messages (``POST /v1/messages``): the SSE stream, the ``message`` body, errors, requests.

Byte for byte what the API sends (shared/wire2.md §2, W1 §4), and what anthropic-python's
``messages.stream()`` accumulator needs (wire2 §2.6, checklist §8):

- Every event is named (``event:`` line): the SDK routes by the name, and a nameless data event
  is silently ignored (W1 §4.2). Order: ``message_start`` (always first, else ``get_final_message()``
  fails, A9) → ``content_block_start`` → ``ping`` → ``content_block_delta`` (``text_delta``) … →
  ``content_block_stop`` → ``message_delta`` (``stop_reason`` and ``usage.output_tokens``, which
  the SDK dereferences, A5; cumulative) → ``message_stop``. No ``[DONE]``.
- Compact JSON, except ``ping`` (``{"type": "ping"}``) and the mid-stream error (``{"type":
  "error", "error": {...}}``), which the real wire sends with spaces (W1 §4.1, §4.2). Non-ASCII
  is raw UTF-8, not ``\\uXXXX`` (wire2 §2.3).
- Errors: ``{"type":"error","error":{"type","message"},"request_id"}`` and a ``request-id``
  header (wire2 §2.7); the mid-stream error is ``event: error`` with ``overloaded_error``.
- Auth: either ``x-api-key`` or ``Authorization: Bearer`` (the 2.x SDKs send the latter), any
  ``anthropic-version`` (wire2 §2.1).

Deliberate choices:

- Three *profiles* of the ``message`` object, each a real capture: ``"current"`` (the default;
  claude-sonnet-4-5, 2025: ``model`` first, ``cache_creation`` and ``inference_geo`` in usage,
  ``message_delta.usage`` repeating the input counters), ``"mid-2025"`` (claude-sonnet-4,
  wire2 §2.2) and ``"2024"`` (W1 §4.1). ``message_start`` says ``output_tokens: 1``, as it does live.
- ``RoleStart`` is ``message_start``; ``BlockStart`` is ``content_block_start`` (the first one's
  followed by ``ping``) and ``BlockEnd`` ``content_block_stop``; a delta carries the index of the
  block open. A ``tool_call`` block is a ``tool_use`` block (wire2 §2.2): its start has ``caller``
  and ``input: {}`` and is followed by the empty ``input_json_delta`` every capture opens with
  (framing, not a token); its tokens are ``partial_json`` fragments. The non-streamed body parses
  them into ``input`` (see ``completion`` for arguments that are no JSON object). A ``reasoning``
  block is a ``thinking`` block (wire2 §2.3): its start has ``"thinking":"","signature":""``, its
  tokens are ``thinking_delta``, and its end is an empty ``thinking_delta`` and exactly one
  ``signature_delta`` (seeded by the message id, :meth:`AnthropicMessagesEncoder.signature`) before
  ``content_block_stop``; the non-streamed body has it first, signed.
  ``Finish`` sends nothing: ``message_delta`` goes out with ``Usage`` (or,
  when no ``Usage`` came, with ``StreamEnd``, counting the tokens sent): it needs both the stop
  reason and the output tokens. Requests parsed here always ask for usage (``include_usage``).
- A ``StreamError`` whose ``type`` is not one of Anthropic's (the ``error_event`` fault's neutral
  default is OpenAI's ``server_error``) is sent as ``overloaded_error`` / ``Overloaded``, the
  error the real API streams. ``Malformed`` is sent as a ``content_block_delta`` event (a nameless
  one would be ignored, so it would test nothing).
- Error wording follows the real API's (``max_tokens: Field required``, ``messages.0.role:
  ...``); the invalid-JSON message is ours (no capture of the real one).
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any, Literal

from ..errors import RequestError
from ..events import (
    BlockEnd,
    BlockKind,
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
)
from ..reasoning import PlannedReasoning
from ..tools import AUTO, PlannedCall, ToolChoice, ToolSpec
from .format import Answer, ChatRequest, Injector, OpenedStream
from .format import EventReader as EventReaderFn
from .sse import ServerSentEvent, encode_sse

__all__ = [
    "CONTENT_TYPE",
    "ERROR_TYPES",
    "MESSAGES",
    "STOP_REASONS",
    "AnthropicIds",
    "AnthropicMessagesEncoder",
    "EventReader",
    "Messages",
    "MessagesInjector",
    "Profile",
    "auth_error",
    "client_tools",
    "count_tokens_body",
    "error_body",
    "error_for",
    "error_headers",
    "finish_reason",
    "new_ids",
    "parse_count_tokens_request",
    "parse_messages_request",
    "stop_reason",
    "stream_headers",
    "tool_choice",
]

CONTENT_TYPE = "text/event-stream; charset=utf-8"

Profile = Literal["current", "mid-2025", "2024"]

# Neutral finish reason -> Anthropic's stop_reason, and back (wire2 §2.5 lists the real values).
STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
_FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Status -> error type (W1 §4.2; https://docs.claude.com/en/api/errors), with a default message:
# the real API's where one is known.
ERROR_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found."),
    409: ("conflict_error", "Conflict."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit "
        "(https://docs.claude.com/en/api/rate-limits); see the response headers for current usage. "
        "Please reduce the prompt length or the maximum tokens requested, or try again later.",
    ),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
_ANTHROPIC_TYPES = frozenset(kind for kind, _ in ERROR_TYPES.values())

# The ``error_event`` fault's default message (fakellm/faults/events.py ``ErrorEvent.message``, OpenAI's
# wording): replaced by Anthropic's, so the default fault streams what the real API streams. Pinned
# by a test; goes away when the fault's defaults become per format.
_NEUTRAL_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def stop_reason(finish: str) -> str:
    """Anthropic's ``stop_reason`` for a neutral finish reason (unknown ones pass through)."""
    return STOP_REASONS.get(finish, finish)


def finish_reason(stop: str | None) -> str:
    """The neutral finish reason for Anthropic's ``stop_reason`` (unknown ones count as ``stop``)."""
    return _FINISH_REASONS.get(stop or "end_turn", "stop")


# --------------------------------------------------------------------------------------------------
# Ids


@dataclass(frozen=True, slots=True)
class AnthropicIds:
    message_id: str  # msg_01 + 22 base58, as in every live capture (wire2 §2.2, §2.3)
    request_id: str  # req_01 + 22 base58 (wire2 §2.1, §2.7)


def new_ids(rng: random.Random) -> AnthropicIds:
    """A stream's ids, drawn in a fixed order (message, then request): never reorder."""
    message_id = "msg_01" + "".join(rng.choices(_BASE58, k=22))
    request_id = "req_01" + "".join(rng.choices(_BASE58, k=22))
    return AnthropicIds(message_id, request_id)


# --------------------------------------------------------------------------------------------------
# Encoding


def _dumps(value: Any, ascii_only: bool = False) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only)


_PING = encode_sse('{"type": "ping"}', event="ping")
_MESSAGE_STOP = encode_sse('{"type":"message_stop"}', event="message_stop")


class AnthropicMessagesEncoder:
    """Encodes :mod:`fakellm.events` as one Messages stream's SSE events (see the module notes)."""

    content_type = CONTENT_TYPE

    def __init__(
        self,
        *,
        id: str,
        model: str,
        input_tokens: int,
        profile: Profile = "current",
        stop_sequence: str | None = None,
        ascii_only: bool = False,
    ) -> None:
        self.id = id
        self.model = model
        self.input_tokens = input_tokens
        self.profile: Profile = profile
        self.stop_sequence = stop_sequence
        self.ascii_only = ascii_only
        self._index = 0
        self._tokens = 0
        self._stop_reason: str | None = None
        self._delta_sent = False
        self._blocks = 0  # content blocks opened so far (ping follows the first one's start)
        self._thinking: int | None = None  # the index of the open thinking block
        self._quote = encode_basestring_ascii if ascii_only else encode_basestring
        # Everything but the token's text, encoded once: what encode_sse writes for
        # content_block_delta (JSON strings hold no line ends, so the data is one line).
        self._delta_head = self._delta_head_for(self._index, "text")
        self._delta_tail = b"}}\n\n"

    @staticmethod
    def _delta_head_for(index: int, kind: BlockKind) -> bytes:
        # A text block's tokens are text_delta; a tool_use block's, fragments of its input JSON; a
        # thinking block's, thinking_delta.
        delta = {
            "text": '"type":"text_delta","text":',
            "tool_call": '"type":"input_json_delta","partial_json":',
            "reasoning": '"type":"thinking_delta","thinking":',
        }[kind]
        return (
            f'event: content_block_delta\ndata: {{"type":"content_block_delta","index":{index},'
            f'"delta":{{{delta}'
        ).encode()

    # The message object, in the profile's key order.
    def _message(
        self, content: list[dict[str, Any]], stop: str | None, usage: dict[str, Any]
    ) -> dict[str, Any]:
        head: dict[str, Any] = {"id": self.id, "type": "message", "role": "assistant"}
        if self.profile == "current":
            message = {"model": self.model, **head, "content": content}
        elif self.profile == "mid-2025":
            message = {**head, "model": self.model, "content": content}
        else:
            message = {**head, "content": content, "model": self.model}
        message["stop_reason"] = stop
        message["stop_sequence"] = self.stop_sequence if stop == "stop_sequence" else None
        message["usage"] = usage
        return message

    def _usage(self, input_tokens: int, output_tokens: int) -> dict[str, Any]:
        if self.profile == "2024":
            return {"input_tokens": input_tokens, "output_tokens": output_tokens}
        usage: dict[str, Any] = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        if self.profile == "current":
            usage["cache_creation"] = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
        usage["output_tokens"] = output_tokens
        usage["service_tier"] = "standard"
        if self.profile == "current":
            usage["inference_geo"] = "not_available"
        return usage

    def _stop(self, finish: str) -> str:
        stop = stop_reason(finish)
        return "stop_sequence" if stop == "end_turn" and self.stop_sequence is not None else stop

    def _message_delta(self, output_tokens: int) -> bytes:
        self._delta_sent = True
        stop = self._stop_reason
        usage: dict[str, Any] = {"output_tokens": output_tokens}
        if self.profile == "current":
            usage = {
                "input_tokens": self.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": output_tokens,
            }
        body = {
            "type": "message_delta",
            "delta": {
                "stop_reason": stop,
                "stop_sequence": self.stop_sequence if stop == "stop_sequence" else None,
            },
            "usage": usage,
        }
        return encode_sse(_dumps(body, self.ascii_only), event="message_delta")

    def encode(self, event: Event) -> bytes:
        if type(event) is TextDelta:  # the hot path: one event per token
            self._tokens += 1
            return b"".join((self._delta_head, self._quote(event.text).encode(), self._delta_tail))
        if isinstance(event, RoleStart):
            start = {
                "type": "message_start",
                "message": self._message([], None, self._usage(self.input_tokens, 1)),
            }
            return encode_sse(_dumps(start, self.ascii_only), event="message_start")
        if isinstance(event, BlockStart) and event.kind == "text":
            return self._open_block(event.index, "text", {"type": "text", "text": ""})
        if isinstance(event, BlockStart) and event.kind == "tool_call":
            return self._open_tool_use(event)
        if isinstance(event, BlockStart) and event.kind == "reasoning":
            self._thinking = event.index
            return self._open_block(
                event.index, "reasoning", {"type": "thinking", "thinking": "", "signature": ""}
            )
        if isinstance(event, BlockEnd):
            stop = {"type": "content_block_stop", "index": event.index}
            head = self._close_thinking() if event.index == self._thinking else b""
            return head + encode_sse(_dumps(stop), event="content_block_stop")
        if isinstance(event, TextDelta):  # a TextDelta subclass (proxied or recorded)
            self._tokens += 1
            return b"".join((self._delta_head, self._quote(event.text).encode(), self._delta_tail))
        if isinstance(event, Finish):
            if event.stop_sequence is not None:  # the request's sequence that ended the text
                self.stop_sequence = event.stop_sequence
            self._stop_reason = self._stop(event.reason)  # sent in message_delta
            return b""
        if isinstance(event, Usage):
            if self._stop_reason is None or self._delta_sent:
                return b""
            return self._message_delta(event.completion_tokens)
        if isinstance(event, StreamError):
            return encode_sse(
                json.dumps(self.stream_error(event), ensure_ascii=self.ascii_only), event="error"
            )
        if isinstance(event, Malformed):
            return encode_sse(event.payload, event="content_block_delta")
        if isinstance(event, StreamEnd):
            if self._stop_reason is not None and not self._delta_sent:
                return self._message_delta(self._tokens) + _MESSAGE_STOP
            return _MESSAGE_STOP
        if isinstance(event, Hold):
            return b""
        raise TypeError(f"AnthropicMessagesEncoder cannot encode {event!r}")

    def _open_block(self, index: int, kind: BlockKind, block: dict[str, Any]) -> bytes:
        """``content_block_start`` (the first block's followed by ``ping``, as the API sends it);
        the block's deltas then carry its index and its kind's delta type."""
        self._index = index
        self._delta_head = self._delta_head_for(index, kind)
        start = {"type": "content_block_start", "index": index, "content_block": block}
        self._blocks += 1
        out = encode_sse(_dumps(start), event="content_block_start")
        return out + _PING if self._blocks == 1 else out

    def _close_thinking(self) -> bytes:
        """The end of a thinking block as captured (wire2 §2.3): an empty ``thinking_delta``, then
        exactly one ``signature_delta`` just before ``content_block_stop``. Both are framing, not
        tokens: fault positions count the thinking's text."""
        self._thinking = None
        signature = {"type": "signature_delta", "signature": self.signature()}
        delta = {"type": "content_block_delta", "index": self._index, "delta": signature}
        empty = self._delta_head + b'""' + self._delta_tail
        return empty + encode_sse(_dumps(delta), event="content_block_delta")

    def signature(self) -> str:
        """The thinking block's signature: opaque base64 in the captures' shape (a protobuf that
        opens ``EvQB…``, about 330 characters), drawn from an RNG seeded by the message id, so
        that it adds no draw to the stream's RNG and replays with the stream."""
        rng = random.Random(self.id)
        return base64.b64encode(b"\x12\xf4\x01\x0a\x46\x08\x0b\x18\x02\x2a\x40" + rng.randbytes(235)).decode()

    def _open_tool_use(self, event: BlockStart) -> bytes:
        """A ``tool_use`` block as the captures frame it (wire2 §2.2): the start with ``input: {}``
        (the input only ever streams), then one empty ``input_json_delta`` before the first
        fragment. That empty delta is framing, not a token: fault positions count the fragments."""
        start = self._open_block(event.index, "tool_call", self._tool_use(event.id, event.name, {}))
        return start + self._delta_head + b'""' + self._delta_tail

    def _tool_use(
        self, id: str | None, name: str | None, input: Any, *, streamed: bool = True
    ) -> dict[str, Any]:
        """A ``tool_use`` content block. ``caller`` (who made the call: the model, "direct") is in
        every capture since mid-2025, before ``input`` in the stream's start and after it in a
        message body (both as captured); the 2024 profile predates it."""
        block: dict[str, Any] = {"type": "tool_use", "id": id or "", "name": name or ""}
        if self.profile != "2024" and streamed:
            block["caller"] = {"type": "direct"}
        block["input"] = input
        if self.profile != "2024" and not streamed:
            block["caller"] = {"type": "direct"}
        return block

    @staticmethod
    def stream_error(event: StreamError) -> dict[str, Any]:
        """The ``event: error`` payload for a neutral error (see the module notes)."""
        if event.type in _ANTHROPIC_TYPES:
            kind, message = event.type, event.message
        else:
            kind = "overloaded_error"
            message = "Overloaded" if event.message == _NEUTRAL_ERROR_MESSAGE else event.message
        return {"type": "error", "error": {"type": kind, "message": message}}

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
        """The non-streamed ``message`` (wire2 §2.7: ``message_start.message`` with its content,
        ``stop_reason`` and final usage). Tool calls follow the text as ``tool_use`` blocks (the
        text block is left out when there is none, as in the stream) with ``input`` parsed.
        Arguments that are not a JSON object (a scenario's invalid JSON on purpose, or a call cut by
        ``max_tokens``) cannot be an ``input`` the real API sends, which is always an object: they
        are sent as the raw string, so that the client sees the breakage instead of ``{}``.
        Reasoning is the ``thinking`` block first, with its signature (vercel/ai
        anthropic-clear-thinking.1.json)."""
        body_usage = self._usage(usage.prompt_tokens, usage.completion_tokens)
        content: list[dict[str, Any]] = []
        if reasoning is not None:
            content.append({"type": "thinking", "thinking": reasoning.text, "signature": self.signature()})
        if text or not (calls or reasoning):
            content.append({"type": "text", "text": text})
        for call in calls:
            content.append(self._tool_use(call.id, call.name, _input(call.arguments), streamed=False))
        if stop_sequence is not None:
            self.stop_sequence = stop_sequence
        return self._message(content, self._stop(finish_reason), body_usage)


def _input(arguments: str) -> Any:
    """A call's ``input``: its arguments as a JSON object, else the raw string (see ``completion``).
    Empty arguments are ``{}``: a tool without arguments streams only the empty delta, from which
    the SDK's helper keeps the start's ``input: {}`` (vercel/ai anthropic-tool-no-args capture)."""
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return value if isinstance(value, dict) else arguments


# --------------------------------------------------------------------------------------------------
# Reading events back (proxy, recordings)


class EventReader:
    """Classifies one stream's decoded SSE events back into neutral events, by the event name
    (as the SDK does). Per stream: it remembers ``message_start``'s input tokens, which older
    ``message_delta`` events do not repeat.

    ``message_delta`` stands for two events, ``Finish`` then ``Usage``; ``message_stop`` is
    ``StreamEnd``; ``error`` a ``StreamError``; a known event whose data is not JSON is
    ``Malformed``; everything else (``ping``, block starts and stops, other deltas, unknown
    names) is ``()``."""

    def __init__(self) -> None:
        self.input_tokens = 0

    def read(self, sse: ServerSentEvent) -> tuple[Event, ...]:
        name = sse.event
        if name not in ("message_start", "content_block_delta", "message_delta", "message_stop", "error"):
            return ()
        try:
            body = json.loads(sse.data)
        except ValueError:
            return (Malformed(sse.data),)
        if not isinstance(body, dict):
            return (Malformed(sse.data),)
        if name == "content_block_delta":
            delta = body.get("delta")
            kind = delta.get("type") if isinstance(delta, dict) else None
            if kind == "text_delta":
                text = delta.get("text") if isinstance(delta, dict) else None
                return (TextDelta(text),) if isinstance(text, str) else ()
            if kind == "input_json_delta":  # a tool call's arguments: output with no text, as on Chat
                return (TextDelta(""),)
            if kind == "thinking_delta" and isinstance(delta, dict) and delta.get("thinking"):
                return (TextDelta(""),)  # thinking, likewise (not the empty one that ends it)
            return ()
        if name == "message_start":
            usage = _dict(_dict(body.get("message")).get("usage"))
            self.input_tokens = _int(usage.get("input_tokens"), 0)
            return (RoleStart(),)
        if name == "message_delta":
            stop = _dict(body.get("delta")).get("stop_reason")
            usage = _dict(body.get("usage"))
            # A later input count wins (a proxy's message_delta may differ: wire2 §2.5, A13).
            prompt = _int(usage.get("input_tokens"), self.input_tokens)
            return (
                Finish(finish_reason(stop if isinstance(stop, str) else None)),
                Usage(prompt, _int(usage.get("output_tokens"), 0)),
            )
        if name == "message_stop":
            return (StreamEnd(),)
        error = _dict(body.get("error"))
        kind, message = error.get("type"), error.get("message")
        return (
            StreamError(
                message if isinstance(message, str) else "",
                kind if isinstance(kind, str) else "api_error",
            ),
        )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# --------------------------------------------------------------------------------------------------
# HTTP bodies and headers


def error_body(
    status: int, message: str | None = None, *, type: str | None = None, request_id: str | None = None
) -> dict[str, Any]:
    """Anthropic's error body for ``status``; type and message default from the status. The
    top-level ``request_id`` is what the live API sends after ``error`` (wire2 §2.7)."""
    default_type, default_message = ERROR_TYPES.get(
        status,
        ("api_error", "Internal server error") if status >= 500 else ("invalid_request_error", "Error."),
    )
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": type or default_type, "message": message or default_message},
    }
    if request_id is not None:
        body["request_id"] = request_id
    return body


def error_headers(request_id: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The headers of an error answer: JSON, and the ``request-id`` the SDK reports (wire2 §2.1);
    ``extra`` (``retry-after``, ``x-should-retry``, …) as given."""
    return {"content-type": "application/json", "request-id": request_id, **(extra or {})}


def stream_headers(request_id: str) -> dict[str, str]:
    """The headers of a 200 stream (wire2 §2.1)."""
    return {"content-type": CONTENT_TYPE, "cache-control": "no-cache", "request-id": request_id}


def error_for(error: RequestError, request_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A neutral :class:`RequestError` (a parse error, or the ``http_error`` fault's, which carries
    OpenAI's types) as Anthropic's status, body and headers. An Anthropic type is kept; any other
    type becomes the status's (429 ``rate_limit_error``, 529 ``overloaded_error``, …)."""
    kind = error.type if error.type in _ANTHROPIC_TYPES else None
    headers = {k: v for k, v in error.headers.items() if not k.lower().startswith("x-ratelimit-")}
    body = error_body(error.status, error.message, type=kind, request_id=request_id)
    return error.status, body, error_headers(request_id, headers)


def auth_error(headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The 401 body when a request carries neither ``x-api-key`` nor ``Authorization`` (any value,
    any ``anthropic-version``: fakellm checks no key), else None. The message is the live API's
    for a request without a key. ``headers`` keys are compared case-insensitively."""
    names = {name.lower() for name, value in headers.items() if value}
    if "x-api-key" in names or "authorization" in names:
        return None
    return error_body(401, "x-api-key header is required", type="authentication_error")


def count_tokens_body(input_tokens: int) -> dict[str, Any]:
    """The answer of ``POST /v1/messages/count_tokens``."""
    return {"input_tokens": input_tokens}


# --------------------------------------------------------------------------------------------------
# Requests


def _bad(message: str) -> RequestError:
    return RequestError(400, message, type="invalid_request_error")


def _check_blocks(blocks: list[Any], where: str) -> None:
    """Content blocks are objects with a string ``type``; a text block's ``text`` is a string (the
    tokeniser and the prompt matcher read it). Other block types are accepted as they are."""
    for j, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise _bad(f"{where}.{j}: Input should be a valid dictionary")
        kind = block.get("type")
        if kind is None:
            raise _bad(f"{where}.{j}.type: Field required")
        if not isinstance(kind, str):
            raise _bad(f"{where}.{j}.type: Input should be a valid string")
        if kind == "text":
            if "text" not in block:
                raise _bad(f"{where}.{j}.text: Field required")
            if not isinstance(block["text"], str):
                raise _bad(f"{where}.{j}.text: Input should be a valid string")


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if not isinstance(system, list):
        raise _bad("system: Input should be a valid string or a list of text blocks")
    _check_blocks(system, "system")
    for j, block in enumerate(system):
        if block["type"] != "text":
            raise _bad(f"system.{j}.type: Input should be 'text'")
    return "\n".join(block["text"] for block in system)


def parse_count_tokens_request(raw: bytes) -> ChatRequest:
    """A ``POST /v1/messages/count_tokens`` body: a Messages request without ``max_tokens``."""
    return parse_messages_request(raw, counting=True)


def parse_messages_request(raw: bytes, *, counting: bool = False) -> ChatRequest:
    """Validate a ``POST /v1/messages`` body into the neutral request, raising
    :class:`RequestError` (400) with the real API's wording. ``messages`` is chat-style, the
    ``system`` prompt first as a ``system`` message; ``include_usage`` is always true (the stream
    always reports usage)."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise _bad("Invalid JSON body: it is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"Invalid JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise _bad("Input should be a valid dictionary")

    model = body.get("model")
    if model is None:
        raise _bad("model: Field required")
    if not isinstance(model, str) or not model:
        raise _bad("model: Input should be a non-empty string")

    max_tokens = body.get("max_tokens")
    if max_tokens is None and counting:
        max_tokens = 0
    if max_tokens is None:
        raise _bad("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise _bad("max_tokens: Input should be a valid integer")
    if max_tokens < 0:  # 0 is allowed: it fills the prompt cache and generates nothing
        raise _bad("max_tokens: Input should be greater than or equal to 0")

    messages = body.get("messages")
    if messages is None:
        raise _bad("messages: Field required")
    if not isinstance(messages, list):
        raise _bad("messages: Input should be a valid list")
    if not messages:
        raise _bad("messages: at least one message is required")
    conversation: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _bad(f"messages.{i}: Input should be a valid dictionary")
        role = message.get("role")
        if role == "system":
            raise _bad(
                'messages: Unexpected role "system". The Messages API accepts a top-level `system` '
                'parameter, not "system" as an input message role.'
            )
        if role is None:
            raise _bad(f"messages.{i}.role: Field required")
        if role not in ("user", "assistant"):
            raise _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise _bad(f"messages.{i}.content: Field required")
        content = message["content"]
        if isinstance(content, list):
            _check_blocks(content, f"messages.{i}.content")
        elif not isinstance(content, str):
            raise _bad(f"messages.{i}.content: Input should be a valid string or a list of content blocks")
        conversation.append({"role": role, "content": content})

    system = body.get("system")
    if system is not None:
        conversation.insert(0, {"role": "system", "content": _system_text(system)})

    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _bad("stream: Input should be a valid boolean")

    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list):
            raise _bad("stop_sequences: Input should be a valid list")
        for j, stop in enumerate(stops):
            if not isinstance(stop, str):
                raise _bad(f"stop_sequences.{j}: Input should be a valid string")
            # The live API's two messages (seen in client bug reports: litellm#3286, mcp-web-ui#5).
            if not stop:
                raise _bad("stop_sequences: each stop sequence must be non-empty")
            if not stop.strip():
                raise _bad("stop_sequences: each stop sequence must contain non-whitespace")

    request = ChatRequest(body, model, conversation, stream, max_tokens, True)
    request.stop = tuple(stops or ())
    return request


_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")


def client_tools(value: Any) -> tuple[ToolSpec, ...]:
    """The client tools of ``tools`` (``{name, input_schema}``, ``type`` absent or ``custom``);
    server tools (``web_search_…``, ``bash_…``: a ``type`` of their own) are accepted and never
    called. Names are unique across all of them, as the API checks."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad("tools: Input should be a valid list")
    tools: list[ToolSpec] = []
    names: set[str] = set()
    for i, tool in enumerate(value):
        if not isinstance(tool, dict):
            raise _bad(f"tools.{i}: Input should be a valid dictionary")
        kind = tool.get("type")
        custom = kind is None or kind == "custom"
        where = f"tools.{i}.custom" if custom else f"tools.{i}"
        if kind is not None and not isinstance(kind, str):
            raise _bad(f"tools.{i}.type: Input should be a valid string")
        name = tool.get("name")
        if name is None:
            raise _bad(f"{where}.name: Field required")
        if not isinstance(name, str):
            raise _bad(f"{where}.name: Input should be a valid string")
        if custom and not _TOOL_NAME.fullmatch(name):
            raise _bad(f"{where}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        if name in names:
            raise _bad("tools: Tool names must be unique.")
        names.add(name)
        if not custom:
            continue
        schema = tool.get("input_schema")
        if schema is None:
            raise _bad(f"{where}.input_schema: Field required")
        if not isinstance(schema, dict):
            raise _bad(f"{where}.input_schema: Input should be a valid dictionary")
        tools.append(ToolSpec(name, schema))
    return tuple(tools)


_CHOICE_TYPES = ("auto", "any", "tool", "none")


def tool_choice(value: Any, tools: tuple[ToolSpec, ...], body: dict[str, Any]) -> ToolChoice:
    """``tool_choice`` (``{type: auto | any | tool | none, name?}``; ``any`` is ``required``). A
    forced call (``any``, ``tool``) needs ``tools`` and no extended thinking, and a named tool must
    be one of the client tools, or it is a 400, as the API answers."""
    if value is None:
        return AUTO
    if not isinstance(value, dict):
        raise _bad("tool_choice: Input should be a valid dictionary")
    kind = value.get("type")
    if kind is None:
        raise _bad("tool_choice: Unable to extract tag using discriminator 'type'")
    if not isinstance(kind, str) or kind not in _CHOICE_TYPES:
        raise _bad(
            f"tool_choice: Input tag {kind!r} found using 'type' does not match any of the expected "
            "tags: 'auto', 'any', 'tool', 'none'"
        )
    if kind in ("auto", "none"):
        return AUTO if kind == "auto" else ToolChoice("none")
    name = value.get("name")
    if kind == "tool":
        if name is None:
            raise _bad("tool_choice.tool.name: Field required")
        if not isinstance(name, str):
            raise _bad("tool_choice.tool.name: Input should be a valid string")
    if not tools:
        raise _bad("tool_choice: a forced tool call (type 'any' or 'tool') needs client tools in 'tools'")
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        raise _bad("Thinking may not be enabled when tool_choice forces tool use.")
    if kind == "any":
        return ToolChoice("required")
    if all(tool.name != name for tool in tools):
        raise _bad(f"tool_choice.name: tool {name!r} is not one of the client tools in 'tools'")
    return ToolChoice("tool", name)


# --------------------------------------------------------------------------------------------------
# The format (wire/format.py)


class Messages:
    """Anthropic Messages, ``POST /v1/messages`` (any key, in ``x-api-key`` or ``Authorization``, or
    none: fakellm checks no key; any ``anthropic-version``)."""

    name = "anthropic.messages"
    path = "/v1/messages"

    def parse_request(self, raw: bytes, headers: dict[str, str]) -> ChatRequest:
        request = parse_messages_request(raw)
        request.tools = client_tools(request.body.get("tools"))
        request.tool_choice = tool_choice(request.body.get("tool_choice"), request.tools, request.body)
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
        ids = new_ids(rng)
        # Raw UTF-8 whatever ``ascii_only`` says: the real API never escapes (wire2 §2.3).
        encoder = AnthropicMessagesEncoder(id=ids.message_id, model=request.model, input_tokens=prompt_tokens)
        return OpenedStream(encoder, ids.request_id)

    def headers(self, request_id: str, processing_ms: int) -> list[tuple[str, str]]:
        return [("request-id", request_id)]

    def tool_call_id(self, rng: random.Random) -> str | None:
        """``toolu_01`` and 22 base58 characters, the shape of every captured id (wire2 §2.2)."""
        return "toolu_01" + "".join(rng.choices(_BASE58, k=22))

    def sends_reasoning(self, field: str | None) -> bool:
        """Always: a ``thinking`` block before the answer's (wire2 §2.3)."""
        return True

    def error(self, error: RequestError, request_id: str) -> Answer:
        status, body, headers = error_for(error, request_id)
        headers.pop("content-type", None)
        return Answer(status, body, headers)

    def reader(self) -> EventReaderFn:
        return EventReader().read

    def injector(self) -> Injector:
        return MessagesInjector()


class MessagesInjector:
    """What a fault adds to a proxied or recorded Messages stream, as the API writes it:
    ``event: error`` (``overloaded_error`` for a neutral error), a malformed
    ``content_block_delta``, ``message_stop``. None of them repeats anything of the stream."""

    def __init__(self) -> None:
        self._encoder = AnthropicMessagesEncoder(id="", model="", input_tokens=0)

    def observe(self, raw: bytes, event: Event) -> None:
        pass

    def encode(self, event: Event) -> bytes:
        return self._encoder.encode(event)


MESSAGES = Messages()
