"""pytest-fakellm: a fake LLM for your test suite, and assertions that say what your streaming
code got wrong.

The fixtures (``fakellm``, ``fakellm_inprocess``, ``fakellm_server``), the marker
``@pytest.mark.fakellm(...)`` and the options ``--fakellm-seed`` / ``--fakellm-mode`` come with
``pip install fakellm`` (the ``pytest11`` entry point loads :mod:`pytest_fakellm.plugin`). Import
the rest from here.

pytest imports this package in every run (it is the plugin's parent), so the names are loaded on
first use (PEP 562), not here: a suite with no fakellm test pays nothing for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fakellm import __version__  # one distribution ships both packages

if TYPE_CHECKING:
    from .assertions import (
        assert_accumulated,
        assert_error_event,
        assert_stream_completed,
        assert_tool_calls,
        assert_ttft,
    )
    from .handle import FakeLLM, MarkerOptions, ScriptOptions
    from .recording import RecordedChoice, RecordedToolCall, StreamRecording, arecord, record

# public name -> the module that defines it (kept in step with the block above by
# tests/plugin/test_plugin_load.py)
_WHERE = {
    **dict.fromkeys(
        (
            "assert_accumulated",
            "assert_error_event",
            "assert_stream_completed",
            "assert_tool_calls",
            "assert_ttft",
        ),
        ".assertions",
    ),
    **dict.fromkeys(("FakeLLM", "MarkerOptions", "ScriptOptions"), ".handle"),
    **dict.fromkeys(
        ("RecordedChoice", "RecordedToolCall", "StreamRecording", "arecord", "record"), ".recording"
    ),
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'pytest_fakellm' has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value  # once loaded, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "FakeLLM",
    "MarkerOptions",
    "RecordedChoice",
    "RecordedToolCall",
    "ScriptOptions",
    "StreamRecording",
    "__version__",
    "arecord",
    "assert_accumulated",
    "assert_error_event",
    "assert_stream_completed",
    "assert_tool_calls",
    "assert_ttft",
    "record",
]
