"""OpenAI Chat Completions: ``chat.completion.chunk`` SSE frames and the ``chat.completion`` object.

Byte-for-byte what the API sends (shared/wire.md §1.3): compact JSON, keys in OpenAI's order
(``id, object, created, model, service_tier, system_fingerprint, choices, usage``), non-ASCII
escaped as ``\\uXXXX``, ``data: <json>\\n\\n`` framing, ``data: [DONE]\\n\\n`` last.

Reasoning: OpenAI never streams it on Chat; OpenAI-compatible servers do, in a delta field of
their own (``reasoning_content``, ``reasoning``). A ``reasoning`` block is framed only when it names
that field (``BlockStart.name``; the pipeline plans none otherwise): its tokens are chunks whose
delta holds the field alone.

Everything that does not change between chunks (id, created, model, fingerprint, the ``usage``
tail) is encoded once per stream; a content chunk costs one ``json.dumps`` of the token and three
byte joins. The encoder knows nothing about sockets or timing.

With ``logprobs: true`` each content chunk carries its token's entry (``fakellm/logprobs.py``: a
hash of the completion id, the choice, the position and the token, so that no draw is added to
the stream's RNG), as the capture in wire2.md §4.3 has it.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Sequence
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

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
from ..logprobs import MAX_TOP_LOGPROBS, StreamLogprobs, TokenLogprob
from ..reasoning import REASONING_FIELDS, PlannedReasoning
from ..tokens import tokens_for
from ..tools import AUTO, NO_ARGUMENTS, PlannedCall, ToolChoice, ToolSpec
from .format import Answer, ChatRequest, EventReader, Injector, OpenedStream
from .sse import ServerSentEvent, encode_sse

__all__ = [
    "CHAT",
    "ChatCompletions",
    "ChatInjector",
    "ChatRequest",
    "OpenAIChatEncoder",
    "chat_logprobs",
    "function_tools",
    "openai_error",
    "openai_headers",
    "parse_chat_request",
    "read_chat_event",
    "tool_choice",
    "usage_object",
]

_DONE = b"data: [DONE]\n\n"
MAX_CHOICES = 128
"""OpenAI's bound on ``n`` (Chat and Completions)."""
_NO_FINISH = b',"logprobs":null,"finish_reason":null}]'


def usage_object(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _dumps(value: Any, ascii_only: bool) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only)


# Text from a request or a JSON file can hold lone surrogates ("\ud800" is valid JSON), which UTF-8
# cannot encode. Inside a JSON string Python's backslashreplace writes them as the same escape JSON
# uses, so raw-UTF-8 mode (ascii_only off) still sends valid JSON; other text is unchanged.
_UTF8_ERRORS = "backslashreplace"


class OpenAIChatEncoder:
    """Encodes :mod:`fakellm.events` as ``chat.completion.chunk`` SSE frames for one stream."""

    content_type = "text/event-stream; charset=utf-8"

    def __init__(
        self,
        *,
        id: str,
        created: int,
        model: str,
        system_fingerprint: str,
        include_usage: bool = False,
        ascii_only: bool = True,
        logprobs: StreamLogprobs | None = None,
    ) -> None:
        self.id = id
        self.created = created
        self.model = model
        self.system_fingerprint = system_fingerprint
        self.ascii_only = ascii_only
        head = (
            f'data: {{"id":{_dumps(id, True)},"object":"chat.completion.chunk",'
            f'"created":{created},"model":{_dumps(model, ascii_only)},"service_tier":"default",'
            f'"system_fingerprint":{_dumps(system_fingerprint, True)},"choices":'
        )
        self._head = head.encode("utf-8", _UTF8_ERRORS)
        self._tail = (b',"usage":null}' if include_usage else b"}") + b"\n\n"
        self._content_open = b'[{"index":0,"delta":{"content":'
        self._content_close = b'},"logprobs":null,"finish_reason":null}]' + self._tail
        # What json.dumps does for a str, without building an encoder for every token.
        self._content_head = self._head + self._content_open
        self._text_head, self._text_close = self._content_head, self._content_close
        self._quote = encode_basestring_ascii if ascii_only else encode_basestring
        # The role chunk waits for the first block: a message that opens with a tool call says so
        # in the same chunk (content null, the call's id and name), as the API sends it.
        self._role: str | None = None
        self._calls = 0  # tool calls opened so far: each one's tool_calls[].index
        # Choices after the first (``n``): their own templates, made when each first appears, so
        # that choice 0's hot path stays as it is.
        self._choices: dict[int, _ChoiceState] = {}
        # ``logprobs: true``: each text chunk's ``logprobs.content`` holds its token's (tool call
        # fragments and the finish keep ``null``); a role chunk's is ``{"content":[]}`` (wire2 §4.3).
        self._logprobs = logprobs
        self._role_logprobs = b"null" if logprobs is None else b'{"content":[],"refusal":null}'

    def encode(self, event: Event) -> bytes:
        if type(event) is TextDelta and self._role is None and not event.choice:  # the hot path
            if self._logprobs is not None and self._content_head is self._text_head:
                return self._with_logprobs(event, self._content_head)
            return b"".join(
                (
                    self._content_head,
                    self._quote(event.text).encode("utf-8", _UTF8_ERRORS),
                    self._content_close,
                )
            )
        if isinstance(event, RoleStart | BlockStart | TextDelta | BlockEnd | Finish) and event.choice:
            return self._other_choice(event)
        if isinstance(event, RoleStart):
            self._role = event.role
            return b""
        if isinstance(event, BlockStart) and event.kind == "tool_call":
            return self._tool_call(event)
        if self._role is not None:  # anything else first: the role chunk as a text answer opens
            head = self._role_chunk(
                f'{{"role":{_dumps(self._role, True)},"content":"","refusal":null}}'.encode()
            )
            return head + self.encode(event)
        if isinstance(event, Finish):
            choice = f'[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"{event.reason}"}}]'
            return self._head + choice.encode() + self._tail
        if isinstance(event, Usage):
            return self._head + b"[]," + b'"usage":' + _dumps(usage_object(event), True).encode() + b"}\n\n"
        if isinstance(event, StreamError):
            body = {
                "error": {
                    "message": event.message,
                    "type": event.type,
                    "param": event.param,
                    "code": event.code,
                }
            }
            return encode_sse(_dumps(body, self.ascii_only))
        if isinstance(event, Malformed):
            return encode_sse(event.payload)
        if isinstance(event, StreamEnd):
            return _DONE
        if isinstance(event, BlockEnd):
            # Back to content deltas (a later text block, a refusal...): a block's own end has no bytes.
            self._content_head, self._content_close = self._text_head, self._text_close
            return b""
        if isinstance(event, BlockStart) and event.kind == "text":
            return b""  # a text block has no framing of its own: its tokens are content deltas
        if isinstance(event, BlockStart) and event.kind == "reasoning":
            return self._reasoning(event)
        if isinstance(event, Hold):
            return b""
        raise TypeError(f"OpenAIChatEncoder cannot encode {event!r}")

    def _role_chunk(self, delta: bytes, choice: int = 0) -> bytes:
        if choice:
            self._choices[choice].role = None
        else:
            self._role = None
        return (
            self._head
            + b'[{"index":%d,"delta":' % choice
            + delta
            + b',"logprobs":'
            + self._role_logprobs
            + b',"finish_reason":null}]'
            + self._tail
        )

    def _with_logprobs(self, event: TextDelta, content_head: bytes) -> bytes:
        """A text chunk with its token's logprobs (``logprobs: true``): one entry, as the API
        sends one token per chunk (wire2 §4.3)."""
        assert self._logprobs is not None
        entry = _dumps(self._logprobs.next(event.text, event.choice).json(), self.ascii_only)
        return b"".join(
            (
                content_head,
                self._quote(event.text).encode("utf-8", _UTF8_ERRORS),
                b'},"logprobs":{"content":[',
                entry.encode("utf-8", _UTF8_ERRORS),
                b'],"refusal":null},"finish_reason":null}]',
                self._tail,
            )
        )

    def _choice_logprobs(self, text: str, choice: int) -> dict[str, Any] | None:
        """A non-streamed choice's ``logprobs``: its text's tokens', the same as its stream's."""
        if self._logprobs is None:
            return None
        entries: list[TokenLogprob] = self._logprobs.of(tokens_for(text), choice)
        return {"content": [e.json() for e in entries], "refusal": None}

    def _other_choice(self, event: RoleStart | BlockStart | TextDelta | BlockEnd | Finish) -> bytes:
        """An event of a choice after the first: the same chunks as choice 0's, with its
        ``index``. Each chunk carries one choice, and the schedule sends choice 0 first, so that
        openai-python's helper, which sizes its list of choices from the first chunk, accepts it
        (wire2 §4.2, §4.4 C6)."""
        number = event.choice
        state = self._choices.get(number)
        if state is None:
            state = self._choices[number] = _ChoiceState(
                self._head + b'[{"index":%d,"delta":{"content":' % number
            )
        if type(event) is TextDelta and state.role is None:
            if self._logprobs is not None:
                return self._with_logprobs(event, state.content_head)
            return b"".join(
                (state.content_head, self._quote(event.text).encode("utf-8", _UTF8_ERRORS), self._text_close)
            )
        if isinstance(event, RoleStart):
            state.role = event.role
            return b""
        if isinstance(event, BlockStart) and event.kind != "text":
            # The pipeline refuses tool calls with n > 1: they are choice 0's only.
            raise TypeError(
                f"OpenAIChatEncoder cannot encode {event!r} (blocks other than text: choice 0 only)"
            )
        if state.role is not None:
            head = self._role_chunk(
                f'{{"role":{_dumps(state.role, True)},"content":"","refusal":null}}'.encode(), number
            )
            return head + self._other_choice(event)
        if isinstance(event, Finish):
            choice = f'[{{"index":{number},"delta":{{}},"logprobs":null,"finish_reason":"{event.reason}"}}]'
            return self._head + choice.encode() + self._tail
        return b""  # a text block's start and end have no bytes of their own

    def _reasoning(self, event: BlockStart) -> bytes:
        """A reasoning block, as OpenAI-compatible servers stream one (OpenAI never does, so the
        pipeline sends it only when the scenario names the field, ``BlockStart.name``): after the
        role chunk, each token a chunk whose delta holds that field alone (vLLM's shape:
        ``{"reasoning_content":"..."}``), then the answer's content chunks as ever."""
        if event.name not in REASONING_FIELDS:
            raise TypeError(f"OpenAIChatEncoder cannot encode {event!r}: no reasoning field named")
        self._content_head = self._head + b'[{"index":0,"delta":{"%b":' % event.name.encode()
        self._content_close = self._text_close
        return b""

    def _tool_call(self, event: BlockStart) -> bytes:
        """The call's head (its index, id, type and name, arguments empty); its tokens then go out
        as ``arguments`` fragments under the same index, with nothing else repeated (the
        openai-python helper concatenates every string it sees again: wire2 §4)."""
        index = self._calls
        self._calls += 1
        head = {
            "index": index,
            "id": event.id,
            "type": "function",
            "function": {"name": event.name, "arguments": ""},
        }
        call = _dumps(head, self.ascii_only).encode("utf-8", _UTF8_ERRORS)
        open_ = b'[{"index":0,"delta":{"tool_calls":[{"index":%d,"function":{"arguments":' % index
        self._content_head = self._head + open_
        self._content_close = b'}}]},"logprobs":null,"finish_reason":null}]' + self._tail
        if self._role is not None:
            role = _dumps(self._role, True).encode()
            return self._role_chunk(
                b'{"role":' + role + b',"content":null,"tool_calls":[' + call + b'],"refusal":null}'
            )
        return (
            self._head
            + b'[{"index":0,"delta":{"tool_calls":['
            + call
            + b"]},"
            + b'"logprobs":null,"finish_reason":null}]'
            + self._tail
        )

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
        """The non-streaming ``chat.completion`` object for the same stream (a stop sequence's
        finish is ``stop``: this API does not say which sequence matched; the reasoning, when the
        scenario names its field, in that field of the message, after ``content``)."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text if text or not calls else None,
        }
        if reasoning is not None and reasoning.field is not None:
            message[reasoning.field] = reasoning.text
        message["refusal"] = None
        message["annotations"] = []
        if calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in calls
            ]
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": self._choice_logprobs(text, 0),
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage_object(usage),
            "service_tier": "default",
            "system_fingerprint": self.system_fingerprint,
        }

    def completion_choices(self, choices: Sequence[tuple[str, str]], usage: Usage) -> dict[str, Any]:
        """The non-streaming ``chat.completion`` object with several choices, ``(text,
        finish_reason)`` each, in index order (text only: tool calls are choice 0's alone)."""
        body = self.completion(*choices[0], usage)
        body["choices"] = [
            {
                "index": i,
                "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                "logprobs": self._choice_logprobs(text, i),
                "finish_reason": reason,
            }
            for i, (text, reason) in enumerate(choices)
        ]
        return body


class _ChoiceState:
    """What the Chat encoder keeps for one choice after the first: its role chunk, while it waits
    for the choice's first block, and the head of its content chunks."""

    __slots__ = ("content_head", "role")

    def __init__(self, content_head: bytes) -> None:
        self.content_head = content_head
        self.role: str | None = None


# --------------------------------------------------------------------------------------------------
# Requests


def _bad(message: str, param: str | None, code: str | None = None) -> RequestError:
    return RequestError(400, message, param=param, code=code)


def _bounded_int(value: Any, param: str, minimum: int, maximum: int | None = None) -> int:
    """An integer parameter checked against its bounds, each failure in OpenAI's own words."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(
            f"Invalid type for '{param}': expected an integer, but got {_type_name(value)} instead.",
            param,
            "invalid_type",
        )
    if value < minimum:
        raise _bad(
            f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, but got "
            f"{value} instead.",
            param,
            "integer_below_min_value",
        )
    if maximum is not None and value > maximum:
        raise _bad(
            f"Invalid '{param}': integer above maximum value. Expected a value <= {maximum}, but got "
            f"{value} instead.",
            param,
            "integer_above_max_value",
        )
    return value


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _check_parts(parts: list[Any], where: str) -> None:
    """Content parts are objects with a string ``type``; a text part's ``text`` is a string (the
    tokeniser and the prompt matcher read it). Other part types are accepted as they are."""
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise _bad(
                f"Invalid type for '{where}[{j}]': expected an object, but got {_type_name(part)} instead.",
                f"{where}[{j}]",
                "invalid_type",
            )
        kind = part.get("type")
        if not isinstance(kind, str):
            raise _bad(
                f"Missing required parameter: '{where}[{j}].type'.",
                f"{where}[{j}].type",
                "missing_required_parameter",
            )
        if kind == "text" and not isinstance(part.get("text"), str):
            raise _bad(
                f"Invalid type for '{where}[{j}].text': expected a string, but got "
                f"{_type_name(part.get('text'))} instead.",
                f"{where}[{j}].text",
                "invalid_type",
            )


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate a request body, raising :class:`RequestError` (400) with OpenAI's wording style."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise _bad(
            "We could not parse the JSON body of your request: it is nested too deeply.",
            None,
            "invalid_json",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(
            f"We could not parse the JSON body of your request. ({exc}) The OpenAI API expects a "
            "JSON payload, but what was sent was not valid JSON.",
            None,
            "invalid_json",
        ) from None
    if not isinstance(body, dict):
        raise _bad(
            f"Invalid type for request body: expected an object, but got {_type_name(body)} instead.",
            None,
            "invalid_type",
        )

    model = body.get("model")
    if model is None:
        raise _bad("you must provide a model parameter", "model", "missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise _bad(
            f"Invalid type for 'model': expected a non-empty string, but got {_type_name(model)}.",
            "model",
            "invalid_type",
        )

    messages = body.get("messages")
    if messages is None:
        raise _bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(messages, list):
        raise _bad(
            f"Invalid type for 'messages': expected an array, but got {_type_name(messages)} instead.",
            "messages",
            "invalid_type",
        )
    if not messages:
        raise _bad(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.",
            "messages",
            "empty_array",
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _bad(
                f"Invalid type for 'messages[{i}]': expected an object, but got "
                f"{_type_name(message)} instead.",
                f"messages[{i}]",
                "invalid_type",
            )
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool", "function"):
            raise _bad(
                f"Invalid value for 'messages[{i}].role': {role!r}. Supported values are: "
                "'system', 'developer', 'user', 'assistant', 'tool' and 'function'.",
                f"messages[{i}].role",
                "invalid_value",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise _bad(
                f"Invalid type for 'messages[{i}].content': expected a string or an array, but "
                f"got {_type_name(content)} instead.",
                f"messages[{i}].content",
                "invalid_type",
            )
        if isinstance(content, list):
            _check_parts(content, f"messages[{i}].content")

    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _bad(
            f"Invalid type for 'stream': expected a boolean, but got {_type_name(stream)} instead.",
            "stream",
            "invalid_type",
        )

    # Both given: max_completion_tokens wins (it replaced max_tokens, which is deprecated), as on
    # vLLM; OpenAI itself refuses the pair (400 invalid_parameter_combination), fakellm accepts it.
    max_tokens: int | None = None
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        _bounded_int(value, key, 1)
        if max_tokens is None:
            max_tokens = value

    n = body.get("n", 1)
    n = _bounded_int(1 if n is None else n, "n", 1, MAX_CHOICES)

    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise _bad(
                f"Invalid type for 'stream_options': expected an object, but got "
                f"{_type_name(options)} instead.",
                "stream_options",
                "invalid_type",
            )
        if not stream:
            raise _bad(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
                "invalid_value",
            )
        usage_flag = options.get("include_usage", False)
        if not isinstance(usage_flag, bool):
            raise _bad(
                "Invalid type for 'stream_options.include_usage': expected a boolean, but got "
                f"{_type_name(usage_flag)} instead.",
                "stream_options.include_usage",
                "invalid_type",
            )
        include_usage = usage_flag

    request = ChatRequest(body, model, messages, stream, max_tokens, include_usage, n)
    request.stop = _stop_sequences(body.get("stop"))
    return request


MAX_STOP_SEQUENCES = 4
"""OpenAI's bound on ``stop`` (Chat and Completions)."""


def _stop_sequences(value: Any) -> tuple[str, ...]:
    """``stop``: null, a string, or an array of at most 4 strings; each must be non-empty here (an
    empty sequence would end every answer before its first token)."""
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list):
        raise _bad(
            f"Invalid type for 'stop': expected a string or an array of strings, but got "
            f"{_type_name(value)} instead.",
            "stop",
            "invalid_type",
        )
    for i, stop in enumerate(stops):
        if not isinstance(stop, str):
            raise _bad(
                f"Invalid type for 'stop[{i}]': expected a string, but got {_type_name(stop)} instead.",
                "stop",
                "invalid_type",
            )
    if len(stops) > MAX_STOP_SEQUENCES:
        raise _bad(
            f"Invalid 'stop': array too long. Expected an array with maximum length {MAX_STOP_SEQUENCES}, "
            f"but got an array with length {len(stops)} instead.",
            "stop",
            "array_above_max_length",
        )
    if "" in stops:
        raise _bad(
            "Invalid 'stop': empty string. Expected a string with minimum length 1, but got an empty "
            "string instead.",
            "stop",
            "empty_string",
        )
    return tuple(stops)


def chat_logprobs(body: dict[str, Any]) -> int | None:
    """How many ``top_logprobs`` each token lists when the request asks for logprobs
    (``logprobs: true``; ``top_logprobs`` 0 to 20, 0 when absent), None when it does not; a
    :class:`RequestError` in OpenAI's words for a bad value, or ``top_logprobs`` without
    ``logprobs``."""
    enabled = body.get("logprobs")
    if enabled is not None and not isinstance(enabled, bool):
        raise _bad(
            f"Invalid type for 'logprobs': expected a boolean, but got {_type_name(enabled)} instead.",
            "logprobs",
            "invalid_type",
        )
    top = body.get("top_logprobs")
    if top is None:
        return 0 if enabled else None
    top = _bounded_int(top, "top_logprobs", 0, MAX_TOP_LOGPROBS)
    if not enabled:
        raise _bad("The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.", "top_logprobs")
    return top


def _stream_logprobs(key: str, top: int | None) -> StreamLogprobs | None:
    """The stream's logprobs, keyed by its completion id (drawn from the seed: no draw is added)."""
    return None if top is None else StreamLogprobs(key, top)


# --------------------------------------------------------------------------------------------------
# The format (wire/format.py)

_ALNUM = string.ascii_letters + string.digits


class ChatCompletions:
    """OpenAI Chat Completions, ``POST /v1/chat/completions``."""

    name = "openai.chat"
    path = "/v1/chat/completions"

    def parse_request(self, raw: bytes, headers: dict[str, str]) -> ChatRequest:
        request = parse_chat_request(raw)
        chat_logprobs(request.body)  # checked here, read again by open_stream
        request.output_schema = output_schema(request.body.get("response_format"), "response_format")
        request.tools = function_tools(request.body.get("tools"), flat=False)
        request.tool_choice = tool_choice(request.body.get("tool_choice"), request.tools, flat=False)
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
        # The draws of every seeded Chat stream since the first release: never reorder.
        completion_id = "chatcmpl-" + "".join(rng.choices(_ALNUM, k=29))
        fingerprint = f"fp_{rng.getrandbits(40):010x}"
        request_id = f"req_{rng.getrandbits(128):032x}"
        created = 1_735_689_600 + rng.randrange(31_536_000)  # a moment in 2025
        encoder = OpenAIChatEncoder(
            id=completion_id,
            created=created if now is None else int(now),
            model=request.model,
            system_fingerprint=fingerprint,
            include_usage=request.include_usage,
            ascii_only=ascii_only,
            logprobs=_stream_logprobs(completion_id, chat_logprobs(request.body)),
        )
        return OpenedStream(encoder, request_id)

    def headers(self, request_id: str, processing_ms: int) -> list[tuple[str, str]]:
        return openai_headers(request_id, processing_ms)

    def tool_call_id(self, rng: random.Random) -> str | None:
        return "call_" + "".join(rng.choices(_ALNUM, k=24))  # call_4XzlGBLtUe9dy3GVNV4jhq7h

    def sends_reasoning(self, field: str | None) -> bool:
        """Only in a field the scenario names: OpenAI's own models never stream reasoning here."""
        return field is not None

    def error(self, error: RequestError, request_id: str) -> Answer:
        return openai_error(error, request_id)

    def reader(self) -> EventReader:
        return read_chat_event

    def injector(self) -> Injector:
        return ChatInjector()


# --------------------------------------------------------------------------------------------------
# Reading chunks back (proxy, recordings), and writing into someone else's stream


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def read_chat_event(sse: ServerSentEvent) -> tuple[Event, ...]:
    """The neutral events one ``chat.completion.chunk`` event stands for, in order: a chunk's
    ``content`` or ``refusal`` text, or tool-call ``arguments``, is a :class:`TextDelta` (empty for
    arguments: a token of output with no text), its ``finish_reason`` a :class:`Finish`, a
    ``choices: []`` chunk with ``usage`` a :class:`Usage`; ``{"error": ...}`` is a
    :class:`StreamError` and ``[DONE]`` (a prefix, as the openai SDKs match it) :class:`StreamEnd`.
    Anything else (the role chunk, a provider's extra chunk, data that is not JSON) is ``()``."""
    data = sse.data
    if data.startswith("[DONE]"):
        return (StreamEnd(),)
    try:
        chunk = json.loads(data)
    except ValueError:
        return ()
    if not isinstance(chunk, dict):
        return ()
    error = chunk.get("error")
    if error:
        body = error if isinstance(error, dict) else {"message": str(error)}
        return (
            StreamError(
                _text(body.get("message")) or "An error occurred during streaming",
                _text(body.get("type")) or "server_error",
                body.get("param") if isinstance(body.get("param"), str) else None,
                body.get("code") if isinstance(body.get("code"), str) else None,
            ),
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
            if any(_text(delta.get(key)) for key in REASONING_FIELDS):
                output = True  # reasoning: a token of output that is not the content's text
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
    events: list[Event] = []
    if output:
        events.append(TextDelta("".join(text)))
    if finish is not None:
        events.append(Finish(finish))
    usage = chunk.get("usage")
    if isinstance(usage, dict) and not choices:
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        events.append(
            Usage(
                prompt if isinstance(prompt, int) else 0,
                completion if isinstance(completion, int) else 0,
            )
        )
    return tuple(events)


class ChatInjector:
    """What a fault adds to a proxied or recorded Chat stream (an error event, a malformed chunk,
    ``[DONE]``), as OpenAI writes them: these carry nothing of the stream, so nothing is observed."""

    def __init__(self) -> None:
        self._encoder = OpenAIChatEncoder(id="", created=0, model="", system_fingerprint="")

    def observe(self, raw: bytes, event: Event) -> None:
        pass

    def encode(self, event: Event) -> bytes:
        return self._encoder.encode(event)


_JSON_OBJECT: dict[str, Any] = {"type": "object"}


def output_schema(value: Any, param: str) -> dict[str, Any] | None:
    """The schema a structured-output setting asks for: Chat's ``response_format`` and Responses'
    ``text.format`` (the same three types, the schema nested under ``json_schema`` on Chat and
    inline on Responses); ``json_object`` is any object; ``text`` or none is None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(
            f"Invalid type for '{param}': expected an object, but got {_type_name(value)} instead.",
            param,
            "invalid_type",
        )
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return _JSON_OBJECT
    if kind != "json_schema":
        raise _bad(
            f"Invalid value for '{param}.type': {kind!r}. Supported values are: 'text', "
            "'json_object' and 'json_schema'.",
            f"{param}.type",
            "invalid_value",
        )
    holder = value.get("json_schema") if param == "response_format" else value
    where = f"{param}.json_schema" if param == "response_format" else param
    if not isinstance(holder, dict):
        raise _bad(f"Missing required parameter: '{where}'.", where, "missing_required_parameter")
    name = holder.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(
            f"Missing required parameter: '{where}.name'.", f"{where}.name", "missing_required_parameter"
        )
    schema = holder.get("schema", _JSON_OBJECT)
    if not isinstance(schema, dict):
        raise _bad(
            f"Invalid type for '{where}.schema': expected an object, but got {_type_name(schema)} instead.",
            f"{where}.schema",
            "invalid_type",
        )
    return schema


def _missing(where: str) -> RequestError:
    return _bad(f"Missing required parameter: '{where}'.", where, "missing_required_parameter")


_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_MAX_NAME = 64


def function_tools(value: Any, *, flat: bool) -> tuple[ToolSpec, ...]:
    """The function tools of Chat's ``tools`` (``{type: function, function: {name,
    parameters}}``; ``custom`` tools are accepted and never called) or, ``flat``, of Responses'
    (``{type: function, name, parameters}``; the hosted tools, ``web_search`` and the like, are
    accepted and never called). A tool without ``parameters`` takes no arguments."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad(
            f"Invalid type for 'tools': expected an array, but got {_type_name(value)} instead.",
            "tools",
            "invalid_type",
        )
    if not value and not flat:
        raise _bad(
            "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty "
            "array instead.",
            "tools",
            "empty_array",
        )
    tools: list[ToolSpec] = []
    for i, tool in enumerate(value):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise _bad(
                f"Invalid type for '{where}': expected an object, but got {_type_name(tool)} instead.",
                where,
                "invalid_type",
            )
        kind = tool.get("type")
        if not isinstance(kind, str):
            raise _missing(f"{where}.type")
        if kind != "function":
            if not flat and kind != "custom":
                raise _bad(
                    f"Invalid value: {kind!r}. Supported values are: 'function' and 'custom'.",
                    f"{where}.type",
                    "invalid_value",
                )
            continue
        holder = tool if flat else tool.get("function")
        if not flat:
            where += ".function"
            if not isinstance(holder, dict):
                raise _missing(where)
        assert isinstance(holder, dict)
        tools.append(_function(holder, where))
    return tuple(tools)


def _function(holder: dict[str, Any], where: str) -> ToolSpec:
    name = holder.get("name")
    if name is None:
        raise _missing(f"{where}.name")
    if not isinstance(name, str):
        raise _bad(
            f"Invalid type for '{where}.name': expected a string, but got {_type_name(name)} instead.",
            f"{where}.name",
            "invalid_type",
        )
    if len(name) > _MAX_NAME:
        raise _bad(
            f"Invalid '{where}.name': string too long. Expected a string with maximum length "
            f"{_MAX_NAME}, but got a string with length {len(name)} instead.",
            f"{where}.name",
            "string_above_max_length",
        )
    if not _FUNCTION_NAME.fullmatch(name):
        raise _bad(
            f"Invalid '{where}.name': string does not match pattern. Expected a string that matches "
            "the pattern '^[a-zA-Z0-9_-]+$'.",
            f"{where}.name",
            "invalid_value",
        )
    schema = holder.get("parameters")
    if schema is None:
        return ToolSpec(name, NO_ARGUMENTS)
    if not isinstance(schema, dict):
        raise _bad(
            f"Invalid type for '{where}.parameters': expected an object, but got {_type_name(schema)} "
            "instead.",
            f"{where}.parameters",
            "invalid_type",
        )
    return ToolSpec(name, schema)


_CHOICE_MODES = {"none": ToolChoice("none"), "auto": AUTO, "required": ToolChoice("required")}


def tool_choice(value: Any, tools: tuple[ToolSpec, ...], *, flat: bool) -> ToolChoice:
    """Chat's (or, ``flat``, Responses') ``tool_choice``: ``"none"``, ``"auto"``, ``"required"``
    or a named function (``{type: function, function: {name}}``; Responses: ``{type: function,
    name}``). A call it demands needs ``tools`` to call: ``required`` or a name without them is a
    400, as is a name that is not one of them; ``auto`` and ``none`` need none. Other kinds
    (``allowed_tools``, ``custom``, a hosted tool) are a 400 too: fakellm cannot make those calls."""
    if value is None:
        return AUTO
    if isinstance(value, str):
        if value not in _CHOICE_MODES:
            raise _bad(
                f"Invalid value: {value!r}. Supported values are: 'none', 'auto', and 'required'.",
                "tool_choice",
                "invalid_value",
            )
        choice = _CHOICE_MODES[value]
    elif isinstance(value, dict):
        choice = _named_choice(value, flat)
    else:
        raise _bad(
            f"Invalid type for 'tool_choice': expected one of a string or an object, but got "
            f"{_type_name(value)} instead.",
            "tool_choice",
            "invalid_type",
        )
    if choice.mode in ("auto", "none"):
        return choice
    if not tools:
        raise _bad(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            "tool_choice",
            "invalid_value",
        )
    if choice.name is not None and all(tool.name != choice.name for tool in tools):
        raise _bad(
            f"Invalid value for 'tool_choice': function {choice.name!r} is not one of the function "
            "tools in 'tools'.",
            "tool_choice",
            "invalid_value",
        )
    return choice


def _named_choice(value: dict[str, Any], flat: bool) -> ToolChoice:
    kind = value.get("type")
    if not isinstance(kind, str):
        raise _missing("tool_choice.type")
    if kind != "function":
        if not flat and kind not in ("allowed_tools", "custom"):
            raise _bad(
                f"Invalid value: {kind!r}. Supported values are: 'function', 'custom' and 'allowed_tools'.",
                "tool_choice.type",
                "invalid_value",
            )
        raise _bad(
            f"fakellm does not support a tool_choice of type {kind!r}: give 'none', 'auto', "
            "'required' or a function.",
            "tool_choice.type",
            "unsupported_value",
        )
    holder = value if flat else value.get("function")
    where = "tool_choice" if flat else "tool_choice.function"
    if not isinstance(holder, dict):
        raise _missing(where)
    name = holder.get("name")
    if not isinstance(name, str) or not name:
        raise _missing(f"{where}.name")
    return ToolChoice("tool", name)


def openai_headers(request_id: str, processing_ms: int) -> list[tuple[str, str]]:
    """What every OpenAI answer carries: the id SDKs surface (``APIStatusError.request_id``)."""
    return [
        ("x-request-id", request_id),
        ("openai-version", "2020-10-01"),
        ("openai-processing-ms", str(processing_ms)),
    ]


def openai_error(error: RequestError, request_id: str) -> Answer:
    """OpenAI's ``ErrorResponse`` (all four keys) with the request id; the error's own headers
    (``retry-after``...) win."""
    return Answer(error.status, error.body(), {"x-request-id": request_id, **error.headers})


CHAT = ChatCompletions()
