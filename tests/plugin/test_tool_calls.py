"""Tool calls in the plugin: the recorder's ``tool_calls`` and ``assert_tool_calls``, checked in a
downstream suite (tests/plugin/downstream/tool_calls_suite.py), in both modes."""

from __future__ import annotations

import pytest

from .helpers import run_suite


@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_tool_calls_suite(pytester: pytest.Pytester, mode: str) -> None:
    result = run_suite(pytester, "tool_calls_suite", f"--fakellm-mode={mode}")
    result.assert_outcomes(passed=10)
