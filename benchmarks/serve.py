"""Start one server under test in this process, on a free port, and print the line with its URL.

    python -m benchmarks.serve fakellm   [--loop auto|asyncio] [--cpu N] [--workers N]
    python -m benchmarks.serve fakellm-redis  (fakellm serve --state on a redis-server of its own)
    python -m benchmarks.serve bare      (deadline sleeps; the yardstick)
    python -m benchmarks.serve bare-sleep (asyncio.sleep(itl) after each chunk)

``fakellm`` is the real command line (``fakellm serve --port 0``) with the benchmark scenario;
``fakellm-redis`` the same with ``--state`` on a ``redis-server`` this process starts (on a free
port, no persistence, not pinned: its CPU is not the server's, and is reported apart); the
bare apps run on hypercorn with the settings fakellm gives it. ``--loop asyncio`` hides uvloop
from the process (as if it were not installed), so both stacks can be measured on either loop.
The harness (``python -m benchmarks``) runs each server in its own process, pinned to its own core,
so that its CPU time can be read from ``/proc`` apart from the load client's.

``--profile PATH`` runs the server under :mod:`cProfile` and writes its statistics to ``PATH`` when
it stops (SIGINT or SIGTERM: both stop it gracefully); read them with
``python -m pstats PATH`` (``sort tottime``, ``stats 30``). cProfile makes every Python call
several times dearer, so compare the shares of functions, not the CPU per chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["bench_scenario", "main"]

_SENTENCE = "The quick brown fox jumps over the lazy dog, and then it naps. "  # 15 tokens


def bench_scenario(tokens: int) -> dict[str, object]:
    """A fixed text a little longer than ``tokens`` (the client asks for ``max_tokens: tokens``),
    no jitter: every token is due exactly on the schedule the client measures against."""
    return {
        "name": "bench",
        "content": {"text": _SENTENCE * (tokens // 15 + 1)},
        "timing": {"ttft_ms": 200, "itl_ms": 20, "jitter_ms": 0},
    }


STACKS = ("fakellm", "fakellm-redis", "bare", "bare-sleep")


def _serve_fakellm(port: int, tokens: int, state: str | None = None, workers: int = 1) -> int:
    from fakellm.cli import main as fakellm_main

    with tempfile.TemporaryDirectory(prefix="fakellm-bench-") as tmp:
        path = Path(tmp) / "bench.json"
        path.write_text(json.dumps({"scenarios": [bench_scenario(tokens)]}))
        extra = ["--state", state] if state is not None else []
        extra += ["--workers", str(workers)]
        return fakellm_main(["serve", "--port", str(port), "--scenarios", str(path), *extra])


def _serve_fakellm_redis(port: int, tokens: int) -> int:
    """fakellm on a redis-server of its own, stopped with it; the Redis's CPU over the run is
    printed to stderr when it stops (the harness keeps the server's log)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        redis_port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="fakellm-bench-redis-") as tmp:
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert redis.stdout is not None
        for line in redis.stdout:
            if "Ready to accept connections" in line:
                break
        if hasattr(os, "sched_setaffinity"):  # not on the server's core (the harness pinned this one)
            os.sched_setaffinity(redis.pid, set(range(os.cpu_count() or 1)))
        try:
            return _serve_fakellm(port, tokens, f"redis://127.0.0.1:{redis_port}/0")
        finally:
            with open(f"/proc/{redis.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            print(f"redis-server CPU over the run: {cpu_s:.2f} s", file=sys.stderr, flush=True)
            redis.terminate()
            redis.wait(10)
            redis.stdout.close()


async def _serve_bare(stack: str, port: int) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from .bare_app import create_bare_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    config = Config()  # as fakellm.server configures hypercorn
    config.bind = [f"fd://{sock.fileno()}"]
    config.keep_alive_timeout = 75
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"{stack} listening on http://127.0.0.1:{sock.getsockname()[1]}/v1", flush=True)
    mode = "deadline" if stack == "bare" else "sleep"
    await serve(create_bare_app(mode), config, shutdown_trigger=stop.wait)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve", description=__doc__.split("\n")[0])
    parser.add_argument("stack", choices=STACKS)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--loop", choices=("auto", "asyncio"), default="auto", help="auto: uvloop if installed"
    )
    parser.add_argument("--tokens", type=int, default=100, help="stream length the client will ask for")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    parser.add_argument("--workers", type=int, default=1, help="fakellm only: serve --workers N")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the server, stats to this file")
    args = parser.parse_args(argv)
    if args.profile is None:
        return _serve(args)
    profile = cProfile.Profile()
    try:
        return profile.runcall(_serve, args)
    finally:
        profile.dump_stats(args.profile)


def _serve(args: argparse.Namespace) -> int:
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    if args.loop == "asyncio":
        sys.modules["uvloop"] = None  # type: ignore[assignment]  # import uvloop now raises ImportError
    if args.stack == "fakellm":
        return _serve_fakellm(args.port, args.tokens, workers=args.workers)
    if args.stack == "fakellm-redis":
        return _serve_fakellm_redis(args.port, args.tokens)
    from .loadgen import new_event_loop  # uvloop when it is there, as fakellm does

    loop = new_event_loop()
    with contextlib.suppress(KeyboardInterrupt):
        loop.run_until_complete(_serve_bare(args.stack, args.port))
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
