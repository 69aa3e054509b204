"""pytest-fakellm: a fake LLM for your test suite, and assertions that say what your streaming
code got wrong.

The fixtures (``fakellm``, ``fakellm_inprocess``, ``fakellm_server``), the marker
``@pytest.mark.fakellm(...)`` and the options ``--fakellm-seed`` / ``--fakellm-mode`` come with
``pip install fakellm`` (the ``pytest11`` entry point loads :mod:`pytest_fakellm.plugin`). Import
the rest from here.
"""

from fakellm import __version__  # one distribution ships both packages

from .assertions import assert_accumulated, assert_error_event, assert_stream_completed, assert_ttft
from .handle import FakeLLM, MarkerOptions, ScriptOptions
from .recording import StreamRecording, arecord, record

__all__ = [
    "FakeLLM",
    "MarkerOptions",
    "ScriptOptions",
    "StreamRecording",
    "__version__",
    "arecord",
    "assert_accumulated",
    "assert_error_event",
    "assert_stream_completed",
    "assert_ttft",
    "record",
]
