"""The ``fakellm`` command: ``main(argv) -> int``, one subcommand per mode."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .config import ServerConfig
from .errors import FakeLLMError, FaultSpecError, ScenarioError
from .faults import Fault, parse_fault_spec

if TYPE_CHECKING:
    from .proxy import ProxyConfig

__all__ = ["main"]


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


def _faults(text: str) -> list[Fault]:
    try:
        return parse_fault_spec(text)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakellm",
        description="A fake LLM API that streams like the real one, and fails on cue.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the fake OpenAI API")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0: any free port)")
    serve.add_argument(
        "--scenarios",
        action="append",
        default=[],
        metavar="PATH",
        help="a scenario file or a folder of them (repeatable)",
    )
    serve.add_argument("--seed", type=_seed, default=None, help="seed every stream deterministically")
    serve.add_argument(
        "--faults",
        type=_faults,
        default=[],
        metavar="SPEC",
        help='faults for every request, e.g. "error_event@20; fragment 1-7 bytes"',
    )
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])

    proxy = sub.add_parser(
        "proxy", help="forward to a real OpenAI-compatible API, with faults on its streams"
    )
    proxy.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="the API to forward to, as a client's base_url (e.g. https://api.openai.com/v1)",
    )
    proxy.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    proxy.add_argument("--port", type=_port, default=8001, help="port (default 8001; 0: any free port)")
    proxy.add_argument(
        "--scenarios",
        action="append",
        default=[],
        metavar="PATH",
        help="scenario files whose faults (and match rules) apply to proxied requests (repeatable)",
    )
    proxy.add_argument("--seed", type=int, default=None, help="seed every stream's faults")
    proxy.add_argument(
        "--faults",
        type=_faults,
        default=[],
        metavar="SPEC",
        help='faults for every proxied request, e.g. "drop@20; fragment 1-7 bytes"',
    )
    proxy.add_argument(
        "--record", default=None, metavar="DIR", help="write every stream to DIR as a replayable recording"
    )
    proxy.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser


async def _serve(config: ServerConfig) -> int:
    from .app import create_app
    from .server import base_url, bind_socket, serve_app

    app = create_app(config)  # scenario errors surface here, before the socket is bound
    try:
        sock = bind_socket(config.host, config.port)
    except OSError as exc:
        print(
            f"fakellm: cannot listen on {config.host}:{config.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM"):
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(getattr(signal, name), stop.set)
    names = ", ".join(app.state.book.names())
    seed = "" if config.seed is None else f", seed {config.seed}"
    print(f"fakellm listening on {base_url(sock)} (scenarios: {names}{seed})", flush=True)
    try:
        await serve_app(app, sock, stop, grace_s=config.shutdown_grace_s)
    finally:
        sock.close()
    print("fakellm stopped", flush=True)
    return 0


def serve_config(args: argparse.Namespace) -> ServerConfig:
    """The ``serve`` flags as a :class:`ServerConfig` (tests check flag → field here)."""
    return ServerConfig(
        host=args.host,
        port=args.port,
        scenario_paths=tuple(args.scenarios),
        seed=args.seed,
        faults=tuple(args.faults),
    )


def proxy_config(args: argparse.Namespace) -> ProxyConfig:
    """The ``proxy`` flags as a :class:`~fakellm.proxy.ProxyConfig` (a bad upstream: ValueError)."""
    from .proxy import ProxyConfig, parse_upstream

    parse_upstream(args.upstream)
    return ProxyConfig(
        upstream=args.upstream,
        server=ServerConfig(
            host=args.host,
            port=args.port,
            scenario_paths=tuple(args.scenarios),
            seed=args.seed,
            faults=tuple(args.faults),
        ),
        record_dir=Path(args.record) if args.record is not None else None,
    )


async def _proxy(config: ProxyConfig) -> int:
    from .proxy import create_proxy_app, parse_upstream, shown_url
    from .server import base_url, bind_socket, serve_app

    app = create_proxy_app(config)  # scenario errors surface here, before the socket is bound
    server = config.server
    try:
        sock = bind_socket(server.host, server.port)
    except OSError as exc:
        print(f"fakellm: cannot listen on {server.host}:{server.port}: {exc.strerror}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM"):
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(getattr(signal, name), stop.set)
    upstream = shown_url(parse_upstream(config.upstream))
    print(f"fakellm proxy listening on {base_url(sock)} -> {upstream}", flush=True)
    if config.record_dir is not None:
        print(f"fakellm proxy recording streams to {config.record_dir}", flush=True)
    try:
        await serve_app(app, sock, stop, grace_s=server.shutdown_grace_s)
    finally:
        sock.close()
    print("fakellm proxy stopped", flush=True)
    return 0


def _run_proxy(args: argparse.Namespace) -> int:
    try:
        config = proxy_config(args)
    except ValueError as exc:
        print(f"fakellm: --upstream: {exc}", file=sys.stderr)
        return 2
    from .server import _new_loop

    try:
        loop = _new_loop()
        try:
            return loop.run_until_complete(_proxy(config))
        finally:
            loop.close()
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
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), format="%(message)s")
    if args.command == "serve":
        config = serve_config(args)
        try:
            from .server import _new_loop

            loop = _new_loop()
            try:
                return loop.run_until_complete(_serve(config))
            finally:
                loop.close()
        except ScenarioError as exc:
            print(f"fakellm: bad scenario: {exc}", file=sys.stderr)
            return 2
        except FakeLLMError as exc:
            print(f"fakellm: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
    if args.command == "proxy":
        return _run_proxy(args)
    return 2  # pragma: no cover - argparse requires a command
