"""The request headers fakellm reads: its own ``X-FakeLLM-*`` instructions, and CORS.

Every reader here takes the request's headers as a mapping by lower-case name: what
:func:`request_headers` makes of an ASGI scope (the chat endpoint, served without Quart), or
:func:`header_map` of Quart's ``request.headers`` (the other routes, the proxy). Errors a client can
cause are :class:`~fakellm.errors.RequestError`, naming the header as ``param``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .config import ServerConfig
from .errors import FaultSpecError, RequestError
from .faults import MAX_DURATION_MS, Fault, parse_fault_spec
from .scenario import MAX_SEED, Scenario, Timing

__all__ = [
    "ALLOWED_METHODS",
    "EXPOSED_HEADERS",
    "FAULTS_HEADER",
    "ITL_HEADER",
    "RESUMABLE_HEADER",
    "SCENARIO_HEADER",
    "SEED_HEADER",
    "TTFT_HEADER",
    "Headers",
    "Instructions",
    "cors_headers",
    "float_header",
    "header_faults",
    "header_map",
    "instructions",
    "int_header",
    "request_headers",
    "timing_for",
]

Headers = Mapping[str, str]
"""Request headers that answer lower-case names."""

SCENARIO_HEADER = "X-FakeLLM-Scenario"
SEED_HEADER = "X-FakeLLM-Seed"
FAULTS_HEADER = "X-FakeLLM-Faults"
TTFT_HEADER = "X-FakeLLM-TTFT-Ms"
ITL_HEADER = "X-FakeLLM-ITL-Ms"
RESUMABLE_HEADER = "X-FakeLLM-Resumable"

EXPOSED_HEADERS = (
    "x-request-id, openai-processing-ms, openai-version, retry-after, retry-after-ms, "
    "x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, "
    "x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens, "
    "x-should-retry, x-fakellm-scenario, x-fakellm-seed, x-accel-buffering, x-fakellm-worker"
)
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
_DEFAULT_ALLOWED_HEADERS = (
    "authorization, content-type, x-fakellm-scenario, x-fakellm-seed, "
    "x-fakellm-faults, x-fakellm-ttft-ms, x-fakellm-itl-ms, x-fakellm-resumable, last-event-id"
)


def request_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """An ASGI scope's headers by (lower-case) name."""
    return header_map((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", ()))


def header_map(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers by lower-case name; a repeated header keeps its first value, as Quart's
    ``request.headers.get`` does."""
    headers: dict[str, str] = {}
    for name, value in items:
        headers.setdefault(name.lower(), value)
    return headers


def int_header(
    headers: Headers, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    raw = headers.get(name.lower())
    if raw is None:
        return None
    text = raw.strip()
    # Digits and a sign only: int() would also take "1_000" and non-ASCII digits, and past 4300
    # digits raises an error of its own; no header takes more than 19 digits.
    digits = text[1:] if text.startswith(("+", "-")) else text
    if not digits.isascii() or not digits.isdigit():
        raise RequestError(400, f"{name} must be an integer, got {raw!r}.", param=name)
    if len(digits.lstrip("0")) > 19:
        raise RequestError(400, f"{name} must be <= {maximum}, got {text[:24]}....", param=name)
    value = int(text)
    if minimum is not None and value < minimum:
        raise RequestError(400, f"{name} must be >= {minimum}, got {value}.", param=name)
    if maximum is not None and value > maximum:
        raise RequestError(400, f"{name} must be <= {maximum}, got {value}.", param=name)
    return value


def float_header(headers: Headers, name: str, *, maximum: float = MAX_DURATION_MS) -> float | None:
    """A duration in milliseconds: finite, 0 to ``maximum`` (24 h)."""
    raw = headers.get(name.lower())
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
    if value > maximum:
        # A larger one passes validation only to overflow the stream's deadline mid-stream.
        raise RequestError(400, f"{name} must be <= {maximum:.12g} (24 h), got {raw!r}.", param=name)
    return value


def header_faults(headers: Headers) -> list[Fault]:
    raw = headers.get(FAULTS_HEADER.lower())
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


@dataclass(frozen=True, slots=True)
class Instructions:
    """What a request's ``X-FakeLLM-*`` headers ask of its stream, validated."""

    scenario: str | None  # X-FakeLLM-Scenario
    seed: int | None  # X-FakeLLM-Seed
    faults: tuple[Fault, ...]  # X-FakeLLM-Faults
    # The faults' scope for their counters (``times``): requests with the same header share one.
    fault_scope: str
    resumable: bool | None = None  # X-FakeLLM-Resumable: 1 or 0 (None: the scenario decides)


def instructions(headers: Headers) -> Instructions:
    """The served and the proxied streams read them the same way (``endpoint.py``, ``proxy.py``)."""
    seed = int_header(headers, SEED_HEADER, minimum=0, maximum=MAX_SEED)
    faults = tuple(header_faults(headers))
    return Instructions(
        scenario=headers.get(SCENARIO_HEADER.lower()),
        seed=seed,
        faults=faults,
        fault_scope=f"header:{headers.get(FAULTS_HEADER.lower(), '')}",
        resumable=_switch(headers, RESUMABLE_HEADER),
    )


def _switch(headers: Headers, name: str) -> bool | None:
    """A header that turns something on (``1``, ``true``) or off (``0``, ``false``)."""
    raw = headers.get(name.lower())
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise RequestError(400, f"{name} must be 1 or 0 (or true or false), got {raw[:40]!r}.", param=name)


def timing_for(headers: Headers, scenario: Scenario) -> Timing:
    """The scenario's timing, with ``X-FakeLLM-TTFT-Ms`` / ``X-FakeLLM-ITL-Ms`` applied (a TTFT
    given by header has no jitter)."""
    ttft = float_header(headers, TTFT_HEADER)
    itl = float_header(headers, ITL_HEADER)
    if ttft is None and itl is None:
        return scenario.timing
    timing = scenario.timing
    if ttft is not None:
        timing = replace(timing, ttft_ms=ttft, ttft_jitter_ms=0.0)
    if itl is not None:
        timing = replace(timing, itl_ms=itl)
    return timing


def cors_headers(config: ServerConfig, headers: Headers, method: str) -> list[tuple[str, str]]:
    """The CORS headers of an answer to a request with ``headers``: on every answer, and the
    preflight's own on an ``OPTIONS``."""
    out: list[tuple[str, str]] = []
    origin = headers.get("origin")
    allowed = config.cors_origins
    if "*" in allowed:
        out.append(("Access-Control-Allow-Origin", origin or "*"))
    elif origin in allowed:
        out.append(("Access-Control-Allow-Origin", origin))
    if origin:
        out.append(("Vary", "Origin"))
        out.append(("Access-Control-Allow-Credentials", "true"))
    out.append(("Access-Control-Expose-Headers", EXPOSED_HEADERS))
    if config.worker is not None:
        # Here because every answer, Quart's and endpoint.py's, carries these headers.
        out.append(("X-FakeLLM-Worker", config.worker))
    if method == "OPTIONS":
        out.append(("Access-Control-Allow-Methods", ALLOWED_METHODS))
        # Echo what was asked for: "*" does not cover Authorization, and the openai SDK in a
        # browser adds x-stainless-* headers that no fixed list would know.
        requested = headers.get("access-control-request-headers")
        out.append(("Access-Control-Allow-Headers", requested or _DEFAULT_ALLOWED_HEADERS))
        out.append(("Access-Control-Max-Age", "600"))
    return out
