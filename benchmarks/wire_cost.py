"""What each wire format's own work costs per stream, without sockets, timers or the event loop.

    python -m benchmarks.wire_cost                 # 100-token streams, every format
    python -m benchmarks.wire_cost --tokens 20 --streams 50 --rounds 3

For one stream: the request body the load client sends (``loadgen.LOAD_FORMATS``) parsed by the
format (``WireFormat.parse_request``), planned (``pipeline.plan_stream``: the scenario's text, the
tokens, the format's ids and encoder), and every event of its schedule (``pipeline.schedule``)
encoded. That is the part of the server's CPU that differs from one format to another: the rest
of a stream's path (``endpoint.py``, the transport, the timer, hypercorn's HTTP/1.1) is the same
code for every format. CPU time of this process (``time.process_time``), per stream and per
content token, the median over rounds, the formats in alternating order (A B C D, D C B A, ...).

It is a floor, not the served figure: under load (``python -m benchmarks``) the server's CPU per
content token is some 50-60 us, of which this is 1-2 us.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass

from fakellm.pipeline import plan_stream, schedule
from fakellm.scenario import Scenario, scenario_from_dict
from fakellm.wire import FORMATS, WireFormat

from .loadgen import LOAD_FORMATS, LoadConfig
from .serve import bench_scenario

__all__ = ["WireCost", "encode_stream", "main", "measure"]


def encode_stream(name: str, tokens: int, *, seed: int = 1) -> bytes:
    """One whole stream of format ``name`` as the server would write it (no faults), from the
    request the load client sends."""
    load = LOAD_FORMATS[name]
    fmt = FORMATS[load.path]
    scenario = scenario_from_dict(bench_scenario(tokens))
    raw = json.dumps(load.body(LoadConfig(tokens=tokens))).encode()
    return b"".join(_stream(fmt, scenario, raw, seed))


def _stream(fmt: WireFormat, scenario: Scenario, raw: bytes, seed: int) -> list[bytes]:
    plan = plan_stream(fmt.parse_request(raw, {}), scenario, format=fmt, header_seed=seed)
    encode = plan.encoder.encode
    events = schedule(
        plan.tokens, plan.timing, plan.ctx.rng, finish_reason=plan.finish_reason, usage=plan.usage
    )
    return [encode(timed.event) for timed in events]


@dataclass(frozen=True, slots=True)
class WireCost:
    format: str
    us_per_stream: float  # median over rounds
    us_per_token: float
    bytes_per_stream: int


def measure(names: list[str], *, tokens: int, streams: int, rounds: int) -> list[WireCost]:
    """Each format's CPU per stream: ``streams`` streams a round, ``rounds`` rounds."""
    scenario = scenario_from_dict(bench_scenario(tokens))
    cfg = LoadConfig(tokens=tokens)
    setups = {
        n: (FORMATS[LOAD_FORMATS[n].path], json.dumps(LOAD_FORMATS[n].body(cfg)).encode()) for n in names
    }
    size = {n: sum(map(len, _stream(fmt, scenario, raw, 1))) for n, (fmt, raw) in setups.items()}  # warm
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(rounds):
        for name in names if i % 2 == 0 else reversed(names):
            fmt, raw = setups[name]
            start = time.process_time()
            for seed in range(streams):
                _stream(fmt, scenario, raw, seed)
            times[name].append((time.process_time() - start) / streams * 1e6)
    out = []
    for name in names:
        per_stream = statistics.median(times[name])
        out.append(WireCost(name, per_stream, per_stream / tokens, size[name]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.wire_cost", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--formats", default=",".join(LOAD_FORMATS), help="comma-separated")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per stream (>= 16: Responses)")
    parser.add_argument("--streams", type=int, default=300, help="streams per round and format")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.formats.split(",") if n.strip()]
    if unknown := [n for n in names if n not in LOAD_FORMATS]:
        parser.error(f"unknown --formats {','.join(unknown)}: choose from {', '.join(LOAD_FORMATS)}")
    costs = measure(names, tokens=args.tokens, streams=args.streams, rounds=args.rounds)
    chat = next((c for c in costs if c.format == "chat"), None)
    print(f"parse + plan + encode, {args.tokens}-token streams, median of {args.rounds} rounds\n")
    print("| format | bytes per stream | CPU per stream us | CPU per content token us | / chat |")
    print("| --- | --- | --- | --- | --- |")
    for c in costs:
        ratio = f"{c.us_per_stream / chat.us_per_stream:.2f}x" if chat else "-"
        print(
            f"| {c.format} | {c.bytes_per_stream} | {c.us_per_stream:.1f} | {c.us_per_token:.2f} | {ratio} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
