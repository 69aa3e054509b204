"""Conversations (``turns=``) in script() and the marker, and the recorder's ``choices``, checked
in a downstream suite (tests/plugin/downstream/turns_choices_suite.py), in both modes."""

from __future__ import annotations

import pytest

from .helpers import run_suite


@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_turns_choices_suite(pytester: pytest.Pytester, mode: str) -> None:
    result = run_suite(pytester, "turns_choices_suite", f"--fakellm-mode={mode}")
    result.assert_outcomes(passed=18)
