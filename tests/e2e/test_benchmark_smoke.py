"""Keeps ``benchmarks/`` from rotting: the load client against a real server for about two seconds,
and the whole harness (server processes, bare app, JSON report) at a tiny scale. No figure is
judged here (the machine is shared); only that everything runs and every stream arrives whole."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from pathlib import Path

from benchmarks.loadgen import LoadConfig, run_load
from benchmarks.serve import bench_scenario
from fakellm import Server

ROOT = Path(__file__).resolve().parents[2]


def test_load_client_measures_five_streams() -> None:
    with Server(scenarios=[bench_scenario(20)]) as server:
        cfg = LoadConfig(
            port=server.port,
            streams=5,
            tokens=20,
            ttft_ms=50,
            itl_ms=20,
            warmup_s=0.5,
            duration_s=1.5,
        )
        result = asyncio.run(run_load(cfg))
        journal = list(server.journal)
    assert result.errors == 0, result.error_samples
    # 5 streams of 0.43 s for 1.5 s: every worker completes a few.
    assert result.requests >= 10
    assert 100 < result.chunks_per_s < 400  # 5 streams x ~50 chunks/s
    assert result.lateness_ms["n"] > 100 and result.ttft_error_ms["n"] >= 10
    assert -5 < result.lateness_ms["p50"] < 200  # on schedule, give or take a busy machine
    if sys.platform.startswith("linux"):
        # Arrival is the kernel's receive time, which comes before this process reads the chunk.
        assert result.lateness_ms["p50"] < result.lateness_read_ms["p50"]
        assert result.lateness_read_ms["n"] == result.lateness_ms["n"]
    assert result.server_cpu is None  # an in-process server has no CPU time of its own
    completed = [e for e in journal if e.outcome == "completed"]
    assert completed and all(e.tokens_sent == 20 and e.scenario == "bench" for e in completed)


def test_harness_runs_both_stacks(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    args = [
        "--rounds",
        "1",
        "--duration",
        "0.7",
        "--warmup",
        "0.3",
        "--streams",
        "5",
        "--tokens",
        "20",
        "--wait-quiet",
        "0",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--no-capacity", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| server CPU per chunk us |" in proc.stdout
    report = json.loads(out.read_text())
    for stack in ("fakellm", "bare"):
        (trial,) = report["steady"][stack]
        assert trial["errors"] == 0, trial["error_samples"]
        assert trial["requests"] >= 5
        assert trial["server_cpu_per_chunk_us"] is None or math.isfinite(trial["server_cpu_per_chunk_us"])
