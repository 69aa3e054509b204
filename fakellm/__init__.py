"""fakellm: a fake LLM API that streams like the real one, and fails on cue.

The public names are loaded on first use (PEP 562): the pytest plugin imports this package in every
pytest run of a project that has fakellm installed, and the server stack (quart, hypercorn, faker)
would cost that run most of a second even when no test uses fakellm.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import ServerConfig
    from .errors import FakeLLMError, FaultSpecError, RequestError, ScenarioError
    from .faults import (
        AccelBuffering,
        Bandwidth,
        Buffer,
        Drop,
        ErrorEvent,
        Fault,
        Fragment,
        HttpError,
        Latency,
        MalformedChunk,
        SlowTokens,
        Sse,
        Stall,
        Truncate,
        parse_fault_spec,
    )
    from .inprocess import InProcess, StreamingASGITransport
    from .journal import Journal, JournalEntry
    from .proxy import ProxyServer
    from .record import Recording, load_recording
    from .scenario import Match, Scenario, Timing, scenario_from_dict
    from .scenario_files import load_scenario_files
    from .server import Server
    from .wire.sse import ServerSentEvent, SSEDecoder

try:
    __version__ = version("fakellm")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

# public name -> the module that defines it (the same imports as the TYPE_CHECKING block above,
# which tests/plugin/test_plugin_load.py keeps in step with this table)
_WHERE = {
    "ServerConfig": ".config",
    **dict.fromkeys(("FakeLLMError", "FaultSpecError", "RequestError", "ScenarioError"), ".errors"),
    **dict.fromkeys(
        (
            "AccelBuffering",
            "Bandwidth",
            "Buffer",
            "Drop",
            "ErrorEvent",
            "Fault",
            "Fragment",
            "HttpError",
            "Latency",
            "MalformedChunk",
            "SlowTokens",
            "Sse",
            "Stall",
            "Truncate",
            "parse_fault_spec",
        ),
        ".faults",
    ),
    **dict.fromkeys(("InProcess", "StreamingASGITransport"), ".inprocess"),
    **dict.fromkeys(("Journal", "JournalEntry"), ".journal"),
    "ProxyServer": ".proxy",
    **dict.fromkeys(("Recording", "load_recording"), ".record"),
    **dict.fromkeys(("Match", "Scenario", "Timing", "scenario_from_dict"), ".scenario"),
    "load_scenario_files": ".scenario_files",
    "Server": ".server",
    **dict.fromkeys(("ServerSentEvent", "SSEDecoder"), ".wire.sse"),
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'fakellm' has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value  # once loaded, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "AccelBuffering",
    "Bandwidth",
    "Buffer",
    "Drop",
    "ErrorEvent",
    "FakeLLMError",
    "Fault",
    "FaultSpecError",
    "Fragment",
    "HttpError",
    "InProcess",
    "Journal",
    "JournalEntry",
    "Latency",
    "MalformedChunk",
    "Match",
    "ProxyServer",
    "Recording",
    "RequestError",
    "SSEDecoder",
    "Scenario",
    "ScenarioError",
    "Server",
    "ServerConfig",
    "ServerSentEvent",
    "SlowTokens",
    "Sse",
    "Stall",
    "StreamingASGITransport",
    "Timing",
    "Truncate",
    "__version__",
    "load_recording",
    "load_scenario_files",
    "parse_fault_spec",
    "scenario_from_dict",
]
