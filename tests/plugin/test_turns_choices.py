"""Conversations (``turns=``) in script() and the marker, and the recorder's ``choices``, checked
in a downstream suite (tests/plugin/downstream/turns_choices_suite.py), in both modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import SharedRun


@pytest.mark.xdist_group("plugin-shared-run")
@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_turns_choices_suite(shared_run: Callable[[str], SharedRun], mode: str) -> None:
    shared_run(mode).assert_outcomes("turns_choices_suite", passed=18)
