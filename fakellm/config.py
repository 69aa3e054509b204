"""Server settings, as plain data (the CLI and the plugin both build one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .faults import Fault
from .scenario import Scenario

__all__ = ["ServerConfig"]


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
    extra: dict[str, str] = field(default_factory=dict)
