"""The Quart application: routes, CORS, OpenAI-shaped errors, and the ASGI wrapper that can drop
a connection.

Every response, error or not, goes through :func:`_cors`; every error a client can cause is a
:class:`RequestError` rendered by :func:`fakellm.errors.error_body`; anything else is a 500 in the
same shape, logged with its traceback on the server side and remembered in
``state.internal_errors`` (the pytest plugin fails the test on it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
import traceback
from collections import deque
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from . import clock
from .config import ServerConfig
from .errors import FaultSpecError, RequestError, error_body
from .faults import Fault, parse_fault_spec
from .journal import Journal, JournalEntry, redact_headers
from .pipeline import FaultCounters, plan_stream, prompt_of
from .scenario import Scenario, ScenarioBook, Timing, load_scenario_files
from .transport import CONNECTION_SEND, ActiveStreams, DropConnection, arrival, reset_connection
from .wire.openai import parse_chat_request

__all__ = ["FakeLLMApp", "ServerState", "create_app", "new_quart", "open_entry"]

log = logging.getLogger("fakellm")

# When the request arrived (``clock.now``), set by the ASGI wrapper: read off the connection where
# hypercorn lets that be seen (``transport.arrival``), else when the app was called. A stream's
# schedule starts there, not after hypercorn and Quart have parsed the request and dispatched it to
# the route (under load, tenths of a millisecond that every token would otherwise be late by).
_ARRIVED: ContextVar[float] = ContextVar("fakellm_arrived")

SCENARIO_HEADER = "X-FakeLLM-Scenario"
SEED_HEADER = "X-FakeLLM-Seed"
FAULTS_HEADER = "X-FakeLLM-Faults"
TTFT_HEADER = "X-FakeLLM-TTFT-Ms"
ITL_HEADER = "X-FakeLLM-ITL-Ms"

EXPOSED_HEADERS = (
    "x-request-id, openai-processing-ms, openai-version, retry-after, retry-after-ms, "
    "x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, "
    "x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens, "
    "x-should-retry, x-fakellm-scenario, x-fakellm-seed"
)
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"


class ServerState:
    """What a running server knows: its scenarios, journal, fault counters and live streams.
    The pytest plugin scripts a test by swapping ``book`` and ``sequence`` (see ``script``)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        loaded = load_scenario_files(config.scenario_paths) if config.scenario_paths else []
        self.base_scenarios: list[Scenario] = [*loaded, *config.scenarios]
        self.book = ScenarioBook(self.base_scenarios)
        self.sequence: deque[Scenario] = deque()  # served in order, before any other rule
        self.global_faults: tuple[Fault, ...] = config.faults
        self.journal = Journal(config.journal_size)
        self.counters = FaultCounters()
        self.streams = ActiveStreams()
        self.internal_errors: list[str] = []
        self._lock = threading.Lock()

    # -- scripting (used by the pytest plugin and fakellm.Server) --------------------------------
    def script(
        self,
        scenarios: Sequence[Scenario],
        *,
        sequence: bool = False,
        default: Scenario | None = None,
    ) -> None:
        """Serve ``scenarios`` from now on: as extra scenarios chosen by the usual rules (the
        first one without a ``match`` becomes the default), or with ``sequence`` one per request,
        in order, and ``default`` (else the server's own) after the last."""
        with self._lock:
            self.counters.clear()
            if sequence:
                self.sequence = deque(scenarios)
                self.book = ScenarioBook(self.base_scenarios, default=default)
                return
            self.sequence = deque()
            default = next((s for s in scenarios if s.match is None), None)
            self.book = ScenarioBook(
                [*self.base_scenarios, *scenarios],
                default=replace(default, name="default") if default is not None else None,
            )

    def reset(self) -> None:
        with self._lock:
            self.book = ScenarioBook(self.base_scenarios)
            self.sequence = deque()
            self.counters.clear()
            self.internal_errors.clear()
        self.journal.clear()

    def select(self, header: str | None, model: str, prompt: str) -> Scenario:
        with self._lock:
            if header is None and self.sequence:
                return self.sequence.popleft()
            return self.book.select(header, model, prompt)


def _int_header(name: str, *, minimum: int | None = None) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise RequestError(400, f"{name} must be an integer, got {raw!r}.", param=name) from None
    if minimum is not None and value < minimum:
        raise RequestError(400, f"{name} must be >= {minimum}, got {value}.", param=name)
    return value


def _float_header(name: str) -> float | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise RequestError(
            400, f"{name} must be a number of milliseconds, got {raw!r}.", param=name
        ) from None
    if not value >= 0 or value == float("inf"):
        raise RequestError(400, f"{name} must be >= 0, got {raw!r}.", param=name)
    return value


def _header_faults() -> list[Fault]:
    raw = request.headers.get(FAULTS_HEADER)
    if raw is None:
        return []
    try:
        return parse_fault_spec(raw)
    except FaultSpecError as exc:
        raise RequestError(
            400,
            f"Bad {FAULTS_HEADER} header: {exc}",
            param=FAULTS_HEADER,
            code="invalid_fault_spec",
        ) from None


def _timing(scenario: Scenario) -> Timing:
    ttft = _float_header(TTFT_HEADER)
    itl = _float_header(ITL_HEADER)
    timing = scenario.timing
    if ttft is not None:
        timing = replace(timing, ttft_ms=ttft, ttft_jitter_ms=0.0)
    if itl is not None:
        timing = replace(timing, itl_ms=itl)
    return timing


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers or {},
    )


def open_entry(state: ServerState) -> JournalEntry:
    """The journal entry of the request being served (its status is set once it is known)."""
    return state.journal.open(
        time=time.time(),
        method=request.method,
        path=request.path,
        status=0,
        headers=redact_headers(request.headers.items()),
    )


def new_quart(name: str, state: ServerState, *, health: Mapping[str, Any] | None = None) -> Quart:
    """A Quart app with what every fakellm app does the same way (the server, and the proxy in
    ``proxy.py``): CORS on every response, preflights, request bodies read, OpenAI-shaped errors,
    and the ``/_fakellm`` control routes (``health`` adds fields to the health answer)."""
    config = state.config
    quart = Quart(name)
    quart.config["RESPONSE_TIMEOUT"] = None  # streams may be long; Quart would cut them at 60 s
    quart.config["BODY_TIMEOUT"] = 60
    quart.config["PROVIDE_AUTOMATIC_OPTIONS"] = False

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
            # (APIStatusError.request_id); a stream sets its own, seeded one.
            response.headers["x-request-id"] = f"req_{secrets.token_hex(16)}"
        origin = request.headers.get("Origin")
        allowed = config.cors_origins
        if "*" in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin or "*"
        elif origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
        if origin:
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            requested = request.headers.get("Access-Control-Request-Headers")
            # Echo what was asked for: "*" does not cover Authorization, and the openai SDK in a
            # browser adds x-stainless-* headers that no fixed list would know.
            response.headers["Access-Control-Allow-Headers"] = requested or (
                "authorization, content-type, x-fakellm-scenario, x-fakellm-seed, "
                "x-fakellm-faults, x-fakellm-ttft-ms, x-fakellm-itl-ms"
            )
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    @quart.errorhandler(RequestError)
    async def _request_error(error: RequestError) -> Response:
        return _json(error.body(), error.status, error.headers)

    @quart.errorhandler(HTTPException)
    async def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status == 404:
            message = (
                f"Unknown request URL: {request.method} {request.path}. Please check the URL for "
                "typos, or see the docs at https://platform.openai.com/docs/api-reference/."
            )
            return _json(error_body(message, code="unknown_url"), 404)
        if status == 405:
            message = f"Method {request.method} is not allowed for {request.path}."
            return _json(error_body(message, code="method_not_allowed"), 405)
        if status == 413:
            return _json(error_body("The request body is too large.", code="request_too_large"), 413)
        return _json(error_body(error.description or error.name), status)

    @quart.errorhandler(Exception)
    async def _internal_error(error: Exception) -> Response:
        text = "".join(traceback.format_exception(error))
        state.internal_errors.append(text)
        log.error("fakellm internal error while serving %s %s\n%s", request.method, request.path, text)
        return _json(
            error_body("The fake server hit an internal error (see its log).", type="server_error"),
            500,
        )

    @quart.get("/_fakellm/journal")
    async def get_journal() -> Response:
        return _json(state.journal.as_json())

    @quart.delete("/_fakellm/journal")
    async def clear_journal() -> Response:
        state.journal.clear()
        return Response("", status=204)

    @quart.get("/_fakellm/health")
    async def get_health() -> Response:
        return _json({"status": "ok", "streams": len(state.streams), **(health or {})})

    return quart


def create_app(config: ServerConfig | None = None) -> FakeLLMApp:
    config = config or ServerConfig()
    state = ServerState(config)
    quart = new_quart("fakellm", state)

    @quart.post("/v1/chat/completions")
    async def chat_completions() -> Response:
        t0 = _ARRIVED.get(clock.now())
        entry = open_entry(state)
        try:
            raw = await request.get_data()
            chat = parse_chat_request(raw if isinstance(raw, bytes) else raw.encode())
            entry.request = chat.body
            entry.model = chat.model
            entry.stream = chat.stream
            header_seed = _int_header(SEED_HEADER, minimum=0)
            extra = _header_faults()
            scenario = state.select(request.headers.get(SCENARIO_HEADER), chat.model, prompt_of(chat))
            entry.scenario = scenario.name
            timing = _timing(scenario)
            plan = plan_stream(
                chat,
                scenario,
                server_seed=config.seed,
                header_seed=header_seed,
                global_faults=state.global_faults,
                extra_faults=extra,
                extra_scope=f"header:{request.headers.get(FAULTS_HEADER, '')}",
                timing=timing,
                counters=state.counters,
                now=time.time(),
            )
        except RequestError as exc:
            entry.status = exc.status
            entry.outcome = "rejected"
            entry.error = exc.body()["error"]
            raise
        entry.seed = plan.seed
        entry.request_id = plan.request_id
        headers = {
            "x-request-id": plan.request_id,
            "openai-version": "2020-10-01",
            "openai-processing-ms": str(int(plan.timing.ttft_ms)),
            "x-fakellm-scenario": scenario.name,
            "x-fakellm-seed": str(plan.seed),
        }
        if plan.http_error is not None:
            error = plan.http_error
            entry.status = error.status
            entry.outcome = "http_error"
            entry.error = error.body()["error"]
            entry.faults = list(plan.ctx.fired)
            entry.duration_ms = round((clock.now() - t0) * 1000.0, 3)
            return _json(error.body(), error.status, {**headers, **error.headers})
        entry.status = 200
        if not chat.stream:
            try:
                due = await state.streams.sleep_until(t0 + plan.completion_delay())
            except asyncio.CancelledError:  # Quart cancels the handler when the client goes away
                entry.outcome = "client_disconnected"
                entry.duration_ms = round((clock.now() - t0) * 1000.0, 3)
                raise
            if not due:
                entry.status = 503
                entry.outcome = "server_shutdown"
                entry.duration_ms = round((clock.now() - t0) * 1000.0, 3)
                message = "The server is shutting down; the answer was not finished."
                return _json(error_body(message, type="server_error"), 503, headers)
            body = plan.completion()
            entry.tokens_sent = len(plan.tokens)
            entry.text_parts = ["".join(plan.tokens)]
            entry.outcome = "completed"
            entry.faults = list(plan.ctx.fired)
            entry.duration_ms = round((clock.now() - t0) * 1000.0, 3)
            response = _json(body, 200, headers)
            # The whole answer goes out at once: its first byte is its last.
            entry.first_byte_ms = entry.first_token_ms = entry.duration_ms
            entry.bytes_sent = len(await response.get_data())
            return response
        response = Response(
            state.streams.send(plan.frames(), plan.ctx, entry, t0),
            status=200,
            content_type=plan.encoder.content_type,
            # A replayed recording answers with the recorded headers too (fakellm's own win).
            headers={
                **(plan.source.headers if plan.source is not None else {}),
                **headers,
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            },
        )
        response.timeout = None  # Quart's default would cut the stream at 60 s
        return response

    @quart.get("/v1/models")
    async def list_models() -> Response:
        return _json({"object": "list", "data": [_model(n) for n in state.book.names()]})

    @quart.get("/v1/models/<path:model_id>")
    async def get_model(model_id: str) -> Response:
        if model_id not in state.book.names():
            raise RequestError(
                404,
                f"The model '{model_id}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        return _json(_model(model_id))

    return FakeLLMApp(quart, state)


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1_735_689_600, "owned_by": "fakellm"}


class FakeLLMApp:
    """The ASGI application: Quart, plus the one thing ASGI cannot say (drop the connection)."""

    def __init__(self, quart: Quart, state: ServerState) -> None:
        self.quart = quart
        self.state = state
        self._sends: set[Any] = set()  # the ASGI ``send`` of every request in flight

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self._sends.add(send)
        # This task serves this request only.
        arrived = arrival(send)
        _ARRIVED.set(clock.now() if arrived is None else arrived)
        CONNECTION_SEND.set(send)  # for the transport's fast path
        try:
            await self.quart(scope, receive, send)
        except DropConnection as drop:
            # Returning without finishing the body makes hypercorn close the socket with no
            # chunked terminator: the client sees an incomplete body. A deliberate drop is not a
            # server error, so nothing is logged.
            if drop.mode == "rst":
                if reset_connection(send):
                    # Let the loop finish the abort before hypercorn's own close (uvloop would
                    # otherwise still send its FIN first).
                    await asyncio.sleep(0.005)
                else:
                    log.warning("fakellm: could not reach the socket to reset; dropped with a FIN")
        except Exception as error:
            # A failure after the head was sent (in a stream stage) never reaches Quart's error
            # handlers: record it like them, so the plugin fails the test, and drop the connection.
            text = "".join(traceback.format_exception(error))
            self.state.internal_errors.append(text)
            log.error("fakellm internal error while streaming %s\n%s", scope.get("path"), text)
        finally:
            self._sends.discard(send)

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
