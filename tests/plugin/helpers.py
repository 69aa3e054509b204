"""Running a downstream test suite in a pytest subprocess, as a user's suite would run."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import UNUSED_PLUGINS

DOWNSTREAM = Path(__file__).parent / "downstream"

INI = """
[pytest]
asyncio_mode = {asyncio_mode}
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


def run_suite(
    pytester: pytest.Pytester,
    suite: str,
    *args: str,
    asyncio_mode: str = "strict",
    name: str | None = None,
) -> pytest.RunResult:
    """Copy ``downstream/<suite>.py`` in as a test file and run it in a subprocess (the plugin is
    loaded through its ``pytest11`` entry point, as in a user's project)."""
    pytester.makeini(INI.format(asyncio_mode=asyncio_mode))
    source = (DOWNSTREAM / f"{suite}.py").read_text()
    pytester.makepyfile(**{name or f"test_{suite}": source})
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *UNUSED_PLUGINS, "-rA", *args, timeout=120)


# The suites that take the same flags (``--fakellm-mode``, strict asyncio) run together, in one
# subprocess per mode (``shared_run`` in conftest.py): each pytest subprocess costs a Python start,
# pytest's and the SDKs' imports and a session server, more than most of these suites take to run.
# Each suite's own test still asserts on its own file's outcomes in that run. The suites that look
# at their whole output, change the ini or need a session of their own run alone (``run_suite``).
SHARED = (
    "fixtures_suite",
    "format_messages_suite",
    "formats_suite",
    "limits_suite",
    "logprobs_suite",
    "reasoning_suite",
    "tool_calls_suite",
    "turns_choices_suite",
)
SHARED_SEED = 1234  # test_fixtures.py checks the header for it


@dataclass(frozen=True)
class SharedRun:
    """One pytest run of every ``SHARED`` suite: the outcomes by test file, and its output."""

    outcomes: dict[str, dict[str, int]]
    stdout: pytest.LineMatcher
    output: str  # stdout and stderr, to show when a suite's outcomes are not the expected ones

    def assert_outcomes(self, suite: str, **expected: int) -> None:
        got = self.outcomes.get(f"test_{suite}", {})
        assert got == expected, f"test_{suite}.py: {got}, expected {expected}\n{self.output}"


def _junit_outcomes(report: Path) -> dict[str, dict[str, int]]:
    """test file stem -> {"passed": n, "failed": n, "errors": n, "skipped": n}, from a JUnit XML
    report. Stricter than pytest's summary: a test with an error at teardown does not count as
    passed too (the shared suites all expect passes only)."""
    counts: dict[str, Counter[str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        stem = str(case.get("classname", "")).split(".")[0]
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        found = counts.setdefault(stem, Counter())
        if not kinds:
            found["passed"] += 1
        for kind in kinds:
            found[{"failure": "failed", "error": "errors"}.get(kind, kind)] += 1
    return {stem: dict(found) for stem, found in counts.items()}


def run_shared(root: Path, mode: str) -> SharedRun:
    """Run every ``SHARED`` suite in ``root`` (a new directory) in one pytest subprocess, set up as
    pytester's ``runpytest_subprocess`` sets up its own (the same ini, environment and flags)."""
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text(INI.format(asyncio_mode="strict"))
    for suite in SHARED:
        (root / f"test_{suite}.py").write_text((DOWNSTREAM / f"{suite}.py").read_text())
    report = root / "report.xml"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "TOX_ENV_DIR")}
    env.update(HOME=str(root), USERPROFILE=str(root), PY_COLORS="0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--basetemp={root / 'basetemp'}",
            "-p",
            "no:cacheprovider",
            *UNUSED_PLUGINS,
            "-rA",
            f"--junitxml={report}",
            f"--fakellm-mode={mode}",
            f"--fakellm-seed={SHARED_SEED}",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = f"{done.stdout}\n{done.stderr}"
    outcomes = _junit_outcomes(report) if report.exists() else {}
    return SharedRun(outcomes=outcomes, stdout=pytest.LineMatcher(done.stdout.splitlines()), output=output)
