"""Assertion messages on Responses and Anthropic recordings, sync and async, in each format's own
terms: checked inside a downstream suite (tests/plugin/downstream/format_messages_suite.py)."""

from __future__ import annotations

import pytest

from .helpers import run_suite


def test_format_messages_suite(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "format_messages_suite")
    result.assert_outcomes(passed=16)
