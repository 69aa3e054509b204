"""The shared run of the downstream suites that take the same flags (helpers.SHARED)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import SharedRun, run_shared


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], SharedRun]:
    """``shared_run(mode)``: every shared suite's outcomes in that mode, run once per session (per
    xdist worker: the tests that use it are in one xdist group, so that is once in all)."""
    runs: dict[str, SharedRun] = {}

    def get(mode: str) -> SharedRun:
        if mode not in runs:
            runs[mode] = run_shared(tmp_path_factory.mktemp(f"shared-{mode}", numbered=True) / "run", mode)
        return runs[mode]

    return get
