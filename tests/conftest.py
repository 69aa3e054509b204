from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from fakellm import ProxyServer, Server

# Hypothesis profiles for tests/fuzz (registered here: `--hypothesis-profile` is applied before the
# conftest files of subfolders load). Budgets in tests/fuzz are fractions of `max_examples`, so a
# profile scales the whole fuzz suite. `ci` (chosen when CI is set) is derandomized: the same
# examples on every run, no database, no flaky red. `dev` (the default) draws new examples each run
# and keeps failures in .cache/ (git-ignored) to replay them first; `thorough` is for a long local
# run: `pytest tests/fuzz --hypothesis-profile thorough`.
# Both from Hypothesis's own default, not from its built-in "ci" profile (loaded when CI is set at all).
_FUZZ = {
    "parent": settings.get_profile("default"),
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
}
settings.register_profile("ci", max_examples=150, derandomize=True, database=None, print_blob=True, **_FUZZ)
settings.register_profile(
    "dev",
    max_examples=150,
    database=DirectoryBasedExampleDatabase(Path(__file__).parent.parent / ".cache" / "hypothesis"),
    **_FUZZ,
)
settings.register_profile("thorough", parent=settings.get_profile("dev"), max_examples=3000)
settings.load_profile("ci" if os.environ.get("CI", "").lower() not in ("", "0", "false") else "dev")


@pytest.fixture
def make_server() -> Iterator[Callable[..., Server]]:
    """Start real fakellm servers on ephemeral ports; all are stopped at teardown."""
    servers: list[Server] = []

    def _make(**kwargs: Any) -> Server:
        server = Server(**kwargs).start()
        servers.append(server)
        return server

    yield _make
    for server in servers:
        server.stop()


@pytest.fixture
def make_proxy() -> Iterator[Callable[..., ProxyServer]]:
    """Start chaos proxies (``make_proxy(upstream_url, **kwargs)``); all are stopped at teardown."""
    proxies: list[ProxyServer] = []

    def _make(upstream: str, **kwargs: Any) -> ProxyServer:
        proxy = ProxyServer(upstream, **kwargs).start()
        proxies.append(proxy)
        return proxy

    yield _make
    for proxy in proxies:
        proxy.stop()


FAST_TEXT = "Hello there, world! Café ünïcode 😀 done."


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    """A server with a few fast scenarios; the default is a fixed text with no delays."""
    return make_server(
        seed=1234,
        scenarios=[
            {"name": "default", "content": {"text": FAST_TEXT}},
            {"name": "fast", "content": {"text": FAST_TEXT}, "timing": {"ttft_ms": 0, "itl_ms": 1}},
            {"name": "slow-start", "content": {"text": "Slow start."}, "timing": {"ttft_ms": 400}},
        ],
    )


# --------------------------------------------------------------------------------------------------
# A real redis-server (Debian's; .ci/run installs it): the shared state store's tests


def _ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


class RedisServer:
    """``redis-server`` on a free port of 127.0.0.1, in a temporary directory, with no persistence
    (``--save "" --appendonly no``): a restart comes back empty, as such a Redis does. Ready when
    it says so on its log ("Ready to accept connections"), not by polling it."""

    def __init__(self, executable: str, directory: Path) -> None:
        self.executable = executable
        self.directory = directory
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        for _ in range(5):  # a port picked free can be taken before redis binds it: pick again
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            if self._launch():
                return
        raise RuntimeError("redis-server did not start on any of 5 free ports")

    def restart_on_same_port(self) -> None:
        """Start again after :meth:`stop`, on the port it had."""
        if not self._launch():
            raise RuntimeError(f"redis-server did not start again on port {self.port}")

    def _launch(self) -> bool:
        args = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.directory), "--protected-mode", "no"]  # fmt: skip
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:
            seen.append(line)
            if "Ready to accept connections" in line:
                self._process = process
                # The rest of its log is drained, so that a full pipe never blocks it.
                threading.Thread(target=process.stdout.read, daemon=True).start()
                return True
        process.wait(5)
        process.stdout.close()
        if not any("Address already in use" in line for line in seen):
            raise RuntimeError("redis-server failed:\n" + "".join(seen[-20:]))
        return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()

    def flush(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session (each xdist worker has its own)."""
    executable = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if executable is None:
        missing = "redis-server is not installed (apt-get install redis-server)"
        if _ci():
            pytest.fail(f"{missing}; CI is set, so the shared state tests must run (.ci/run installs it)")
        pytest.skip(missing)
    server = RedisServer(executable, tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test (started again if a test stopped it)."""
    if redis_server._process is None:
        redis_server.restart_on_same_port()
    redis_server.flush()
    return redis_server.url
