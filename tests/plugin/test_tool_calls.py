"""Tool calls in the plugin: the recorder's ``tool_calls`` and ``assert_tool_calls``, checked in a
downstream suite (tests/plugin/downstream/tool_calls_suite.py), in both modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import SharedRun


@pytest.mark.xdist_group("plugin-shared-run")
@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_tool_calls_suite(shared_run: Callable[[str], SharedRun], mode: str) -> None:
    shared_run(mode).assert_outcomes("tool_calls_suite", passed=10)
