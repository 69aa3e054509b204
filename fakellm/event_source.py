"""``GET /v1/chat/completions/stream``: Chat Completions for the browser's ``EventSource``, which
can only send a GET and no headers of its own. What a POST says in its body and in the
``X-FakeLLM-*`` headers, this route takes from its query string (``prompt``, ``model``,
``scenario``, ``seed``, ``faults``, ``ttft_ms``, ``itl_ms``, ``retry_ms``), and serves the same
stream as ``POST /v1/chat/completions`` would (``endpoint.serve_stream``), always resumable.

Deliberate choices:

- Every event carries ``id: <stream id>:<n>``, so the browser's own reconnect (with
  ``Last-Event-ID``, after ``retry`` ms) continues the stream where it broke (``event_ids.py``).
- The browser sends the same URL on every reconnect, so the query's connection faults (a drop, a
  stall...) act on the first attempt only: repeated on each reconnect, a ``drop@20`` would break
  every attempt. Content faults (an error event) are the stream's and come where they are due.
- A reconnect with nothing left to send (after the last event, or after the stream ended) is
  answered 204: the one answer that makes ``EventSource`` stop reconnecting (HTML, "Processing
  model": "HTTP 204 No Content... fail the connection"). An ``EventSource`` otherwise reconnects
  whenever a stream ends, even cleanly: a page closes it at ``[DONE]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .errors import RequestError
from .headers import FAULTS_HEADER, ITL_HEADER, RESUMABLE_HEADER, SCENARIO_HEADER, SEED_HEADER, TTFT_HEADER

__all__ = ["PATH", "QUERY_FIELDS", "EventSourceQuery", "event_source_query"]

PATH = "/v1/chat/completions/stream"
DEFAULT_MODEL = "gpt-4o"
MAX_RETRY_MS = 60_000

# Query field -> the request header it stands for (as the POST route reads it).
_HEADERS = {
    "scenario": SCENARIO_HEADER,
    "seed": SEED_HEADER,
    "faults": FAULTS_HEADER,
    "ttft_ms": TTFT_HEADER,
    "itl_ms": ITL_HEADER,
}
QUERY_FIELDS = ("prompt", "model", "system", *_HEADERS, "retry_ms")


@dataclass(frozen=True, slots=True)
class EventSourceQuery:
    """A GET stream's query as the POST it stands for: its JSON body and its headers."""

    body: bytes
    headers: list[tuple[str, str]]


def event_source_query(query: bytes, *, reconnect: bool) -> EventSourceQuery:
    """The POST a query string stands for (``reconnect``: the request carries ``Last-Event-ID``)."""
    fields: dict[str, str] = {}
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name not in QUERY_FIELDS:
            raise RequestError(
                400,
                f"Unknown query parameter {name!r} of GET {PATH}: it takes {', '.join(QUERY_FIELDS)}.",
                param=name,
                code="unknown_parameter",
            )
        if name in fields:
            raise RequestError(400, f"The query parameter {name!r} is given twice.", param=name)
        fields[name] = value
    messages = []
    if fields.get("system"):
        messages.append({"role": "system", "content": fields["system"]})
    messages.append({"role": "user", "content": fields.get("prompt", "Hello!")})
    body = {"model": fields.get("model") or DEFAULT_MODEL, "stream": True, "messages": messages}
    headers = [(RESUMABLE_HEADER.lower(), "1")]
    retry = _retry_ms(fields["retry_ms"]) if "retry_ms" in fields else None
    faults = [] if reconnect else [f for f in (fields.get("faults", "").strip(),) if f]
    if retry is not None and not reconnect:
        faults.append(f"sse retry_ms={retry}")
    fields["faults"] = "; ".join(faults)  # the first attempt's only (module docstring)
    for name, header in _HEADERS.items():
        if fields.get(name):
            headers.append((header.lower(), fields[name]))
    return EventSourceQuery(json.dumps(body).encode(), headers)


def _retry_ms(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= MAX_RETRY_MS:
        raise RequestError(
            400,
            f"retry_ms must be a whole number of milliseconds, 1 to {MAX_RETRY_MS}, got {text[:20]!r}.",
            param="retry_ms",
        )
    return int(text)
