"""The request stage: faults that act before any byte of the stream (``http_error``).

Its own module because it yields no events or frames: it turns into a :class:`RequestError` that
the route's wire format renders as its own error body, before the pipeline starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import RequestError, ScenarioError
from .base import Fault, Stage
from .bounds import MAX_DURATION_MS, _duration_ms, _within

_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("invalid_request_error", "The request is invalid (scripted by fakellm).", None),
    401: (
        "invalid_request_error",
        "Incorrect API key provided (scripted by fakellm).",
        "invalid_api_key",
    ),
    403: ("invalid_request_error", "You are not allowed to do this (scripted).", None),
    404: ("invalid_request_error", "The model does not exist (scripted by fakellm).", None),
    408: ("timeout", "Request timed out (scripted by fakellm).", None),
    409: ("invalid_request_error", "Conflict (scripted by fakellm).", None),
    422: ("invalid_request_error", "Unprocessable request (scripted by fakellm).", None),
    429: (
        "requests",
        "Rate limit reached for requests (scripted by fakellm).",
        "rate_limit_exceeded",
    ),
    500: ("server_error", "The server had an error while processing your request.", None),
    502: ("server_error", "Bad gateway (scripted by fakellm).", None),
    503: (
        "server_error",
        "The server is overloaded or not ready yet (scripted by fakellm).",
        None,
    ),
    504: ("timeout", "Gateway timeout (scripted by fakellm).", None),
}


def go_duration(ms: float) -> str:
    """A Go ``time.Duration`` string as OpenAI's ``x-ratelimit-reset-*`` headers use: 17ms, 1s, 6m0s."""
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000.0
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)}m{rest:g}s"
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}h{minutes}m{rest:g}s"


@dataclass(frozen=True, slots=True)
class HttpError(Fault):
    """Answer with an HTTP error before any stream byte, with OpenAI's error body. Rate-limit
    headers only when asked (real 429s often carry none): ``retry_after_s`` → ``Retry-After``,
    ``retry_after_ms`` → ``retry-after-ms``, ``ratelimit`` → the ``x-ratelimit-*`` set,
    ``should_retry`` → ``x-should-retry`` (which overrides the SDKs' status-based retry rule)."""

    name: ClassVar[str] = "http_error"
    stage: ClassVar[Stage] = "request"
    primary: ClassVar[str | None] = "status"

    status: int = 500
    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after_s: float | None = None
    retry_after_ms: float | None = None
    ratelimit: bool = False
    should_retry: bool | None = None

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        if not 400 <= self.status <= 599:
            raise ScenarioError(
                f"must be an HTTP error status (400-599), got {self.status!r}", field="status"
            )
        _within(self.retry_after_s, 0, MAX_DURATION_MS / 1000.0, "retry_after_s", unit=" (24 h)")
        _duration_ms(self.retry_after_ms, "retry_after_ms")

    def error(self) -> RequestError:
        default_type, default_message, default_code = _DEFAULT_ERRORS.get(
            self.status,
            ("server_error" if self.status >= 500 else "invalid_request_error", "Error.", None),
        )
        headers: dict[str, str] = {}
        if self.retry_after_s is not None:
            headers["retry-after"] = f"{self.retry_after_s:g}"
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = f"{self.retry_after_ms:g}"
        if self.should_retry is not None:
            headers["x-should-retry"] = "true" if self.should_retry else "false"
        if self.ratelimit:
            reset_ms = (
                self.retry_after_ms
                if self.retry_after_ms is not None
                else (self.retry_after_s if self.retry_after_s is not None else 1.0) * 1000.0
            )
            headers.update(
                {
                    "x-ratelimit-limit-requests": "3500",
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": go_duration(reset_ms),
                    "x-ratelimit-limit-tokens": "90000",
                    "x-ratelimit-remaining-tokens": "0",
                    "x-ratelimit-reset-tokens": go_duration(reset_ms * 360),
                }
            )
        return RequestError(
            self.status,
            self.message or default_message,
            type=self.type or default_type,
            code=self.code if self.code is not None else default_code,
            param=self.param,
            headers=headers,
        )
