"""Server settings, as plain data (the CLI and the plugin both build one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .faults import Fault
from .scenario import Scenario, scenario_from_dict

__all__ = ["ACCEL_BUFFERING", "ServerConfig", "server_config"]

ACCEL_BUFFERING = ("no", "yes", "omit")
"""The values of ``ServerConfig.accel_buffering`` (and of ``fakellm serve --accel-buffering``)."""


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

    def __post_init__(self) -> None:
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
) -> ServerConfig:
    """A :class:`ServerConfig` from the keywords that :class:`~fakellm.Server`,
    :class:`~fakellm.ProxyServer` and :class:`~fakellm.InProcess` take: scenarios as objects or as
    mappings in the scenario-file shape, and port 0 (any free port) by default."""
    return ServerConfig(
        host=host,
        port=port,
        scenario_paths=tuple(scenario_paths),
        scenarios=tuple(s if isinstance(s, Scenario) else scenario_from_dict(s) for s in scenarios),
        seed=seed,
        faults=tuple(faults),
    )
