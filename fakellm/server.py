"""Running the app: :func:`serve` for the CLI, :class:`Server` for tests, scripts and notebooks.

Both bind the listening socket themselves and hand it to hypercorn as ``fd://``: the port is known
(and printed) before serving starts, ``port=0`` has no pick-then-bind race, and nothing has to poll
for readiness. Shutdown first ends every open stream (a stall must not hold the server up), then
lets hypercorn close the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

from .app import FakeLLMApp, create_app
from .config import ServerConfig, server_config
from .faults import Fault
from .journal import Journal
from .scenario import Scenario
from .state import ServerState

__all__ = ["Server", "bind_socket", "serve_app"]


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except BaseException:
        sock.close()  # a port in use must not also leak the socket
        raise
    sock.set_inheritable(True)
    return sock


def _hypercorn_config(sock: socket.socket, grace_s: float) -> HypercornConfig:
    config = HypercornConfig()
    # Hypercorn closes the socket it serves on; handing it a duplicate keeps ``sock`` ours to
    # close, instead of closing an fd number that another thread may have reused by then.
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.graceful_timeout = grace_s
    config.keep_alive_timeout = 75
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False
    return config


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


async def serve_app(
    app: FakeLLMApp,
    sock: socket.socket,
    shutdown: asyncio.Event,
    *,
    grace_s: float = 3.0,
) -> None:
    """Serve until ``shutdown`` is set; then end open streams and stop."""

    timers: list[asyncio.TimerHandle] = []

    async def _trigger() -> None:
        await shutdown.wait()
        app.shutdown_streams()
        # Hypercorn now waits grace_s for open connections, then cancels them and waits again,
        # forever if a client stopped reading. Reset what is left just before that.
        timers.append(asyncio.get_running_loop().call_later(grace_s * 0.9, app.abort_connections))

    try:
        await hypercorn_serve(
            app,
            _hypercorn_config(sock, grace_s),
            shutdown_trigger=_trigger,
        )
    finally:
        for timer in timers:
            timer.cancel()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class Server:
    """A real fakellm server on a background thread::

        with fakellm.Server(scenarios=[...]) as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="x")
            ...
            assert server.journal.last.outcome == "completed"

    Also ``async with``. ``port=0`` (the default) picks a free port on 127.0.0.1. ``state``: a
    Redis URL (``redis://127.0.0.1:6379/0``) to share the journal, the script, the fault counters
    and resumable streams with every other server on it (docs/streaming-server.md, Sharing state).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scenarios: Sequence[Scenario | dict[str, Any]] = (),
        scenario_paths: Sequence[str | Path] = (),
        seed: int | None = None,
        faults: Sequence[Fault] = (),
        state: str | None = None,
        config: ServerConfig | None = None,
    ) -> None:
        if config is None:
            config = server_config(
                host=host,
                port=port,
                scenarios=scenarios,
                scenario_paths=scenario_paths,
                seed=seed,
                faults=faults,
                state=state,
            )
        self.config = config
        self.app = self._create_app(config)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def _create_app(self, config: ServerConfig) -> FakeLLMApp:
        """The app to serve (``proxy.ProxyServer`` serves the proxy's)."""
        return create_app(config)

    # -- addresses ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("the server is not running")
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def url(self) -> str:
        """``http://host:port`` (no path)."""
        return self.base_url.removesuffix("/v1")

    @property
    def base_url(self) -> str:
        """``http://host:port/v1``: what OpenAI clients take as ``base_url``."""
        if self._sock is None:
            raise RuntimeError("the server is not running")
        return base_url(self._sock)

    @property
    def journal(self) -> Journal:
        return self.app.state.journal

    @property
    def state(self) -> ServerState:
        return self.app.state

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Server:
        if self._thread is not None:
            return self
        self._sock = bind_socket(self.config.host, self.config.port)
        ready = threading.Event()

        def _run() -> None:
            loop = _new_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._stop = asyncio.Event()
            loop.call_soon(ready.set)
            try:
                assert self._sock is not None
                loop.run_until_complete(
                    serve_app(self.app, self._sock, self._stop, grace_s=self.config.shutdown_grace_s)
                )
            except BaseException as exc:  # surfaced by stop()
                self._error = exc
                ready.set()
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=_run, name="fakellm-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"fakellm server failed to start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        self._thread = None
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def call_in_loop(self, fn: Callable[[], Any]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Server:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
