"""Logprobs in the plugin: the recorder's ``logprobs``, checked in a downstream suite
(tests/plugin/downstream/logprobs_suite.py), in both modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import SharedRun


@pytest.mark.xdist_group("plugin-shared-run")
@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_logprobs_suite(shared_run: Callable[[str], SharedRun], mode: str) -> None:
    shared_run(mode).assert_outcomes("logprobs_suite", passed=5)
