"""Documents with line numbers: YAML or JSON read into plain data that remembers the line of every
key and item, and typed field access whose errors name the file, the line and the field.

Scenario files (scenario.py) and recordings (record.py) are both read through here, so neither
imports the other to read a file. JSON is parsed by :mod:`json` (PyYAML, a YAML 1.1 reader, gets
valid JSON wrong: ``1e3`` is a string to it, a tab indent a syntax error, ``"\\ud83d\\ude00"`` two
lone surrogates); the YAML composer only reads the same text alongside for the line numbers.
Aliases and nesting are bounded, so a hostile document fails with a message instead of filling
memory or the stack.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ScenarioError, shown

__all__ = ["MAX_ALIAS_VALUES", "MAX_DEPTH", "DocumentReader", "Located", "read_document"]

MAX_ALIAS_VALUES = 10_000
"""How many values YAML aliases may expand to in one document: enough to share a ``timing`` or a
``faults`` block many times, and a "billion laughs" document stops here instead of filling memory."""
MAX_DEPTH = 64
"""How deeply a document may nest (a scenario needs about 6 levels, a recording about 10)."""


class Located:
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
        except yaml.MarkedYAMLError as exc:  # a tag SafeLoader cannot construct: !foo, !!python/...
            hint = ""
            if node.tag == "tag:yaml.org,2002:merge":
                hint = " (merge keys, '<<', are not read: write the fields out, or alias a whole value)"
            raise ScenarioError(
                f"not valid YAML/JSON: {exc.problem}{hint}", file=self.file, line=node.start_mark.line + 1
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


def read_document(path: Path) -> tuple[Any, Located]:
    located = Located(str(path))
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


class DocumentReader:
    """Typed access to one mapping, with errors that say where."""

    def __init__(
        self,
        data: Any,
        located: Located | None,
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

    def sub(self, key: str, allowed: Iterable[str]) -> DocumentReader:
        value = self.data[key]
        # Refused here, at the key's own line: the new reader has no mapping of its own to point at.
        if not isinstance(value, Mapping):
            raise self.error(f"must be a mapping, got {shown(value)}", key)
        return DocumentReader(
            value,
            self.located,
            scenario=self.scenario,
            prefix=f"{self.prefix}{key}.",
            allowed=allowed,
        )
