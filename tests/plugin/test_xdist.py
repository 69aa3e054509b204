"""pytest-xdist: ``-n 2`` works in both modes; every worker has its own session server, every test
the seed it has without xdist (from the session seed the header prints and its node id), so a failed
test replays with ``--fakellm-seed`` alone, with or without ``-n``."""

from __future__ import annotations

import json
import re

import pytest

from pytest_fakellm.handle import derive

from .helpers import run_suite


def _notes(pytester: pytest.Pytester) -> dict[str, dict[str, object]]:
    out = pytester.path / "out"
    notes = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    for p in out.glob("*.json"):
        p.unlink()
    return notes


@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_xdist_two_workers(pytester: pytest.Pytester, mode: str) -> None:
    result = run_suite(pytester, "xdist_suite", "-n", "2", f"--fakellm-mode={mode}")
    result.assert_outcomes(passed=6, failed=1)
    header = re.search(
        r"fakellm: seed (\d+) \(replay with --fakellm-seed \1\), mode (\w+) \(every xdist",
        result.stdout.str(),
    )
    assert header is not None and header.group(2) == mode, result.stdout.str()
    seed = int(header.group(1))
    notes = _notes(pytester)
    assert len(notes) == 7
    workers = {str(n["worker"]) for n in notes.values()}
    assert workers == {"gw0", "gw1"}
    by_worker = {
        w: {(n["pid"], n["base_url"], n["server"]) for n in notes.values() if n["worker"] == w}
        for w in workers
    }
    assert all(len(v) == 1 for v in by_worker.values())  # one session server per worker...
    (a,), (b,) = by_worker.values()
    assert a[0] != b[0]  # ...in its own process
    if mode == "socket":
        assert a[1] != b[1]  # ...on its own port
    for name, n in notes.items():  # the seed a test has without xdist
        test = "test_fails" if name == "fails" else f"test_default[{name.split('-')[1]}]"
        assert n["seed"] == derive(seed, f"test_xdist_suite.py::{test}")
    # The failed test's report says how to replay it.
    option = " --fakellm-mode inprocess" if mode == "inprocess" else ""
    result.stdout.fnmatch_lines(
        [
            f"*- fakellm ({mode}) -*",
            f"replay: pytest --fakellm-seed {seed}{option} 'test_xdist_suite.py::test_fails' "
            "(ran on xdist worker gw*)",
            f"test seed {notes['fails']['seed']} (mode {mode}, *",
        ]
    )

    # Replayed without xdist, with the printed seed: the same streams.
    again = run_suite(
        pytester, "xdist_suite", f"--fakellm-seed={seed}", f"--fakellm-mode={mode}", "-p", "no:xdist"
    )
    again.assert_outcomes(passed=6, failed=1)
    replayed = _notes(pytester)
    assert {k: (v["seed"], v["text"]) for k, v in replayed.items()} == {
        k: (v["seed"], v["text"]) for k, v in notes.items()
    }
