"""The benchmark: fakellm against a bare Quart/hypercorn app, side by side, in one run.

    python -m benchmarks                      # 100 streams at 20 ms, 3 rounds, then the capacity search
    python -m benchmarks --no-capacity --rounds 1 --duration 5
    python -m benchmarks --stacks fakellm,bare,bare-sleep --json out.json
    python -m benchmarks --stacks fakellm --formats chat,responses,messages,completions --no-capacity

Each *subject* is a stack speaking one wire format: ``fakellm`` (Chat Completions), and with
``--formats`` ``fakellm/responses``, ``fakellm/messages``, ``fakellm/completions``, each served by
a fakellm process of its own; the bare apps speak Chat only. With more than one format, a second
table gives each format's CPU per chunk and per content token against Chat's, measured in the
same rounds.

Each server runs in its own process (``python -m benchmarks.serve STACK``), pinned to CPU 1, and
the load client runs here, pinned to CPU 0, so neither steals the other's core and the server's CPU
time is its own. The machine is shared and noisy and absolute figures drift from minute to minute,
so the stacks are measured in alternating order (A B, B A, ...) and every figure is also given as a
ratio to the baseline measured in the same run.

With ``--workers 1,2`` fakellm is also served by ``fakellm serve --workers 2`` (subject
``fakellm x2``), side by side with one worker; then nothing is pinned, for one worker as for two
(two workers need both cores), and the client shares the cores with the server it loads.

The capacity of a stack is the most concurrent streams it holds with inter-token lateness p99 at
or under ``--capacity-p99-ms`` (10 ms) and no failed stream: a ladder of stream counts until the
first failure, then a bisection down to ``--capacity-step`` streams. A trial in which the load
client itself used more than 90% of its core is flagged: the client, not the server, may have been
the limit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from .loadgen import LOAD_FORMATS, LoadConfig, LoadResult, core_busy_s, new_event_loop, run_load

__all__ = ["main"]

_URL = re.compile(rb"listening on http://([\d.]+):(\d+)")
_LADDER = (100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000)
CLIENT_BOUND = 0.9


@dataclass
class ServerProcess:
    stack: str
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log: IO[bytes]

    def log_tail(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]


@dataclass(frozen=True)
class Subject:
    """One column of the tables: a stack (its own server process) loaded in one wire format."""

    stack: str
    format: str = "chat"
    workers: int = 1  # fakellm serve --workers N

    @property
    def label(self) -> str:
        name = self.stack if self.workers == 1 else f"{self.stack} x{self.workers}"
        return name if self.format == "chat" else f"{name}/{self.format}"


def subjects_of(
    stacks: Sequence[str], formats: Sequence[str], workers: Sequence[int] = (1,)
) -> list[Subject]:
    """fakellm in every format and with every number of workers, in the order given; the bare
    apps speak Chat only, in one process."""
    out: list[Subject] = []
    for stack in stacks:
        for fmt in formats if stack == "fakellm" else ("chat",):
            for n in workers if stack == "fakellm" else (1,):
                if Subject(stack, fmt, n) not in out:
                    out.append(Subject(stack, fmt, n))
    return out


@contextmanager
def start_server(
    stack: str, *, loop: str, cpu: int | None, tokens: int, profile: Path | None = None, workers: int = 1
) -> Iterator[ServerProcess]:
    """``python -m benchmarks.serve STACK`` in a child process, until the block ends."""
    cmd = [sys.executable, "-m", "benchmarks.serve", stack, "--loop", loop, "--tokens", str(tokens)]
    if workers != 1:
        cmd += ["--workers", str(workers)]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=log)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # the server prints its URL once it is listening
            match = _URL.search(line)
            if match is None:
                proc.kill()
                proc.wait()
                log.seek(0)
                raise RuntimeError(f"{stack} did not start: {line!r}\n{log.read().decode(errors='replace')}")
            yield ServerProcess(stack, proc, match.group(1).decode(), int(match.group(2)), log)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_quiet(cores: Sequence[int], *, limit_s: float, threshold: float = 0.15) -> float:
    """Wait (up to ``limit_s``) until the pinned cores are nearly idle (our servers are idle between
    trials, so what is busy is someone else's work); returns the others' load last seen, in cores."""
    deadline = time.monotonic() + limit_s
    while True:
        before = core_busy_s()
        time.sleep(0.5)
        after = core_busy_s()
        load = max(((after[c] - before[c]) / 0.5 for c in cores if c in before), default=0.0)
        if load <= threshold or time.monotonic() >= deadline:
            return load
        time.sleep(1.0)


def _trial(
    server: ServerProcess, fmt: str, base: LoadConfig, streams: int, duration: float, quiet_s: float
) -> LoadResult:
    if quiet_s > 0:
        # Unpinned (--workers above 1), any core may be ours: wait for all of them.
        cores = [c for c in (base.client_cpu_id, base.server_cpu_id) if c is not None] or sorted(
            core_busy_s()
        )
        wait_quiet(cores, limit_s=quiet_s)
    cfg = replace(
        base,
        host=server.host,
        port=server.port,
        streams=streams,
        duration_s=duration,
        server_pid=server.proc.pid,
        format=fmt,
    )
    loop = new_event_loop()
    try:
        return loop.run_until_complete(run_load(cfg))
    finally:
        loop.close()
        time.sleep(0.5)  # let the server close the cut streams before the next trial


# ---------------------------------------------------------------------------------------------------
# Summaries

_FIGURES: tuple[tuple[str, str], ...] = (
    ("lateness p50 ms", "lateness_ms.p50"),
    ("lateness p99 ms", "lateness_ms.p99"),
    ("TTFT error p50 ms", "ttft_error_ms.p50"),
    ("TTFT error p99 ms", "ttft_error_ms.p99"),
    ("lateness p50 ms, as read by the client", "lateness_read_ms.p50"),
    ("lateness p99 ms, as read by the client", "lateness_read_ms.p99"),
    ("chunks/s", "chunks_per_s"),
    ("server CPU per chunk us", "server_cpu_per_chunk_us"),
    ("server CPU per content token us", "server_cpu_per_token_us"),
    ("server CPU (cores)", "server_cpu"),
    ("client CPU (cores)", "client_cpu"),
    ("others' load on the server core", "other_load_server_core"),
    ("others' load on the client core", "other_load_client_core"),
    ("others' load on all cores", "other_load_all_cores"),
)


def _get(result: dict[str, Any], path: str) -> float:
    value: Any = result
    for key in path.split("."):
        value = value[key]
    return float("nan") if value is None else float(value)


def _median(results: Sequence[dict[str, Any]], path: str) -> float:
    values = [_get(r, path) for r in results]
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}"


def _ratio(value: float, base: float) -> str:
    if math.isnan(value) or math.isnan(base) or base == 0:
        return "-"
    return f"{value / base:.2f}x"


def steady_table(runs: dict[str, list[dict[str, Any]]], baseline: str) -> str:
    stacks = list(runs)
    head = (
        "| figure | "
        + " | ".join(stacks)
        + " | "
        + " | ".join(f"{s} / {baseline}" for s in stacks if s != baseline)
        + " |"
    )
    rows = [head, "|" + " --- |" * (1 + len(stacks) + len(stacks) - 1)]
    for label, path in _FIGURES:
        values = {s: _median(runs[s], path) for s in stacks}
        cells = [_fmt(values[s]) for s in stacks]
        noise = path.startswith("other_load")  # a condition of the trial, not a figure of the stack
        cells += ["" if noise else _ratio(values[s], values[baseline]) for s in stacks if s != baseline]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _paired_ratio(runs: Sequence[dict[str, Any]], base: Sequence[dict[str, Any]], path: str) -> float:
    """The median over rounds of each round's ratio (round *i* of both was measured side by side)."""
    ratios = [_get(r, path) / _get(b, path) for r, b in zip(runs, base, strict=False) if _get(b, path)]
    ratios = [x for x in ratios if not math.isnan(x)]
    return statistics.median(ratios) if ratios else float("nan")


def formats_table(runs: dict[str, list[dict[str, Any]]], subjects: Sequence[Subject]) -> str:
    """Each fakellm format against fakellm's Chat Completions: CPU per SSE event of any kind, and
    per content token (the fair comparison: Responses and Anthropic send more framing events per
    stream than Chat does). ``x / chat`` is the ratio of the medians; ``paired`` the median of the
    ratios of the rounds."""
    chat = runs["fakellm"]
    rows = [
        "| format | events per stream | server CPU per chunk us | / chat | paired | "
        "server CPU per content token us | / chat | paired | lateness p99 ms |",
        "|" + " --- |" * 9,
    ]
    for subject in subjects:
        if subject.stack != "fakellm" or subject.workers != 1:
            continue
        mine = runs[subject.label]
        cells = [subject.format, str(max(r["events_per_stream"] for r in mine))]
        for path in ("server_cpu_per_chunk_us", "server_cpu_per_token_us"):
            value = _median(mine, path)
            cells += [_fmt(value), _ratio(value, _median(chat, path))]
            paired = _paired_ratio(mine, chat, path)
            cells.append("-" if math.isnan(paired) else f"{paired:.2f}x")
        cells.append(_fmt(_median(mine, "lateness_ms.p99")))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


@dataclass
class Search:
    """Capacity search for one stack: climb the ladder, then bisect between the last pass and the
    first failure."""

    stack: str
    step: int
    passed: int = 0
    failed: int | None = None
    trials: list[dict[str, Any]] = field(default_factory=list)

    def next(self) -> int | None:
        if self.failed is None:
            higher = [n for n in _LADDER if n > self.passed]
            return higher[0] if higher else None
        if self.failed - self.passed <= self.step:
            return None
        mid = (self.passed + self.failed) // 2
        return max(self.passed + self.step, mid - mid % self.step)

    def record(self, streams: int, ok: bool, result: LoadResult) -> None:
        self.trials.append({"streams": streams, "ok": ok, **result.as_dict()})
        if ok:
            self.passed = max(self.passed, streams)
        else:
            self.failed = streams if self.failed is None else min(self.failed, streams)

    @property
    def client_bound(self) -> bool:
        return any(t["client_cpu"] > CLIENT_BOUND for t in self.trials if t["streams"] == self.failed)


def _line(stack: str, n: int, r: LoadResult) -> str:
    return (
        f"  {stack:<20} {n:>5} streams: lateness p50 {r.lateness_ms['p50']:6.2f} p99 "
        f"{r.lateness_ms['p99']:6.2f} ms (read: {r.lateness_read_ms['p99']:6.2f}) | "
        f"TTFT err p99 {r.ttft_error_ms['p99']:6.2f} ms | "
        f"{r.chunks_per_s:7.0f} chunks/s | server {_fmt(r.server_cpu_per_chunk_us or math.nan)} us/chunk "
        f"{_fmt(r.server_cpu_per_token_us or math.nan)} us/token, "
        f"{(r.server_cpu or 0) * 100:3.0f}% | client {r.client_cpu * 100:3.0f}% | "
        f"others {(r.other_load_server_core or 0) * 100:3.0f}%/{(r.other_load_client_core or 0) * 100:3.0f}% "
        f"(all cores {(r.other_load_all_cores or 0) * 100:3.0f}%) "
        f"| errors {r.errors}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--stacks", default="fakellm,bare", help="comma-separated: fakellm, fakellm-redis, bare, bare-sleep"
    )
    parser.add_argument(
        "--formats",
        default="chat",
        help="comma-separated wire formats fakellm is loaded in, each by a server of its own: "
        + ", ".join(LOAD_FORMATS)
        + " (the bare apps speak chat only)",
    )
    parser.add_argument(
        "--baseline", default=None, help="the subject ratios are against (default: bare if run, else fakellm)"
    )
    parser.add_argument(
        "--workers",
        default="1",
        help="comma-separated: fakellm is also served with serve --workers N for each N (e.g. 1,2); "
        "with any N above 1 nothing is pinned: client and servers share every core",
    )
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--ttft-ms", type=float, default=200.0)
    parser.add_argument("--tokens", type=int, default=100, help="tokens per stream")
    parser.add_argument("--duration", type=float, default=10.0, help="measuring window per trial, s")
    parser.add_argument(
        "--warmup", type=float, default=None, help="s before measuring (default: two streams)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="steady-load trials per stack")
    parser.add_argument("--loop", choices=("auto", "asyncio"), default="auto", help="the servers' event loop")
    parser.add_argument("--capacity", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--capacity-p99-ms", type=float, default=10.0)
    parser.add_argument("--capacity-duration", type=float, default=5.0)
    parser.add_argument("--capacity-step", type=int, default=25)
    parser.add_argument(
        "--capacity-tries", type=int, default=2, help="tries before a stream count counts as over"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=30.0,
        metavar="S",
        help="before each trial, wait up to S seconds for other work on the two cores to stop",
    )
    parser.add_argument("--json", type=Path, default=None, help="write every trial here")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="run each server under cProfile, stats to DIR/<subject>.prof (CPU figures then inflated)",
    )
    args = parser.parse_args(argv)

    stacks = [s.strip() for s in args.stacks.split(",") if s.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if unknown := [f for f in formats if f not in LOAD_FORMATS]:
        parser.error(f"unknown --formats {','.join(unknown)}: choose from {', '.join(LOAD_FORMATS)}")
    if len(formats) > 1 and "chat" not in formats:
        formats.insert(0, "chat")  # the formats are measured against Chat, side by side
    try:
        workers = [int(w) for w in args.workers.split(",") if w.strip()]
    except ValueError:
        parser.error(f"--workers takes numbers, got {args.workers!r}")
    if not workers or min(workers) < 1:
        parser.error(f"--workers takes numbers of 1 or more, got {args.workers!r}")
    subjects = subjects_of(stacks, formats, workers)
    labels = [s.label for s in subjects]
    baseline = args.baseline or ("bare" if "bare" in labels else labels[0])
    if baseline not in labels:
        parser.error(f"--baseline {baseline} is not among {', '.join(labels)}")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu = client_cpu = None
    if max(workers) > 1:
        # Workers need every core; so that one worker and two are measured alike, nothing is
        # pinned then, and the client shares the cores with the servers (its CPU is reported).
        print("note: --workers above 1: client and servers share every core, unpinned", file=sys.stderr)
    elif len(cpus) >= 2:
        client_cpu, server_cpu = cpus[0], cpus[1]
        os.sched_setaffinity(0, {client_cpu})
    else:
        print("note: fewer than 2 CPUs: client and server share one", file=sys.stderr)

    base = LoadConfig(
        ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms,
        tokens=args.tokens,
        warmup_s=args.warmup,
        client_cpu_id=client_cpu,
        server_cpu_id=server_cpu,
    )
    try:
        import uvloop  # noqa: F401

        have_uvloop = True
    except ImportError:
        have_uvloop = False
    server_loop = "uvloop" if have_uvloop and args.loop == "auto" else "asyncio"
    setup = {
        "python": sys.version.split()[0],
        "server_loop": server_loop,
        "cpus": len(cpus) or os.cpu_count(),
        "client_cpu": client_cpu,
        "server_cpu": server_cpu,
        "itl_ms": args.itl_ms,
        "ttft_ms": args.ttft_ms,
        "tokens": args.tokens,
        "formats": formats,
        "workers": workers,
        "command": "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(
        f"fakellm benchmark: {args.tokens}-token streams, ttft {args.ttft_ms:g} ms, itl {args.itl_ms:g} ms; "
        f"servers on {server_loop}, client on CPU {client_cpu}, servers on CPU {server_cpu}",
        flush=True,
    )
    report: dict[str, Any] = {"setup": setup, "steady": {}, "capacity": {}}
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)

    def profile_of(subject: Subject) -> Path | None:
        return None if args.profile is None else args.profile / (subject.label.replace("/", "-") + ".prof")

    with ExitStack() as stack:
        servers = {
            s.label: stack.enter_context(
                start_server(
                    s.stack,
                    loop=args.loop,
                    cpu=server_cpu,
                    tokens=args.tokens,
                    profile=profile_of(s),
                    workers=s.workers,
                )
            )
            for s in subjects
        }
        runs: dict[str, list[dict[str, Any]]] = {s.label: [] for s in subjects}
        print(
            f"\nsteady load: {args.streams} streams, {args.rounds} round(s) of {args.duration:g} s",
            flush=True,
        )
        for i in range(args.rounds):
            for subject in subjects if i % 2 == 0 else reversed(subjects):
                name = subject.label
                result = _trial(
                    servers[name], subject.format, base, args.streams, args.duration, args.wait_quiet
                )
                runs[name].append(result.as_dict())
                print(_line(name, args.streams, result), flush=True)
                if result.errors:
                    print(f"    errors: {result.error_samples}", flush=True)
        report["steady"] = runs
        table = steady_table(runs, baseline)
        print("\n" + table, flush=True)
        if len({s.format for s in subjects}) > 1:
            report["formats_table"] = formats_table(runs, subjects)
            print(
                f"\nfakellm's formats against its Chat Completions\n\n{report['formats_table']}", flush=True
            )

        if args.capacity:
            print(
                f"\ncapacity: most streams with lateness p99 <= {args.capacity_p99_ms:g} ms "
                f"({args.capacity_duration:g} s trials)",
                flush=True,
            )
            searches = {s.label: Search(s.label, args.capacity_step) for s in subjects}
            format_of = {s.label: s.format for s in subjects}
            while True:
                pending = [(s, n) for s in labels if (n := searches[s].next()) is not None]
                if not pending:
                    break
                for name, n in pending:
                    # Noise only ever adds lateness: one passing try shows the server can, so a
                    # failing one is tried again before it counts.
                    for _ in range(max(1, args.capacity_tries)):
                        result = _trial(
                            servers[name], format_of[name], base, n, args.capacity_duration, args.wait_quiet
                        )
                        ok = result.errors == 0 and result.lateness_ms["p99"] <= args.capacity_p99_ms
                        print(_line(name, n, result) + ("" if ok else "  <- over"), flush=True)
                        if ok:
                            break
                    searches[name].record(n, ok, result)
            report["capacity"] = {
                s: {"streams": sr.passed, "client_bound": sr.client_bound, "trials": sr.trials}
                for s, sr in searches.items()
            }
            base_cap = searches[baseline].passed
            print("\n| stack | capacity (streams) | vs " + baseline + " |\n| --- | --- | --- |")
            for s, sr in searches.items():
                note = " (client-bound: a lower bound)" if sr.client_bound else ""
                ratio = f"{sr.passed / base_cap:.2f}x" if base_cap else "-"
                print(f"| {s} | {sr.passed}{note} | {ratio} |")
        report["table"] = table
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
