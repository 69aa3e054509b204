"""What the pytest plugin costs a suite that does not use it: ``pytest --collect-only`` of a
project with no fakellm test, with the plugin (as installed) and with ``-p no:fakellm``, side by
side.

    python -m benchmarks.plugin_load                 # 15 rounds of each, alternating
    python -m benchmarks.plugin_load --rounds 31 --tests 500

Each run is a fresh interpreter (as a user's ``pytest`` is); the two are run in alternating order
and the medians compared, because this VM's timings drift by more than the difference measured.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {"with fakellm": (), "-p no:fakellm": ("-p", "no:fakellm")}


def make_project(root: Path, tests: int) -> None:
    """A suite with nothing to do with fakellm: ``tests`` trivial tests in ten files."""
    (root / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    per_file = max(1, tests // 10)
    for f in range(10):
        body = "".join(f"def test_{f}_{i}():\n    assert {i} == {i}\n\n\n" for i in range(per_file))
        (root / f"test_plain_{f}.py").write_text(body)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(root: Path, extra: tuple[str, ...]) -> tuple[float, float]:
    """Wall and CPU (user + system) milliseconds of one run. CPU time is the steadier figure on a
    shared machine: other work delays a run but does not add to its CPU time."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *extra]
    cpu0, start = _children_cpu(), time.perf_counter()
    subprocess.run(command, cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000.0, (_children_cpu() - cpu0) * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plugin_load", description=__doc__)
    parser.add_argument("--rounds", type=int, default=15, help="runs of each variant (default 15)")
    parser.add_argument("--tests", type=int, default=200, help="tests in the project (default 200)")
    args = parser.parse_args(argv)
    wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="fakellm-plugin-load-") as tmp:
        root = Path(tmp)
        make_project(root, args.tests)
        for extra in VARIANTS.values():  # warm the OS's file cache and the .pyc files
            run_once(root, extra)
        for i in range(args.rounds):
            order = list(VARIANTS.items()) if i % 2 == 0 else list(VARIANTS.items())[::-1]
            for name, extra in order:
                w, c = run_once(root, extra)
                wall[name].append(w)
                cpu[name].append(c)
    print(
        f"pytest --collect-only, {args.tests} tests, {args.rounds} rounds of each (ms, fresh interpreters):"
    )
    for label, times in (("wall", wall), ("cpu", cpu)):
        print(f"{label:>4} {'':>14} {'median':>8} {'min':>8} {'max':>8}")
        for name, values in times.items():
            print(
                f"{'':>4} {name:>14} {statistics.median(values):8.1f} {min(values):8.1f} {max(values):8.1f}"
            )
        with_, without = times["with fakellm"], times["-p no:fakellm"]
        added = statistics.median(with_) - statistics.median(without)
        paired = statistics.median(a - b for a, b in zip(with_, without, strict=True))
        print(f"{'':>4} added by the plugin: {added:+.1f} ms (medians), {paired:+.1f} ms (median of pairs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
