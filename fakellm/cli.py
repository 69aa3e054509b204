"""The ``fakellm`` command: ``main(argv) -> int``, one subcommand per mode."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import ACCEL_BUFFERING, ServerConfig, check_state_url
from .errors import FakeLLMError, FaultSpecError, ScenarioError
from .faults import Fault, parse_fault_spec
from .redact import install_log_redaction

if TYPE_CHECKING:
    from .app import FakeLLMApp
    from .proxy import ProxyConfig

__all__ = ["main"]

LOG_LEVELS = ("debug", "info", "warning", "error")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _seed(text: str) -> int:
    # Non-negative, like X-FakeLLM-Seed: a journaled seed must be replayable through the header.
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seed must be >= 0, got {value}")
    return value


def _resume_ttl(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 7 * 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most a week (604800 s), got {text}")
    return value


def _resume_max(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"must be 1-1000000, got {value}")
    return value


def _state(text: str) -> str:
    try:
        return check_state_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _workers(text: str) -> int:
    from .workers import MAX_WORKERS

    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be 1-{MAX_WORKERS}, got {text!r}")
    return int(text)


def _faults(text: str) -> list[Fault]:
    try:
        return parse_fault_spec(text)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _server_flags(
    parser: argparse.ArgumentParser, *, port: int, scenarios: str, seed: str, faults: str
) -> None:
    """The flags of a :class:`ServerConfig`, which ``serve`` and ``proxy`` share (with their own
    default port and help texts)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=port, help=f"port (default {port}; 0: any free port)")
    parser.add_argument("--scenarios", action="append", default=[], metavar="PATH", help=scenarios)
    parser.add_argument("--seed", type=_seed, default=None, help=seed)
    parser.add_argument("--faults", type=_faults, default=[], metavar="SPEC", help=faults)
    parser.add_argument(
        "--state",
        type=_state,
        default=None,
        metavar="URL",
        help="share the journal, scripted scenarios, times counters and resumable streams with every "
        "process on this Redis (redis://HOST:6379/0); default: this process's own memory",
    )


def _matrix_timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 3600 seconds, got {text}")
    return value


def _matrix_jobs(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"must be 1-64, got {text!r}")
    return int(text)


def _matrix_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of ``fakellm matrix`` (``matrix.run_from_args`` reads them)."""
    parser.add_argument(
        "--format",
        choices=("chat", "responses", "anthropic"),
        default="chat",
        help="the API the command calls (default chat)",
    )
    parser.add_argument(
        "--timeout",
        type=_matrix_timeout,
        default=15.0,
        metavar="S",
        help="kill a case's command after S seconds: it hung (default 15)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="CASES",
        help="run these cases (comma-separated, patterns)",
    )
    parser.add_argument("--skip", action="append", default=[], metavar="CASES", help="skip these cases")
    parser.add_argument(
        "--jobs", type=_matrix_jobs, default=1, metavar="N", help="run N cases at a time (default 1)"
    )
    parser.add_argument(
        "--markdown", type=Path, default=None, metavar="F", help="write the table as Markdown to F"
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="F", help="write every case's run as JSON to F"
    )
    parser.add_argument("--junit", type=Path, default=None, metavar="F", help="write JUnit XML to F (for CI)")
    parser.add_argument(
        "cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the client to run per case"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakellm",
        description="A fake LLM API that streams like the real one, and fails on cue.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"fakellm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the fake OpenAI API")
    _server_flags(
        serve,
        port=8000,
        scenarios="a scenario file or a folder of them (repeatable)",
        seed="seed every stream deterministically",
        faults='faults for every request, e.g. "error_event@20; fragment 1-7 bytes"',
    )
    serve.add_argument(
        "--resume-ttl",
        type=_resume_ttl,
        default=600.0,
        metavar="SECONDS",
        help="how long after its start a resumable stream can be resumed (default 600)",
    )
    serve.add_argument(
        "--resume-max",
        type=_resume_max,
        default=1000,
        metavar="N",
        help="how many resumable streams are kept at most, the oldest forgotten first (default 1000)",
    )
    serve.add_argument(
        "--accel-buffering",
        choices=ACCEL_BUFFERING,
        default="no",
        help="the X-Accel-Buffering header of every stream: no (the default: nginx passes each event "
        "on at once), yes (ask it to buffer), omit (send none: a proxy in front buffers as it is "
        "configured to); the accel_buffering fault sets it per request",
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="worker processes accepting on the one socket (default 1); each has a state of its "
        "own: journal, scripted scenarios, times counters, stored and resumable responses "
        "(docs/deploy.md)",
    )
    serve.add_argument("--log-level", default="warning", choices=LOG_LEVELS)

    proxy = sub.add_parser(
        "proxy", help="forward to a real OpenAI-compatible API, with faults on its streams"
    )
    proxy.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="the API to forward to, as a client's base_url (e.g. https://api.openai.com/v1)",
    )
    _server_flags(
        proxy,
        port=8001,
        scenarios="scenario files whose faults (and match rules) apply to proxied requests (repeatable)",
        seed="seed every stream's faults",
        faults='faults for every proxied request, e.g. "drop@20; fragment 1-7 bytes"',
    )
    proxy.add_argument(
        "--record", default=None, metavar="DIR", help="write every stream to DIR as a replayable recording"
    )
    proxy.add_argument("--log-level", default="warning", choices=LOG_LEVELS)

    matrix = sub.add_parser(
        "matrix",
        help="run your client once per fault and judge how it survives each (docs/matrix.md)",
        description="Run CMD once per case of the fault catalogue against a fakellm server; judge each run.",
    )
    _matrix_flags(matrix)
    return parser


def serve_config(args: argparse.Namespace) -> ServerConfig:
    """The ``serve`` flags as a :class:`ServerConfig` (tests check flag → field here)."""
    return ServerConfig(
        host=args.host,
        port=args.port,
        scenario_paths=tuple(args.scenarios),
        seed=args.seed,
        faults=tuple(args.faults),
        # Only ``serve`` has them: the proxy's streams are its upstream's, never resumable.
        resume_ttl_s=getattr(args, "resume_ttl", 600.0),
        resume_max=getattr(args, "resume_max", 1000),
        # Only ``serve`` has it: the proxy forwards its upstream's header.
        accel_buffering=getattr(args, "accel_buffering", "no"),
        state_url=args.state,
    )


def proxy_config(args: argparse.Namespace) -> ProxyConfig:
    """The ``proxy`` flags as a :class:`~fakellm.proxy.ProxyConfig` (a bad upstream: ValueError)."""
    from .proxy import ProxyConfig, parse_upstream

    parse_upstream(args.upstream)
    return ProxyConfig(
        upstream=args.upstream,
        server=serve_config(args),
        record_dir=Path(args.record) if args.record is not None else None,
    )


async def _serve_on(
    app: FakeLLMApp,
    sock: socket.socket,
    config: ServerConfig,
    *,
    signals: Sequence[str],
    say_stop: bool,
    parent: int | None = None,
    hello: str | None = None,
) -> int | None:
    """Serve on ``sock`` until one of ``signals`` comes (or, in a worker, until the process
    ``parent`` is gone); the connections reset when a second signal made it stop at once (None
    when it stopped gracefully)."""
    from .server import serve_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    forced: list[int] = []  # connections reset by a second signal

    def _signalled() -> None:
        # The first signal stops gracefully: open streams end at once, and connections still busy
        # get up to the grace period. A second one does not wait: what is left is reset, now.
        if not stop.is_set():
            stop.set()
            if say_stop:
                print("fakellm: stopping (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)
            return
        forced.append(app.abort_connections())

    for name in signals:
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(getattr(signal, name), _signalled)
    if parent is not None:
        from .workers import watch_parent

        watch_parent(loop, parent, _signalled)
    # From here on this process only serves, and what it has built lives as long as it does: frozen,
    # the collector never scans it again, and with full collections rarer their pauses (tens of ms
    # with hundreds of streams in flight) stay out of the streams' timing (benchmarks/README.md).
    gc.collect()
    gc.freeze()
    gc.set_threshold(*gc.get_threshold()[:2], 100)
    if hello is not None:
        # Printed once the signal handlers are in: a script that reads this line and signals at
        # once must find the process ready to stop gracefully.
        print(hello, flush=True)
    await serve_app(app, sock, stop, grace_s=config.shutdown_grace_s)
    return sum(forced) if forced else None


def _bind(config: ServerConfig) -> socket.socket | None:
    from .server import bind_socket

    try:
        return bind_socket(config.host, config.port)
    except OSError as exc:
        print(f"fakellm: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr)
        return None


async def _listen(app: FakeLLMApp, config: ServerConfig, hello: Callable[[str], str], goodbye: str) -> int:
    """Bind, print ``hello(base_url)``, serve until SIGINT or SIGTERM, print ``goodbye``."""
    from .server import base_url

    sock = _bind(config)
    if sock is None:
        return 1
    try:
        reset = await _serve_on(
            app, sock, config, signals=("SIGINT", "SIGTERM"), say_stop=True, hello=hello(base_url(sock))
        )
    finally:
        sock.close()
    if reset is not None:
        print(f"{goodbye} at once ({reset} connection{'' if reset == 1 else 's'} reset)", flush=True)
        return 130
    print(goodbye, flush=True)
    return 0


def _hello(app: FakeLLMApp, config: ServerConfig, url: str, workers: int = 1) -> str:
    names = ", ".join(app.state.book.names())
    seed = "" if config.seed is None else f", seed {config.seed}"
    processes = "" if workers == 1 else f", {workers} workers"
    return f"fakellm listening on {url} (scenarios: {names}{seed}{processes})"


async def _serve(config: ServerConfig) -> int:
    from .app import create_app

    app = create_app(config)  # scenario errors surface here, before the socket is bound
    return await _listen(app, config, lambda url: _hello(app, config, url), "fakellm stopped")


def per_worker_state_warning(config: ServerConfig, workers: int) -> str | None:
    """What ``serve --workers N`` says on stderr when every worker keeps its own state: allowed
    (streams from scenario files, seeded or not, are the same on every worker, which is what a load
    test needs), but whatever one worker is told or remembers, the others do not know."""
    if workers == 1 or config.state_url not in (None, "memory"):
        return None  # one process, or a shared store (--state redis://...) that every worker joins
    return (
        f"fakellm: warning: {workers} workers, each with a state of its own: a request lands on any "
        "of them, and the journal, scenarios scripted over HTTP, times counters, stored responses "
        "and resumable streams of one are not the others'; --state redis://... shares them "
        "(docs/deploy.md, 'State')"
    )


def _serve_workers(config: ServerConfig, workers: int) -> int:
    """``serve --workers N``: check the configuration and bind here, then fork the workers
    (workers.py), each serving the inherited socket with an app of its own."""
    from .app import create_app
    from .metrics import forget_process, use_multiprocess
    from .server import _new_loop, base_url
    from .workers import Supervisor, WorkerExit

    if not hasattr(os, "fork"):
        print("fakellm: --workers above 1 needs fork(), which this platform does not have", file=sys.stderr)
        return 2
    checked = create_app(config)  # scenario errors surface here, before the socket is bound
    sock = _bind(config)
    if sock is None:
        return 1
    # Every worker's metrics in one folder (prometheus_client's multiprocess mode), ours alone and
    # empty at the start, as that mode needs: a scrape of any worker sums them (metrics.py).
    metrics_dir = tempfile.mkdtemp(prefix="fakellm-metrics-")
    # Taken here, not in the worker: a supervisor killed while a worker starts must still be missed.
    supervisor = os.getpid()

    def worker(index: int) -> int:
        # A worker that cannot start says so in one line, as the command does (exit 2).
        return _reporting(serve_one)

    def serve_one() -> int:
        use_multiprocess(metrics_dir)
        mine = replace(config, worker=str(os.getpid()))
        app = create_app(mine)
        loop = _new_loop()
        try:
            reset = loop.run_until_complete(
                _serve_on(app, sock, mine, signals=("SIGTERM",), say_stop=False, parent=supervisor)
            )
        finally:
            loop.close()
        return 0 if reset is None else 130

    def exited(gone: WorkerExit) -> None:
        forget_process(gone.pid, metrics_dir)

    try:
        warning = per_worker_state_warning(config, workers)
        if warning is not None:
            print(warning, file=sys.stderr, flush=True)
        line = _hello(checked, config, base_url(sock), workers)
        del checked  # the workers build their own
        code = Supervisor(worker, workers, grace_s=config.shutdown_grace_s, on_exit=exited).run(
            ready=lambda: print(line, flush=True)
        )
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    if code != 1:
        print("fakellm stopped" if code == 0 else "fakellm stopped at once", flush=True)
    return code


async def _proxy(config: ProxyConfig) -> int:
    from .proxy import create_proxy_app, parse_upstream, shown_url

    app = create_proxy_app(config)  # scenario errors surface here, before the socket is bound
    upstream = shown_url(parse_upstream(config.upstream))

    def hello(url: str) -> str:
        lines = [f"fakellm proxy listening on {url} -> {upstream}"]
        if config.record_dir is not None:
            lines.append(f"fakellm proxy recording streams to {config.record_dir}")
        return "\n".join(lines)

    return await _listen(app, config.server, hello, "fakellm proxy stopped")


def _run(command: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run a subcommand on a new event loop; a bad configuration is one line on stderr, exit 2."""
    from .server import _new_loop

    def run() -> int:
        loop = _new_loop()
        try:
            return loop.run_until_complete(command())
        finally:
            loop.close()

    return _reporting(run)


def _reporting(run: Callable[[], int]) -> int:
    """``run()``; a bad configuration is one line on stderr, exit 2."""
    try:
        return run()
    except ScenarioError as exc:
        print(f"fakellm: bad scenario: {exc}", file=sys.stderr)
        return 2
    except FakeLLMError as exc:
        print(f"fakellm: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, getattr(args, "log_level", "warning").upper()), format="%(message)s"
    )
    install_log_redaction(logging.getLogger().handlers)  # every logger's lines, third parties' too
    if args.command == "serve":
        config = serve_config(args)
        if args.workers > 1:
            return _reporting(lambda: _serve_workers(config, args.workers))
        return _run(lambda: _serve(config))
    if args.command == "proxy":
        try:
            proxy = proxy_config(args)
        except ValueError as exc:
            print(f"fakellm: --upstream: {exc}", file=sys.stderr)
            return 2
        return _run(lambda: _proxy(proxy))
    if args.command == "matrix":
        from .matrix import run_from_args

        return run_from_args(args)
    return 2  # pragma: no cover - argparse requires a command
