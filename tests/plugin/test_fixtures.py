"""The fixtures, marker, journal and recorder, run as a downstream suite in both modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import SharedRun


@pytest.mark.xdist_group("plugin-shared-run")
@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_fixtures_suite(shared_run: Callable[[str], SharedRun], mode: str) -> None:
    result = shared_run(mode)  # run with --fakellm-seed=1234 (SHARED_SEED)
    result.stdout.fnmatch_lines([f"fakellm: seed 1234 (replay with --fakellm-seed 1234), mode {mode}"])
    result.assert_outcomes("fixtures_suite", passed=17)
