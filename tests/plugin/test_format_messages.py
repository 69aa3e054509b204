"""Assertion messages on Responses and Anthropic recordings, sync and async, in each format's own
terms: checked inside a downstream suite (tests/plugin/downstream/format_messages_suite.py), in
both modes (in process, the drop and the error event reach the SDKs through the plugin's transport)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import SharedRun


@pytest.mark.xdist_group("plugin-shared-run")
@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_format_messages_suite(shared_run: Callable[[str], SharedRun], mode: str) -> None:
    shared_run(mode).assert_outcomes("format_messages_suite", passed=16)
