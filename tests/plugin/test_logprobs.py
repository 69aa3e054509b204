"""Logprobs in the plugin: the recorder's ``logprobs``, checked in a downstream suite
(tests/plugin/downstream/logprobs_suite.py), in both modes."""

from __future__ import annotations

import pytest

from .helpers import run_suite


@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_logprobs_suite(pytester: pytest.Pytester, mode: str) -> None:
    result = run_suite(pytester, "logprobs_suite", f"--fakellm-mode={mode}")
    result.assert_outcomes(passed=5)
