"""Assertion messages that cannot contradict the script, and record()/arecord() given the wrong
kind of iterable: checked inside a downstream suite (tests/plugin/downstream/messages_suite.py)."""

from __future__ import annotations

import pytest

from .helpers import run_suite


def test_messages_suite(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "messages_suite")
    result.assert_outcomes(passed=10)
