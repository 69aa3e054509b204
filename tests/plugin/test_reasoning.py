"""Reasoning in the plugin: ``script(reasoning=)``, the marker, the recorder's ``reasoning``,
checked in a downstream suite (tests/plugin/downstream/reasoning_suite.py), in both modes."""

from __future__ import annotations

import pytest

from .helpers import run_suite


@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_reasoning_suite(pytester: pytest.Pytester, mode: str) -> None:
    result = run_suite(pytester, "reasoning_suite", f"--fakellm-mode={mode}")
    result.assert_outcomes(passed=5)
