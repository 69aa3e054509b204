"""The recorder: consume what the code under test yields, and keep what it delivered and when.

Three kinds of item are understood, decided from the first item unless ``kind`` says so:

- ``"text"``: text pieces (``str``), e.g. what an app's ``stream_answer()`` generator yields;
- ``"chunks"``: openai SDK chunks (anything with ``.choices``, or dicts shaped like the wire JSON);
  the text is ``choices[0].delta.content``, and ``finish_reason`` is read too;
- ``"sse"``: raw SSE, as ``str`` lines (``response.iter_lines()``) or ``bytes`` reads
  (``response.iter_bytes()``), decoded by fakellm's spec-correct decoder.

Whatever the kind, an exception *yielded* as a value, or a mapping with an ``"error"`` key, is an
error value (``error_item``); an exception *raised* by the iteration is ``error``.

A sync iterable is driven on a worker thread so that a client that hangs does not hang the test:
after ``timeout_s`` with no item the recording ends with ``timed_out``. Async iterables are read in
the caller's task (under ``asyncio.timeout``), so cancel scopes and context stay where they were.
``record()`` refuses an async iterable or an awaitable with a ``TypeError`` that names
``arecord()`` (iterating one in a thread would only record the ``TypeError`` as the client's error,
and an assertion could pass on it); ``arecord()`` also takes a sync iterable (driven on a worker
thread, so that a blocking client does not block the event loop) and an awaitable that gives an
iterable (``client.chat.completions.create(..., stream=True)`` of ``AsyncOpenAI``, awaited inside
the recording so that its TTFT counts the request).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import queue
import re
import threading
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fakellm import Journal, JournalEntry, SSEDecoder
from fakellm.reasoning import REASONING_FIELDS

__all__ = ["Kind", "RecordedChoice", "RecordedToolCall", "StreamRecording", "arecord", "record"]

Kind = Literal["auto", "text", "chunks", "sse"]

_SSE_LINE = re.compile(r"^(?:data|event|id|retry)(?::|$)|^:")


@dataclass
class RecordedToolCall:
    """A tool call as the client accumulated it from the deltas: the first ``id`` and ``name`` seen
    for its index (a server that repeats them is not "concatenated" here, unlike openai-python's
    helper; ``assert_tool_calls`` shows the difference), and every ``arguments`` fragment in order."""

    id: str | None = None
    name: str | None = None
    arguments: str = ""

    @property
    def parsed(self) -> Any:
        """The arguments as JSON, or None when they are not valid JSON (a cut or scripted call)."""
        try:
            return json.loads(self.arguments)
        except ValueError:
            return None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass
class RecordedChoice:
    """One choice of a Chat Completions or Completions stream (``n``), as the client accumulated
    it from the chunks with its ``index``: the text, the finish reason, and (Chat) its tool calls."""

    index: int
    text: str = ""
    finish_reason: str | None = None
    tool_calls: list[RecordedToolCall] = field(default_factory=list)


# At most this many choices are kept by index: fakellm sends 128 at most (n's bound), and a
# client's bogus index must not make the recorder allocate a list of millions.
MAX_CHOICES = 1024


@dataclass
class StreamRecording:
    """What the code under test delivered, with timings in milliseconds since the recording
    started (which should be when the request is made: pass an iterable that makes the request
    lazily, such as a generator, or ``started`` taken before the call)."""

    kind: str = "auto"
    # The wire format the items were shaped by: "chat", "completions", "responses", "anthropic"
    # (None: not SDK objects, or not known yet).
    format: str | None = None
    text: str = ""
    items: list[Any] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)  # arrival of every item
    ttft_ms: float | None = None  # to the first item carrying text
    gaps_ms: list[float] = field(default_factory=list)  # between items carrying text
    finish_reason: str | None = None
    # Chat Completions tool calls by their index; Anthropic tool_use blocks in stream order.
    tool_calls: list[RecordedToolCall] = field(default_factory=list)
    # Chat Completions and Completions: every choice by its index (one with n=1; none for other
    # formats). ``text`` above is every chunk's first choice's, in the order they came.
    choices: list[RecordedChoice] = field(default_factory=list)
    # (token, logprob) of every token the stream carried logprobs for, in order: Chat's
    # ``logprobs.content``, Completions' parallel arrays, Responses' text delta ``logprobs``.
    logprobs: list[tuple[str, float]] = field(default_factory=list)
    # The thinking the client received, accumulated: Anthropic thinking_delta, Responses
    # reasoning_summary_text.delta, Chat reasoning_content / reasoning deltas (not part of ``text``).
    reasoning: str = ""
    usage: Any = None  # the usage the stream reported, as the SDK gave it
    error: BaseException | None = None  # what the iteration raised
    error_item: Any = None  # an error yielded as a value (exception object or {"error": ...})
    completed: bool = False  # the iteration ended by itself, with no error raised or yielded
    timed_out: bool = False  # no item for ``timeout_s``: the client hung
    timeout_s: float | None = None
    done: bool = False  # "sse": the [DONE] sentinel was seen
    duration_ms: float = 0.0
    entry: JournalEntry | None = None  # the stream fakellm served for this recording, if known
    # The faults scripted for that stream, as compact specs ("truncate@3"), when fakellm.record()
    # knows them (None: not known; []: none scripted).
    scripted_faults: list[str] | None = None
    _text_items: int = 0

    @property
    def text_items(self) -> int:
        """How many items carried text."""
        return self._text_items

    @property
    def failure(self) -> BaseException | Any | None:
        """The error, raised or yielded."""
        return self.error if self.error is not None else self.error_item

    def summary(self) -> str:
        """What the client did, in words that say only that ("its iteration ended without an
        error", not "completed": a client that lost the tail of a stream also ends without one)."""
        if self.timed_out:
            end = f"hung: no item for {self.timeout_s:g} s"
        elif self.error is not None:
            end = f"raised {type(self.error).__name__}: {self.error}"
        elif self.error_item is not None:
            end = f"yielded an error value {self.error_item!r}"
        else:
            end = "its iteration ended without an error"
        kind = f", kind {self.kind!r}" if self.kind != "auto" else ""
        fmt = f", format {self.format!r}" if self.format is not None else ""
        # Responses and Anthropic streams are named events (most of them carry no text): calling
        # them items, like text pieces and chunks, would hide why there are twice as many.
        noun = "events" if self.format in ("responses", "anthropic") else "items"
        return (
            f"{len(self.items)} {noun} ({self._text_items} with text{kind}{fmt}), "
            f"{len(self.text)} characters, then {end}"
        )


class _Decoder:
    """Turns items into text, finish reason and errors for one recording."""

    def __init__(self, recording: StreamRecording, kind: Kind) -> None:
        self.rec = recording
        self.kind: Kind = kind
        self.sse: SSEDecoder | None = None
        self._blocks: dict[Any, int] = {}  # a tool call's item or block index -> its place in tool_calls

    def _decide(self, item: Any) -> None:
        if isinstance(item, bytes | bytearray):
            self.kind = "sse"
        elif isinstance(item, str):
            if item == "":
                return  # an empty text piece or a blank SSE line: not enough to tell
            self.kind = "sse" if _SSE_LINE.match(item) else "text"
        elif isinstance(item, Mapping) or hasattr(item, "choices") or hasattr(item, "type"):
            self.kind = "chunks"
        self.rec.kind = self.kind

    def feed(self, item: Any) -> str:
        """The text ``item`` carries ('' if none)."""
        if isinstance(item, BaseException):
            self._error_value(item)
            return ""
        if self.kind == "auto":
            self._decide(item)
        if self.kind == "text":
            if isinstance(item, str):
                return item
            if isinstance(item, Mapping) and "error" in item:
                self._error_value(item)
                return ""
            raise TypeError(f"fakellm.record(kind='text') expects str pieces, got {type(item).__name__}")
        if self.kind == "chunks":
            return self._chunk(item)
        if self.kind == "sse":
            return self._sse(item)
        if isinstance(item, str):  # still undecided: only empty strings so far
            return item
        raise TypeError(
            "fakellm.record() understands text pieces (str), openai chunks (objects with .choices, "
            "or dicts), raw SSE lines (str starting with 'data:') or reads (bytes), and exceptions "
            f"yielded as values; got {type(item).__name__}: {item!r:.80}"
        )

    def _error_value(self, value: Any) -> None:
        if self.rec.error_item is None:
            self.rec.error_item = value

    def _chunk(self, chunk: Any) -> str:
        kind = _get(chunk, "type")
        if isinstance(kind, str) and _get(chunk, "choices") is None:
            inner = _get(chunk, "chunk")
            if kind == "chunk" and inner is not None:
                # openai's chat.completions.stream() helper: a ChunkEvent carries the chunk (the
                # helper's other events repeat what it holds).
                return self._chunk(inner)
            if kind.startswith(_CHAT_HELPER_EVENTS) and self.rec.format == "chat":
                return ""
            return self._event(kind, chunk)
        if self.rec.format is None:
            obj = _get(chunk, "object")
            self.rec.format = "completions" if obj == "text_completion" else "chat"
        usage = _get(chunk, "usage")
        if usage is not None:
            self.rec.usage = usage
        if self.rec.format == "completions":
            choices = _get(chunk, "choices") or []
            if _get(chunk, "error"):
                self._error_value(chunk)
                return ""
            if not choices:
                return ""
            self._choices(choices)
            reason = _get(choices[0], "finish_reason")
            if reason:
                self.rec.finish_reason = reason
            logprobs = _get(choices[0], "logprobs")
            if logprobs is not None:
                # Not strict: a server's arrays of unequal length are its bug, recorded as far as they pair.
                tokens, values = _get(logprobs, "tokens") or (), _get(logprobs, "token_logprobs") or ()
                self._logprobs(zip(tokens, values, strict=False))
            text = _get(choices[0], "text")
            return text if isinstance(text, str) else ""
        if isinstance(chunk, Mapping):
            if chunk.get("error"):
                self._error_value(chunk)
                return ""
            choices = chunk.get("choices") or []
            if not choices:
                return ""
            self._choices(choices)
            choice = choices[0]
            delta = choice.get("delta") or {}
            reason = choice.get("finish_reason")
            content = delta.get("content")
            self._calls(delta.get("tool_calls"))
            self._reasoning(delta)
        else:
            choices = getattr(chunk, "choices", None)
            if choices is None:
                raise TypeError(f"fakellm.record(kind='chunks') expects chunks with .choices: {chunk!r:.80}")
            if not choices:
                return ""
            self._choices(choices)
            choice = choices[0]
            delta = getattr(choice, "delta", None)
            reason = getattr(choice, "finish_reason", None)
            content = getattr(delta, "content", None) if delta is not None else None
            self._calls(getattr(delta, "tool_calls", None))
            self._reasoning(delta)
        if reason:
            self.rec.finish_reason = reason
        logprobs = _get(choice, "logprobs")
        if logprobs is not None:
            self._entries(_get(logprobs, "content"))
        return content if isinstance(content, str) else ""

    def _choices(self, choices: Any) -> None:
        """Every choice of a Chat or Completions chunk (SDK objects or wire dicts), by its index."""
        completions = self.rec.format == "completions"
        into = self.rec.choices
        for choice in choices:
            index = _get(choice, "index")
            if not isinstance(index, int) or index < 0 or index >= MAX_CHOICES:
                continue
            while len(into) <= index:
                into.append(RecordedChoice(len(into)))
            got = into[index]
            if completions:
                text = _get(choice, "text")
            else:
                delta = _get(choice, "delta")
                text = _get(delta, "content")
                self._calls(_get(delta, "tool_calls"), got.tool_calls)
            if isinstance(text, str):
                got.text += text
            reason = _get(choice, "finish_reason")
            if isinstance(reason, str) and reason:
                got.finish_reason = reason

    def _entries(self, entries: Any) -> None:
        """Logprob entries (``{token, logprob, ...}``, SDK objects or wire dicts)."""
        self._logprobs((_get(e, "token"), _get(e, "logprob")) for e in entries or ())

    def _logprobs(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        for token, logprob in pairs:
            if isinstance(token, str) and isinstance(logprob, int | float):
                self.rec.logprobs.append((token, float(logprob)))

    def _reasoning(self, delta: Any) -> None:
        """A Chat delta's reasoning, in either field OpenAI-compatible servers use (the SDK keeps
        unknown fields as attributes)."""
        for key in REASONING_FIELDS:
            piece = _get(delta, key)
            if isinstance(piece, str):
                self.rec.reasoning += piece

    def _calls(self, deltas: Any, calls: list[RecordedToolCall] | None = None) -> None:
        """Chat tool-call deltas (SDK objects or wire dicts), accumulated by their index into
        ``calls`` (default: the recording's)."""
        if calls is None:
            calls = self.rec.tool_calls
        for delta in deltas or ():
            index = _get(delta, "index")
            if not isinstance(index, int) or index < 0 or index > 1024:
                continue
            while len(calls) <= index:
                calls.append(RecordedToolCall())
            call = calls[index]
            call_id = _get(delta, "id")
            if isinstance(call_id, str) and call_id and call.id is None:
                call.id = call_id
            function = _get(delta, "function")
            if function is None:
                continue
            name = _get(function, "name")
            if isinstance(name, str) and name and call.name is None:
                call.name = name
            arguments = _get(function, "arguments")
            if isinstance(arguments, str):
                call.arguments += arguments

    def _open_call(self, index: int, call_id: Any, name: Any) -> None:
        """A tool call opens as an output item or content block at ``index`` (Responses'
        ``output_index``, Anthropic's block ``index``: one stream has only one of them)."""
        self._blocks[index] = len(self.rec.tool_calls)
        call = RecordedToolCall(
            call_id if isinstance(call_id, str) else None, name if isinstance(name, str) else None
        )
        self.rec.tool_calls.append(call)

    def _extend_call(self, index: Any, fragment: Any) -> None:
        at = self._blocks.get(index)
        if at is not None and isinstance(fragment, str):
            self.rec.tool_calls[at].arguments += fragment

    def _event(self, kind: str, event: Any) -> str:
        """A typed event: openai Responses (``response.*``, ``error``) or Anthropic Messages
        (``message_start``, ``content_block_delta``, ..., ``error``)."""
        rec = self.rec
        if rec.format is None and kind != "error":
            rec.format = "responses" if kind.startswith("response.") else "anthropic"
        if kind == "response.output_text.delta":
            self._entries(_get(event, "logprobs"))
            delta = _get(event, "delta")
            return delta if isinstance(delta, str) else ""
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            response = _get(event, "response")
            status = _get(response, "status")
            details = _get(response, "incomplete_details")
            reason = _get(details, "reason") if details is not None else None
            rec.finish_reason = reason or status or kind.removeprefix("response.")
            usage = _get(response, "usage")
            if usage is not None:
                rec.usage = usage
            if kind == "response.failed":
                self._error_value(event)
            return ""
        if kind == "response.output_item.added":
            item = _get(event, "item")
            index = _get(event, "output_index")
            if _get(item, "type") == "function_call" and isinstance(index, int):
                self._open_call(index, _get(item, "call_id"), _get(item, "name"))
            return ""
        if kind == "response.function_call_arguments.delta":
            self._extend_call(_get(event, "output_index"), _get(event, "delta"))
            return ""
        if kind == "response.reasoning_summary_text.delta":
            delta = _get(event, "delta")
            rec.reasoning += delta if isinstance(delta, str) else ""
            return ""
        if kind == "content_block_start":
            block = _get(event, "content_block")
            index = _get(event, "index")
            if _get(block, "type") == "tool_use" and isinstance(index, int):
                self._open_call(index, _get(block, "id"), _get(block, "name"))
            return ""
        if kind == "content_block_delta":
            delta = _get(event, "delta")
            if _get(delta, "type") == "input_json_delta":
                self._extend_call(_get(event, "index"), _get(delta, "partial_json"))
                return ""
            if _get(delta, "type") == "thinking_delta":
                thinking = _get(delta, "thinking")
                rec.reasoning += thinking if isinstance(thinking, str) else ""
                return ""
            text = _get(delta, "text") if _get(delta, "type") == "text_delta" else None
            return text if isinstance(text, str) else ""
        if kind == "message_delta":
            reason = _get(_get(event, "delta"), "stop_reason")
            if reason:
                rec.finish_reason = reason
            usage = _get(event, "usage")
            if usage is not None:
                rec.usage = usage
            return ""
        if kind == "error":
            self._error_value(event)
        # messages.stream()'s "text" events repeat the content_block_delta that follows each:
        # counting both would double the text.
        return ""

    def _sse(self, item: Any) -> str:
        if self.sse is None:
            self.sse = SSEDecoder()
        if isinstance(item, str):
            data = item.encode("utf-8")
            if not item.endswith(("\n", "\r")):
                data += b"\n"  # a line from iter_lines(): its end was stripped
        elif isinstance(item, bytes | bytearray):
            data = bytes(item)
        else:
            raise TypeError(f"fakellm.record(kind='sse') expects str lines or bytes, got {item!r:.80}")
        text = []
        for event in self.sse.feed(data):
            if event.data.startswith("[DONE]"):
                self.rec.done = True
                continue
            try:
                payload = json.loads(event.data)
            except json.JSONDecodeError:
                continue  # not the client's text: the recorder reads like a spec-correct client
            if isinstance(payload, Mapping):
                text.append(self._chunk(payload))
        return "".join(text)


def _get(obj: Any, name: str) -> Any:
    """A field of an SDK object or of the wire JSON it was built from."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


class _Session:
    """One recording being made: each item decoded and timed as it arrives."""

    def __init__(self, kind: Kind, timeout_s: float | None, started: float | None) -> None:
        self.rec = StreamRecording(kind=kind, timeout_s=timeout_s)
        self.decoder = _Decoder(self.rec, kind)
        self.t0 = time.perf_counter() if started is None else started
        self.wall0 = time.time() - (time.perf_counter() - self.t0)
        self.last_text: float | None = None
        self.first_item_wall: float | None = None

    def item(self, item: Any, at: float) -> None:
        text = self.decoder.feed(item)
        rec = self.rec
        ms = (at - self.t0) * 1000.0
        if self.first_item_wall is None:
            self.first_item_wall = self.wall0 + (at - self.t0)
        rec.items.append(item)
        rec.times_ms.append(ms)
        if text:
            rec.text += text
            rec._text_items += 1
            if rec.ttft_ms is None:
                rec.ttft_ms = ms
            elif self.last_text is not None:
                rec.gaps_ms.append(ms - self.last_text)
            self.last_text = ms

    def finish(self, journal: Journal | None) -> StreamRecording:
        rec = self.rec
        rec.duration_ms = (time.perf_counter() - self.t0) * 1000.0
        rec.completed = rec.error is None and rec.error_item is None and not rec.timed_out
        if journal is not None:
            rec.entry = _entry_for(journal, self.first_item_wall or time.time())
        return rec


def _entry_for(journal: Journal, before: float) -> JournalEntry | None:
    """The last streaming request (any format) that had arrived when the first item did."""
    best = None
    for entry in journal.entries():
        if entry.path.endswith(_STREAM_PATHS) and entry.time <= before + 0.001:
            best = entry
    return best


# The events of openai's chat.completions.stream() helper besides "chunk": derived from the chunk.
_CHAT_HELPER_EVENTS = ("content.", "refusal.", "tool_calls.", "logprobs.")

_STREAM_PATHS = ("/chat/completions", "/completions", "/responses", "/messages")

_ITEM, _END, _RAISED = 0, 1, 2


def _check_sync(iterable: object, where: str) -> None:
    """``where`` is what the user called (``fakellm.record()``, ``pytest_fakellm.record()``)."""
    if isinstance(iterable, Iterable):
        return
    twin = f"await {where.removesuffix('record()')}arecord(...)"
    if isinstance(iterable, AsyncIterable):
        raise TypeError(
            f"{where} got an async iterable ({type(iterable).__name__}), which it cannot read: use "
            f"`{twin}` in an async test"
        )
    if inspect.isawaitable(iterable):
        raise TypeError(
            f"{where} got an awaitable ({type(iterable).__name__}), not an iterable: use `{twin}`, "
            "which awaits it and records the stream it gives"
        )
    raise TypeError(
        f"{where} takes an iterable (what the code under test yields), got {type(iterable).__name__}"
    )


def _pump(iterable: Iterable[Any], put: Callable[[tuple[int, Any, float]], object]) -> None:
    """Drive a sync iterable on a daemon thread (a client that hangs must not hang the test, nor
    keep the interpreter from exiting), handing out each item with the time it arrived."""

    def run() -> None:
        try:
            for item in iterable:
                put((_ITEM, item, time.perf_counter()))
        except BaseException as exc:
            put((_RAISED, exc, time.perf_counter()))
        else:
            put((_END, None, time.perf_counter()))

    threading.Thread(target=run, name="fakellm-record", daemon=True).start()


def record(
    iterable: Iterable[Any],
    *,
    kind: Kind = "auto",
    timeout_s: float | None = 30.0,
    started: float | None = None,
    journal: Journal | None = None,
    where: str = "pytest_fakellm.record()",
) -> StreamRecording:
    """Consume ``iterable`` and record it (see the module docstring). ``started`` is a
    ``time.perf_counter()`` value to measure from (default: now). An async iterable is a
    ``TypeError``: use :func:`arecord`."""
    _check_sync(iterable, where)
    session = _Session(kind, timeout_s, started)
    rec = session.rec
    if timeout_s is None:
        iterator = iter(iterable)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                break
            except Exception as exc:
                rec.error = exc
                break
            session.item(item, time.perf_counter())
        return session.finish(journal)

    inbox: queue.SimpleQueue[tuple[int, Any, float]] = queue.SimpleQueue()
    _pump(iterable, inbox.put)
    while True:
        try:
            what, value, at = inbox.get(timeout=timeout_s)
        except queue.Empty:
            rec.timed_out = True
            break
        if what == _END:
            break
        if what == _RAISED:
            if not isinstance(value, Exception):
                raise value
            rec.error = value
            break
        session.item(value, at)
    return session.finish(journal)


async def arecord(
    iterable: AsyncIterable[Any] | Iterable[Any] | Awaitable[AsyncIterable[Any] | Iterable[Any]],
    *,
    kind: Kind = "auto",
    timeout_s: float | None = 30.0,
    started: float | None = None,
    journal: Journal | None = None,
) -> StreamRecording:
    """The async twin of :func:`record`. It also takes a sync iterable (read on a worker thread)
    and an awaitable that gives an iterable (awaited as part of the recording)."""
    session = _Session(kind, timeout_s, started)
    rec = session.rec
    if inspect.isawaitable(iterable) and not isinstance(iterable, AsyncIterable | Iterable):
        try:
            async with asyncio.timeout(timeout_s):
                iterable = await iterable
        except TimeoutError:
            rec.timed_out = True
            return session.finish(journal)
        except Exception as exc:
            rec.error = exc
            return session.finish(journal)
    if isinstance(iterable, AsyncIterable):
        await _read_async(session, iterable, timeout_s)
    else:
        _check_sync(iterable, "arecord()")
        await _read_sync(session, iterable, timeout_s)
    return session.finish(journal)


async def _read_async(session: _Session, iterable: AsyncIterable[Any], timeout_s: float | None) -> None:
    rec = session.rec
    iterator = aiter(iterable)
    while True:
        deadline = asyncio.timeout(timeout_s)
        try:
            async with deadline:
                item = await anext(iterator)
        except StopAsyncIteration:
            break
        except TimeoutError as exc:
            if deadline.expired():
                rec.timed_out = True
            else:
                rec.error = exc  # the code under test's own timeout
            break
        except Exception as exc:
            rec.error = exc
            break
        session.item(item, time.perf_counter())


async def _read_sync(session: _Session, iterable: Iterable[Any], timeout_s: float | None) -> None:
    """A sync iterable inside a coroutine: on a worker thread, so that a blocking client (a sync
    SDK, a sleep) does not block the event loop the server or other tasks may run on."""
    rec = session.rec
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[int, Any, float]] = asyncio.Queue()
    _pump(iterable, lambda message: loop.call_soon_threadsafe(inbox.put_nowait, message))
    while True:
        try:
            async with asyncio.timeout(timeout_s):
                what, value, at = await inbox.get()
        except TimeoutError:
            rec.timed_out = True
            break
        if what == _END:
            break
        if what == _RAISED:
            if not isinstance(value, Exception):
                raise value
            rec.error = value
            break
        session.item(value, at)
