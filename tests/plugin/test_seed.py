"""--fakellm-seed: printed in the report header, and a test replays with it, alone or in the suite,
in either mode."""

from __future__ import annotations

import re

import pytest

from pytest_fakellm.handle import derive

from .helpers import run_suite


def _printed(result: pytest.RunResult, what: str) -> dict[str, str]:
    """test name -> what the suite printed for it (FAKELLM-TEXT: stream seed and text; FAKELLM-SEED:
    the test's seed)."""
    found = (re.search(rf"FAKELLM-{what} (\S+) (.*)", line) for line in result.stdout.lines)
    return {m.group(1): m.group(2) for m in found if m is not None}


def test_seed_replays(pytester: pytest.Pytester) -> None:
    whole = run_suite(pytester, "seed_suite", "-s", "--fakellm-seed=42")
    whole.stdout.fnmatch_lines(["fakellm: seed 42 (replay with --fakellm-seed 42), mode socket"])
    whole.assert_outcomes(passed=3)
    # Alone, and in the other mode: the same streams.
    alone = run_suite(
        pytester, "seed_suite", "-s", "--fakellm-seed=42", "--fakellm-mode=inprocess", "-k", "2nd or async"
    )
    alone.assert_outcomes(passed=2, deselected=1)
    texts, alone_texts = _printed(whole, "TEXT"), _printed(alone, "TEXT")
    assert set(texts) == {"first", "2nd", "async"}
    assert alone_texts == {"2nd": texts["2nd"], "async": texts["async"]}
    assert texts["first"] != texts["2nd"]  # each test has its own seed...
    seeds = _printed(whole, "SEED")
    for name, seed in seeds.items():  # ...derived from the session seed and its node id
        test = "test_2nd" if name == "2nd" else f"test_{name}"
        assert (
            int(seed)
            == derive(42, f"test_seed_suite.py::{test}")
            != derive(43, f"test_seed_suite.py::{test}")
        )
