"""``fakellm serve --scenarios`` refuses, at load and with a one-line message naming file, line and
field, the scenario files that used to load and then fail or hang: NaN/infinite timing, a YAML alias
bomb, a Faker text too large to make on the event loop, a folder with no scenario file in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_scenario import _alias_bomb

BIN = Path(sys.executable).parent


def serve(*paths: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``fakellm serve`` on ``paths``: each case must stop it before it listens."""
    argv = [str(BIN / "fakellm"), "serve", "--port", "0"]
    for path in paths:
        argv += ["--scenarios", str(path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


BAD_FILES = {
    "nan-timing": (
        "scenarios:\n  - name: a\n    timing: {ttft_ms: .nan, itl_ms: .inf}\n",
        ":3, scenario 'a', field 'timing.ttft_ms': must be a finite number, got nan",
    ),
    "day-long-itl": (
        "scenarios:\n  - name: a\n    timing: {itl_ms: 1.0e+306}\n",
        ":3, scenario 'a', field 'timing.itl_ms': must be <= 86400000 (24 h), got 1e+306",
    ),
    "huge-faker": (
        "scenarios:\n  - name: a\n    content: {faker: {paragraphs: 100000000}}\n",
        ":3, scenario 'a', field 'content.faker.paragraphs': must be <= 32, got 100000000",
    ),
    "alias-bomb": (_alias_bomb(), ":1: YAML aliases expand to more than 10000 values"),
    "too-many-faults": (
        "scenarios:\n  - name: a\n    faults: [" + ", ".join(["truncate"] * 33) + "]\n",
        ":3, scenario 'a', field 'faults': at most 32 faults in one scenario, got 33",
    ),
    "bandwidth-1e-300": (
        "scenarios:\n  - name: a\n    faults: ['bandwidth 1e-300']\n",
        ":3, scenario 'a', field 'faults[0]': bandwidth bytes_per_s: must be >= 1, got 1e-300",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_serve_refuses_the_file_at_load(case: str, tmp_path: Path) -> None:
    text, words = BAD_FILES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    result = serve(path)  # the alias bomb used to hang here, past 675 MB
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"fakellm: bad scenario: {path}{words}"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_serve_refuses_a_folder_with_no_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# not a scenario")
    result = serve(tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"fakellm: bad scenario: {tmp_path}: no scenario file (.yaml, .yml, .json) in this folder\n"
    )
