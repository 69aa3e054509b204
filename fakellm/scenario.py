"""Scenarios: what a request gets back, and how it is chosen.

A scenario file is YAML or JSON holding a list under ``scenarios:``. Each entry is validated into a
frozen :class:`Scenario`; every problem is reported as a :class:`ScenarioError` naming the file, the
line, the scenario and the field. JSON files are parsed by :mod:`json` (PyYAML, a YAML 1.1 reader,
gets valid JSON wrong: ``1e3`` is a string to it, a tab indent a syntax error, ``"\\ud83d\\ude00"``
two lone surrogates); the YAML composer only reads the same text alongside for the line numbers.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .content import FAKER_MAXIMUMS, EchoText, FakerText, FixedText, TokenSource
from .errors import RequestError, ScenarioError, shown
from .faults import MAX_DURATION_MS, MAX_FAULTS, Fault, parse_fault

__all__ = [
    "Match",
    "Scenario",
    "ScenarioBook",
    "Timing",
    "default_scenario",
    "load_scenario_files",
    "scenario_from_dict",
]

SCENARIO_FILE_SUFFIXES = (".yaml", ".yml", ".json")

MAX_ALIAS_VALUES = 10_000
"""How many values YAML aliases may expand to in one document: enough to share a ``timing`` or a
``faults`` block many times, and a "billion laughs" document stops here instead of filling memory."""
MAX_DEPTH = 64
"""How deeply a document may nest (a scenario needs about 6 levels, a recording about 10)."""
MAX_SEED = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Timing:
    """When tokens are due. ``jitter_ms`` is the standard deviation of a normal added to each gap
    (clamped at 0); ``ttft_jitter_ms`` does the same for the first token."""

    ttft_ms: float = 0.0
    itl_ms: float = 0.0
    jitter_ms: float = 0.0
    ttft_jitter_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Match:
    """``model`` is a glob on the request's model; ``prompt`` a regex searched in the last user
    message; ``path`` a glob on the route (``/v1/messages``: a scenario for one format only, as a
    recording is). All that are given must hold."""

    model: str | None = None
    prompt: str | None = None
    _prompt_re: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    path: str | None = None

    def holds(self, model: str, prompt: str, path: str | None = None) -> bool:
        if self.model is not None and not fnmatch.fnmatchcase(model, self.model):
            return False
        if self.path is not None and path is not None and not fnmatch.fnmatchcase(path, self.path):
            return False
        return self._prompt_re is None or self._prompt_re.search(prompt) is not None


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    content: TokenSource = field(default_factory=lambda: FixedText("Hello! How can I help you today?"))
    timing: Timing = field(default_factory=Timing)
    match: Match | None = None
    seed: int | None = None
    faults: tuple[Fault, ...] = ()
    finish_reason: str = "stop"
    source: str | None = None  # "file:line" the scenario came from, for messages
    # False: stream non-ASCII text as raw UTF-8 instead of OpenAI's \uXXXX escapes (so that byte-level
    # faults such as fragment can cut inside a multi-byte character).
    ascii_only: bool = True


# ---------------------------------------------------------------------------------------------------
# Reading files with line numbers


class _Located:
    """Remembers the line of every mapping key, by the id of the dict it was read into."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.lines: dict[int, dict[str, int]] = {}
        self.node_lines: dict[int, int] = {}
        self.item_lines: dict[int, list[int]] = {}  # a list's id -> the line of each item
        self._seen: set[int] = set()  # the nodes constructed so far: one met again is an alias
        self._alias_values = 0

    def construct(self, node: yaml.Node, depth: int = 0, aliased: bool = False) -> Any:
        """The document as plain data. Every use of an alias is a copy (the line of each value is
        kept by the id of the object read from it), so the copies are counted and bounded, and so
        is the depth (a recursive alias, ``&a [*a]``, is infinitely deep)."""
        if not aliased and id(node) in self._seen:
            aliased = True
        self._seen.add(id(node))
        if aliased:
            self._alias_values += 1
            if self._alias_values > MAX_ALIAS_VALUES:
                raise ScenarioError(
                    f"YAML aliases expand to more than {MAX_ALIAS_VALUES} values (copies of the "
                    "anchor on this line and of anchors inside it): write the repeated part out, "
                    "or share less",
                    file=self.file,
                    line=node.start_mark.line + 1,
                )
        if depth > MAX_DEPTH:
            raise ScenarioError(
                f"nested more than {MAX_DEPTH} levels deep"
                + (" (a YAML alias that contains itself?)" if aliased else ""),
                file=self.file,
                line=node.start_mark.line + 1,
            )
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            keys: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = self.construct(key_node, depth + 1, aliased)
                if not isinstance(key, str):
                    key = str(key)
                out[key] = self.construct(value_node, depth + 1, aliased)
                keys[key] = key_node.start_mark.line + 1
            self.lines[id(out)] = keys
            self.node_lines[id(out)] = node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            items = [self.construct(v, depth + 1, aliased) for v in node.value]
            self.node_lines[id(items)] = node.start_mark.line + 1
            self.item_lines[id(items)] = [v.start_mark.line + 1 for v in node.value]
            return items
        try:
            return yaml.SafeLoader(" ").construct_object(node)  # scalars: SafeLoader's own typing
        except ValueError:  # an int of more than 4300 digits (Python's int-string limit)
            raise ScenarioError(
                f"cannot read the number {node.value[:20]}... ({len(node.value)} characters)",
                file=self.file,
                line=node.start_mark.line + 1,
            ) from None

    def index(self, node: yaml.Node | None, value: Any) -> None:
        """Record the lines of ``value`` (parsed by :mod:`json`) from ``node``, the YAML composer's
        reading of the same text: for valid JSON both trees have the same shape."""
        if isinstance(node, yaml.MappingNode) and isinstance(value, dict):
            keys: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if isinstance(key, str) and key in value:
                    keys[key] = key_node.start_mark.line + 1
                    self.index(value_node, value[key])
            self.lines[id(value)] = keys
            self.node_lines[id(value)] = node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(value, list):
            for item_node, item in zip(node.value, value, strict=False):
                self.index(item_node, item)
            self.node_lines[id(value)] = node.start_mark.line + 1
            self.item_lines[id(value)] = [v.start_mark.line + 1 for v in node.value]

    def item_line(self, items: Any, index: int) -> int | None:
        lines = self.item_lines.get(id(items), [])
        return lines[index] if index < len(lines) else self.node_lines.get(id(items))

    def line_of(self, mapping: Any, key: str | None = None) -> int | None:
        if key is not None:
            line = self.lines.get(id(mapping), {}).get(key)
            if line is not None:
                return line
        return self.node_lines.get(id(mapping))


def _parse_file(path: Path) -> tuple[Any, _Located]:
    located = _Located(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read the file: {exc}", file=str(path)) from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
        except RecursionError:
            raise ScenarioError("nested too deeply", file=str(path)) from None
        except ValueError:  # an int of more than 4300 digits: not a JSONDecodeError
            raise ScenarioError("a number of more than 4300 digits", file=str(path)) from None
        # Raw tabs can only be whitespace in valid JSON; YAML refuses them as indentation. Valid
        # JSON that YAML still cannot read only costs the line numbers.
        with contextlib.suppress(yaml.YAMLError, RecursionError):
            located.index(yaml.compose(text.replace("\t", " "), Loader=yaml.SafeLoader), data)
        return data, located
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise ScenarioError(f"not valid YAML/JSON: {exc.problem}", file=str(path), line=line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"not valid YAML/JSON: {exc}", file=str(path)) from None
    except RecursionError:  # PyYAML's composer recurses once per level
        raise ScenarioError("nested too deeply", file=str(path)) from None
    if node is None:
        raise ScenarioError("the file is empty; expected a 'scenarios:' list", file=str(path))
    return located.construct(node), located


class _Reader:
    """Typed access to one mapping, with errors that say where."""

    def __init__(
        self,
        data: Any,
        located: _Located | None,
        *,
        scenario: str | None,
        prefix: str = "",
        allowed: Iterable[str],
    ) -> None:
        self.located = located
        self.scenario = scenario
        self.prefix = prefix
        if not isinstance(data, Mapping):
            raise self.error(f"expected a mapping, got {type(data).__name__}", None, data)
        self.data = data
        allowed = tuple(allowed)
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(f"unknown field{hint}; known fields: {', '.join(sorted(allowed))}", key)

    def error(self, message: str, key: str | None, data: Any = None) -> ScenarioError:
        located = self.located
        line = None
        if located is not None:
            line = located.line_of(self.data if data is None else data, key)
        name = f"{self.prefix}{key}" if key is not None else (self.prefix.rstrip(".") or None)
        return ScenarioError(
            message,
            file=located.file if located is not None else None,
            line=line,
            scenario=self.scenario,
            field=name,
        )

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("is required", key) if key in self.data else self._missing(key)
            return None
        if not isinstance(value, str) or not value:
            raise self.error(f"must be a non-empty string, got {shown(value)}", key)
        return value

    def number(
        self, key: str, default: float, *, minimum: float = 0.0, maximum: float = math.inf, unit: str = ""
    ) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"must be a number, got {shown(value)}", key)
        # NaN passes every comparison and an infinity turns into an infinite deadline: refused here,
        # and ints too large for a float (float() would raise OverflowError) fail the maximum.
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(f"must be a finite number, got {shown(value)}", key)
        if value < minimum:
            raise self.error(f"must be >= {minimum:g}, got {shown(value)}", key)
        if value > maximum:
            raise self.error(f"must be <= {maximum:.12g}{unit}, got {shown(value)}", key)
        return float(value)

    def integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"must be an integer, got {shown(value)}", key)
        if minimum is not None and value < minimum:
            raise self.error(f"must be >= {minimum}, got {shown(value)}", key)
        if maximum is not None and value > maximum:
            raise self.error(f"must be <= {maximum}, got {shown(value)}", key)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"must be true or false, got {shown(value)}", key)
        return value

    def _missing(self, key: str) -> ScenarioError:
        error = self.error(f"the field {key!r} is required", None)
        return ScenarioError(
            error.reason,
            file=error.file,
            line=error.line,  # the mapping's own line: the key is not there to point at
            scenario=error.scenario,
            field=f"{self.prefix}{key}",
        )

    def sub(self, key: str, allowed: Iterable[str]) -> _Reader:
        value = self.data[key]
        # Refused here, at the key's own line: the new reader has no mapping of its own to point at.
        if not isinstance(value, Mapping):
            raise self.error(f"must be a mapping, got {shown(value)}", key)
        return _Reader(
            value,
            self.located,
            scenario=self.scenario,
            prefix=f"{self.prefix}{key}.",
            allowed=allowed,
        )


_SCENARIO_FIELDS = (
    "name",
    "match",
    "content",
    "timing",
    "seed",
    "faults",
    "finish_reason",
    "ascii_only",
)
_FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls")


def _content(reader: _Reader) -> TokenSource:
    kinds = [k for k in ("text", "faker", "echo") if reader.has(k)]
    if len(kinds) != 1:
        raise reader.error("give exactly one of 'text', 'faker' or 'echo'", None)
    kind = kinds[0]
    if kind == "text":
        value = reader.get("text")
        if not isinstance(value, str):
            raise reader.error(f"must be a string, got {shown(value)}", "text")
        return FixedText(value)
    if kind == "echo":
        value = reader.get("echo")
        if value is True:
            return EchoText()
        if isinstance(value, Mapping):
            echo = reader.sub("echo", ("prefix",))
            return EchoText(prefix=echo.string("prefix") or "")
        raise reader.error(f"must be true or a mapping, got {shown(value)}", "echo")
    value = reader.get("faker")
    if value is True or value is None:
        return FakerText()
    faker = reader.sub("faker", ("paragraphs", "sentences", "markdown", "code_probability"))
    paragraphs = faker.integer("paragraphs", minimum=1, maximum=FAKER_MAXIMUMS["paragraphs"])
    sentences = faker.integer("sentences", minimum=1, maximum=FAKER_MAXIMUMS["sentences"])
    probability = faker.number("code_probability", 0.5, maximum=1.0)
    return FakerText(
        paragraphs=paragraphs if paragraphs is not None else 3,
        sentences=sentences if sentences is not None else 3,
        markdown=faker.boolean("markdown", False),
        code_probability=probability,
    )


def scenario_from_dict(
    data: Any,
    *,
    located: _Located | None = None,
    index: int | None = None,
) -> Scenario:
    """Validate one scenario mapping (from a file, or scripted in code)."""
    label = None
    if isinstance(data, Mapping) and isinstance(data.get("name"), str):
        label = data["name"]
    elif index is not None:
        label = f"#{index + 1}"
    reader = _Reader(data, located, scenario=label, allowed=_SCENARIO_FIELDS)
    name = reader.string("name", required=True)
    assert name is not None

    content: TokenSource = FixedText("Hello! How can I help you today?")
    if reader.has("content"):
        content = _content(reader.sub("content", ("text", "faker", "echo")))

    timing = Timing()
    if reader.has("timing"):
        t = reader.sub("timing", ("ttft_ms", "itl_ms", "jitter_ms", "ttft_jitter_ms"))
        ms = functools.partial(t.number, maximum=MAX_DURATION_MS, unit=" (24 h)")
        timing = Timing(
            ttft_ms=ms("ttft_ms", 0.0),
            itl_ms=ms("itl_ms", 0.0),
            jitter_ms=ms("jitter_ms", 0.0),
            ttft_jitter_ms=ms("ttft_jitter_ms", 0.0),
        )

    match = None
    if reader.has("match"):
        m = reader.sub("match", ("model", "prompt", "path"))
        prompt = m.string("prompt")
        prompt_re = None
        if prompt is not None:
            try:
                prompt_re = re.compile(prompt)
            except re.error as exc:
                raise m.error(f"not a valid regular expression: {exc}", "prompt") from None
        match = Match(model=m.string("model"), prompt=prompt, _prompt_re=prompt_re, path=m.string("path"))

    faults: list[Fault] = []
    if reader.has("faults"):
        raw = reader.get("faults")
        if not isinstance(raw, list):
            raise reader.error(f"must be a list, got {type(raw).__name__}", "faults")
        if len(raw) > MAX_FAULTS:
            raise reader.error(f"at most {MAX_FAULTS} faults in one scenario, got {len(raw)}", "faults")
        for i, item in enumerate(raw):
            faults.append(_fault(item, reader, i))

    finish = reader.string("finish_reason") or "stop"
    if finish not in _FINISH_REASONS:
        raise reader.error(f"must be one of {', '.join(_FINISH_REASONS)}", "finish_reason")

    source = None
    if located is not None and located.file is not None:
        source = f"{located.file}:{located.line_of(data)}"
    return Scenario(
        name=name,
        content=content,
        timing=timing,
        match=match,
        # Non-negative, like X-FakeLLM-Seed and --seed: a journaled seed must replay through them.
        seed=reader.integer("seed", minimum=0, maximum=MAX_SEED),
        faults=tuple(faults),
        finish_reason=finish,
        source=source,
        ascii_only=reader.boolean("ascii_only", True),
    )


def _fault(item: Any, reader: _Reader, index: int) -> Fault:
    located = reader.located
    where = f"faults[{index}]"
    try:
        return parse_fault(item)
    except ScenarioError as exc:
        line = None
        if located is not None:
            line = located.line_of(item, exc.field) if isinstance(item, Mapping) else None
            line = line or located.line_of(reader.data, "faults")
        raise ScenarioError(
            exc.reason,
            file=located.file if located is not None else None,
            line=line,
            scenario=reader.scenario,
            field=f"{where}.{exc.field}" if exc.field else where,
        ) from None


def load_scenario_file(path: Path) -> list[Scenario]:
    data, located = _parse_file(path)
    if isinstance(data, Mapping) and "recording" in data:
        # Another kind of document: a stream recorded by ``fakellm proxy --record`` (record.py).
        from .record import recording_scenario

        return [recording_scenario(data, located)]
    if isinstance(data, list):
        items = data
    elif isinstance(data, Mapping):
        if "scenarios" not in data:
            raise ScenarioError(
                "expected a top-level 'scenarios:' list",
                file=str(path),
                line=located.line_of(data),
            )
        extra = [k for k in data if k != "scenarios"]
        if extra:
            raise ScenarioError(
                f"unknown top-level field {extra[0]!r}; only 'scenarios' is allowed",
                file=str(path),
                line=located.line_of(data, extra[0]),
                field=extra[0],
            )
        items = data["scenarios"]
        if not isinstance(items, list):
            raise ScenarioError(
                "'scenarios' must be a list",
                file=str(path),
                line=located.line_of(data, "scenarios"),
                field="scenarios",
            )
    else:
        raise ScenarioError("expected a 'scenarios:' list", file=str(path))
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ScenarioError(
                f"each scenario must be a mapping with at least a 'name', got {type(item).__name__}",
                file=str(path),
                line=located.item_line(items, i),
                scenario=f"#{i + 1}",
                field=f"scenarios[{i}]",
            )
    return [scenario_from_dict(item, located=located, index=i) for i, item in enumerate(items)]


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


@functools.cache  # read once: every ScenarioBook without a default of its own needs it
def default_scenario() -> Scenario:
    """The embedded default: Faker markdown with realistic timing (ships inside the package)."""
    text = resources.files("fakellm").joinpath("default_scenarios.yaml")
    with resources.as_file(text) as path:
        return load_scenario_file(path)[0]


class ScenarioBook:
    """The scenarios a server knows, and the rule that picks one for a request:
    header ``X-FakeLLM-Scenario`` → a scenario named like the request's model → the first whose
    ``match`` holds → the default (a loaded scenario named ``default``, else the embedded one)."""

    def __init__(self, scenarios: Iterable[Scenario] = (), default: Scenario | None = None) -> None:
        self.scenarios: list[Scenario] = list(scenarios)
        self.by_name: dict[str, Scenario] = {s.name: s for s in self.scenarios}
        self.default = default or self.by_name.get("default") or default_scenario()

    def names(self) -> list[str]:
        names = [s.name for s in self.scenarios]
        if self.default.name not in self.by_name:
            names.insert(0, self.default.name)
        return names

    def get(self, name: str) -> Scenario | None:
        if name == self.default.name:
            return self.default
        return self.by_name.get(name)

    def select(self, header: str | None, model: str, prompt: str, path: str | None = None) -> Scenario:
        """The scenario for a request: the one named in ``X-FakeLLM-Scenario``, else the one named
        as the model, else the first whose ``match`` holds (``path`` is the request's route), else
        the default."""
        if header is not None:
            scenario = self.get(header)
            if scenario is None:
                raise RequestError(
                    404,
                    f"Unknown scenario {header!r} in X-FakeLLM-Scenario. "
                    f"Known scenarios: {', '.join(self.names())}.",
                    param="X-FakeLLM-Scenario",
                    code="scenario_not_found",
                )
            return scenario
        named = self.get(model)
        if named is not None:
            return named
        for scenario in self.scenarios:
            if scenario.match is not None and scenario.match.holds(model, prompt, path):
                return scenario
        return self.default
