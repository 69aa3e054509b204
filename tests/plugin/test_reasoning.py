"""Reasoning in the plugin: ``script(reasoning=)``, the marker, the recorder's ``reasoning``,
checked in a downstream suite (tests/plugin/downstream/reasoning_suite.py), in both modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import SharedRun


@pytest.mark.xdist_group("plugin-shared-run")
@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_reasoning_suite(shared_run: Callable[[str], SharedRun], mode: str) -> None:
    shared_run(mode).assert_outcomes("reasoning_suite", passed=5)
