"""Errors raised by fakellm, and the one function that turns an error into OpenAI's wire shape.

    FakeLLMError
    ├── ScenarioError        a scenario (file or scripted) is invalid: names file, line, scenario, field
    ├── FaultSpecError       an ``X-FakeLLM-Faults`` header or ``--faults`` spec does not parse
    └── RequestError         a client request is invalid; carries the HTTP status and OpenAI error fields

Errors that reach HTTP clients are data: :func:`error_body` builds ``{"error": {...}}`` with all four
keys OpenAI's schema requires (``message``, ``type``, ``param``, ``code``), ``null`` where empty.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FakeLLMError", "FaultSpecError", "RequestError", "ScenarioError", "error_body", "shown"]


def shown(value: object) -> str:
    """``repr(value)`` for an error message, cut to 20 characters and ``...`` when longer than 40:
    a 5000-digit number in a header is not echoed whole (nor is a megabyte of text)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}..."


class FakeLLMError(Exception):
    """Base class of every error fakellm raises on purpose."""


class ScenarioError(FakeLLMError):
    """A scenario is invalid. The message names the file, line, scenario and field when known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        scenario: str | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = message
        self.file = file
        self.line = line
        self.scenario = scenario
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"{self.file}:{self.line}" if self.line is not None else self.file)
        if self.scenario is not None:
            where.append(f"scenario {self.scenario!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class FaultSpecError(FakeLLMError):
    """A compact fault spec does not parse; ``position`` is the character offset of the problem."""

    def __init__(self, message: str, *, spec: str, position: int) -> None:
        self.reason = message
        self.spec = spec
        self.position = position
        super().__init__(f"{message} at character {position + 1} of {spec!r}")


class RequestError(FakeLLMError):
    """A request the server refuses; rendered to the client with :func:`error_body`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, param=self.param, code=self.code)


def error_body(
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """OpenAI's ``ErrorResponse``: all four keys, always present."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}
