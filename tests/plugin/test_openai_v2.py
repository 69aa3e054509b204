"""The plugin with openai 2.x (on httpx): its clients, and in process, the clients the code under
test builds itself (respx routes them). 2.x lives in ``.cache/openai-v2`` (see
tests/e2e/test_openai_v2.py, whose fixture installs it once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.test_openai_v2 import openai_v2_path

from .helpers import run_suite

# With tests/e2e/test_openai_v2.py, whose session fixture installs openai 2.x: one xdist group.
pytestmark = pytest.mark.xdist_group("openai-v2")

__all__ = ["openai_v2_path"]  # the fixture, imported for use here


def test_openai_v2_suite(
    pytester: pytest.Pytester, openai_v2_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(openai_v2_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("PYTHONNOUSERSITE", "1")
    result = run_suite(pytester, "openai_v2_suite")
    result.assert_outcomes(passed=4)
