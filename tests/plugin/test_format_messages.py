"""Assertion messages on Responses and Anthropic recordings, sync and async, in each format's own
terms: checked inside a downstream suite (tests/plugin/downstream/format_messages_suite.py), in
both modes (in process, the drop and the error event reach the SDKs through the plugin's transport)."""

from __future__ import annotations

import pytest

from .helpers import run_suite


@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_format_messages_suite(pytester: pytest.Pytester, mode: str) -> None:
    result = run_suite(pytester, "format_messages_suite", f"--fakellm-mode={mode}")
    result.assert_outcomes(passed=16)
