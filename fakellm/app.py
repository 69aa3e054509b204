"""The application: the Quart routes, CORS, OpenAI-shaped errors, and the ASGI wrapper that serves
the streamed routes itself (``endpoint.py``) and can drop a connection.

Every response, error or not, carries the CORS headers (``headers.cors_headers``: Quart's
:func:`_cors` hook, or ``endpoint.py``); every error a client can cause is a :class:`RequestError`
rendered by :func:`fakellm.errors.error_body`; anything else is a 500 in the same shape, logged
with its traceback on the server side and remembered in ``state.internal_errors`` (the pytest
plugin fails the test on it).
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from . import clock
from .background import cancel, response_at, stream_query, streamed_id
from .config import ServerConfig
from .endpoint import send_json, serve_background_stream, serve_chat_resume, serve_event_source, serve_stream
from .errors import RequestError, error_body
from .event_source import PATH as EVENT_SOURCE_PATH
from .headers import cors_headers, header_map, instructions, request_headers
from .journal import JournalEntry
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .observe import RequestNote, note_entry
from .pipeline import derive_seed
from .playground import CSP, asset, wants_html
from .playground import PATH as PLAYGROUND_PATH
from .redact import install_log_redaction, redact_headers, redact_text
from .resume import ResumeRecord, progress
from .scenario import Scenario
from .state import ServerState
from .tokens import count_message_tokens
from .transport import CONNECTION_SEND, DropConnection, arrival, reset_connection
from .wire import FORMATS, WireFormat, format_for, format_named
from .wire.ai_sdk_ui import resume_chat_id
from .wire.anthropic_messages import MESSAGES, count_tokens_body, parse_count_tokens_request
from .wire.openai import openai_error, openai_headers
from .wire.openai_embeddings import embeddings_body, parse_embeddings_request

__all__ = [
    "LIKELY_MODELS",
    "FakeLLMApp",
    "about",
    "create_app",
    "new_quart",
    "open_entry",
    "origin_form",
    "prefixed",
    "routes",
    "unknown_url_message",
]

log = logging.getLogger("fakellm")

MATRIX_PREFIX = "/_matrix/"  # FakeLLMApp.prefixes


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers or {},
    )


def open_entry(state: ServerState) -> JournalEntry:
    """The journal entry of the Quart request being served (its status is set once it is known)."""
    entry = state.journal.open(
        time=time.time(),
        method=request.method,
        path=request.path,
        status=0,
        headers=redact_headers(request.headers.items()),
    )
    return note_entry(entry)  # for the request's metrics (observe.py)


def new_quart(
    name: str, state: ServerState, *, health: Mapping[str, Any] | None = None, playground: bool = False
) -> Quart:
    """A Quart app with what every fakellm app does the same way (the server, and the proxy in
    ``proxy.py``): CORS on every response, preflights, request bodies read, OpenAI-shaped errors,
    and the ``/_fakellm`` control routes (``health`` adds fields to the health answer;
    ``playground``: the browser page at ``/`` and ``/_fakellm/playground``, playground/)."""
    config = state.config
    install_log_redaction()
    quart = Quart(name)
    quart.config["RESPONSE_TIMEOUT"] = None  # streams may be long; Quart would cut them at 60 s
    quart.config["BODY_TIMEOUT"] = 60
    quart.config["PROVIDE_AUTOMATIC_OPTIONS"] = False

    @quart.before_serving
    async def _start_state() -> None:
        await state.start()  # a shared store's writer runs on the serving loop

    @quart.after_serving
    async def _close_state() -> None:
        await state.close()  # what it has buffered goes out, if the store is there

    @quart.before_request
    async def _preflight() -> Response | None:
        if request.method == "OPTIONS":
            return Response("", status=204)
        return None

    @quart.before_request
    async def _read_body() -> None:
        # Read every request body before answering, even on a route that will 404 or 405: an
        # unread body makes hypercorn close the keep-alive connection after the answer without
        # saying so, and a pooled client's next request on it fails.
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            await request.get_data()

    @quart.after_request
    async def _cors(response: Response) -> Response:
        if "x-request-id" not in response.headers:
            # Real OpenAI answers every request, errors included, with an id that SDKs surface
            # (APIStatusError.request_id).
            response.headers["x-request-id"] = f"req_{secrets.token_hex(16)}"
        for name, value in cors_headers(config, header_map(request.headers.items()), request.method):
            response.headers[name] = value
        return response

    @quart.errorhandler(RequestError)
    async def _request_error(error: RequestError) -> Response:
        return _json(error.body(), error.status, error.headers)

    @quart.errorhandler(HTTPException)
    async def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status == 404:
            message = unknown_url_message(quart, request.method, request.path)
            return _json(error_body(message, code="unknown_url"), 404)
        if status == 405:
            allowed = sorted(set(getattr(error, "valid_methods", None) or ()) - {"HEAD", "OPTIONS"})
            message = f"Method {request.method} is not allowed for {request.path}."
            if allowed:
                message = f"{message[:-1]}: it takes {', '.join(allowed)}."
            return _json(error_body(message, code="method_not_allowed"), 405)
        if status == 413:
            return _json(error_body("The request body is too large.", code="request_too_large"), 413)
        return _json(error_body(error.description or error.name), status)

    @quart.errorhandler(Exception)
    async def _internal_error(error: Exception) -> Response:
        return _json(state.internal_error(error, f"serving {request.method} {request.path}"), 500)

    @quart.get("/")
    async def index() -> Response:
        # The playground for a browser (``Accept`` prefers text/html); JSON for clients and curl.
        if playground and wants_html(request.headers.get("Accept")):
            response = _playground_file("index.html")
        else:
            response = _json(about(quart, name, request.host_url, extra=health))
        if playground:
            response.headers["Vary"] = "Accept"
        return response

    @quart.get("/_fakellm/journal")
    async def get_journal() -> Response:
        # ``?limit=N``: the newest N entries only (the playground polls it every second).
        given = request.args.getlist("limit")
        return _json(await state.journal_json(_limit(given, 1000) if given else None))

    @quart.delete("/_fakellm/journal")
    async def clear_journal() -> Response:
        state.clear_journal()
        return Response("", status=204)

    @quart.get("/_fakellm/health")
    async def get_health() -> Response:
        worker = {} if config.worker is None else {"worker": config.worker}
        return _json({"status": "ok", "streams": len(state.streams), **worker, **(health or {})})

    @quart.get("/metrics")
    async def get_metrics() -> Response:
        # Prometheus' text format, from this server's own registry (metrics.py, docs/metrics.md).
        return Response(state.metrics.exposition(), content_type=METRICS_CONTENT_TYPE)

    if playground:

        @quart.get(PLAYGROUND_PATH)
        async def get_playground() -> Response:
            return _playground_file("index.html")

        @quart.get(f"{PLAYGROUND_PATH}/<name>")
        async def get_playground_file(name: str) -> Response:
            return _playground_file(name)

    return quart


def _playground_file(name: str) -> Response:
    """One of the playground's shipped files, or a 404 naming the ones there are."""
    found = asset(name)
    if found is None:
        message = f"No playground file {name!r}: there are index.html, app.js and style.css."
        return _json(error_body(message, param="name", code="unknown_url"), 404)
    body, content_type = found
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = CSP
    return Response(body, content_type=content_type, headers=headers)


def _limit(given: list[str], size: int) -> int:
    """``GET /_fakellm/journal?limit=N``: N from 1 to 1000 (the journal's own bound)."""
    if not given:
        return size
    text = given[-1].strip()
    if len(given) > 1 or not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 1000:
        shown_value = given[-1][:24] if len(given) == 1 else ", ".join(g[:24] for g in given)
        message = f"limit must be one integer from 1 to 1000, got {shown_value!r}."
        raise RequestError(400, message, param="limit", code="invalid_value")
    return min(int(text), size)


def create_app(config: ServerConfig | None = None) -> FakeLLMApp:
    config = config or ServerConfig()
    state = ServerState(config)
    quart = new_quart("fakellm", state, playground=True)

    for path in FORMATS:

        async def streamed() -> Response:
            # Served by FakeLLMApp before Quart sees it (endpoint.py); declared so that Quart knows
            # the route: another method on it is a 405, and preflights are answered.
            raise RuntimeError(f"POST {request.path} is served by FakeLLMApp, not by its Quart app")

        quart.add_url_rule(path, f"stream:{path}", streamed, methods=["POST"])

    @quart.get(EVENT_SOURCE_PATH)
    async def event_source() -> Response:
        # Served by FakeLLMApp (endpoint.serve_event_source), declared for the 405s and GET /.
        raise RuntimeError(f"GET {request.path} is served by FakeLLMApp, not by its Quart app")

    @quart.get("/api/chat/<chat_id>/stream")
    async def resume_chat(chat_id: str) -> Response:
        # Served by FakeLLMApp (endpoint.serve_chat_resume), declared for the 405s and GET /.
        raise RuntimeError(f"GET {request.path} is served by FakeLLMApp, not by its Quart app")

    @quart.get("/v1/responses/<response_id>")
    async def get_response(response_id: str) -> Response:
        # ``?stream=true`` is served as a stream before Quart sees it (FakeLLMApp, endpoint.py).
        try:
            stream_query(request.query_string)
        except RequestError as exc:
            return _json(exc.body(), exc.status)
        record = await state.resumable.get(response_id)
        if record is not None and record.background:
            return _json(response_at(record, clock.now() - record.arrived))
        kept = await state.stored_response(response_id)
        if kept is None:
            return _json(_no_response(response_id), 404)
        return _json(kept)

    @quart.get("/_fakellm/streams/<stream_id>")
    async def get_stream(stream_id: str) -> Response:
        # The "job id" pattern: a resumable stream's result so far, whoever received it.
        record = await state.resumable.get(stream_id)
        fmt = format_named(record.format) if record is not None else None
        if record is None or fmt is None:
            message = (
                f"No resumable stream {stream_id!r}: it was not resumable (resumable: true, "
                f"X-FakeLLM-Resumable: 1), or it was forgotten (kept {config.resume_ttl_s:g} s, "
                f"the newest {config.resume_max})."
            )
            return _json(error_body(message, param="stream_id", code="stream_not_found"), 404)
        return _json(_stream_status(record, fmt, config))

    @quart.post("/v1/responses/<response_id>/cancel")
    async def cancel_response(response_id: str) -> Response:
        record = await state.resumable.get(response_id)
        if record is None or not record.background:
            if record is None and await state.stored_response(response_id) is None:
                return _json(_no_response(response_id), 404)
            # The API reference: "Only responses created with the background parameter set to
            # true can be cancelled."
            message = "Only responses created with 'background': true can be cancelled."
            return _json(error_body(message, param="response_id", code="invalid_value"), 400)
        return _json(await cancel(state.resumable, record, clock.now() - record.arrived))

    @quart.post("/v1/messages/count_tokens")
    async def count_tokens() -> Response:
        raw = await request.get_data()
        try:
            parsed = parse_count_tokens_request(raw if isinstance(raw, bytes) else raw.encode())
        except RequestError as exc:
            answer = MESSAGES.error(exc, f"req_{secrets.token_hex(16)}")
            return _json(answer.body, answer.status, answer.headers)
        return _json(count_tokens_body(count_message_tokens(parsed.messages)))

    @quart.post("/v1/embeddings")
    async def embeddings() -> Response:
        # Not a stream: one JSON answer, journaled with its seed. The vectors are computed in a
        # thread: a request of 2048 inputs must not hold the other streams' loop.
        started = time.perf_counter()
        entry = open_entry(state)
        entry.format = "openai.embeddings"
        request_id = f"req_{secrets.token_hex(16)}"
        entry.request_id = request_id
        raw = await request.get_data()
        data = raw if isinstance(raw, bytes) else raw.encode()
        try:
            asked = instructions(header_map(request.headers.items()))
            parsed = parse_embeddings_request(data)
            entry.keep_request(parsed.body, data)
            entry.model = parsed.model
            # Not state.select(): a scripted sequence of answers is for the chat calls (a RAG
            # pipeline embeds, then chats), so an embedding must not use one up.
            await state.refresh()
            scenario = state.select(asked.scenario, parsed.model, parsed.inputs[0], "/v1/embeddings")
            counters = await state.counters_for(scenario, None, asked)
        except RequestError as exc:
            entry.status, entry.outcome, entry.error = exc.status, "rejected", exc.body()["error"]
            entry.settled()
            answer = openai_error(exc, request_id)
            return _json(answer.body, answer.status, answer.headers)
        entry.scenario = scenario.name
        # The request-stage faults (http_error, latency) apply as to any answer that is not a
        # stream, chosen by the same rules (times, probability); the others have no stream to act on.
        plan = state.plan_passthrough(scenario, asked, counters)
        entry.faults = list(plan.ctx.fired)
        if plan.http_error is not None:
            error = plan.http_error
            entry.status, entry.outcome, entry.error = error.status, "http_error", error.body()["error"]
            entry.settled()
            answer = openai_error(error, request_id)
            return _json(answer.body, answer.status, answer.headers)
        delay_s = plan.latency_s()
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        # Vectors do not depend on a scenario's seed or a drawn one: the same text gives the same
        # vector on every server unless a seed is given.
        seed = derive_seed(state.config.seed, None, asked.seed)
        entry.seed = 0 if seed is None else seed
        body = await asyncio.to_thread(embeddings_body, parsed, seed=entry.seed)
        entry.status, entry.outcome = 200, "completed"
        entry.duration_ms = (time.perf_counter() - started) * 1000
        entry.settled()
        headers = dict(openai_headers(request_id, int(entry.duration_ms)))
        return _json(body, 200, headers)

    @quart.get("/v1/models")
    async def list_models() -> Response:
        await state.refresh()
        names = state.book.names()
        ids = [*names, *(m for m in LIKELY_MODELS if m not in names)]
        return _json({"object": "list", "data": [_model(n) for n in ids]})

    @quart.get("/_fakellm/scenarios")
    async def list_scenarios() -> Response:
        # Read-only: what X-FakeLLM-Scenario can name (the playground's scenario picker).
        await state.refresh()
        book = state.book
        listed = [s for s in (book.get(n) for n in book.names()) if s is not None]
        return _json({"object": "list", "data": [_scenario(s, s is book.default) for s in listed]})

    @quart.get("/v1/models/<path:model_id>")
    async def get_model(model_id: str) -> Response:
        # Every model id is served: a request for a model no scenario names gets the default
        # scenario, so a client that checks its model first must not be told otherwise.
        return _json(_model(model_id))

    return FakeLLMApp(quart, state, chat=True)


# Model ids a client is likely to send, listed by ``GET /v1/models`` after the scenario names (a
# client or UI that offers a choice from the list finds its usual model). Any other id is served
# just the same, by the default scenario.
LIKELY_MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "o3",
    "o3-mini",
    "o4-mini",
    "gpt-4-turbo",
    "gpt-3.5-turbo",
    "claude-sonnet-4-5",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "llama-3.3-70b-instruct",
    "mistral-large-latest",
)

# What the routes are for, in ``GET /`` (a route not named here is listed without a word).
_ROUTE_NOTES = {
    "/": "what this server is",
    "/v1/chat/completions": "OpenAI Chat Completions, streamed or not",
    "/v1/chat/completions/stream": (
        "Chat Completions for EventSource: GET with ?prompt=&model=&scenario=&seed=&faults=&ttft_ms="
        "&itl_ms=&retry_ms=, resumable with Last-Event-ID"
    ),
    "/v1/responses": "OpenAI Responses, streamed or not",
    "/v1/responses/{response_id}": (
        "a response stored by POST /v1/responses; a background one as it stands, or its stream "
        "again with ?stream=true[&starting_after=N]"
    ),
    "/v1/responses/{response_id}/cancel": "stop a background response where it is",
    "/v1/messages": "Anthropic Messages, streamed or not",
    "/v1/messages/count_tokens": "Anthropic's token count of a Messages request",
    "/v1/completions": "OpenAI legacy Completions, streamed or not",
    "/v1/embeddings": "OpenAI Embeddings: deterministic unit vectors from the text and seed",
    "/v1/models": "the scenario names, then model ids clients often send (any id is served)",
    "/v1/models/{model_id}": "any model id: the default scenario answers every model",
    "/v1/{rest}": "forwarded to the upstream, with faults",
    "/api/chat": "the AI SDK's useChat: UI message stream v1 (?protocol=data: the AI SDK 4 data stream)",
    "/api/chat/{chat_id}/stream": "the AI SDK's resume: 204, or the chat's running stream replayed",
    "/_fakellm/health": "liveness, open streams (and the worker's pid under serve --workers N)",
    "/_fakellm/streams/{stream_id}": "a resumable stream's result so far: text, tool calls, status",
    "/_fakellm/journal": "every request served (GET), or clear it (DELETE)",
    "/metrics": "Prometheus metrics: streams, TTFT, gaps, outcomes, faults (docs/metrics.md)",
    "/_fakellm/playground": "the browser playground (also GET / with Accept: text/html)",
    "/_fakellm/playground/{name}": "the playground's files: index.html, app.js, style.css",
    "/_fakellm/scenarios": "the scenarios X-FakeLLM-Scenario can name: match, timing, tools",
}
DOCS = {
    "readme": "README.md in the fakellm distribution (pip show -f fakellm)",
    "routes": "docs/streaming-server.md#routes",
    "faults": "docs/faults.md (the X-FakeLLM-Faults header)",
    "pytest": "docs/pytest-plugin.md",
    "proxy": "docs/proxy.md",
    "cli": "fakellm --help",
}
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def routes(quart: Quart) -> list[tuple[str, str]]:
    """The routes an app serves, as ``(methods, path)``: ``("GET|DELETE", "/_fakellm/journal")``,
    ``/v1`` first, then in the order they were declared."""
    found: dict[str, set[str]] = {}
    for rule in quart.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        found.setdefault(path, set()).update(rule.methods or ())
    order = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
    listed = [
        ("|".join(sorted(methods - {"HEAD", "OPTIONS"}, key=lambda m: order.get(m, 9))), path)
        for path, methods in found.items()
    ]
    return sorted(listed, key=lambda route: not route[1].startswith("/v1"))


def unknown_url_message(quart: Quart, method: str, path: str) -> str:
    """A 404's message: what was asked, the closest route there is, and every route."""
    served = routes(quart)
    message = f"Unknown request URL: {method} {path}."
    close = difflib.get_close_matches(path, [p for _, p in served], n=1, cutoff=0.5)
    if close:
        methods = next(m for m, p in served if p == close[0])
        message += f" Did you mean {methods} {close[0]}?"
    listing = ", ".join(f"{m} {p}" for m, p in served)
    return f"{message} This fakellm server serves: {listing}."


def about(quart: Quart, name: str, host_url: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``GET /``: what this server is, its routes and where its documentation is."""
    from . import __version__  # the package is whole by the time a request comes

    return {
        "name": name,
        "version": __version__,
        "description": "A fake LLM API that streams like the real one, and fails on cue.",
        "base_url": f"{host_url.rstrip('/')}/v1",
        **(extra or {}),
        "routes": [
            {"methods": m.split("|"), "path": p, "description": _ROUTE_NOTES.get(p)} for m, p in routes(quart)
        ],
        "docs": DOCS,
    }


def _has_fragment(scope: Mapping[str, Any]) -> bool:
    return b"#" in scope.get("raw_path", b"") or b"#" in scope.get("query_string", b"")


def origin_form(scope: dict[str, Any]) -> dict[str, Any]:
    """The scope of a request sent in absolute form (``POST http://host/v1/chat/completions``,
    which RFC 9112 \u00a73.2.2 says a server must accept) as if sent in origin form: the path alone,
    and the target's host as ``Host`` (the RFC says it wins). Hypercorn passes the target through as
    the path; every route here matches on paths."""
    path: str = scope.get("path", "")
    if path.startswith("/") or "://" not in path:
        return scope
    parts = urlsplit(path)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return scope
    raw = bytes(scope.get("raw_path") or path.encode("latin-1"))
    raw_path = urlsplit(raw).path or b"/"
    headers = [(k, v) for k, v in scope.get("headers", ()) if k.lower() != b"host"]
    host = parts.netloc.rpartition("@")[2]  # never userinfo
    return {
        **scope,
        "path": parts.path or "/",
        "raw_path": raw_path,
        "headers": [(b"host", host.encode("latin-1")), *headers],
    }


def prefixed(scope: dict[str, Any], prefixes: Mapping[str, Sequence[tuple[str, str]]]) -> dict[str, Any]:
    """A request under ``/_matrix/<case>/...`` (``fakellm matrix``) as if sent to ``/...`` with
    the case's headers (``prefixes[case]``: its ``X-FakeLLM-Faults`` and timing) ahead of the
    client's own, which they win over (``header_map`` keeps a header's first value). The client
    needs nothing but a base URL. An unknown case is left alone (a 404)."""
    path: str = scope.get("path", "")
    case, slash, rest = path.removeprefix(MATRIX_PREFIX).partition("/")
    headers = prefixes.get(case) if path.startswith(MATRIX_PREFIX) and slash else None
    if headers is None:
        return scope
    cut = len(MATRIX_PREFIX) + len(case)
    raw = bytes(scope.get("raw_path") or path.encode("latin-1"))
    own = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return {
        **scope,
        "path": f"/{rest}",
        "raw_path": raw[cut:] if raw.startswith(path[:cut].encode("latin-1")) else f"/{rest}".encode(),
        "headers": [*own, *scope.get("headers", ())],
    }


def _stream_status(record: ResumeRecord, fmt: WireFormat, config: ServerConfig) -> dict[str, Any]:
    """``GET /_fakellm/streams/{id}``: where a kept stream stands now (``resume.progress``)."""
    elapsed = clock.now() - record.arrived
    now = progress(record, fmt, elapsed)
    return {
        "id": record.id,
        "object": "fakellm.stream",
        "status": now.status,
        "format": fmt.name,
        "path": record.path,
        "model": record.request.model,
        "scenario": record.scenario.name,
        "seed": record.seed,
        "background": record.background,
        "started_at": record.started,
        "expires_at": record.started + config.resume_ttl_s,
        "elapsed_ms": round(elapsed * 1000, 3),
        "events": now.events,
        "last_event_id": f"{record.id}:{now.events - 1}" if now.events else None,
        "tokens": now.tokens,
        "text": now.text,
        "reasoning": now.reasoning,
        "tool_calls": list(now.tool_calls),
        "finish_reason": now.finish_reason,
        "attempts": list(record.attempts),
    }


def _no_response(response_id: str) -> dict[str, Any]:
    return error_body(f"Response with id '{response_id}' not found.", param="response_id", code=None)


def _scenario(scenario: Scenario, default: bool) -> dict[str, Any]:
    """``GET /_fakellm/scenarios``: what a scenario is, in a line or two."""
    match = scenario.match
    return {
        "name": scenario.name,
        "default": default,
        "match": None
        if match is None
        else {"model": match.model, "prompt": match.prompt, "path": match.path},
        "timing": {"ttft_ms": scenario.timing.ttft_ms, "itl_ms": scenario.timing.itl_ms},
        "seed": scenario.seed,
        "faults": [f.name for f in scenario.faults],
        "tool_calls": [c.name for c in scenario.tool_calls] if not scenario.auto_calls else "auto",
        "reasoning": scenario.reasoning is not None,
        "turns": len(scenario.turns),
        "resumable": scenario.resumable,
        "source": scenario.source,
    }


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1_735_689_600, "owned_by": "fakellm"}


class FakeLLMApp:
    """The ASGI application: Quart, plus what Quart does not do. It serves the chat endpoint itself
    (``endpoint.py``, when ``chat``), starts each request's schedule when the request arrived, and
    drops connections (which ASGI cannot say)."""

    def __init__(self, quart: Quart, state: ServerState, *, chat: bool = False) -> None:
        self.quart = quart
        self.state = state
        self.chat = chat
        self._sends: set[Any] = set()  # the ASGI ``send`` of every request in flight
        # Path prefixes that add headers to the requests under them (``prefixed``: fakellm matrix).
        self.prefixes: dict[str, Sequence[tuple[str, str]]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # When the request arrived: read off the connection where hypercorn lets that be seen
        # (``transport.arrival``), else now. Not after hypercorn has parsed the request and handed
        # it over (under load, tenths of a millisecond that every token would otherwise be late by).
        arrived = arrival(send)
        t0 = clock.now() if arrived is None else arrived
        self._sends.add(send)
        CONNECTION_SEND.set(send)  # for the transport's fast path (this task serves this request only)
        connection = send
        note: RequestNote | None = None
        if scope["type"] == "http":
            # Every request is told to the observer once it is over (observe.py): the status and
            # head time from what is sent, the journal entry from whoever opens one.
            note = RequestNote(t0)
            note.enter()
            send = note.tap(send)
        try:
            if scope["type"] == "http":
                if _has_fragment(scope):
                    await self._refuse_fragment(scope, send)
                    return
                scope = origin_form(scope)
                if self.prefixes:
                    scope = prefixed(scope, self.prefixes)
            http = self.chat and scope["type"] == "http"
            fmt = format_for(scope["path"], scope.get("query_string", b"")) if http else None
            chat_id = resume_chat_id(scope["path"]) if http and scope["method"] == "GET" else None
            streamed = streamed_id(scope) if http else None
            if fmt is not None and scope["method"] == "POST":
                await serve_stream(self.state, fmt, scope, receive, send, t0)
            elif http and scope["path"] == EVENT_SOURCE_PATH and scope["method"] == "GET":
                await serve_event_source(self.state, scope, receive, send, t0)
            elif chat_id is not None:
                await serve_chat_resume(self.state, chat_id, scope, receive, send, t0)
            elif streamed is not None:
                await serve_background_stream(self.state, streamed, scope, receive, send, t0)
            else:
                await self.quart(scope, receive, send)
        except DropConnection as drop:
            # Returning without finishing the body makes hypercorn close the socket with no
            # chunked terminator: the client sees an incomplete body. A deliberate drop is not a
            # server error, so nothing is logged.
            if drop.mode == "rst":
                if reset_connection(connection):
                    # Let the loop finish the abort before hypercorn's own close (uvloop would
                    # otherwise still send its FIN first).
                    await asyncio.sleep(0.005)
                else:
                    log.warning("fakellm: could not reach the socket to reset; dropped with a FIN")
        except Exception as error:
            # A failure after the head was sent (in a stream stage) never reaches an error
            # handler: record it like them, so the plugin fails the test, and drop the connection.
            self.state.internal_error(error, f"streaming {scope.get('path')}")
        finally:
            self._sends.discard(connection)
            if note is not None:
                self.state.observer.answered(note.answered(*self._route(scope)))

    def _route(self, scope: Any) -> tuple[str, str | None]:
        """The route template serving ``scope`` and its wire format, for bounded labels: a
        streamed path as it is, else the Quart rule that matches (``/v1/responses/{response_id}``),
        else ``unmatched``."""
        path = scope.get("path", "")
        fmt = FORMATS.get(path)
        if fmt is not None:
            return path, fmt.name
        try:
            rule, _ = self.quart.url_map.bind("fakellm").match(path, scope.get("method"), return_rule=True)
        except HTTPException:
            return "unmatched", None
        return _CONVERTER.sub(r"{\1}", rule.rule), None

    async def _refuse_fragment(self, scope: Any, send: Any) -> None:
        target = scope.get("raw_path", b"").decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        shown = redact_text(f"{target}?{query}" if query else target)
        message = (
            f"The request target {shown!r} has a fragment ('#...'): clients must not send one "
            "(RFC 9112 \u00a73.2). Leave it out, or percent-encode a literal '#' as %23."
        )
        cors = cors_headers(self.state.config, request_headers(scope), scope.get("method", "GET"))
        head = [*cors, ("x-request-id", f"req_{secrets.token_hex(16)}")]
        await send_json(send, 400, error_body(message, code="invalid_request_target"), head)

    def shutdown_streams(self) -> None:
        self.state.streams.stop_all()

    def abort_connections(self) -> int:
        """Reset the connections of requests still in flight; returns how many were reached.

        For the end of the shutdown grace period: a client that stopped reading holds its stream
        in a socket write that no wake-up reaches, and hypercorn would wait for it forever."""
        aborted = 0
        for send in list(self._sends):
            aborted += reset_connection(send)
        return aborted
