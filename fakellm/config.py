"""Server settings, as plain data (the CLI and the plugin both build one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .faults import Fault
from .scenario import Scenario, scenario_from_dict

__all__ = ["ACCEL_BUFFERING", "STATE_SCHEMES", "ServerConfig", "check_state_url", "server_config"]

ACCEL_BUFFERING = ("no", "yes", "omit")
"""The values of ``ServerConfig.accel_buffering`` (and of ``fakellm serve --accel-buffering``)."""

STATE_SCHEMES = ("redis", "rediss", "unix")
"""The schemes of a shared state store's URL (``ServerConfig.state_url``, ``--state``)."""


def check_state_url(url: str) -> str:
    """``url`` if it names a state store fakellm can use (``memory``, ``redis://host:port/db``,
    ``rediss://``, ``unix:///path.sock``), else a ValueError saying what is wrong."""
    if url == "memory":
        return url
    shown = url[:80]
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number
    except ValueError:
        raise ValueError(f"{shown!r}: the port is not a number from 0 to 65535") from None
    if parts.scheme not in STATE_SCHEMES:
        raise ValueError(
            f"{shown!r} is not a state store: give 'memory' or a Redis URL such as "
            "redis://127.0.0.1:6379/0 (rediss://, unix:///path/redis.sock)"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(f"{shown!r} names no host: redis://HOST:PORT/DB")
    if parts.scheme == "unix" and not parts.path:
        raise ValueError(f"{shown!r} names no socket: unix:///path/redis.sock")
    db = parts.path.strip("/") if parts.scheme != "unix" else ""
    if db and not (db.isascii() and db.isdigit()):
        raise ValueError(f"{shown!r}: the database is a number (redis://host:6379/0), got {db[:20]!r}")
    del port
    return url


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000  # 0 picks a free port
    scenario_paths: tuple[str | Path, ...] = ()
    scenarios: tuple[Scenario, ...] = ()  # scripted in code, after those from files
    seed: int | None = None
    faults: tuple[Fault, ...] = ()  # applied to every request (``--faults``)
    journal_size: int = 1000
    cors_origins: tuple[str, ...] = ("*",)
    shutdown_grace_s: float = 3.0
    body_timeout_s: float = 60.0  # a request body that takes longer to arrive is a 408 (as Quart's)
    # Resumable streams kept for a reconnect (resume.MemoryResumeStore): how long after their
    # start (``--resume-ttl``; OpenAI keeps background responses about 10 minutes) and how many
    # (``--resume-max``, the oldest forgotten first).
    resume_ttl_s: float = 600.0
    resume_max: int = 1000
    # The X-Accel-Buffering header of every stream served (``--accel-buffering``): "no" (tell nginx
    # not to buffer), "yes" (ask it to), "omit" (send none: the proxy's own settings decide). An
    # ``accel_buffering`` fault overrides it. Not the proxy's: it forwards its upstream's header.
    accel_buffering: str = "no"
    # Where the state shared by processes is kept (``--state``): None or "memory", this process's
    # own; a Redis URL, every process's on it (state_store/redis.py).
    state_url: str | None = None
    # Which worker of ``fakellm serve --workers N`` this process is (its pid, set in each worker):
    # the X-FakeLLM-Worker header of every answer and ``worker`` in the health answer. None (no
    # header) when one process serves.
    worker: str | None = None

    def __post_init__(self) -> None:
        if self.state_url is not None:
            check_state_url(self.state_url)
        if self.accel_buffering not in ACCEL_BUFFERING:
            raise ValueError(
                f"accel_buffering must be one of {', '.join(ACCEL_BUFFERING)}, got {self.accel_buffering!r}"
            )


def server_config(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    scenarios: Sequence[Scenario | Mapping[str, Any]] = (),
    scenario_paths: Sequence[str | Path] = (),
    seed: int | None = None,
    faults: Sequence[Fault] = (),
    state: str | None = None,
) -> ServerConfig:
    """A :class:`ServerConfig` from the keywords that :class:`~fakellm.Server`,
    :class:`~fakellm.ProxyServer` and :class:`~fakellm.InProcess` take: scenarios as objects or as
    mappings in the scenario-file shape, port 0 (any free port) by default, and ``state``: the
    state store's URL (``ServerConfig.state_url``)."""
    return ServerConfig(
        host=host,
        port=port,
        scenario_paths=tuple(scenario_paths),
        scenarios=tuple(s if isinstance(s, Scenario) else scenario_from_dict(s) for s in scenarios),
        seed=seed,
        faults=tuple(faults),
        state_url=state,
    )
