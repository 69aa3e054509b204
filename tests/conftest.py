from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
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
