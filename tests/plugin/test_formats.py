"""The fixture's SDK clients and record() for every streamed format, in both modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import SharedRun


@pytest.mark.xdist_group("plugin-shared-run")
@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_formats_suite(shared_run: Callable[[str], SharedRun], mode: str) -> None:
    shared_run(mode).assert_outcomes("formats_suite", passed=6)
