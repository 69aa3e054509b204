"""fakellm: a fake LLM API that streams like the real one, and fails on cue."""

from importlib.metadata import PackageNotFoundError, version

from .config import ServerConfig
from .errors import FakeLLMError, FaultSpecError, RequestError, ScenarioError
from .faults import (
    Bandwidth,
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
from .scenario import Match, Scenario, Timing, load_scenario_files, scenario_from_dict
from .server import Server
from .wire.sse import ServerSentEvent, SSEDecoder

try:
    __version__ = version("fakellm")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Bandwidth",
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
