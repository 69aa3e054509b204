from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fakellm import ProxyServer, Server


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
