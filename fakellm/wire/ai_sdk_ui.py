"""The Vercel AI SDK's chat route (``POST /api/chat``): the UI message stream ``useChat`` reads, and
the older data stream protocol.

What ``useChat`` (AI SDK 5 and later, ``DefaultChatTransport``) posts and reads (shared/wire2.md
§5, checklist §8):

- The request: ``{id, messages, trigger, messageId}``; each message a ``UIMessage`` (``id``,
  ``role``, ``parts``). Text parts are the conversation's text; a tool part (``tool-<name>``, or
  ``dynamic-tool`` with ``toolName``) is a call of the assistant, and its ``output`` (state
  ``output-available``; ``output-error``: its ``errorText``) the tool's result, so turns and
  ``{tool_result}`` work as on the provider formats. An assistant message's ``step-start`` parts
  split it into its steps, each an assistant message of the neutral conversation (as the SDK's
  ``convertToModelMessages`` splits it), so a conversation's turns count as the model saw them.
  Other parts (files, sources, ``data-*``) are accepted and ignored. An AI SDK 4 message
  (``content`` string, no ``parts``) is read too. The body names no model: ``model`` is read if a
  client adds one (``DefaultChatTransport({body: {model}})``), else :data:`DEFAULT_MODEL`.
- The stream: every part ``data: <JSON.stringify(part)>\\n\\n``, no ``event:`` or ``id:`` lines,
  ``data: [DONE]`` last; headers ``content-type: text/event-stream``,
  ``x-vercel-ai-ui-message-stream: v1`` (§5.1). ``RoleStart`` is ``start`` (``messageId``) and
  ``start-step``; a text block ``text-start`` / ``text-delta`` / ``text-end``; a reasoning block
  ``reasoning-start`` / ``-delta`` / ``-end`` (this format always sends reasoning); a tool call
  ``tool-input-start`` / ``tool-input-delta`` / ``tool-input-available`` (its arguments parsed;
  arguments that are no JSON are ``tool-input-error``, what ``streamText`` sends for an invalid
  call); ``Finish`` is ``finish-step`` and ``finish`` (``finishReason``: ``stop``, ``length``,
  ``tool-calls``, ``content-filter``); ``StreamEnd`` is ``[DONE]``. An error event is
  ``{"type":"error","errorText":...}``, the part the client turns into its error state (U5).
  ``Usage`` sends nothing: the UI stream has no usage part.

Deliberate choices:

- Part ids are the block's index (``"0"``, ``"1"``), as ``@ai-sdk/anthropic`` numbers them; the
  message id is ``msg-`` and 16 letters and digits (the SDK's ``createIdGenerator({prefix: 'msg'})``
  shape), except that a request whose last message is the assistant's (a tool's output sent back
  for the same message to go on) keeps that message's id, as ``toUIMessageStreamResponse({
  originalMessages})`` does; the id is drawn either way, so the draws keep their order.
- Bad bodies are JSON 400s in OpenAI's error shape (fakellm's own errors are): the client shows
  the body as the error's message, so it says what is wrong.
- The data stream protocol (AI SDK 4, ``toDataStreamResponse()``, §5.5) is a second format on the
  same path, chosen with ``?protocol=data`` (:func:`format_for_query`): one ``CODE:JSON\\n`` line
  per part (``f`` start step, ``0`` text, ``g`` reasoning, ``b``/``c``/``9`` a tool call streamed,
  ``e`` finish step, ``d`` finish message, ``3`` error), ``content-type: text/plain;
  charset=utf-8`` and ``x-vercel-ai-data-stream: v1``. An AI SDK 5+ client reads it as nothing at
  all (U10): that is what the option is for, reproducing it.
- Resuming (``GET /api/chat/{id}/stream``, §6.2) replays the chat's stream from its start on its
  original schedule: the record is kept per chat id (the body's ``id``: :class:`ChatStreams`);
  the route is ``endpoint.serve_chat_resume``.
"""

from __future__ import annotations

import json
import random
import string
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from ..errors import RequestError
from ..events import (
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
)
from ..reasoning import PlannedReasoning
from ..tools import PlannedCall
from .format import Answer, ChatRequest, Injector, OpenedStream, WireFormat
from .format import EventReader as EventReaderFn
from .openai import openai_error
from .sse import ServerSentEvent

__all__ = [
    "DATA_CONTENT_TYPE",
    "DATA_STREAM",
    "DEFAULT_MODEL",
    "FINISH_REASONS",
    "PATH",
    "UI_CONTENT_TYPE",
    "UI_STREAM",
    "ChatStreams",
    "DataStreamEncoder",
    "DataStreamProtocol",
    "UIMessageStream",
    "UIStreamEncoder",
    "format_for_query",
    "parse_chat_request",
    "read_ui_event",
    "resume_chat_id",
]

PATH = "/api/chat"
UI_CONTENT_TYPE = "text/event-stream"
DATA_CONTENT_TYPE = "text/plain; charset=utf-8"
DEFAULT_MODEL = "fakellm"

# Neutral finish reason -> the AI SDK's (``uiMessageChunkSchema``'s finishReason, §5.3).
FINISH_REASONS: dict[str, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool-calls",
    "content_filter": "content-filter",
}
_NEUTRAL_REASONS = {sdk: neutral for neutral, sdk in FINISH_REASONS.items()}

_ALNUM = string.ascii_letters + string.digits
_TRIGGERS = ("submit-message", "regenerate-message")


def _dumps(value: Any) -> str:
    # JSON.stringify: compact, raw UTF-8.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _part(part: dict[str, Any]) -> bytes:
    # A lone surrogate cannot be UTF-8: written as JSON's own escape (as wire/sse.py does).
    return f"data: {_dumps(part)}\n\n".encode("utf-8", "backslashreplace")


_DONE = b"data: [DONE]\n\n"
_START_STEP = _part({"type": "start-step"})
_FINISH_STEP = _part({"type": "finish-step"})


def _input(arguments: str) -> tuple[Any, str | None]:
    """A call's arguments as the ``input`` the client gets, and the error when they are no JSON."""
    try:
        return json.loads(arguments), None
    except ValueError as exc:
        return arguments, f"Invalid input for tool: {exc}"


# --------------------------------------------------------------------------------------------------
# The UI message stream (AI SDK 5+)


class UIStreamEncoder:
    """Encodes :mod:`fakellm.events` as one UI message stream (see the module notes).
    ``message_id`` None: ``start`` without one (the SDK's own stream when no id generator is set,
    §5.2)."""

    content_type = UI_CONTENT_TYPE

    def __init__(self, *, message_id: str | None) -> None:
        self.message_id = message_id
        self._delta_head = b""
        self._kind = "text"
        self._block_id = ""
        self._call_name = ""
        self._arguments: list[str] = []

    def encode(self, event: Event) -> bytes:
        if type(event) is TextDelta or isinstance(event, TextDelta):
            if self._kind == "tool_call":
                self._arguments.append(event.text)
            text = _dumps(event.text).encode("utf-8", "backslashreplace")
            return b"".join((self._delta_head, text, b"}\n\n"))
        if isinstance(event, RoleStart):
            start: dict[str, Any] = {"type": "start"}
            if self.message_id is not None:
                start["messageId"] = self.message_id
            return _part(start) + _START_STEP
        if isinstance(event, BlockStart):
            return self._open(event)
        if isinstance(event, BlockEnd):
            return self._close()
        if isinstance(event, Finish):
            reason = FINISH_REASONS.get(event.reason, "other")
            return _FINISH_STEP + _part({"type": "finish", "finishReason": reason})
        if isinstance(event, Usage | Hold):
            return b""
        if isinstance(event, StreamError):
            return _part({"type": "error", "errorText": event.message})
        if isinstance(event, Malformed):
            return f"data: {event.payload}\n\n".encode("utf-8", "backslashreplace")
        if isinstance(event, StreamEnd):
            return _DONE
        raise TypeError(f"UIStreamEncoder cannot encode {event!r}")

    def _open(self, event: BlockStart) -> bytes:
        self._kind = event.kind
        self._block_id = str(event.index)
        if event.kind == "tool_call":
            call_id = event.id or ""
            self._block_id, self._call_name, self._arguments = call_id, event.name or "", []
            self._delta_head = (
                f'data: {{"type":"tool-input-delta","toolCallId":{_dumps(call_id)},"inputTextDelta":'.encode()
            )
            return _part({"type": "tool-input-start", "toolCallId": call_id, "toolName": self._call_name})
        if event.kind not in ("text", "reasoning"):
            raise TypeError(f"UIStreamEncoder cannot encode a {event.kind!r} block")
        self._delta_head = f'data: {{"type":"{event.kind}-delta","id":"{self._block_id}","delta":'.encode()
        return _part({"type": f"{event.kind}-start", "id": self._block_id})

    def _close(self) -> bytes:
        if self._kind != "tool_call":
            return _part({"type": f"{self._kind}-end", "id": self._block_id})
        input, error = _input("".join(self._arguments))
        part: dict[str, Any] = {
            "type": "tool-input-available" if error is None else "tool-input-error",
            "toolCallId": self._block_id,
            "toolName": self._call_name,
            "input": input,
        }
        if error is not None:
            part["errorText"] = error
        return _part(part)

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
        """The answer as the ``UIMessage`` the client ends up with (the route always streams: this
        is for the Protocol, and for whoever wants the message whole)."""
        return _ui_message(self.message_id, text, calls, reasoning)


def _ui_message(
    message_id: str | None, text: str, calls: Sequence[PlannedCall], reasoning: PlannedReasoning | None
) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "step-start"}]
    if reasoning is not None:
        parts.append({"type": "reasoning", "text": "".join(reasoning.tokens), "state": "done"})
    if text:
        parts.append({"type": "text", "text": text, "state": "done"})
    for call in calls:
        input, _ = _input(call.arguments)
        parts.append(
            {"type": f"tool-{call.name}", "toolCallId": call.id, "state": "input-available", "input": input}
        )
    return {"id": message_id or "", "role": "assistant", "parts": parts}


# --------------------------------------------------------------------------------------------------
# The data stream protocol (AI SDK 4)


def _line(code: str, value: Any) -> bytes:
    return f"{code}:{_dumps(value)}\n".encode("utf-8", "backslashreplace")


class DataStreamEncoder:
    """Encodes :mod:`fakellm.events` as one AI SDK 4 data stream (see the module notes). Usage
    (``promptTokens``, ``completionTokens``) is the encoder's own count of the tokens it sent, so
    that the finish lines need no ``Usage`` event."""

    content_type = DATA_CONTENT_TYPE

    def __init__(self, *, message_id: str, prompt_tokens: int) -> None:
        self.message_id = message_id
        self.prompt_tokens = prompt_tokens
        self._tokens = 0
        self._kind = "text"
        self._call_id = ""
        self._call_name = ""
        self._arguments: list[str] = []

    def _usage(self) -> dict[str, int]:
        return {"promptTokens": self.prompt_tokens, "completionTokens": self._tokens}

    def encode(self, event: Event) -> bytes:
        if isinstance(event, TextDelta):
            self._tokens += 1
            if self._kind == "tool_call":
                self._arguments.append(event.text)
                return _line("c", {"toolCallId": self._call_id, "argsTextDelta": event.text})
            return _line("g" if self._kind == "reasoning" else "0", event.text)
        if isinstance(event, RoleStart):
            return _line("f", {"messageId": self.message_id})
        if isinstance(event, BlockStart):
            self._kind = event.kind
            if event.kind == "tool_call":
                self._call_id, self._call_name, self._arguments = event.id or "", event.name or "", []
                return _line("b", {"toolCallId": self._call_id, "toolName": self._call_name})
            return b""
        if isinstance(event, BlockEnd):
            if self._kind != "tool_call":
                return b""
            args, _ = _input("".join(self._arguments))
            return _line("9", {"toolCallId": self._call_id, "toolName": self._call_name, "args": args})
        if isinstance(event, Finish):
            reason = FINISH_REASONS.get(event.reason, "other")
            usage = self._usage()
            return _line("e", {"finishReason": reason, "usage": usage, "isContinued": False}) + _line(
                "d", {"finishReason": reason, "usage": usage}
            )
        if isinstance(event, Usage | Hold | StreamEnd):
            return b""  # the protocol has no end marker: the body ends
        if isinstance(event, StreamError):
            return _line("3", event.message)
        if isinstance(event, Malformed):
            return f"0:{event.payload}\n".encode("utf-8", "backslashreplace")
        raise TypeError(f"DataStreamEncoder cannot encode {event!r}")

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
        return _ui_message(self.message_id, text, calls, reasoning)


# --------------------------------------------------------------------------------------------------
# Requests


def _bad(message: str, param: str | None = None) -> RequestError:
    return RequestError(400, message, type="invalid_request_error", param=param)


def _tool_output_text(part: dict[str, Any]) -> str | None:
    """A tool part's result as the neutral conversation's text, or None when it has none yet."""
    state = part.get("state")
    if state == "output-error":
        error = part.get("errorText")
        return error if isinstance(error, str) else ""
    if state != "output-available" and "output" not in part:
        return None
    output = part.get("output")
    return output if isinstance(output, str) else _dumps(output)


def _tool_name(part: dict[str, Any], where: str) -> str | None:
    kind: str = part["type"]
    if kind == "dynamic-tool":
        name = part.get("toolName")
        if not isinstance(name, str) or not name:
            raise _bad(f"{where}.toolName: a dynamic-tool part needs its tool's name", "messages")
        return name
    if kind.startswith("tool-") and len(kind) > 5:
        return kind[5:]
    return None


def _assistant_messages(parts: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """An assistant UIMessage as the neutral conversation: one assistant message per step (text and
    ``tool_calls``), each followed by its tools' results (``role: tool``)."""
    steps: list[list[dict[str, Any]]] = [[]]
    for part in parts:
        if part["type"] == "step-start":
            if steps[-1]:
                steps.append([])
            continue
        steps[-1].append(part)
    out: list[dict[str, Any]] = []
    for step in steps:
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for j, part in enumerate(step):
            if part["type"] == "text":
                texts.append(part["text"])
                continue
            name = _tool_name(part, f"{where}.parts.{j}")
            if name is None:
                continue
            call_id = part.get("toolCallId")
            if not isinstance(call_id, str):
                problem = f"{where}.parts.{j}.toolCallId: a tool part needs its call's id (a string)"
                raise _bad(problem, "messages")
            function = {"name": name, "arguments": _dumps(part.get("input"))}
            calls.append({"id": call_id, "type": "function", "function": function})
            output = _tool_output_text(part)
            if output is not None:
                results.append({"role": "tool", "tool_call_id": call_id, "content": output})
        if not texts and not calls:
            continue
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
        if calls:
            message["tool_calls"] = calls
        out.append(message)
        out.extend(results)
    return out


def _message_parts(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """A message's parts, checked: objects with a string ``type``, a text part's ``text`` a string.
    An AI SDK 4 message without ``parts`` stands for one text part of its ``content``."""
    parts = message.get("parts")
    if parts is None:
        content = message.get("content")
        if isinstance(content, str):
            return [{"type": "text", "text": content}]
        raise _bad(f"{where}.parts: a message needs its parts (a list), or a content string", "messages")
    if not isinstance(parts, list):
        raise _bad(f"{where}.parts: must be a list of parts", "messages")
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise _bad(f"{where}.parts.{j}: must be an object", "messages")
        if not isinstance(part.get("type"), str):
            raise _bad(f"{where}.parts.{j}.type: every part needs a type (a string)", "messages")
        if part["type"] in ("text", "reasoning") and not isinstance(part.get("text"), str):
            raise _bad(f"{where}.parts.{j}.text: a {part['type']} part's text must be a string", "messages")
    return parts


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate a ``useChat`` body (see the module notes) into the neutral request, raising
    :class:`RequestError` (400) for a body that is not one. Always a stream; the chat's ``id`` is
    the request's ``resume_key``."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise _bad("The request body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object: {id, messages, trigger}.")
    chat_id = body.get("id")
    if chat_id is not None and (not isinstance(chat_id, str) or not chat_id):
        raise _bad("id: the chat's id must be a non-empty string", "id")
    trigger = body.get("trigger")
    if trigger is not None and trigger not in _TRIGGERS:
        raise _bad(f"trigger: must be one of {', '.join(_TRIGGERS)}, not {trigger!r}", "trigger")
    model = body.get("model", DEFAULT_MODEL)
    if not isinstance(model, str) or not model:
        raise _bad("model: must be a non-empty string when given", "model")
    limit = body.get("maxOutputTokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise _bad("maxOutputTokens: must be a positive integer when given", "maxOutputTokens")
    messages = body.get("messages")
    if messages is None:
        raise _bad("messages: required (the chat's UIMessages, as useChat sends them)", "messages")
    if not isinstance(messages, list):
        raise _bad("messages: must be a list of UIMessages", "messages")
    if not messages:
        raise _bad("messages: must hold at least one message", "messages")
    conversation: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise _bad(f"{where}: must be an object {{id, role, parts}}", "messages")
        role = message.get("role")
        if role not in ("system", "user", "assistant"):
            raise _bad(f"{where}.role: must be 'system', 'user' or 'assistant', not {role!r}", "messages")
        parts = _message_parts(message, where)
        if role == "assistant":
            conversation.extend(_assistant_messages(parts, where))
        else:
            text = "".join(p["text"] for p in parts if p["type"] == "text")
            conversation.append({"role": role, "content": text})
    request = ChatRequest(body, model, conversation, True, limit, False)
    request.resume_key = chat_id
    return request


def _continued_message_id(body: dict[str, Any]) -> str | None:
    """The id of the assistant message a request goes on with (its last message), if any."""
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        made = last.get("id")
        if isinstance(made, str) and made:
            return made
    return None


# --------------------------------------------------------------------------------------------------
# Reading the UI stream back (the recorder, the proxy's classifier)


def read_ui_event(sse: ServerSentEvent) -> tuple[Event, ...]:
    """The neutral events one UI message stream part stands for: ``start`` is ``RoleStart``, a
    text or reasoning delta ``TextDelta`` (a tool's input delta ``TextDelta("")``: output with no
    text, as the other readers count it), ``finish`` ``Finish``, ``error`` ``StreamError``,
    ``[DONE]`` ``StreamEnd``, data that is no JSON object ``Malformed``; every other part ``()``."""
    if sse.data == "[DONE]":
        return (StreamEnd(),)
    try:
        part = json.loads(sse.data)
    except ValueError:
        return (Malformed(sse.data),)
    if not isinstance(part, dict):
        return (Malformed(sse.data),)
    kind = part.get("type")
    if kind == "text-delta":
        delta = part.get("delta")
        return (TextDelta(delta),) if isinstance(delta, str) else ()
    if kind in ("reasoning-delta", "tool-input-delta"):
        return (TextDelta(""),)
    if kind == "start":
        return (RoleStart(),)
    if kind == "finish":
        reason = part.get("finishReason")
        return (Finish(_NEUTRAL_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop"),)
    if kind == "error":
        text = part.get("errorText")
        return (StreamError(text if isinstance(text, str) else ""),)
    return ()


# --------------------------------------------------------------------------------------------------
# The formats (wire/format.py)


class UIMessageStream:
    """The AI SDK UI message stream v1, ``POST /api/chat`` (always streamed)."""

    name = "ai_sdk.ui"
    path = PATH

    def parse_request(self, raw: bytes, headers: dict[str, str]) -> ChatRequest:
        return parse_chat_request(raw)

    def _ids(self, request: ChatRequest, rng: random.Random) -> tuple[str, str]:
        # The draws of every seeded stream of this format: never reorder.
        message_id = "msg-" + "".join(rng.choices(_ALNUM, k=16))
        request_id = f"req_{rng.getrandbits(128):032x}"
        return _continued_message_id(request.body) or message_id, request_id

    def open_stream(
        self,
        request: ChatRequest,
        rng: random.Random,
        *,
        now: float | None,
        prompt_tokens: int,
        ascii_only: bool,
    ) -> OpenedStream:
        message_id, request_id = self._ids(request, rng)
        return OpenedStream(UIStreamEncoder(message_id=message_id), request_id)

    def headers(self, request_id: str, processing_ms: int) -> list[tuple[str, str]]:
        # §5.1: the client checks none of them (U6), the SDK's server helpers send them all
        # (content-type, cache-control and x-accel-buffering are every stream's: endpoint.py).
        return [("x-vercel-ai-ui-message-stream", "v1"), ("x-request-id", request_id)]

    def error(self, error: RequestError, request_id: str) -> Answer:
        return openai_error(error, request_id)

    def tool_call_id(self, rng: random.Random) -> str | None:
        """``call_`` and 24 letters and digits (the id an OpenAI model gives, which the SDK passes on)."""
        return "call_" + "".join(rng.choices(_ALNUM, k=24))

    def sends_reasoning(self, field: str | None) -> bool:
        return True

    def reader(self) -> EventReaderFn:
        return read_ui_event

    def injector(self) -> Injector:
        return _Injector(UIStreamEncoder(message_id=None))


class DataStreamProtocol(UIMessageStream):
    """The AI SDK 4 data stream protocol, ``POST /api/chat?protocol=data`` (always streamed)."""

    name = "ai_sdk.data"

    def open_stream(
        self,
        request: ChatRequest,
        rng: random.Random,
        *,
        now: float | None,
        prompt_tokens: int,
        ascii_only: bool,
    ) -> OpenedStream:
        message_id, request_id = self._ids(request, rng)
        return OpenedStream(DataStreamEncoder(message_id=message_id, prompt_tokens=prompt_tokens), request_id)

    def headers(self, request_id: str, processing_ms: int) -> list[tuple[str, str]]:
        return [("x-vercel-ai-data-stream", "v1"), ("x-request-id", request_id)]

    def reader(self) -> EventReaderFn:
        raise NotImplementedError(
            "The AI SDK data stream protocol is not SSE: fakellm cannot record or proxy it "
            "(record the UI message stream, POST /api/chat without ?protocol=data)."
        )

    def injector(self) -> Injector:
        return _Injector(DataStreamEncoder(message_id="", prompt_tokens=0))


class _UnknownProtocol(UIMessageStream):
    """``?protocol=`` with a value that is none of ours: every request a 400 that says so."""

    def __init__(self, value: str) -> None:
        self.value = value

    def parse_request(self, raw: bytes, headers: dict[str, str]) -> ChatRequest:
        raise _bad(
            f"protocol: {self.value!r} is not a protocol of POST /api/chat: leave it out for the UI "
            "message stream (AI SDK 5+), or ask for 'data' (the AI SDK 4 data stream protocol).",
            "protocol",
        )


class _Injector:
    def __init__(self, encoder: UIStreamEncoder | DataStreamEncoder) -> None:
        self._encoder = encoder

    def observe(self, raw: bytes, event: Event) -> None:
        pass

    def encode(self, event: Event) -> bytes:
        return self._encoder.encode(event)


UI_STREAM = UIMessageStream()
DATA_STREAM = DataStreamProtocol()
_PROTOCOLS = {"ui": UI_STREAM, "ui-message-stream": UI_STREAM, "data": DATA_STREAM, "data-v1": DATA_STREAM}


def format_for_query(query: bytes) -> UIMessageStream:
    """The format ``POST /api/chat`` speaks for its query string: ``protocol=data`` (or
    ``data-v1``) the data stream protocol, none (or ``ui``) the UI message stream; another value a
    format that refuses every request with a 400 naming it."""
    values = parse_qs(query.decode("latin-1")).get("protocol")
    if not values:
        return UI_STREAM
    return _PROTOCOLS.get(values[-1]) or _UnknownProtocol(values[-1])


def resume_chat_id(path: str) -> str | None:
    """The chat id of ``/api/chat/{id}/stream`` (the AI SDK's resume route, §6.2), or None."""
    prefix, suffix = PATH + "/", "/stream"
    if not path.startswith(prefix) or not path.endswith(suffix):
        return None
    chat_id = path[len(prefix) : -len(suffix)]
    return chat_id if chat_id and "/" not in chat_id else None


# --------------------------------------------------------------------------------------------------
# Which stream each chat has (for GET /api/chat/{id}/stream)


class ChatStreams:
    """The last stream of each chat: chat id -> (stream id in ``state.resumable``, its format),
    the newest ``max_entries`` chats (the AI SDK's ``activeStreamId`` per chat, §6.2)."""

    MAX_ENTRIES = 1000

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._chats: OrderedDict[str, tuple[str, WireFormat]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, chat_id: str, stream_id: str, fmt: WireFormat) -> None:
        with self._lock:
            self._chats.pop(chat_id, None)
            self._chats[chat_id] = (stream_id, fmt)
            while len(self._chats) > self.max_entries:
                self._chats.popitem(last=False)

    def get(self, chat_id: str) -> tuple[str, WireFormat] | None:
        with self._lock:
            return self._chats.get(chat_id)

    def clear(self) -> None:
        with self._lock:
            self._chats.clear()

    def __len__(self) -> int:
        return len(self._chats)
