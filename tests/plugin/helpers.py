"""Running a downstream test suite in a pytest subprocess, as a user's suite would run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import UNUSED_PLUGINS

DOWNSTREAM = Path(__file__).parent / "downstream"

INI = """
[pytest]
asyncio_mode = {asyncio_mode}
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


def run_suite(
    pytester: pytest.Pytester,
    suite: str,
    *args: str,
    asyncio_mode: str = "strict",
    name: str | None = None,
) -> pytest.RunResult:
    """Copy ``downstream/<suite>.py`` in as a test file and run it in a subprocess (the plugin is
    loaded through its ``pytest11`` entry point, as in a user's project)."""
    pytester.makeini(INI.format(asyncio_mode=asyncio_mode))
    source = (DOWNSTREAM / f"{suite}.py").read_text()
    pytester.makepyfile(**{name or f"test_{suite}": source})
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *UNUSED_PLUGINS, "-rA", *args, timeout=120)
