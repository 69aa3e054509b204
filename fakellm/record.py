"""Recorded streams: the fixture files ``fakellm proxy --record DIR`` writes, and their replay.

A recording is its own kind of document (``fakellm serve --scenarios`` tells it from a scenario
file by its top-level ``recording`` key): one real stream, with the request that produced it, the
response head, and every SSE event with the moment it arrived::

    {
      "recording": 1,
      "name": "tests-e2e-test_chat.py--test_weather",
      "speed": 1,
      "request": {"method": "POST", "path": "/v1/chat/completions", "model": "gpt-4o",
                  "messages": [...], "params": {"stream": true, ...}},
      "response": {"status": 200, "headers": {"x-request-id": "..."}, "end": "eof"},
      "events": [
        {"at_ms": 312.4, "chunk": {"id": "chatcmpl-...", ...}},
        {"at_ms": 330.1, "data": "[DONE]"}
      ]
    }

Each event keeps its bytes exactly, in the most readable form that reproduces them: ``chunk`` (a
JSON object written back as ``data: <compact ASCII JSON>\\n\\n``, OpenAI's framing; with
``"ascii": false``, non-ASCII characters as UTF-8, as Anthropic writes them), ``data`` (a string
written back as ``data: <string>\\n\\n``), ``raw`` (the bytes as UTF-8 text: comments, other line
endings, a cut-off event) or ``raw_base64``. A ``chunk`` or ``data`` event may name its event
(``"event": "response.output_text.delta"``: an ``event:`` line first, as the Responses and
Messages streams send). ``end`` is ``eof`` (the body ended cleanly) or ``dropped`` (the upstream's
connection broke: the replay drops too).

The request's ``path`` says the format (``wire.FORMATS``; Chat Completions when it is none of
them): the replay reads its events as that format's (the faults' token positions), writes what a
fault injects in that format, and answers a non-streamed request with that format's body. A
recording answers its own route only: its ``match`` (unless it gives one) includes the path, and
asking for it by name on another route is a 400 (``recording_format_mismatch``), since a client
of one format cannot read another's stream.

A recording may also carry the scenario fields ``match``, ``faults`` and ``seed``. Without a
``match`` it answers the request it was recorded from (same model, same last user message); it
always answers to its name (``X-FakeLLM-Scenario``, or as the model). ``speed: 10`` replays ten
times faster. The replay is an event source for the ordinary pipeline (``pipeline.EventSource``):
the recorded events, at their recorded times, then the faults, then the transport.
"""

from __future__ import annotations

import base64
import fnmatch
import glob
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .documents import DocumentReader, Located, read_document
from .errors import RequestError, ScenarioError
from .events import Abort, Event, Finish, TextDelta, Usage
from .faults import MAX_DURATION_MS
from .redact import is_secret_name
from .scenario import Match, Scenario, scenario_from_dict
from .stream import Timed
from .tokens import count_message_tokens, last_user_text, tokens_for
from .wire import WireFormat, format_for
from .wire.format import ChatRequest
from .wire.openai import CHAT, usage_object
from .wire.passthrough import Classifier, PassthroughEncoder
from .wire.sse import ServerSentEvent, SSEDecoder, encode_sse

__all__ = [
    "FORMAT_VERSION",
    "Capture",
    "RecordedEvent",
    "RecordedStream",
    "Recorder",
    "Recording",
    "load_recording",
    "recording_name",
    "recording_scenario",
]

FORMAT_VERSION = 1
MIN_SPEED, MAX_SPEED = 0.001, 1000.0  # replay speed bounds (docs/faults.md, "Limits")
ENDS = ("eof", "dropped")

# Response headers a recording never keeps: per-connection ones and ones the replaying server
# sets itself. Credentials (``redact.is_secret_name``: set-cookie, an upstream's echoed key...) are
# dropped by rule, not kept redacted: a replay has no use for them.
_UNRECORDED_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "date",
        "server",
        "vary",
    }
)


_SERVER_SET_HEADERS = frozenset({"content-type", "cache-control", "x-accel-buffering"})


def recordable_headers(headers: Mapping[str, str] | Any) -> dict[str, str]:
    """Response headers as a recording keeps them: lower-cased, secrets and per-connection
    headers removed (CORS headers too: the replaying server answers CORS itself)."""
    out: dict[str, str] = {}
    for key, value in headers.items():
        name = key.lower()
        # An upstream fakellm's x-fakellm-* headers describe its own scenario, not the stream.
        if (
            name in _UNRECORDED_HEADERS
            or is_secret_name(name)
            or name.startswith(("access-control-", "x-fakellm-"))
        ):
            continue
        out[name] = value
    return out


# --------------------------------------------------------------------------------------------------
# Events: bytes <-> their readable JSON form


def _chunk_bytes(chunk: Any, event: str | None = None, ascii: bool = True) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event is not None else b""
    body = json.dumps(chunk, separators=(",", ":"), ensure_ascii=ascii).encode("utf-8", "backslashreplace")
    return head + b"data: " + body + b"\n\n"


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    at_ms: float  # when the event's last byte arrived, after the request was sent
    raw: bytes  # the event's exact bytes, blank line included

    def as_json(self) -> dict[str, Any]:
        """The most readable form that reproduces ``raw`` exactly."""
        at: dict[str, Any] = {"at_ms": round(self.at_ms, 3)}
        sse = _sse_of(self.raw)
        if sse is not None:
            data = sse.data
            # "message" is also what a block with no event line dispatches: try without one first.
            names = (None, sse.event) if sse.event == "message" else (sse.event,)
            for name in names:
                named = {**at, "event": name} if name is not None else at
                if data.startswith("{"):
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        chunk = None
                    if isinstance(chunk, dict):
                        if _chunk_bytes(chunk, name) == self.raw:
                            return {**named, "chunk": chunk}
                        if _chunk_bytes(chunk, name, ascii=False) == self.raw:
                            return {**named, "chunk": chunk, "ascii": False}
                if encode_sse(data, event=name) == self.raw:
                    return {**named, "data": data}
        try:
            return {**at, "raw": self.raw.decode("utf-8")}
        except UnicodeDecodeError:
            return {**at, "raw_base64": base64.b64encode(self.raw).decode("ascii")}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _sse_of(raw: bytes) -> ServerSentEvent | None:
    """The event the block ``raw`` dispatches, by the spec's rules; None if it dispatches nothing."""
    events = SSEDecoder().feed(raw)
    return events[0] if events else None


# --------------------------------------------------------------------------------------------------
# The recording


@dataclass(frozen=True, slots=True)
class Recording:
    name: str
    request: dict[str, Any]  # method, path, model, messages, params (the rest of the body)
    events: tuple[RecordedEvent, ...]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    end: str = "eof"
    speed: float = 1.0
    description: str | None = None
    recorded_at: str | None = None

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"recording": FORMAT_VERSION, "name": self.name}
        if self.description is not None:
            doc["description"] = self.description
        if self.recorded_at is not None:
            doc["recorded_at"] = self.recorded_at
        doc["speed"] = self.speed if self.speed != int(self.speed) else int(self.speed)
        doc["request"] = self.request
        doc["response"] = {"status": self.status, "headers": self.headers, "end": self.end}
        doc["events"] = [e.as_json() for e in self.events]
        return doc

    def dumps(self) -> str:
        """JSON made to be read and diffed: one line per field of the request and response, one
        line per event."""
        doc = self.as_json()
        events = doc.pop("events")
        parts = []
        for key, value in doc.items():
            if isinstance(value, dict) and value:
                fields = [
                    f"    {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()
                ]
                text = "{\n" + ",\n".join(fields) + "\n  }"
            else:
                text = json.dumps(value, ensure_ascii=False)
            parts.append(f"  {json.dumps(key)}: {text}")
        lines = [f"    {json.dumps(e, ensure_ascii=False)}" for e in events]
        body = ",\n".join(lines)
        parts.append('  "events": [\n' + body + ("\n  ]" if lines else "]"))
        return "{\n" + ",\n".join(parts) + "\n}\n"

    def write(self, directory: str | Path) -> Path:
        """Write ``<directory>/<name>.json`` (atomically: a reader never sees half a file)."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.json"
        partial = path.with_name(f".{path.name}.{threading.get_ident()}.partial")
        partial.write_text(self.dumps(), encoding="utf-8")
        partial.replace(path)
        return path


# --------------------------------------------------------------------------------------------------
# Replay: the recording as an event source


class RecordedStream:
    """A recording as scenario content (``pipeline.EventSource``): its events at their recorded
    times (divided by ``speed``), each carrying its recorded bytes."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        path = recording.request.get("path")
        self.format: WireFormat = (format_for(path) if isinstance(path, str) else None) or CHAT
        # Replayed with the stream, except what the replaying server sets itself.
        self.headers = {
            k: v
            for k, v in recording.headers.items()
            if k not in _SERVER_SET_HEADERS and not k.startswith("x-fakellm-")
        }
        self._content_type = recording.headers.get("content-type", "text/event-stream")
        self._sses = [_sse_of(e.raw) for e in recording.events]
        classify = Classifier(self.format)
        self._events: list[tuple[float, Event]] = [
            (e.at_ms / 1000.0 / recording.speed, classify(e.raw, sse))
            for e, sse in zip(recording.events, self._sses, strict=True)
        ]
        if recording.end == "dropped":
            self._events.append((self._events[-1][0] if self._events else 0.0, Abort()))

    def __repr__(self) -> str:
        return f"RecordedStream({self.recording.name!r}, {len(self.recording.events)} events)"

    def text(self, request: dict[str, Any], rng: random.Random) -> str:
        return "".join(e.text for _, e in self._events if isinstance(e, TextDelta))

    def timed_events(self) -> Iterator[Timed]:
        for due, event in self._events:
            yield Timed(due, event)

    def encoder(self) -> PassthroughEncoder:
        return PassthroughEncoder(self._content_type, self.format)

    def completion(self) -> dict[str, Any]:
        """The non-streamed answer the recorded stream adds up to, in its format's shape."""
        if self.format is not CHAT:
            return self._format_completion()
        return self._chat_completion()

    def _format_completion(self) -> dict[str, Any]:
        """The format's own non-streamed body from the recorded text, finish and usage; its ids
        drawn from the recording's name, so that every replay gives the same body."""
        request = self.recording.request
        body: dict[str, Any] = {k: request[k] for k in ("model", "messages") if k in request}
        body.update(request.get("params") or {})
        body["stream"] = False
        try:
            parsed = self.format.parse_request(json.dumps(body).encode(), {})
        except RequestError:  # a recording edited by hand: answer from what it says
            parsed = ChatRequest(body, _str(body.get("model")), [], False, None, True)
        text = "".join(e.text for _, e in self._events if isinstance(e, TextDelta))
        usages = [e for _, e in self._events if isinstance(e, Usage)]
        usage = usages[-1] if usages else Usage(count_message_tokens(parsed.messages), len(tokens_for(text)))
        rng = random.Random(self.recording.name)
        opened = self.format.open_stream(
            parsed, rng, now=None, prompt_tokens=usage.prompt_tokens, ascii_only=True
        )
        return opened.encoder.completion(text, self.finish_reason, usage)

    def _chat_completion(self) -> dict[str, Any]:
        head: dict[str, Any] = {}
        content: list[str] = []
        refusal: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish = "stop"
        usage: Any = None
        for sse in self._sses:
            try:
                chunk = json.loads(sse.data) if sse is not None else None
            except ValueError:
                continue
            if not isinstance(chunk, dict):
                continue
            if not head and chunk.get("id"):
                head = chunk
            if chunk.get("usage"):
                usage = chunk["usage"]
            choices = chunk.get("choices")
            for choice in choices if isinstance(choices, list) else ():
                if not isinstance(choice, dict):
                    continue
                delta = choice.get("delta")
                delta = delta if isinstance(delta, dict) else {}
                content.append(_str(delta.get("content")))
                refusal.append(_str(delta.get("refusal")))
                calls_now = delta.get("tool_calls")
                for call in calls_now if isinstance(calls_now, list) else ():
                    if not isinstance(call, dict):
                        continue
                    index = call.get("index")
                    into = calls.setdefault(
                        index if isinstance(index, int) else 0,
                        {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                    )
                    into["id"] = call.get("id") or into["id"]
                    function = call.get("function")
                    function = function if isinstance(function, dict) else {}
                    into["function"]["name"] += _str(function.get("name"))
                    into["function"]["arguments"] += _str(function.get("arguments"))
                finish = _str(choice.get("finish_reason")) or finish
        text, refused = "".join(content), "".join(refusal)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text if text or not (calls or refused) else None,
            "refusal": refused or None,
        }
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
        message["annotations"] = []
        if usage is None:
            messages = self.recording.request.get("messages") or []
            usage = usage_object(Usage(count_message_tokens(messages), len(tokens_for(text))))
        return {
            "id": head.get("id", f"chatcmpl-{self.recording.name}"),
            "object": "chat.completion",
            "created": head.get("created", 0),
            "model": head.get("model", self.recording.request.get("model", "")),
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage,
            "service_tier": head.get("service_tier", "default"),
            "system_fingerprint": head.get("system_fingerprint"),
        }

    @property
    def finish_reason(self) -> str:
        reasons = [e.reason for _, e in self._events if isinstance(e, Finish)]
        return reasons[-1] if reasons else "stop"


# --------------------------------------------------------------------------------------------------
# Reading a recording file

_RECORDING_FIELDS = (
    "recording",
    "name",
    "description",
    "recorded_at",
    "speed",
    "request",
    "response",
    "events",
    # scenario fields a recording may carry
    "match",
    "faults",
    "seed",
)
_EVENT_FORMS = ("chunk", "data", "raw", "raw_base64")
_EVENT_NAME = re.compile(r"[^\r\n]*")  # an event: line holds no line end


def _event(item: Any, located: Located, name: str, index: int) -> RecordedEvent:
    reader = DocumentReader(
        item,
        located,
        scenario=name,
        prefix=f"events[{index}].",
        allowed=("at_ms", "event", "ascii", *_EVENT_FORMS),
    )
    if not reader.has("at_ms"):
        raise reader._missing("at_ms")
    at_ms = reader.number("at_ms", 0.0, maximum=MAX_DURATION_MS, unit=" (24 h)")
    forms = [f for f in _EVENT_FORMS if reader.has(f)]
    if len(forms) != 1:
        raise reader.error(f"give exactly one of {', '.join(map(repr, _EVENT_FORMS))}", None)
    form = forms[0]
    value = reader.get(form)
    event = reader.string("event")
    if event is not None:
        if form not in ("chunk", "data"):
            raise reader.error(f"goes with 'chunk' or 'data' ('{form}' holds its own event line)", "event")
        if not _EVENT_NAME.fullmatch(event):
            raise reader.error("must not hold a line end", "event")
    ascii = reader.get("ascii")
    if ascii is not None and (not isinstance(ascii, bool) or form != "chunk"):
        raise reader.error("must be true or false, and goes with 'chunk'", "ascii")
    if form == "chunk":
        if not isinstance(value, dict):
            raise reader.error(f"must be a JSON object, got {type(value).__name__}", form)
        return RecordedEvent(at_ms, _chunk_bytes(value, event, ascii is not False))
    if not isinstance(value, str):
        raise reader.error(f"must be a string, got {type(value).__name__}", form)
    if form == "data":
        return RecordedEvent(at_ms, encode_sse(value, event=event))
    if form == "raw":
        return RecordedEvent(at_ms, value.encode("utf-8"))
    try:
        return RecordedEvent(at_ms, base64.b64decode(value, validate=True))
    except ValueError:
        raise reader.error("not valid base64", form) from None


def recording_from_dict(data: Any, located: Located | None = None) -> Recording:
    """Validate a recording document; errors name the file, line and field."""
    located = located or Located(None)
    stem = Path(located.file).stem if located.file else None
    label = data.get("name") if isinstance(data, Mapping) and isinstance(data.get("name"), str) else stem
    reader = DocumentReader(data, located, scenario=label, allowed=_RECORDING_FIELDS)
    version = reader.get("recording")
    if version != FORMAT_VERSION:
        raise reader.error(f"unsupported recording format {version!r}; this fakellm reads 1", "recording")
    name = reader.string("name") or stem
    if name is None:
        raise reader._missing("name")
    speed = reader.number("speed", 1.0, maximum=MAX_SPEED)
    if speed < MIN_SPEED:  # a slower replay only turns recorded times into deadlines centuries away
        raise reader.error(f"must be >= {MIN_SPEED:g}, got {speed!r}", "speed")
    if not reader.has("request"):
        raise reader._missing("request")
    request = reader.sub("request", ("method", "path", "model", "messages", "params"))
    messages = request.get("messages")
    if messages is not None and not isinstance(messages, list):
        raise request.error(f"must be a list, got {type(messages).__name__}", "messages")
    params = request.get("params")
    if params is not None and not isinstance(params, dict):
        raise request.error(f"must be a mapping, got {type(params).__name__}", "params")
    status, headers, end = 200, {}, "eof"
    if reader.has("response"):
        response = reader.sub("response", ("status", "headers", "end"))
        status = response.integer("status", minimum=100) or 200
        raw_headers = response.get("headers") or {}
        if not isinstance(raw_headers, dict) or not all(isinstance(v, str) for v in raw_headers.values()):
            raise response.error("must be a mapping of header names to strings", "headers")
        headers = {str(k).lower(): v for k, v in raw_headers.items()}
        end = response.string("end") or "eof"
        if end not in ENDS:
            raise response.error(f"must be one of {', '.join(ENDS)}, got {end!r}", "end")
    items = reader.get("events")
    if not isinstance(items, list):
        if not reader.has("events"):
            raise reader._missing("events")
        raise reader.error(f"must be a list of events, got {type(items).__name__}", "events")
    events = tuple(_event(item, located, name, i) for i, item in enumerate(items))
    return Recording(
        name=name,
        request={
            k: request.get(k)
            for k in ("method", "path", "model", "messages", "params")
            if request.get(k) is not None
        },
        events=events,
        status=status,
        headers=headers,
        end=end,
        speed=speed,
        description=reader.string("description"),
        recorded_at=reader.string("recorded_at"),
    )


def _request_match(recording: Recording) -> Match | None:
    """The request as recorded: the same model, and the same last user message."""
    model = recording.request.get("model")
    messages = recording.request.get("messages")
    if not isinstance(model, str) and not isinstance(messages, list):
        return None
    prompt = None
    if isinstance(messages, list):
        prompt = r"\A" + re.escape(last_user_text(messages)) + r"\Z"
    path = recording.request.get("path")
    return Match(
        model=glob.escape(model) if isinstance(model, str) else None,
        prompt=prompt,
        _prompt_re=re.compile(prompt) if prompt is not None else None,
        path=glob.escape(path) if isinstance(path, str) else None,
    )


def recording_scenario(data: Any, located: Located | None = None) -> Scenario:
    """A recording document as a scenario that replays it."""
    located = located or Located(None)
    recording = recording_from_dict(data, located)
    # The scenario fields are read by the scenario reader, with their line numbers.
    part = {k: data[k] for k in ("match", "faults", "seed") if k in data}
    part["name"] = recording.name
    located.lines[id(part)] = located.lines.get(id(data), {})
    located.node_lines[id(part)] = located.node_lines.get(id(data), 1)
    scenario = scenario_from_dict(part, located=located)
    stream = RecordedStream(recording)
    _check_route(
        scenario,
        stream.format,
        DocumentReader(data, located, scenario=recording.name, allowed=_RECORDING_FIELDS),
    )
    return replace(
        scenario,
        content=stream,
        match=scenario.match or _request_match(recording),
        finish_reason=stream.finish_reason,
    )


def _check_route(scenario: Scenario, format: WireFormat, reader: DocumentReader) -> None:
    """A recording answers its own route only (its events are in that route's format), so a
    ``match.path`` that excludes the route makes a scenario no request can ever get."""
    path = scenario.match.path if scenario.match is not None else None
    if path is None or fnmatch.fnmatchcase(format.path, path):
        return
    raise reader.sub("match", ("model", "prompt", "path")).error(
        f"{path!r} does not match POST {format.path}, the route of this recording's events: a "
        "recording answers its own route only",
        "path",
    )


def load_recording(path: str | Path) -> Recording:
    """Read one recording file (``.json``; YAML works too)."""
    data, located = read_document(Path(path))
    if not isinstance(data, Mapping) or "recording" not in data:
        raise ScenarioError("not a recording: the top-level 'recording' field is missing", file=str(path))
    return recording_from_dict(data, located)


# --------------------------------------------------------------------------------------------------
# Recording (used by the proxy)

_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _slug(text: str, limit: int = 120) -> str:
    slug = _SLUG_UNSAFE.sub("-", text.replace("::", "--").replace("/", "-")).strip("-.")
    if len(slug) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        slug = f"{slug[: limit - 9]}-{digest}"
    return slug or "recording"


def recording_name(test_id: str | None, method: str, path: str, body: Any) -> str:
    """A stable, readable file name: the test id (``X-FakeLLM-Test-Id``) made file-safe, else the
    model and a hash of the request (the same request always gets the same name)."""
    if test_id:
        return _slug(test_id)
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    model = body.get("model") if isinstance(body, dict) else None
    return f"{_slug(model, 60)}-{digest}" if isinstance(model, str) and model else f"request-{digest}"


@dataclass(slots=True)
class Capture:
    """One stream being recorded: filled in by the proxy as the upstream's events arrive."""

    name: str
    request: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    events: list[RecordedEvent] = field(default_factory=list)

    def add(self, at_ms: float, raw: bytes) -> None:
        self.events.append(RecordedEvent(at_ms, raw))

    def recording(self, end: str) -> Recording:
        return Recording(
            name=self.name,
            request=self.request,
            events=tuple(self.events),
            status=self.status,
            headers=self.headers,
            end=end,
            recorded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )


class Recorder:
    """Where the proxy writes recordings, and how it names them. A test that streams more than
    once gets ``<test-id>``, ``<test-id>-2``, ``<test-id>-3``... in request order, so that names
    stay stable from one run to the next."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def capture(self, *, test_id: str | None, method: str, path: str, body: Any) -> Capture:
        name = recording_name(test_id, method, path, body)
        if test_id:
            with self._lock:
                count = self._seen.get(name, 0) + 1
                self._seen[name] = count
            if count > 1:
                name = f"{name}-{count}"
        request: dict[str, Any] = {"method": method, "path": path}
        if isinstance(body, dict):
            for key in ("model", "messages"):
                if key in body:
                    request[key] = body[key]
            request["params"] = {k: v for k, v in body.items() if k not in ("model", "messages")}
        return Capture(name=name, request=request)

    def write(self, capture: Capture, end: str) -> Path:
        return capture.recording(end).write(self.directory)
