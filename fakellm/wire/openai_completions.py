"""OpenAI legacy Completions: ``text_completion`` SSE frames and the ``text_completion`` object.

Byte for byte the capture in shared/wire2.md §3 (``fixtures/wire/openai-completions-text.sse``):
keys ``id, object, created, choices, model, usage`` (``choices`` before ``model``), each choice
``{"text", "index", "logprobs", "finish_reason"}``, no role chunk, a ``choices: []`` usage chunk
keyed ``id, object, created, model, usage, choices``, and ``data: [DONE]`` last.

One deliberate difference: the real API puts ``finish_reason`` on the last text chunk. Our
encoder sends each token when it is due and cannot know a token is the last, so the finish rides
on one more chunk with ``"text":""``; openai-python (no stream helper for this API) and every
reader that concatenates ``text`` see the same answer.

The request is the neutral one (wire/format.py): the prompt becomes one user message, so scenario
``match`` rules on the last user message work unchanged. Headers, HTTP errors and the mid-stream
``{"error": ...}`` are the Chat Completions ones.

``logprobs: k`` (0 to 5) fills each chunk's ``logprobs`` with its token's parallel arrays (§3.1
item 5; values from ``fakellm/logprobs.py``); ``echo`` stays refused, so there are never prompt
logprobs, and ``text_offset`` counts from the prompt's start as the API's does without echo.
"""

from __future__ import annotations

import json
import random
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
from ..logprobs import StreamLogprobs, TokenLogprob
from ..reasoning import PlannedReasoning
from ..tokens import tokens_for
from ..tools import PlannedCall
from .format import Answer, ChatRequest, EventReader, Injector, OpenedStream
from .openai import (
    _ALNUM,
    _DONE,
    _UTF8_ERRORS,
    MAX_CHOICES,
    ChatInjector,
    _dumps,
    _type_name,
    openai_error,
    openai_headers,
    parse_chat_request,
)
from .sse import ServerSentEvent, encode_sse

__all__ = [
    "COMPLETIONS",
    "MAX_LOGPROBS",
    "Completions",
    "OpenAICompletionsEncoder",
    "completions_logprobs",
    "parse_completions_request",
]

MAX_LOGPROBS = 5
"""OpenAI's bound on this API's ``logprobs`` (the number of likeliest tokens per position)."""

MAX_PROMPTS = MAX_CHOICES
"""The most choices one request may ask for, prompts times ``n`` (``n``'s own bound, 128): each is
an answer to generate when the request arrives, on the event loop (about 0.4 ms for the default
scenario's text), and a stream to interleave."""

# ``_dumps``, ``_UTF8_ERRORS``, ``_ALNUM`` and ``_DONE`` are Chat Completions' (wire/openai.py): this API
# writes its JSON, its ids and its sentinel the same way, so one definition serves both.


def _usage(usage: Usage) -> dict[str, int]:
    """This API's usage object: the three counts, without Chat's ``*_details``."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


class OpenAICompletionsEncoder:
    """Encodes :mod:`fakellm.events` as ``text_completion`` SSE frames for one stream."""

    content_type = "text/event-stream; charset=utf-8"

    def __init__(
        self,
        *,
        id: str,
        created: int,
        model: str,
        include_usage: bool = False,
        ascii_only: bool = True,
        logprobs: StreamLogprobs | None = None,
        prompt_chars: Sequence[int] = (),
    ) -> None:
        self.id = id
        self.created = created
        self.model = model
        self.ascii_only = ascii_only
        self._prefix = (
            f'data: {{"id":{_dumps(id, True)},"object":"text_completion","created":{created},'.encode()
        )
        self._choice_open = self._prefix + b'"choices":[{"text":'
        model_json = _dumps(model, ascii_only).encode("utf-8", _UTF8_ERRORS)
        self._model_tail = b'"model":' + model_json + (b',"usage":null}' if include_usage else b"}") + b"\n\n"
        self._usage_head = self._prefix + b'"model":' + model_json + b',"usage":'
        self._quote = encode_basestring_ascii if ascii_only else encode_basestring
        # Each choice's bytes after its text, up to the finish reason: made once per choice (``n``,
        # a list of prompts), when it first appears.
        self._index: list[bytes] = [self._index_bytes(0)]
        # ``logprobs: k``: each chunk's parallel arrays for its one token. ``text_offset`` counts
        # characters from the start of the choice's prompt (the API's: the prompt, then the
        # answer, as if echoed), so each choice starts at its prompt's length (``prompt_chars``).
        self._logprobs = logprobs
        self._starts = tuple(prompt_chars)
        self._offsets = list(prompt_chars)  # each choice's, as its stream goes

    @staticmethod
    def _index_bytes(choice: int) -> bytes:
        return b',"index":%d,"logprobs":null,"finish_reason":' % choice

    def _chunk(self, text: str, finish: str | None, choice: int) -> bytes:
        reason = b"null" if finish is None else _dumps(finish, True).encode()
        index = self._index
        while len(index) <= choice:
            index.append(self._index_bytes(len(index)))
        if self._logprobs is not None:
            return self._chunk_with_logprobs(text, reason, choice)
        return b"".join(
            (
                self._choice_open,
                self._quote(text).encode("utf-8", _UTF8_ERRORS),
                index[choice],
                reason,
                b"}],",
                self._model_tail,
            )
        )

    def _offset(self, choice: int) -> int:
        while len(self._offsets) <= choice:
            self._offsets.append(0)
        return self._offsets[choice]

    def _start(self, choice: int) -> int:
        return self._starts[choice] if choice < len(self._starts) else 0

    def _chunk_with_logprobs(self, text: str, reason: bytes, choice: int) -> bytes:
        """A chunk whose ``logprobs`` holds its token's (empty arrays on the finish's chunk, which
        has no token)."""
        assert self._logprobs is not None
        entries = [self._logprobs.next(text, choice)] if text else []
        offset = self._offset(choice)
        arrays = _arrays(entries, offset)
        self._offsets[choice] = offset + len(text)
        return b"".join(
            (
                self._choice_open,
                self._quote(text).encode("utf-8", _UTF8_ERRORS),
                b',"index":%d,"logprobs":' % choice,
                _dumps(arrays, self.ascii_only).encode("utf-8", _UTF8_ERRORS),
                b',"finish_reason":',
                reason,
                b"}],",
                self._model_tail,
            )
        )

    def _choice_logprobs(self, text: str, choice: int) -> dict[str, Any] | None:
        """A non-streamed choice's ``logprobs``: its text's tokens', the same as its stream's."""
        if self._logprobs is None:
            return None
        return _arrays(self._logprobs.of(tokens_for(text), choice), self._start(choice))

    def encode(self, event: Event) -> bytes:
        if type(event) is TextDelta:
            return self._chunk(event.text, None, event.choice)
        if isinstance(event, Finish):
            return self._chunk("", event.reason, event.choice)
        if isinstance(event, Usage):
            return self._usage_head + _dumps(_usage(event), True).encode() + b',"choices":[]}\n\n'
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
        if isinstance(event, RoleStart | Hold | BlockEnd):
            return b""  # no role chunk and no block framing in this API
        if isinstance(event, BlockStart) and event.kind == "text":
            return b""  # (text is the only kind of block this API has)
        raise TypeError(f"OpenAICompletionsEncoder cannot encode {event!r}")

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
        """The non-streaming ``text_completion`` object for the same stream (a stop sequence's
        finish is ``stop``: this API does not say which sequence matched; never with reasoning:
        :meth:`Completions.sends_reasoning`)."""
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "text": text,
                    "index": 0,
                    "logprobs": self._choice_logprobs(text, 0),
                    "finish_reason": finish_reason,
                }
            ],
            "usage": _usage(usage),
        }

    def completion_choices(self, choices: Sequence[tuple[str, str]], usage: Usage) -> dict[str, Any]:
        """The non-streaming ``text_completion`` object with several choices, ``(text,
        finish_reason)`` each, in index order."""
        body = self.completion(*choices[0], usage)
        body["choices"] = [
            {"text": text, "index": i, "logprobs": self._choice_logprobs(text, i), "finish_reason": reason}
            for i, (text, reason) in enumerate(choices)
        ]
        return body


def _arrays(entries: Sequence[TokenLogprob], offset: int) -> dict[str, Any]:
    """This API's ``logprobs``: parallel arrays (``top_logprobs`` maps of token to logprob, the
    sent token first), ``text_offset`` running on from ``offset``."""
    offsets = []
    for entry in entries:
        offsets.append(offset)
        offset += len(entry.token)
    return {
        "tokens": [e.token for e in entries],
        "token_logprobs": [e.logprob for e in entries],
        "top_logprobs": [{t.token: t.logprob for t in e.top} for e in entries],
        "text_offset": offsets,
    }


def _bad(message: str, param: str, code: str = "invalid_value") -> RequestError:
    return RequestError(400, message, param=param, code=code)


def completions_logprobs(body: dict[str, Any]) -> int | None:
    """How many of the likeliest tokens each position lists (``logprobs``: 0 to 5), None when
    the request does not ask for logprobs (absent, null or ``false``); a :class:`RequestError`
    naming ``logprobs`` for any other value."""
    value = body.get("logprobs")
    if value is None or value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(
            f"Invalid type for 'logprobs': expected an integer, but got {_type_name(value)} instead.",
            "logprobs",
            "invalid_type",
        )
    if value < 0:
        raise _bad(
            "Invalid 'logprobs': integer below minimum value. Expected a value >= 0, but got "
            f"{value} instead.",
            "logprobs",
            "integer_below_min_value",
        )
    if value > MAX_LOGPROBS:
        raise _bad(
            f"Invalid 'logprobs': integer above maximum value. Expected a value <= {MAX_LOGPROBS}, "
            f"but got {value} instead.",
            "logprobs",
            "integer_above_max_value",
        )
    return value


def parse_completions_request(raw: bytes) -> ChatRequest:
    """Validate a Completions body; each prompt becomes one user message. A list of k prompts
    answers with k choices (``k * n`` with ``n``, prompt-major: ``ChatRequest.more_prompts``).
    ``logprobs`` (0 to 5) is checked by :func:`completions_logprobs`. Token-array prompts, ``echo``
    and ``best_of > 1`` are refused (400, naming the parameter)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    if isinstance(body, dict):
        prompt = body.get("prompt")
        if prompt is None:
            raise _bad("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
        prompts = prompt if isinstance(prompt, list) else [prompt]
        if not prompts:
            raise _bad(
                "Invalid 'prompt': empty array. Expected an array with minimum length 1.",
                "prompt",
                "empty_array",
            )
        if isinstance(prompt, list) and any(
            isinstance(p, list | int) and not isinstance(p, bool) for p in prompts
        ):
            raise _bad("fakellm does not support token-array prompts.", "prompt", "unsupported_value")
        if not all(isinstance(p, str) for p in prompts):
            raise _bad(
                "Invalid type for 'prompt': expected a string or an array of strings.",
                "prompt",
                "invalid_type",
            )
        if len(prompts) > MAX_PROMPTS:
            raise _bad(
                f"Invalid 'prompt': array too long. fakellm answers at most {MAX_PROMPTS} prompts, but "
                f"got an array with length {len(prompts)} instead.",
                "prompt",
                "array_above_max_length",
            )
        if body.get("echo") not in (None, False):
            raise _bad("fakellm does not support 'echo' yet.", "echo", "unsupported_value")
        completions_logprobs(body)
        if body.get("best_of") not in (None, 1):
            raise _bad("fakellm does not support best_of > 1 yet.", "best_of", "unsupported_value")
        chat_body = {
            k: v for k, v in body.items() if k not in ("prompt", "echo", "logprobs", "best_of", "suffix")
        }
        chat_body["messages"] = [{"role": "user", "content": prompts[0]}]
        request = parse_chat_request(json.dumps(chat_body).encode())
        request.body = body
        request.more_prompts = tuple([{"role": "user", "content": p}] for p in prompts[1:])
        if request.choices > MAX_PROMPTS:
            raise _bad(
                f"Invalid 'n': {len(prompts)} prompts with n={request.n} ask for {request.choices} "
                f"choices; fakellm answers at most {MAX_PROMPTS}.",
                "n",
                "integer_above_max_value",
            )
        return request
    return parse_chat_request(raw)  # its JSON and type errors, in OpenAI's wording


def _stream_logprobs(key: str, request: ChatRequest) -> StreamLogprobs | None:
    """The stream's logprobs, keyed by its completion id (drawn from the seed: no draw is added).
    ``logprobs: 0`` still lists the sent token: the API always returns the sampled token's logprob
    in ``top_logprobs`` ("up to logprobs+1 elements"), and here it is always the likeliest."""
    top = completions_logprobs(request.body)
    return None if top is None else StreamLogprobs(key, max(top, 1))


def _prompt_chars(request: ChatRequest) -> list[int]:
    """Each choice's prompt length in characters: where its ``text_offset`` starts."""
    lengths = []
    for choice in range(request.choices):
        content = request.conversation(choice)[-1].get("content")
        lengths.append(len(content) if isinstance(content, str) else 0)
    return lengths


class Completions:
    """OpenAI legacy Completions, ``POST /v1/completions``."""

    name = "openai.completions"
    path = "/v1/completions"

    def parse_request(self, raw: bytes, headers: dict[str, str]) -> ChatRequest:
        return parse_completions_request(raw)

    def open_stream(
        self,
        request: ChatRequest,
        rng: random.Random,
        *,
        now: float | None,
        prompt_tokens: int,
        ascii_only: bool,
    ) -> OpenedStream:
        # The draws of every seeded Completions stream: never reorder.
        completion_id = "cmpl-" + "".join(rng.choices(_ALNUM, k=29))
        request_id = f"req_{rng.getrandbits(128):032x}"
        created = 1_735_689_600 + rng.randrange(31_536_000)
        encoder = OpenAICompletionsEncoder(
            id=completion_id,
            created=created if now is None else int(now),
            model=request.model,
            include_usage=request.include_usage,
            ascii_only=ascii_only,
            logprobs=_stream_logprobs(completion_id, request),
            prompt_chars=_prompt_chars(request),
        )
        return OpenedStream(encoder, request_id)

    def headers(self, request_id: str, processing_ms: int) -> list[tuple[str, str]]:
        return openai_headers(request_id, processing_ms)

    def tool_call_id(self, rng: random.Random) -> str | None:
        return None  # the legacy API has no tools

    def sends_reasoning(self, field: str | None) -> bool:
        """Never: the legacy API has no field for it (a scenario's reasoning is skipped here)."""
        return False

    def error(self, error: RequestError, request_id: str) -> Answer:
        return openai_error(error, request_id)

    def reader(self) -> EventReader:
        def read(sse: ServerSentEvent) -> tuple[Event, ...]:
            if sse.data == "[DONE]":
                return (StreamEnd(),)
            try:
                chunk = json.loads(sse.data)
            except ValueError:
                return ()
            if not isinstance(chunk, dict):
                return ()
            out: list[Event] = []
            for choice in chunk.get("choices") or ():
                if choice.get("text"):
                    out.append(TextDelta(choice["text"]))
                if choice.get("finish_reason"):
                    out.append(Finish(choice["finish_reason"]))
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                out.append(Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)))
            return tuple(out)

        return read

    def injector(self) -> Injector:
        # An error, a malformed chunk and [DONE] are the same bytes as on Chat Completions.
        return ChatInjector()


COMPLETIONS = Completions()
