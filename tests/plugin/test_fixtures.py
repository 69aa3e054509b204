"""The fixtures, marker, journal and recorder, run as a downstream suite in both modes."""

from __future__ import annotations

import pytest

from .helpers import run_suite


@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_fixtures_suite(pytester: pytest.Pytester, mode: str) -> None:
    result = run_suite(pytester, "fixtures_suite", f"--fakellm-mode={mode}", "--fakellm-seed=1234")
    result.stdout.fnmatch_lines([f"fakellm: seed 1234 (replay with --fakellm-seed 1234), mode {mode}"])
    result.assert_outcomes(passed=17)
