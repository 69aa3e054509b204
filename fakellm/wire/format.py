"""The seam between fakellm and a wire format: one :class:`WireFormat` per provider API.

Nothing above this seam knows which format it serves. A format module (``wire/openai.py``,
``wire/openai_responses.py``, ``wire/anthropic_messages.py``, ``wire/openai_completions.py``)
translates one wire format to and from the neutral vocabulary of :mod:`fakellm.events`, the way
hypercorn's protocol modules translate HTTP/1.1 and HTTP/2 to one set of ASGI events:

- :meth:`WireFormat.parse_request`: the request body, validated in the API's own wording, as the
  neutral request (``ChatRequest``: model, conversation as chat-style messages, stream flag,
  ``max_tokens``, whether usage is reported);
- :meth:`WireFormat.open_stream`: the stream's encoder (events to SSE frames through
  ``wire/sse.py``, and the non-streamed body), its ids drawn from the stream's seeded RNG, and the
  response headers the provider sends;
- :meth:`WireFormat.error`: an HTTP error in the format's shape (body, status, headers), for a bad
  request, the ``http_error`` fault, or fakellm's own failure;
- :meth:`WireFormat.reader`: classifying the format's own SSE events back into neutral ones, for
  the proxy and recordings (``wire/passthrough.py``), where they find the faults' positions;
- :meth:`WireFormat.injector`: writing what a fault adds (an error event, a malformed event, the
  end) into a stream of this format that fakellm did not write, continuing it (Responses' sequence
  numbers go on from the upstream's).

The table from path to format is :data:`fakellm.wire.FORMATS`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import RequestError
from ..events import Event, Usage
from ..reasoning import PlannedReasoning
from ..tools import AUTO, PlannedCall, ToolChoice, ToolSpec
from .sse import ServerSentEvent

__all__ = [
    "Answer",
    "ChatRequest",
    "ChoicesEncoder",
    "EventReader",
    "Injector",
    "OpenedStream",
    "StreamEncoder",
    "WireFormat",
]


class ChatRequest:
    """The neutral request every format parses into: the body as sent, the model, the conversation
    as chat-style ``{"role", "content"}`` messages (a system prompt or ``instructions`` first, as a
    ``system`` message), whether to stream, the token limit, the stop sequences (``stop``, set by
    the format's parser), and whether the answer reports usage.
    Only the fields fakellm acts on are read; the rest are accepted and ignored, as a real server
    would.

    Several choices (Chat's and Completions' ``n``): ``n`` answers per conversation, and
    ``more_prompts`` the conversations of a list of prompts after the first (legacy Completions'
    ``prompt: [a, b]``), so the answer has ``(1 + len(more_prompts)) * n`` choices, prompt-major
    (choice ``i`` answers conversation ``i // n``), as OpenAI numbers them.

    Tools: ``tools`` the request's function tools (name and argument schema) and ``tool_choice``
    its choice among them, normalized (``tools.ToolChoice``: auto, none, required or a named
    tool); a request without tools has none and ``auto``."""

    __slots__ = (
        "body",
        "include_usage",
        "max_tokens",
        "messages",
        "model",
        "more_prompts",
        "n",
        "output_schema",
        "resume_key",
        "stop",
        "stream",
        "tool_choice",
        "tools",
    )

    def __init__(
        self,
        body: dict[str, Any],
        model: str,
        messages: list[dict[str, Any]],
        stream: bool,
        max_tokens: int | None,
        include_usage: bool,
        n: int = 1,
        more_prompts: tuple[list[dict[str, Any]], ...] = (),
    ) -> None:
        self.body = body
        self.model = model
        self.messages = messages
        self.stream = stream
        self.max_tokens = max_tokens
        self.include_usage = include_usage
        # The JSON Schema the answer must satisfy, when the request asks for structured output
        # (Chat's response_format, Responses' text.format): read by ``json: auto`` content.
        self.output_schema: dict[str, Any] | None = None
        self.n = n
        self.more_prompts = more_prompts
        # The stop sequences the answer ends before (Chat and Completions ``stop``, Anthropic
        # ``stop_sequences``): stops.py cuts the text at the first one it reaches.
        self.stop: tuple[str, ...] = ()
        # The request's function tools and its tool_choice, as the format's parse_request reads
        # them: read by tool_calls: auto and to honour tool_choice (tools.decide).
        self.tools: tuple[ToolSpec, ...] = ()
        self.tool_choice: ToolChoice = AUTO
        # The key a client resumes this request's stream by, when its format has one (the AI
        # SDK's chat id, GET /api/chat/{id}/stream): the endpoint keeps the stream under it.
        self.resume_key: str | None = None

    @property
    def choices(self) -> int:
        """How many choices the answer has."""
        return (1 + len(self.more_prompts)) * self.n

    def conversation(self, choice: int) -> list[dict[str, Any]]:
        """The conversation choice number ``choice`` answers."""
        prompt = choice // self.n
        return self.messages if prompt == 0 else self.more_prompts[prompt - 1]


class StreamEncoder(Protocol):
    """One stream's encoder: each event to its bytes (``b""`` for an event the format does not
    send), and the non-streamed body of the same answer. May keep per-stream state."""

    content_type: str

    def encode(self, event: Event) -> bytes: ...

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
        """The non-streamed body of the answer; ``stop_sequence``: the request's stop sequence
        that ended the text (``events.Finish.stop_sequence``), for a format that names it."""
        ...


class ChoicesEncoder(StreamEncoder, Protocol):
    """An encoder of a format with several choices (``n``: Chat and legacy Completions): the
    non-streamed body listing each choice, ``(text, finish_reason)`` in index order."""

    def completion_choices(self, choices: Sequence[tuple[str, str]], usage: Usage) -> dict[str, Any]: ...


EventReader = Callable[[ServerSentEvent], tuple[Event, ...]]
"""One stream's classifier: the neutral events one decoded SSE event stands for, in order; ``()``
for an event that carries no content, finish, usage or error."""


class Injector(Protocol):
    """One passthrough stream's writer of injected events. It sees every carried event first, in
    the order it is sent (``observe``: its bytes, and the neutral event it was classified as), so
    that what it writes continues the stream (ids, sequence numbers, the text so far)."""

    def observe(self, raw: bytes, event: Event) -> None: ...

    def encode(self, event: Event) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole JSON answer: an error before (or instead of) a stream."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class OpenedStream:
    """What a format decides when a stream is planned: its encoder, the id the client sees as the
    request's (``x-request-id``, ``request-id``), and ``stored``: the response object to keep for
    a later ``GET`` once the answer is out (Responses' ``GET /v1/responses/{id}``), or None."""

    encoder: StreamEncoder
    request_id: str
    stored: Callable[[], tuple[str, dict[str, Any]] | None] | None = None


class WireFormat(Protocol):
    """A provider's wire format (see the module notes)."""

    name: str
    """The journal's name for it: ``openai.chat``, ``openai.responses``, ``anthropic.messages``..."""
    path: str
    """The route it is served on, ``POST`` (``/v1/chat/completions``)."""

    def parse_request(self, raw: bytes, headers: dict[str, str]) -> ChatRequest:
        """The validated request, or a :class:`RequestError` in the API's wording."""
        ...

    def open_stream(
        self,
        request: ChatRequest,
        rng: random.Random,
        *,
        now: float | None,
        prompt_tokens: int,
        ascii_only: bool,
    ) -> OpenedStream:
        """The stream's encoder and ids, drawn from ``rng`` in a fixed order (never reorder: it
        changes every body under a seed). ``now`` is the wall clock for ``created`` fields, or None
        when the stream is seeded (``created`` is then drawn too, so that it replays)."""
        ...

    def headers(self, request_id: str, processing_ms: int) -> list[tuple[str, str]]:
        """The provider's own response headers (``x-request-id``, ``openai-version``...)."""
        ...

    def error(self, error: RequestError, request_id: str) -> Answer:
        """``error`` as this format's HTTP error: status, body and headers."""
        ...

    def tool_call_id(self, rng: random.Random) -> str | None:
        """A new tool call's id in this format's shape (``call_…``), drawn from ``rng``; None when
        the format does not stream tool calls (legacy completions; the others until they do)."""
        ...

    def sends_reasoning(self, field: str | None) -> bool:
        """Whether this format streams a scenario's reasoning (``reasoning.py``); ``field`` is the
        scenario's ``reasoning_field`` (Chat sends reasoning only in one of those). When it does
        not, the reasoning is not part of the answer at all: no tokens, no time, no usage."""
        ...

    def reader(self) -> EventReader:
        """A classifier for one stream of this format's events (it may keep state)."""
        ...

    def injector(self) -> Injector:
        """A writer of injected events for one passthrough stream of this format."""
        ...
