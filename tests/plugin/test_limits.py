"""Limits and stop sequences in the plugin: ``fakellm.script()``'s refusal of a contradicting
scenario, and the recorder and journal text after a stop sequence or a limit, checked in a
downstream suite (tests/plugin/downstream/limits_suite.py), in both modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import SharedRun


@pytest.mark.xdist_group("plugin-shared-run")
@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_limits_suite(shared_run: Callable[[str], SharedRun], mode: str) -> None:
    shared_run(mode).assert_outcomes("limits_suite", passed=5)
