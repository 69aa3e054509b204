"""The streamed routes (``wire.FORMATS``: ``POST /v1/chat/completions``, ``/v1/responses``,
``/v1/messages``...), served as plain ASGI, one code path for every wire format: the request
parsed by its format, planned (``pipeline.plan_stream``), answered by the format's encoder or
error, journaled.

Deliberately not Quart routes, although every other route of the server is one. For each request
Quart builds a request object, two contexts and a response object, runs its hooks, and moves the
body through two more tasks: about as much CPU as all of fakellm's own work on the request, spent
on the event loop while the chunks of every other stream that fall due meanwhile wait. At 100
streams that was a third of the inter-token lateness at the tail (``benchmarks/README.md``).
What Quart did for this route is done here, to the same effect on the wire: the body read with
Quart's limits (16 MiB: 413; 60 s, ``body_timeout_s``: 408), errors in the format's shape
(``WireFormat.error``) carrying the same CORS headers (``headers.cors_headers``), a 500 for
anything unexpected (logged, and kept in ``state.internal_errors`` for the pytest plugin), and
the stream ended when the client goes away (a task reads ``receive`` for ``http.disconnect``, as
Quart's does).

The request's schedule starts at ``t0``, when it arrived (``app.FakeLLMApp``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from . import background, clock
from .errors import RequestError
from .event_ids import ResumePoint, parse_event_id
from .event_source import event_source_query
from .headers import RESUMABLE_HEADER, Instructions, cors_headers, instructions, request_headers, timing_for
from .journal import JournalEntry
from .observe import note_entry
from .pipeline import StreamPlan, plan_stream, prompt_of
from .redact import redact_headers
from .resume import ResumeRecord, keep, plan_again, progress
from .scenario import Scenario
from .state import ServerState
from .stream import Frame
from .wire.format import Answer, WireFormat
from .wire.openai import CHAT
from .wire.openai_responses import RESPONSES

__all__ = [
    "MAX_BODY_BYTES",
    "send_json",
    "serve_background_stream",
    "serve_chat_resume",
    "serve_event_source",
    "serve_stream",
]

MAX_BODY_BYTES = 16 * 1024 * 1024  # Quart's MAX_CONTENT_LENGTH

Send = Any  # the ASGI callables
Receive = Any


class _ClientGone(Exception):
    """The client went away before the whole request had arrived."""


async def serve_stream(
    state: ServerState, fmt: WireFormat, scope: Any, receive: Receive, send: Send, t0: float
) -> None:
    """Serve one request to ``fmt``'s route, start to end."""
    headers = request_headers(scope)
    method = scope.get("method", "POST")  # GET for the EventSource route (serve_event_source)
    cors = cors_headers(state.config, headers, method)
    entry = _open_entry(state, scope, headers, fmt, method=method)
    try:
        planned = await _plan(state, fmt, headers, receive, entry, t0)
    except RequestError as exc:
        entry.status = exc.status
        entry.outcome = "rejected"
        entry.error = exc.body()["error"]
        await _send_answer(send, fmt.error(exc, _request_id()), cors)
        return
    except _ClientGone:
        entry.outcome = "client_disconnected"
        return
    except Exception as exc:  # a bug: answered like Quart's handler for the other routes
        message = state.internal_error(exc, f"serving POST {fmt.path}")["error"]["message"]
        failure = RequestError(500, message, type="server_error")
        await _send_answer(send, fmt.error(failure, _request_id()), cors)
        return

    plan, record = planned.plan, planned.background
    entry.seed = plan.seed
    entry.turn = plan.turn
    entry.request_id = plan.request_id
    own = [
        *fmt.headers(plan.request_id, int(plan.timing.ttft_ms)),
        ("x-fakellm-scenario", plan.scenario.name),
        ("x-fakellm-seed", str(plan.seed)),
    ]
    if plan.http_error is not None:
        refusal = plan.http_error
        entry.status = refusal.status
        entry.outcome = "http_error"
        entry.error = refusal.body()["error"]
        entry.faults = list(plan.ctx.fired)
        entry.duration_ms = clock.elapsed_ms(t0)
        answer = fmt.error(refusal, plan.request_id)
        head = {**dict(own), **answer.headers}  # the fault's own headers win
        await _send_answer(send, replace(answer, headers=head), cors)
        return
    entry.status = 200
    if not planned.resumed:
        try:
            await _keep_chat(state, fmt, plan, t0)
        except RequestError as exc:  # the state store is away (StateUnavailable)
            entry.status, entry.outcome, entry.error = exc.status, "rejected", exc.body()["error"]
            await _send_answer(send, fmt.error(exc, plan.request_id), cors)
            return
    watch, gone = _watch_disconnect(receive)
    try:
        entry.planned_reasoning = plan.reasoning.tokens if plan.reasoning is not None else ()
        if plan.request.stream:
            entry.planned_calls = plan.calls
            if plan.more:
                entry.plan_choices(plan.finish_reasons)
            frames = None
            if record is not None:  # a background response's stream stops at a cancel
                frames = background.until_cancelled(plan.frames(), state.resumable, record.id, 0.0, plan.ctx)
            await _stream(state, plan, entry, t0, send, [*own, *cors], frames)
        elif record is not None:
            await _queued(plan, record, entry, t0, send, [*own, *cors])
        else:
            await _complete(state, plan, entry, t0, send, [*own, *cors])
    except asyncio.CancelledError:
        if not gone[0]:
            raise  # not the client: the server is stopping
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        if entry.outcome == "streaming":  # waiting for a non-streaming answer (a stream says so itself)
            entry.outcome = "client_disconnected"
            entry.duration_ms = clock.elapsed_ms(t0)
    finally:
        watch.cancel()
        if not planned.resumed:
            _keep(state, plan)


def _open_entry(
    state: ServerState,
    scope: Any,
    headers: Mapping[str, str],
    fmt: WireFormat,
    *,
    method: str = "GET",
    status: int = 0,
) -> JournalEntry:
    """A request's journal entry as it arrives (headers redacted), for the observers too; the
    request's handler fills in the rest as it goes."""
    entry = note_entry(
        state.journal.open(
            time=time.time(),
            method=method,
            path=scope.get("path", fmt.path),
            status=status,
            headers=redact_headers(headers.items()),
        )
    )
    entry.format = fmt.name
    return entry


def _keep(state: ServerState, plan: StreamPlan) -> None:
    """Store the response, for the formats that keep one (``GET /v1/responses/{id}``)."""
    if plan.stored is not None:
        kept = plan.stored()
        if kept is not None:
            state.keep_response(*kept)


async def _keep_chat(state: ServerState, fmt: WireFormat, plan: StreamPlan, t0: float) -> None:
    """Keep the stream of a request that names its resume key (the AI SDK's chat id), for
    :func:`serve_chat_resume`: the chat's last stream replaces its earlier one."""
    key = plan.request.resume_key
    if key is None or not plan.request.stream:
        return
    size = len(json.dumps(plan.request.body, separators=(",", ":")))
    record = keep(plan, plan.scenario, path=fmt.path, arrived=t0, now=clock.now(), body_bytes=size)
    await state.resumable.put(record)
    state.chat_streams.put(key, record.id, fmt)


def _schedule_end(record: ResumeRecord, fmt: WireFormat) -> float:
    """When the stream of ``record`` is over, in seconds after it arrived (its last frame's due)."""
    last = 0.0
    for frame in plan_again(record, fmt).frames():
        last = frame.due
    return last


async def serve_chat_resume(
    state: ServerState, chat_id: str, scope: Any, receive: Receive, send: Send, t0: float
) -> None:
    """``GET /api/chat/{id}/stream``, the AI SDK's resume (shared/wire2.md §6.2): 204 when the chat
    has no stream whose schedule is still running, else that stream replayed from its start on
    its original schedule (what is already due at once, the rest when it falls due), without
    event ids, as ``resumeStreamIsReplay`` expects. The request's ``X-FakeLLM-Faults`` act on
    this attempt's frames only (a drop, a stall); the stream's own content faults come again."""
    headers = request_headers(scope)
    cors = cors_headers(state.config, headers, "GET")
    kept = state.chat_streams.get(chat_id)
    try:
        record = await state.resumable.get(kept[0]) if kept is not None else None
    except RequestError as exc:  # the state store is away
        await _send_answer(send, CHAT.error(exc, _request_id()), cors)
        return
    if kept is None or record is None or t0 - record.arrived >= _schedule_end(record, kept[1]):
        await send({"type": "http.response.start", "status": 204, "headers": _encode(cors)})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    fmt = kept[1]
    entry = _open_entry(state, scope, headers, fmt)
    try:
        asked = instructions(headers)
        await state.resumable.attempt(record.id, entry.index)
    except RequestError as exc:
        entry.status, entry.outcome, entry.error = exc.status, "rejected", exc.body()["error"]
        await _send_answer(send, fmt.error(exc, _request_id()), cors)
        return
    plan = plan_again(record, fmt, offset_s=t0 - record.arrived, faults=asked.faults)
    plan.resume = replace(plan.resume, ids=False) if plan.resume is not None else None
    entry.status, entry.stream, entry.model = 200, True, record.request.model
    entry.scenario, entry.seed, entry.request_id = record.scenario.name, plan.seed, plan.request_id
    own = [
        *fmt.headers(plan.request_id, 0),
        ("x-fakellm-scenario", plan.scenario.name),
        ("x-fakellm-seed", str(plan.seed)),
    ]
    watch, gone = _watch_disconnect(receive)
    try:
        await _stream(state, plan, entry, t0, send, [*own, *cors])
    except asyncio.CancelledError:
        if not gone[0]:
            raise  # not the client: the server is stopping
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
    finally:
        watch.cancel()


async def serve_event_source(state: ServerState, scope: Any, receive: Receive, send: Send, t0: float) -> None:
    """``GET /v1/chat/completions/stream?prompt=...`` (``event_source.py``): the query read as the
    POST it stands for and served by :func:`serve_stream`, as ``POST /v1/chat/completions``; a
    reconnect (``Last-Event-ID``) with no event left to send is answered 204, which ends the
    browser's reconnects."""
    headers = request_headers(scope)
    last_event_id = headers.get("last-event-id", "").strip()
    try:
        query = event_source_query(scope.get("query_string", b""), reconnect=bool(last_event_id))
    except RequestError as exc:
        entry = _open_entry(state, scope, headers, CHAT, status=exc.status)
        entry.outcome, entry.error = "rejected", exc.body()["error"]
        await _send_answer(send, CHAT.error(exc, _request_id()), cors_headers(state.config, headers, "GET"))
        return
    if last_event_id and await _nothing_left(state, last_event_id):
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": _encode(cors_headers(state.config, headers, "GET")),
            }
        )
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    # The query's fields win over headers of the same name (a curl may send both).
    given = {name for name, _ in query.headers} | {"content-type", "content-length"}
    raw = [(k, v) for k, v in scope.get("headers", ()) if k.decode("latin-1").lower() not in given]
    raw += [(k.encode(), v.encode("latin-1", "replace")) for k, v in query.headers]
    raw += [(b"content-type", b"application/json"), (b"content-length", str(len(query.body)).encode())]
    sent = False

    async def body_then_receive() -> Any:
        # The body the query stands for, then the real channel (its http.disconnect ends the stream).
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": query.body, "more_body": False}
        return await receive()

    await serve_stream(state, CHAT, {**scope, "headers": raw}, body_then_receive, send, t0)


async def _nothing_left(state: ServerState, last_event_id: str) -> bool:
    """Whether ``Last-Event-ID`` names the last event of a chat stream this server keeps (a
    stream it does not know, or a store that is away, is left to :func:`_plan_resume`, which
    says why)."""
    parsed = parse_event_id(last_event_id)
    try:
        record = await state.resumable.get(parsed[0]) if parsed is not None else None
    except RequestError:
        return False
    if parsed is None or record is None or record.background or record.path != CHAT.path:
        return False
    return parsed[1] >= progress(record, CHAT, math.inf).events - 1


def _request_id() -> str:
    return f"req_{secrets.token_hex(16)}"


@dataclass(slots=True)
class _Planned:
    """A request's plan, with what it keeps: the record of a background response (kept from now
    on), and whether it resumes a stream (``Last-Event-ID``), which keeps nothing new."""

    plan: StreamPlan
    background: ResumeRecord | None = None
    resumed: bool = False


async def _plan(
    state: ServerState,
    fmt: WireFormat,
    headers: dict[str, str],
    receive: Receive,
    entry: JournalEntry,
    t0: float,
) -> _Planned:
    raw = await _read_body(receive, headers, state.config.body_timeout_s)
    request = fmt.parse_request(raw, headers)
    entry.keep_request(request.body, raw)  # within the journal's budget
    entry.model = request.model
    entry.stream = request.stream
    asked = instructions(headers)
    last_event_id = headers.get("last-event-id", "").strip()
    if last_event_id:
        return _Planned(await _plan_resume(state, fmt, asked, entry, t0, last_event_id), resumed=True)
    scenario = await state.choose(asked.scenario, request.model, prompt_of(request), fmt.path)
    entry.scenario = scenario.name
    counters = await state.counters_for(scenario, request.messages, asked)
    plan = plan_stream(
        request,
        scenario,
        format=fmt,
        server_seed=state.config.seed,
        header_seed=asked.seed,
        global_faults=state.global_faults,
        extra_faults=asked.faults,
        extra_scope=asked.fault_scope,
        timing=timing_for(headers, scenario),
        counters=counters,
        now=time.time(),
    )
    if plan.http_error is not None:
        return _Planned(plan)
    if background.wanted(fmt, request):
        entry.background = True
        record = await background.keep_background(
            state.resumable, plan, scenario, arrived=t0, now=clock.now(), body_bytes=len(raw)
        )
        return _Planned(plan, background=record)
    if _resumable(asked, scenario, plan):
        # Kept as the scenario was selected (a conversation's turn is picked again from the
        # request), and numbered from its first event.
        record = keep(plan, scenario, path=fmt.path, arrived=t0, now=clock.now(), body_bytes=len(raw))
        await state.resumable.put(record)
        await state.resumable.attempt(record.id, entry.index)
        plan.resume = ResumePoint(record.id)
        entry.stream_id = record.id
    return _Planned(plan)


def _resumable(asked: Instructions, scenario: Scenario, plan: StreamPlan) -> bool:
    """Whether the stream of ``plan`` is resumable: ``X-FakeLLM-Resumable`` says so (1 or 0), else
    its scenario (``resumable: true``). Only a stream is, and only in SSE, whose events can carry
    an id: a scenario's ``resumable`` does not apply elsewhere, the header is refused there."""
    wanted = scenario.resumable if asked.resumable is None else asked.resumable
    if not wanted or not plan.request.stream:
        return False
    if not plan.encoder.content_type.startswith("text/event-stream"):
        if asked.resumable:
            raise RequestError(
                400,
                f"{RESUMABLE_HEADER}: a {plan.format.name} stream is not SSE, and only SSE events "
                "carry the ids a resume starts from (on /api/chat, leave out ?protocol=data).",
                param=RESUMABLE_HEADER,
            )
        return False
    return True


async def _plan_resume(
    state: ServerState,
    fmt: WireFormat,
    asked: Instructions,
    entry: JournalEntry,
    t0: float,
    last_event_id: str,
) -> StreamPlan:
    """The plan of a reconnect with ``Last-Event-ID: <stream id>:<n>``: the stream it names planned
    again, from event n + 1 on its original schedule (what is due already at once), with this
    request's own connection faults (``X-FakeLLM-Faults``: a drop, a stall... on this attempt);
    its content faults are the original's. The request's body is not looked at again: the
    stream is the one it names, as the client asks."""
    parsed = parse_event_id(last_event_id)
    if parsed is None:
        raise RequestError(
            400,
            f"Last-Event-ID {last_event_id[:80]!r} is not an event id fakellm sent: a resumable stream's "
            "events carry 'id: <stream id>:<n>'.",
            param="Last-Event-ID",
            code="invalid_last_event_id",
        )
    stream_id, after = parsed
    record = await state.resumable.get(stream_id)
    if record is None or record.background:
        hint = (
            " It is a background response: resume it with "
            "GET /v1/responses/{id}?stream=true&starting_after=N."
            if record is not None
            else ""
        )
        raise RequestError(
            404,
            f"No resumable stream {stream_id!r}: it was not resumable (resumable: true, "
            f"{RESUMABLE_HEADER}: 1), or it was forgotten (kept {state.config.resume_ttl_s:g} s, "
            f"the newest {state.config.resume_max}: --resume-ttl, --resume-max).{hint}",
            param="Last-Event-ID",
            code="stream_not_found",
        )
    if record.path != fmt.path:
        raise RequestError(
            400,
            f"Stream {stream_id!r} was served on POST {record.path}: resume it there.",
            param="Last-Event-ID",
            code="invalid_last_event_id",
        )
    plan = plan_again(record, fmt, after=after, offset_s=t0 - record.arrived, faults=asked.faults)
    await state.resumable.attempt(record.id, entry.index)
    entry.model, entry.stream, entry.scenario = record.request.model, True, record.scenario.name
    entry.stream_id, entry.resumed_after = record.id, after
    return plan


async def _read_body(receive: Receive, headers: dict[str, str], timeout_s: float) -> bytes:
    """The whole request body, within Quart's limits (a body announced too large is refused from
    the head, before it is read)."""
    too_large = RequestError(413, "The request body is too large.", code="request_too_large")
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise too_large
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                part = message.get("body", b"")
                size += len(part)
                if size > MAX_BODY_BYTES:
                    raise too_large
                parts.append(part)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise RequestError(408, "The request body did not arrive in time.", code="request_timeout") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def _stream(
    state: ServerState,
    plan: StreamPlan,
    entry: JournalEntry,
    t0: float,
    send: Send,
    headers: list[tuple[str, str]],
    frames: Iterator[Frame] | None = None,
) -> None:
    """``plan``'s stream (or ``frames``, the plan's as another stage has them)."""
    head = [
        ("content-type", plan.encoder.content_type),
        # A replayed recording answers with the recorded headers too (fakellm's own win).
        *(plan.source.headers.items() if plan.source is not None else ()),
        *headers,
        ("cache-control", "no-cache"),
    ]
    # "no" unless the server says otherwise (--accel-buffering); an accel_buffering fault has the
    # last word.
    accel = state.config.accel_buffering
    if accel != "omit":
        head.append(("x-accel-buffering", accel))
    head = plan.head(head)
    await send({"type": "http.response.start", "status": 200, "headers": _encode(head)})
    # The body: written straight to the connection where the transport can (it then yields
    # nothing), else yielded here for the ASGI ``send``.
    body = state.streams.send(plan.frames() if frames is None else frames, plan.ctx, entry, t0)
    async with contextlib.aclosing(body):
        async for data in body:
            await send({"type": "http.response.body", "body": data, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _complete(
    state: ServerState,
    plan: StreamPlan,
    entry: JournalEntry,
    t0: float,
    send: Send,
    headers: list[tuple[str, str]],
) -> None:
    """A non-streaming answer: the whole completion, once the stream it stands for would have
    ended."""
    if not await state.streams.sleep_until(t0 + plan.completion_delay()):
        entry.status = 503
        entry.outcome = "server_shutdown"
        entry.duration_ms = clock.elapsed_ms(t0)
        message = "The server is shutting down; the answer was not finished."
        answer = plan.format.error(RequestError(503, message, type="server_error"), plan.request_id)
        await _send_answer(send, replace(answer, headers={**dict(headers), **answer.headers}))
        return
    entry.tokens_sent = plan.text_tokens
    entry.text_parts = [plan.text]
    entry.tool_calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in plan.calls]
    if plan.more:
        entry.plan_choices(plan.finish_reasons, plan.choice_texts)
    entry.outcome = "completed"
    entry.faults = list(plan.ctx.fired)
    entry.duration_ms = clock.elapsed_ms(t0)
    entry.settled()  # within the journal's budget
    # The whole answer goes out at once: its first byte is its last.
    entry.first_byte_ms = entry.first_token_ms = entry.duration_ms
    entry.bytes_sent = await send_json(send, 200, plan.completion(), headers)


async def _queued(
    plan: StreamPlan,
    record: ResumeRecord,
    entry: JournalEntry,
    t0: float,
    send: Send,
    headers: list[tuple[str, str]],
) -> None:
    """A background response not streamed: its object at once (``queued``, unless its first
    event is due already), the generation going on in its record (``background.py``)."""
    body = background.response_at(record, clock.now() - t0)
    entry.outcome = "queued"
    entry.faults = list(plan.ctx.fired)
    entry.duration_ms = clock.elapsed_ms(t0)
    entry.settled()
    entry.bytes_sent = await send_json(send, 200, body, headers)


def _watch_disconnect(receive: Receive) -> tuple[asyncio.Task[None], list[bool]]:
    """A task that cancels the one serving the request when the client goes away
    (``http.disconnect``), and a flag that says it did. The watcher's frame must not hold the
    watcher: cancelled, it keeps its exception and so its frame, and that cycle would be garbage
    for the collector, whose pauses are what the streams' lateness is made of at the tail."""
    fired = [False]
    return asyncio.ensure_future(_disconnected(receive, asyncio.current_task(), fired)), fired


async def _disconnected(receive: Receive, served: asyncio.Task[Any] | None, fired: list[bool]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    fired[0] = True
    if served is not None:
        served.cancel()


async def _send_answer(send: Send, answer: Answer, extra: Iterable[tuple[str, str]] = ()) -> int:
    return await send_json(send, answer.status, answer.body, [*answer.headers.items(), *extra])


async def send_json(send: Send, status: int, body: Any, headers: Iterable[tuple[str, str]]) -> int:
    """A whole JSON answer; returns its length."""
    data = json.dumps(body, separators=(",", ":")).encode()
    head = [("content-type", "application/json"), ("content-length", str(len(data))), *headers]
    await send({"type": "http.response.start", "status": status, "headers": _encode(head)})
    await send({"type": "http.response.body", "body": data, "more_body": False})
    return len(data)


def _encode(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def serve_background_stream(
    state: ServerState, response_id: str, scope: Any, receive: Receive, send: Send, t0: float
) -> None:
    """``GET /v1/responses/{id}?stream=true[&starting_after=N]``: a background response's stream
    again, from its first event or after event N, on its original schedule (``background.py``),
    with this request's own connection faults (``X-FakeLLM-Faults``), through the transport every
    stream goes through. The GET has no body: the record holds the request."""
    headers = request_headers(scope)
    cors = cors_headers(state.config, headers, "GET")
    entry = _open_entry(state, scope, headers, RESPONSES)
    entry.stream = entry.background = True
    request_id = _request_id()
    try:
        query = background.stream_query(scope.get("query_string", b""))
        record = await state.resumable.get(response_id)
        if record is None or not record.background:
            # What the API answered a stream GET of a response not made in the background
            # (wire2.md §6.1, community.openai.com/t/1362217): not found.
            raise RequestError(404, f"Response with id '{response_id}' not found.", param="response_id")
        if not record.request.stream:
            raise RequestError(
                400,
                "You can only start a new stream from a background response if you created it with "
                "'stream': true.",
                param="stream",
                code="invalid_value",
            )
        asked = instructions(headers)
    except RequestError as exc:
        entry.status, entry.outcome, entry.error = exc.status, "rejected", exc.body()["error"]
        entry.settled()
        await _send_answer(send, RESPONSES.error(exc, request_id), cors)
        return
    after = -1 if query.starting_after is None else query.starting_after
    offset = t0 - record.arrived
    plan = plan_again(record, RESPONSES, after=after, offset_s=offset, faults=asked.faults)
    entry.model, entry.scenario, entry.seed = record.request.model, record.scenario.name, plan.seed
    entry.request_id, entry.starting_after, entry.status = request_id, query.starting_after, 200
    entry.planned_calls = plan.calls
    own = [*RESPONSES.headers(request_id, 0), *cors]
    frames = background.until_cancelled(plan.frames(), state.resumable, record.id, offset, plan.ctx)
    watch, gone = _watch_disconnect(receive)
    try:
        await _stream(state, plan, entry, t0, send, own, frames)
    except asyncio.CancelledError:
        if not gone[0]:
            raise  # not the client: the server is stopping
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
    finally:
        watch.cancel()
