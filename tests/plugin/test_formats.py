"""The fixture's SDK clients and record() for every streamed format, in both modes."""

from __future__ import annotations

import pytest

from .helpers import run_suite


@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_formats_suite(pytester: pytest.Pytester, mode: str) -> None:
    result = run_suite(pytester, "formats_suite", f"--fakellm-mode={mode}")
    result.assert_outcomes(passed=6)
