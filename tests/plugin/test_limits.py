"""Limits and stop sequences in the plugin: ``fakellm.script()``'s refusal of a contradicting
scenario, and the recorder and journal text after a stop sequence or a limit, checked in a
downstream suite (tests/plugin/downstream/limits_suite.py), in both modes."""

from __future__ import annotations

import pytest

from .helpers import run_suite


@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_limits_suite(pytester: pytest.Pytester, mode: str) -> None:
    result = run_suite(pytester, "limits_suite", f"--fakellm-mode={mode}")
    result.assert_outcomes(passed=5)
