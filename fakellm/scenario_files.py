"""Scenario files and folders: what ``fakellm serve --scenarios`` and ``Server(scenario_paths=...)``
load. A file is one of two kinds of document: a scenario file (``scenario.py`` reads it) or a
recording (top-level ``recording``: ``record.py`` reads it). Deciding which lives here, above both
modules, so that neither imports the other for it (``record`` builds on ``scenario``, never the
reverse)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .documents import read_document
from .errors import ScenarioError
from .record import recording_scenario
from .scenario import Scenario, scenarios_from_document

__all__ = ["SCENARIO_FILE_SUFFIXES", "load_scenario_file", "load_scenario_files"]

SCENARIO_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def load_scenario_file(path: Path) -> list[Scenario]:
    """The scenarios of one file: its list, or the one scenario that replays a recording."""
    data, located = read_document(path)
    if isinstance(data, Mapping) and "recording" in data:
        return [recording_scenario(data, located)]
    return scenarios_from_document(data, located, path)


def load_scenario_files(paths: Sequence[str | Path]) -> list[Scenario]:
    """Load files and folders (a folder: every ``.yaml``, ``.yml`` and ``.json`` in it, sorted).
    Names must be unique across everything loaded."""
    scenarios: list[Scenario] = []
    seen: dict[str, Scenario] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in SCENARIO_FILE_SUFFIXES and p.is_file())
            if not files:
                # Asked for scenarios and given none: starting on the default would hide the mistake.
                raise ScenarioError(
                    f"no scenario file ({', '.join(SCENARIO_FILE_SUFFIXES)}) in this folder", file=str(path)
                )
        elif path.exists():
            files = [path]
        else:
            raise ScenarioError("no such file or folder", file=str(path))
        for file in files:
            for scenario in load_scenario_file(file):
                if scenario.name in seen:
                    raise ScenarioError(
                        f"duplicate scenario name (first defined at {seen[scenario.name].source})",
                        file=str(file),
                        line=_line(scenario),
                        scenario=scenario.name,
                        field="name",
                    )
                seen[scenario.name] = scenario
                scenarios.append(scenario)
    return scenarios


def _line(scenario: Scenario) -> int | None:
    if scenario.source and ":" in scenario.source:
        tail = scenario.source.rsplit(":", 1)[1]
        return int(tail) if tail.isdigit() else None
    return None
