"""Seeded JSON documents valid against a JSON Schema: ``generate(schema, rng)``.

Structured output (``response_format`` ``json_schema``, the Responses ``text.format``, a forced tool)
and ``tool_calls: auto`` need arguments or content that an SDK's parser accepts; this module makes
them. Every random choice comes from ``rng`` (Faker is seeded from it once per call), so the same
RNG state gives the same document.

Supported (what OpenAI structured outputs, strict tools and pydantic v2 emit):

- ``true`` / ``{}`` (any value: a short scalar), ``type`` as a name or a list (``["string", "null"]``),
  ``enum`` and ``const`` of any type (filtered by the schema's other keywords);
- object: ``properties``, ``required``, ``additionalProperties`` (false, true or a schema),
  ``minProperties`` / ``maxProperties``; optional properties appear about half the time, a
  ``dict[str, X]`` gets 0 to 2 entries and a free-form ``{"type": "object"}`` 1 to 3;
- array: ``items`` (a schema, or a list as in draft 7), ``prefixItems``, ``minItems`` / ``maxItems``
  (1 to 3 items when unbounded), ``uniqueItems``;
- string: ``minLength`` / ``maxLength``, ``format`` (date-time, date, time, duration, email, uri,
  uri-reference, uuid, ipv4, ipv6, hostname; any other format is an annotation and gets a plain
  string), ``pattern`` (generated from the regex: literals, classes, ``.``, ``\\d \\w \\s`` and their
  negations, groups, alternation, repeats (unbounded ones at most 3 more than their minimum),
  anchors and back-references; look-arounds are refused). Strings whose property name suggests a
  Faker provider (``name``, ``email``, ``city``, ... see ``_FAKER_BY_NAME``) come from it, others are
  a few words;
- number / integer: ``minimum`` / ``maximum``, ``exclusiveMinimum`` / ``exclusiveMaximum`` (numbers as
  in draft 2020-12, booleans as in draft 4), ``multipleOf``; 0 to 100 when unbounded;
- ``allOf`` (merged into one schema), ``anyOf`` (a seeded branch), ``oneOf`` (a branch whose document
  is checked to match no other branch), ``$ref`` to ``#/...`` JSON pointers (``$defs``,
  ``definitions``), with sibling keywords merged in. Annotations (title, description, default,
  examples, discriminator, ...) are ignored.

Recursion: once one ``$ref`` has been expanded more than ``RECURSION_DEPTH`` times on the way down,
the generator goes minimal (required properties only, ``minItems`` items, the ``null`` or
``$ref``-free branch of a union), so self-referencing pydantic models terminate, and small; a
recursion with no way out (a required self-reference) is refused at ``MAX_DEPTH``. Any other
keyword (``not``, ``if``, ``contains``, ``patternProperties``, ...) is refused rather than risk an
invalid document.

Limits, each refused with a :class:`SchemaError` rather than served: ``minLength`` above
``MAX_LENGTH``, ``minItems`` / ``minProperties`` above ``MAX_ITEMS``, schemas or documents nested
deeper than ``MAX_DEPTH``, documents of more than ``MAX_NODES`` values, a ``$ref`` chain longer than
``MAX_DEPTH``. Bad schemas (not a mapping, an unknown type, ``minimum`` > ``maximum``, a pattern no
string can match, a ``oneOf`` no document satisfies) raise :class:`SchemaError` whose message
starts with the schema path: ``properties.address.properties.zip: minLength 5 > maxLength 3``.

Design notes: the whole schema is checked once before generating (keywords, the types of their
values, bounds, patterns, ``$ref`` targets), so a bad part is reported whatever the seed visits.
The generator builds a document from the schema, then checks the whole document with a
small validator of the same subset (``_Validator``) before returning it. The check is what makes
``oneOf`` and ``enum`` filtering possible, and it turns a combination the generator gets wrong into
a clear error instead of an invalid document.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import random
import re
import string
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faker import Faker

# content.py's one Faker and its lock: building another would load the locale providers again.
from .content import _faker_lock, _shared_faker
from .errors import ScenarioError, shown

if TYPE_CHECKING:
    import sre_parse as _sre
else:  # sre_parse warns on import since 3.11; re._parser is the same module under its new name
    try:
        import re._parser as _sre
    except ImportError:  # pragma: no cover
        import sre_parse as _sre

__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_LENGTH",
    "MAX_NODES",
    "RECURSION_DEPTH",
    "JsonDocument",
    "SchemaError",
    "generate",
]

MAX_LENGTH = 4096
"""The largest ``minLength`` served (strings are otherwise short: a few words)."""
MAX_ITEMS = 256
"""The largest ``minItems`` / ``minProperties`` served (arrays otherwise hold 1 to 3 items)."""
MAX_DEPTH = 64
"""How deep a schema (or the document made from it, or a ``$ref`` chain) may nest."""
MAX_NODES = 10_000
"""How many JSON values one document may hold."""
RECURSION_DEPTH = 2
"""Expansions of one ``$ref`` on the way down after which the generator makes the smallest valid
document (2: a recursive model's documents stay about a kilobyte)."""

_LARGEST = 1e300
_UNBOUNDED_REPEAT = 3
_RETRIES = 20
_PRODUCT_LIMIT = 64

_TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")
_ANNOTATIONS = frozenset(
    {
        "$schema", "$id", "$comment", "$anchor", "$defs", "definitions", "title", "description",
        "default", "examples", "deprecated", "readOnly", "writeOnly", "discriminator", "nullable",
        "contentEncoding", "contentMediaType", "strict",
    }
)  # fmt: skip
_KEYWORDS = _ANNOTATIONS | {
    "type", "enum", "const", "allOf", "anyOf", "oneOf", "$ref",
    "properties", "required", "additionalProperties", "minProperties", "maxProperties",
    "items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems",
    "minLength", "maxLength", "pattern", "format",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
}  # fmt: skip
# Which type a keyword implies when a schema names none (``{"minLength": 2}`` is a string).
_IMPLIED = {
    "properties": "object", "required": "object", "additionalProperties": "object",
    "minProperties": "object", "maxProperties": "object",
    "items": "array", "prefixItems": "array", "minItems": "array", "maxItems": "array",
    "uniqueItems": "array", "minLength": "string", "maxLength": "string", "pattern": "string",
    "format": "string", "minimum": "number", "maximum": "number", "exclusiveMinimum": "number",
    "exclusiveMaximum": "number", "multipleOf": "number",
}  # fmt: skip


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(t, str) for t in v)


_COUNT = (_is_count, "a non-negative integer")
_NUMBER = (_is_number, "a number")
_SCHEMA = (lambda v: isinstance(v, Mapping | bool), "a schema (an object or a boolean)")
_VALUE_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "minLength": _COUNT, "maxLength": _COUNT, "minItems": _COUNT, "maxItems": _COUNT,
    "minProperties": _COUNT, "maxProperties": _COUNT,
    "minimum": _NUMBER, "maximum": _NUMBER, "multipleOf": _NUMBER,
    "exclusiveMinimum": (lambda v: isinstance(v, bool) or _is_number(v), "a number or a boolean"),
    "exclusiveMaximum": (lambda v: isinstance(v, bool) or _is_number(v), "a number or a boolean"),
    "uniqueItems": (lambda v: isinstance(v, bool), "a boolean"),
    "pattern": (lambda v: isinstance(v, str), "a string"),
    "format": (lambda v: isinstance(v, str), "a string"),
    "$ref": (lambda v: isinstance(v, str), "a string"),
    "type": (lambda v: isinstance(v, str) or _is_names(v), "a type name or a list of them"),
    "required": (_is_names, "a list of names"),
    "enum": (lambda v: isinstance(v, list) and bool(v), "a non-empty list"),
    "allOf": (lambda v: isinstance(v, list) and bool(v), "a non-empty list"),
    "anyOf": (lambda v: isinstance(v, list) and bool(v), "a non-empty list"),
    "oneOf": (lambda v: isinstance(v, list) and bool(v), "a non-empty list"),
    "prefixItems": (lambda v: isinstance(v, list), "a list"),
    "properties": (lambda v: isinstance(v, Mapping), "an object"),
    "$defs": (lambda v: isinstance(v, Mapping), "an object"),
    "definitions": (lambda v: isinstance(v, Mapping), "an object"),
    "items": (lambda v: isinstance(v, Mapping | bool | list), "a schema or a list of schemas"),
    "additionalProperties": _SCHEMA,
    "additionalItems": _SCHEMA,
}  # fmt: skip


class SchemaError(ScenarioError, ValueError):
    """A schema the generator cannot serve. ``path`` is where in the schema (dotted, ``(root)`` for
    the top), ``problem`` what is wrong there."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path or "(root)"
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def generate(schema: Mapping[str, Any] | bool, rng: random.Random) -> Any:
    """A JSON document valid against ``schema``, every choice drawn from ``rng``."""
    if not isinstance(schema, Mapping | bool):
        raise SchemaError("", f"a schema must be an object or a boolean, not {type(schema).__name__}")
    _check(schema, schema, "", 0)
    with _faker_lock:
        fake = _shared_faker()
        fake.seed_instance(rng.getrandbits(64))
        document = _Generator(schema, rng, fake).value(schema, "", 0, (), None)
    problem = _Validator(schema).problem(schema, document, 0)
    if problem is not None:
        raise SchemaError(problem[0], f"cannot generate a valid document here: {problem[1]}")
    return document


def _join(path: str, *parts: object) -> str:
    return ".".join([path, *map(str, parts)]) if path else ".".join(map(str, parts))


def _resolve(root: Mapping[str, Any] | bool, ref: Any, path: str) -> tuple[Any, str]:
    """The schema a local ``$ref`` points at, and its dotted path."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise SchemaError(path, f"only local $ref ('#/...') is supported, not {ref!r}")
    target: Any = root
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[1:].split("/") if p]
    for part in parts:
        if isinstance(target, Mapping) and part in target:
            target = target[part]
        # ASCII digits: str.isdigit() also takes "²", which int() refuses (a request's schema was a 500).
        elif isinstance(target, list) and part.isascii() and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            raise SchemaError(path, f"$ref {ref!r} points at nothing")
    return target, ".".join(parts)


def _json_key(value: Any) -> str:
    """Equality as JSON Schema sees it (1 == 1.0, True != 1), for enums and uniqueItems."""

    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, Mapping):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True)


def _mentions_ref(schema: Any, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        return True
    if isinstance(schema, Mapping):
        return "$ref" in schema or any(_mentions_ref(v, depth + 1) for v in schema.values())
    if isinstance(schema, list):
        return any(_mentions_ref(v, depth + 1) for v in schema)
    return False


# --------------------------------------------------------------------------------------------------
# The whole schema checked once, so that a bad part is reported whatever the seed visits


def _check(root: Mapping[str, Any] | bool, s: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise SchemaError(path, f"the schema nests deeper than {MAX_DEPTH}")
    if isinstance(s, bool):
        return
    if not isinstance(s, Mapping):
        raise SchemaError(path, f"a schema must be an object or a boolean, not {type(s).__name__}")
    unknown = [k for k in s if k not in _KEYWORDS]
    if unknown:
        raise SchemaError(path, f"unsupported keyword {unknown[0]!r}")
    for key, value in s.items():
        expected = _VALUE_KINDS.get(key)
        if expected is not None and not expected[0](value):
            raise SchemaError(path, f"{key} must be {expected[1]}, not {shown(value)}")
    types = s.get("type", [])
    for t in [types] if isinstance(types, str) else types if isinstance(types, list) else [types]:
        if t not in _TYPES:
            raise SchemaError(path, f"unknown type {t!r}")
    if "$ref" in s:
        _resolve(root, s["$ref"], path)
    if "enum" in s and (not isinstance(s["enum"], list) or not s["enum"]):
        raise SchemaError(path, "enum must be a non-empty list")
    if "required" in s and not (
        isinstance(s["required"], list) and all(isinstance(r, str) for r in s["required"])
    ):
        raise SchemaError(path, "required must be a list of names")
    for low, high, limit in (
        ("minLength", "maxLength", MAX_LENGTH),
        ("minItems", "maxItems", MAX_ITEMS),
        ("minProperties", "maxProperties", MAX_ITEMS),
    ):
        _count_bounds(s, low, high, path, limit)
    if any(_IMPLIED.get(k) == "number" for k in s):
        _number_bounds(s, path)
    if "pattern" in s:
        if not isinstance(s["pattern"], str):
            raise SchemaError(path, f"pattern must be a string, not {s['pattern']!r}")
        try:
            re.compile(s["pattern"])
        except (re.error, RecursionError, OverflowError) as error:
            raise SchemaError(path, f"pattern {s['pattern']!r} does not compile: {error}") from None
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        if key in s:
            if not isinstance(s[key], list) or not s[key]:
                raise SchemaError(path, f"{key} must be a non-empty list")
            for i, sub in enumerate(s[key]):
                _check(root, sub, _join(path, key, i), depth + 1)
    for key in ("properties", "$defs", "definitions"):
        if key in s:
            if not isinstance(s[key], Mapping):
                raise SchemaError(path, f"{key} must be an object")
            for name, sub in s[key].items():
                _check(root, sub, _join(path, key, name), depth + 1)
    for key in ("additionalProperties", "additionalItems"):
        if key in s:
            _check(root, s[key], _join(path, key), depth + 1)
    if "items" in s:
        items = s["items"]
        if isinstance(items, list):
            for i, sub in enumerate(items):
                _check(root, sub, _join(path, "items", i), depth + 1)
        else:
            _check(root, items, _join(path, "items"), depth + 1)


# --------------------------------------------------------------------------------------------------
# Merging (allOf, $ref siblings, a union's branch with the keywords around it)


def _merge(a: Mapping[str, Any] | bool, b: Mapping[str, Any] | bool, path: str) -> dict[str, Any] | bool:
    """One schema that accepts what both accept (as far as the supported subset goes)."""
    if a is False or b is False:
        return False
    if a is True:
        return dict(b) if isinstance(b, Mapping) else True
    if b is True:
        return dict(a)
    out = dict(a)
    for key, new in b.items():
        if key in _ANNOTATIONS:
            continue
        if key not in out:
            out[key] = new
            continue
        old = out[key]
        if key == "type":
            types = _intersect_types(old, new)
            if not types:
                raise SchemaError(path, f"allOf: types {old!r} and {new!r} have nothing in common")
            out[key] = types
        elif key == "required":
            out[key] = list(dict.fromkeys([*old, *new]))
        elif key == "properties":
            props = dict(old)
            for name, sub in new.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            out[key] = props
        elif key in ("minimum", "minLength", "minItems", "minProperties"):
            out[key] = max(old, new)
        elif key in ("maximum", "maxLength", "maxItems", "maxProperties"):
            out[key] = min(old, new)
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(old, bool):
            out[key] = max(old, new) if key == "exclusiveMinimum" else min(old, new)
        elif key == "uniqueItems":
            out[key] = bool(old or new)
        elif key == "enum":
            keys = {_json_key(v) for v in new}
            out[key] = [v for v in old if _json_key(v) in keys]
            if not out[key]:
                raise SchemaError(path, "allOf: the enums have no value in common")
        elif key in ("items", "additionalProperties") and old is not False and new is not False:
            out[key] = {"allOf": [old, new]}
        elif key == "additionalProperties":
            out[key] = False
        elif key == "anyOf":
            product = [{"allOf": [x, y]} for x in old for y in new]
            if len(product) > _PRODUCT_LIMIT:
                raise SchemaError(path, "allOf: too many anyOf branches to combine")
            out[key] = product
        elif key == "allOf":
            out[key] = [*old, *new]
        elif key == "multipleOf" and isinstance(old, int) and isinstance(new, int):
            out[key] = math.lcm(old, new)
        elif _json_key(old) != _json_key(new):
            raise SchemaError(path, f"allOf: cannot combine two different {key!r}")
    # additionalProperties false in one part forbids the other part's extra properties.
    for side in (a, b):
        if side.get("additionalProperties") is False and "properties" in out:
            allowed = set(side.get("properties", {}))
            out["properties"] = {k: v for k, v in out["properties"].items() if k in allowed}
            missing = [k for k in out.get("required", []) if k not in allowed]
            if missing:
                raise SchemaError(
                    path, f"allOf: {missing[0]!r} is required but additionalProperties is false"
                )
    return out


def _intersect_types(a: Any, b: Any) -> list[str]:
    left = [a] if isinstance(a, str) else list(a)
    right = [b] if isinstance(b, str) else list(b)
    out = [t for t in left if t in right]
    if ("number" in left and "integer" in right) or ("integer" in left and "number" in right):
        out.append("integer")
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------------------------------
# Generation


class _Generator:
    def __init__(self, root: Mapping[str, Any] | bool, rng: random.Random, fake: Faker) -> None:
        self.root = root
        self.rng = rng
        self.fake = fake
        self.validator = _Validator(root)
        self.nodes = 0

    # The schema, flattened: $ref followed (siblings merged), allOf merged.
    def flatten(
        self, schema: Any, path: str, hops: int = 0
    ) -> tuple[dict[str, Any] | bool, str, tuple[str, ...]]:
        """``(schema, path, refs followed)`` with no ``$ref`` or ``allOf`` left at the top."""
        if hops > MAX_DEPTH:
            raise SchemaError(path, f"$ref/allOf chain deeper than {MAX_DEPTH} (a $ref cycle?)")
        if isinstance(schema, bool):
            return schema, path, ()
        if not isinstance(schema, Mapping):
            raise SchemaError(path, f"a schema must be an object or a boolean, not {type(schema).__name__}")
        unknown = [k for k in schema if k not in _KEYWORDS]
        if unknown:
            raise SchemaError(path, f"unsupported keyword {unknown[0]!r}")
        followed: tuple[str, ...] = ()
        out: dict[str, Any] | bool = {k: v for k, v in schema.items() if k not in ("$ref", "allOf")}
        if "$ref" in schema:
            target, target_path = _resolve(self.root, schema["$ref"], path)
            target, target_path, inner = self.flatten(target, target_path, hops + 1)
            out = _merge(target, out, path)
            path, followed = (target_path if len(schema) == 1 else path), (schema["$ref"], *inner)
        if "allOf" in schema:
            parts = schema["allOf"]
            if not isinstance(parts, list) or not parts:
                raise SchemaError(path, "allOf must be a non-empty list")
            for i, part in enumerate(parts):
                flat, _, ref = self.flatten(part, _join(path, "allOf", i), hops + 1)
                out = _merge(out, flat, path)
                followed += ref
        if isinstance(out, dict) and ("$ref" in out or "allOf" in out):
            flat, path, ref = self.flatten(out, path, hops + 1)
            return flat, path, followed + ref
        return out, path, followed

    def value(self, schema: Any, path: str, depth: int, refs: tuple[str, ...], name: str | None) -> Any:
        if depth > MAX_DEPTH:
            raise SchemaError(
                path, f"the document nests deeper than {MAX_DEPTH} (a recursion with no way out?)"
            )
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SchemaError(path, f"the document would hold more than {MAX_NODES} values")
        flat, path, followed = self.flatten(schema, path)
        refs += followed
        # A $ref seen more than RECURSION_DEPTH times on the way here is a recursion: end it.
        minimal = self.minimal_refs(refs)
        if flat is False:
            raise SchemaError(path, "the schema false accepts no value")
        if flat is True:
            flat = {}
        if "oneOf" in flat:
            return self.one_of(flat, path, depth, refs, name)
        if "anyOf" in flat:
            branches = flat["anyOf"]
            if not isinstance(branches, list) or not branches:
                raise SchemaError(path, "anyOf must be a non-empty list")
            rest = {k: v for k, v in flat.items() if k != "anyOf"}
            order = self.order(branches, minimal)
            last: SchemaError | None = None
            for i in order:
                try:
                    branch, _, inner = self.flatten(branches[i], _join(path, "anyOf", i))
                    merged = _merge(rest, branch, path)
                    # the branch's own $ref counts towards ending a recursion (Optional["Node"])
                    return self.value(merged, _join(path, "anyOf", i), depth + 1, refs + inner, name)
                except SchemaError as error:
                    last = error
            assert last is not None
            raise last
        return self.plain(flat, path, depth, refs, name, minimal)

    @staticmethod
    def minimal_refs(refs: tuple[str, ...]) -> bool:
        return any(refs.count(r) > RECURSION_DEPTH for r in set(refs))

    def order(self, branches: Sequence[Any], minimal: bool) -> list[int]:
        """The order to try a union's branches in: seeded, or past the recursion depth the
        branches without a ``$ref`` (``null`` first) before the others."""
        indexes = list(range(len(branches)))
        if not minimal:
            self.rng.shuffle(indexes)
            return indexes

        def cost(i: int) -> int:
            b = branches[i]
            if isinstance(b, Mapping) and b.get("type") == "null":
                return 0
            return 2 if _mentions_ref(b) else 1

        return sorted(indexes, key=cost)

    def one_of(
        self, flat: dict[str, Any], path: str, depth: int, refs: tuple[str, ...], name: str | None
    ) -> Any:
        branches = flat["oneOf"]
        if not isinstance(branches, list) or not branches:
            raise SchemaError(path, "oneOf must be a non-empty list")
        rest = {k: v for k, v in flat.items() if k != "oneOf"}
        last = "no branch can be generated"
        for i in self.order(branches, self.minimal_refs(refs)):
            for _ in range(5):
                try:
                    branch, _, inner = self.flatten(branches[i], _join(path, "oneOf", i))
                    merged = _merge(rest, branch, path)
                    doc = self.value(merged, _join(path, "oneOf", i), depth + 1, refs + inner, name)
                except SchemaError as error:
                    last = str(error)
                    break
                matching = [j for j, b in enumerate(branches) if self.validator.problem(b, doc, 0) is None]
                if matching == [i]:
                    return doc
                last = f"a document of branch {i} also matches branches {[j for j in matching if j != i]}"
        raise SchemaError(path, f"oneOf: no document matches exactly one branch ({last})")

    def plain(
        self, s: dict[str, Any], path: str, depth: int, refs: tuple[str, ...], name: str | None, minimal: bool
    ) -> Any:
        if "const" in s:
            problem = self.validator.problem({k: v for k, v in s.items() if k != "const"}, s["const"], 0)
            if problem is not None:
                raise SchemaError(path, f"const {s['const']!r} does not satisfy the schema: {problem[1]}")
            return copy.deepcopy(s["const"])
        if "enum" in s:
            if not isinstance(s["enum"], list) or not s["enum"]:
                raise SchemaError(path, "enum must be a non-empty list")
            rest = {k: v for k, v in s.items() if k != "enum"}
            fits = [v for v in s["enum"] if self.validator.problem(rest, v, 0) is None]
            if not fits:
                raise SchemaError(path, "no enum value satisfies the schema's other keywords")
            return copy.deepcopy(fits[0] if minimal else self.rng.choice(fits))
        types = s.get("type")
        if types is None:
            implied = list(dict.fromkeys(_IMPLIED[k] for k in s if k in _IMPLIED))
            types = implied or (["null"] if minimal else ["string", "integer", "number", "boolean", "null"])
        elif isinstance(types, str):
            types = [types]
        if not isinstance(types, list) or not types:
            raise SchemaError(path, f"type must be a name or a non-empty list, not {types!r}")
        for t in types:
            if t not in _TYPES:
                raise SchemaError(path, f"unknown type {t!r}")
        kind = "null" if minimal and "null" in types else types[0] if minimal else self.rng.choice(types)
        if kind == "null":
            return None
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "integer":
            return self.integer(s, path)
        if kind == "number":
            return self.number(s, path)
        if kind == "string":
            return self.string(s, path, name)
        if kind == "array":
            return self.array(s, path, depth, refs, minimal)
        return self.object(s, path, depth, refs, minimal)

    # ----------------------------------------------------------------------------------------------
    # numbers

    def integer(self, s: Mapping[str, Any], path: str) -> Any:
        low, high, low_x, high_x = _number_bounds(s, path)
        lo = (
            None
            if low is None
            else (math.floor(low) + 1 if low_x and low == math.floor(low) else math.ceil(low))
        )
        hi = (
            None
            if high is None
            else (math.ceil(high) - 1 if high_x and high == math.ceil(high) else math.floor(high))
        )
        lo, hi = _default_range(lo, hi, 0, 100)
        step = s.get("multipleOf")
        if step is not None:
            if step <= 0:
                raise SchemaError(path, f"multipleOf must be > 0, not {step}")
            if step != int(step):
                return self.number_multiple(s, path, low, high, low_x, high_x, step, integer=True)
            step = int(step)
            k_lo, k_hi = -(-lo // step), hi // step
            if k_lo > k_hi:
                raise SchemaError(path, f"no multiple of {step} between {lo} and {hi}")
            return self.rng.randint(k_lo, k_hi) * step
        if lo > hi:
            raise SchemaError(path, f"no integer between {low} and {high}")
        return self.rng.randint(lo, hi)

    def number(self, s: Mapping[str, Any], path: str) -> Any:
        low, high, low_x, high_x = _number_bounds(s, path)
        step = s.get("multipleOf")
        if step is not None:
            if step <= 0:
                raise SchemaError(path, f"multipleOf must be > 0, not {step}")
            return self.number_multiple(s, path, low, high, low_x, high_x, step, integer=False)
        lo, hi = _default_range(low, high, 0.0, 100.0)
        for _ in range(_RETRIES):
            v = self.rng.uniform(lo, hi)
            for candidate in (round(v, 2), v):
                if _inside(candidate, low, high, low_x, high_x):
                    return candidate
        mid = lo / 2 + hi / 2
        if _inside(mid, low, high, low_x, high_x):
            return mid
        raise SchemaError(path, f"no number found between {low} and {high}")

    def number_multiple(
        self,
        s: Mapping[str, Any],
        path: str,
        low: float | None,
        high: float | None,
        low_x: bool,
        high_x: bool,
        step: float,
        *,
        integer: bool,
    ) -> Any:
        lo, hi = _default_range(low, high, 0.0, 100.0 if step <= 100 else step * 3)
        try:
            k_lo, k_hi = math.ceil(lo / step), math.floor(hi / step)
        except OverflowError:
            raise SchemaError(path, f"multipleOf {step} is too small for the range {lo} to {hi}") from None
        if k_lo > k_hi:
            raise SchemaError(path, f"no multiple of {step} between {low} and {high}")
        for _ in range(_RETRIES):
            v: Any = self.rng.randint(k_lo, k_hi) * step
            if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
                v = int(v)
            # jsonschema checks a float multipleOf with ``(value / step).is_integer()``
            if integer and (isinstance(v, float) and not v.is_integer()):
                continue
            if _inside(v, low, high, low_x, high_x) and (v / step) == int(v / step):
                return v
        raise SchemaError(path, f"no exact multiple of {step} found between {low} and {high}")

    # ----------------------------------------------------------------------------------------------
    # strings

    def string(self, s: Mapping[str, Any], path: str, name: str | None) -> str:
        min_len, max_len = s.get("minLength", 0), s.get("maxLength")
        for key, v in (("minLength", min_len), ("maxLength", max_len)):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise SchemaError(path, f"{key} must be a non-negative integer, not {v!r}")
        if max_len is not None and min_len > max_len:
            raise SchemaError(path, f"minLength {min_len} > maxLength {max_len}")
        if min_len > MAX_LENGTH:
            raise SchemaError(path, f"minLength {min_len} is above the limit of {MAX_LENGTH}")

        def fits(text: str) -> bool:
            return min_len <= len(text) and (max_len is None or len(text) <= max_len)

        if "pattern" in s:
            pattern = s["pattern"]
            if not isinstance(pattern, str):
                raise SchemaError(path, f"pattern must be a string, not {pattern!r}")
            try:
                compiled = re.compile(pattern)
                parsed = _sre.parse(pattern)
            except (re.error, RecursionError, OverflowError) as error:
                raise SchemaError(path, f"pattern {pattern!r} does not compile: {error}") from None
            for _ in range(_RETRIES):
                text = _RegexWriter(self.rng, path, pattern).write(parsed)
                if compiled.search(text) and fits(text):
                    return text
            raise SchemaError(
                path, f"cannot generate a string matching pattern {pattern!r} within the length bounds"
            )
        fmt = s.get("format")
        maker = _FORMATS.get(fmt) if isinstance(fmt, str) else None
        if maker is not None:
            for _ in range(_RETRIES):
                text = maker(self.fake, self.rng)
                if fits(text):
                    return text
            raise SchemaError(path, f"format {fmt!r} cannot meet minLength {min_len} / maxLength {max_len}")
        hint = _faker_for(name)
        text = hint(self.fake) if hint is not None else " ".join(self.fake.words(self.rng.randint(1, 3)))
        if max_len is not None:
            text = text[:max_len]
        while len(text) < min_len:
            text += self.rng.choice(string.ascii_lowercase)
        return text

    # ----------------------------------------------------------------------------------------------
    # arrays and objects

    def array(
        self, s: Mapping[str, Any], path: str, depth: int, refs: tuple[str, ...], minimal: bool
    ) -> list[Any]:
        items = s.get("items", True)
        prefix = s.get("prefixItems")
        rest: Any = items
        if isinstance(items, list):  # draft 7 tuple form
            prefix, rest = items, s.get("additionalItems", True)
        prefix = list(prefix or [])
        low, high = _count_bounds(s, "minItems", "maxItems", path)
        if rest is False:
            high = len(prefix) if high is None else min(high, len(prefix))
            if low > high:
                raise SchemaError(path, f"minItems {low} but only {len(prefix)} items are allowed")
        if minimal:
            n = low
        else:
            start = max(low, 1)
            n = self.rng.randint(start, start + 2)
            if high is not None:
                n = min(n, high)
        out: list[Any] = []
        seen: set[str] = set()
        for i in range(n):
            sub = prefix[i] if i < len(prefix) else rest
            sub_path = _join(path, "prefixItems", i) if i < len(prefix) else _join(path, "items")
            for _ in range(_RETRIES):
                item = self.value(sub, sub_path, depth + 1, refs, None)
                if not s.get("uniqueItems") or _json_key(item) not in seen:
                    break
            else:
                if len(out) >= low:
                    break
                raise SchemaError(path, f"uniqueItems: cannot make {low} distinct items")
            seen.add(_json_key(item))
            out.append(item)
        return out

    def object(
        self, s: Mapping[str, Any], path: str, depth: int, refs: tuple[str, ...], minimal: bool
    ) -> dict[str, Any]:
        props = s.get("properties", {})
        if not isinstance(props, Mapping):
            raise SchemaError(path, "properties must be an object")
        required = s.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise SchemaError(path, "required must be a list of names")
        extra = s.get("additionalProperties", True)
        low, high = _count_bounds(s, "minProperties", "maxProperties", path)
        required = list(dict.fromkeys(required))
        if high is not None and len(required) > high:
            raise SchemaError(path, f"{len(required)} required properties > maxProperties {high}")
        undeclared = [r for r in required if r not in props]
        if undeclared and extra is False:
            raise SchemaError(path, f"{undeclared[0]!r} is required but additionalProperties is false")
        names = [n for n in props if n in required or n in undeclared]
        names += [r for r in undeclared if r not in names]
        optional = [n for n in props if n not in required]
        for n in optional:
            if len(names) >= low and (minimal or self.rng.random() < 0.5):
                continue
            if high is not None and len(names) >= high:
                break
            names.append(n)
        keep = set(names)
        names = [n for n in [*props, *undeclared] if n in keep]
        out: dict[str, Any] = {}
        for n in names:
            sub = props.get(n, extra if extra is not False else True)
            out[n] = self.value(sub, _join(path, "properties", n), depth + 1, refs, n)
        wanted = low
        if not minimal and (isinstance(extra, Mapping) or (extra is True and not props)):
            # a dict[str, X] model, or a free-form object (json_object mode): a few entries
            wanted = max(low, len(out) + self.rng.randint(0 if props else 1, 2 if props else 3))
            if high is not None:
                wanted = min(wanted, high)
        if len(out) < wanted:
            if extra is False:
                raise SchemaError(path, f"minProperties {low} but only {len(out)} properties are allowed")
            while len(out) < wanted:
                key = self.fake.word()
                if key in out or key in props:
                    key = f"{key}_{len(out)}"
                if key not in out and key not in props:
                    out[key] = self.value(extra, _join(path, "additionalProperties"), depth + 1, refs, key)
        return out


def _default_range(lo: Any, hi: Any, low: Any, high: Any) -> tuple[Any, Any]:
    """Bounds for a draw: the schema's, or 0 to 100 around the one it gives."""
    width = high - low
    if lo is None and hi is None:
        return low, high
    if lo is None:
        return hi - width, hi
    if hi is None:
        return lo, lo + width
    return lo, hi


def _number_bounds(s: Mapping[str, Any], path: str) -> tuple[float | None, float | None, bool, bool]:
    """``(low, high, low_exclusive, high_exclusive)`` from either draft's spelling."""
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        v = s.get(key)
        if v is not None and not isinstance(v, bool | int | float):
            raise SchemaError(path, f"{key} must be a number, not {v!r}")
        # Past 1e300 a draw's arithmetic (a bound plus 100, a quotient) overflows a float.
        if v is not None and not isinstance(v, bool) and not abs(v) <= _LARGEST:
            raise SchemaError(path, f"{key} {shown(v)} is beyond the limit of ±{_LARGEST:g}")
    step = s.get("multipleOf")
    if step is not None and (isinstance(step, bool) or not step > 0):
        raise SchemaError(path, f"multipleOf must be > 0, not {step!r}")
    low, high = s.get("minimum"), s.get("maximum")
    low_x = high_x = False
    ex_low, ex_high = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
    if isinstance(ex_low, bool):
        low_x = ex_low and low is not None
    elif ex_low is not None and (low is None or ex_low >= low):
        low, low_x = ex_low, True
    if isinstance(ex_high, bool):
        high_x = ex_high and high is not None
    elif ex_high is not None and (high is None or ex_high <= high):
        high, high_x = ex_high, True
    if low is not None and high is not None and (low > high or (low == high and (low_x or high_x))):
        low_name = "exclusiveMinimum" if low_x else "minimum"
        high_name = "exclusiveMaximum" if high_x else "maximum"
        sign = ">" if low > high else ">="
        raise SchemaError(path, f"{low_name} {low} {sign} {high_name} {high}")
    return low, high, low_x, high_x


def _inside(v: float, low: float | None, high: float | None, low_x: bool, high_x: bool) -> bool:
    if low is not None and (v < low or (low_x and v == low)):
        return False
    return not (high is not None and (v > high or (high_x and v == high)))


def _count_bounds(
    s: Mapping[str, Any], low_key: str, high_key: str, path: str, limit: int = MAX_ITEMS
) -> tuple[int, int | None]:
    low, high = s.get(low_key, 0), s.get(high_key)
    for key, v in ((low_key, low), (high_key, high)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise SchemaError(path, f"{key} must be a non-negative integer, not {v!r}")
    if high is not None and low > high:
        raise SchemaError(path, f"{low_key} {low} > {high_key} {high}")
    if low > limit:
        raise SchemaError(path, f"{low_key} {low} is above the limit of {limit}")
    return low, high


# --------------------------------------------------------------------------------------------------
# Faker: formats and property names


def _uuid(fake: Faker, rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_FORMATS: dict[str, Callable[[Faker, random.Random], str]] = {
    "date-time": lambda f, r: f.date_time(tzinfo=datetime.UTC).isoformat(),
    "date": lambda f, r: f.date(),
    "time": lambda f, r: f"{f.time()}Z",
    "duration": lambda f, r: f"PT{r.randint(1, 3600)}S",
    "email": lambda f, r: f.email(),
    "uri": lambda f, r: f.url(),
    "uri-reference": lambda f, r: f.url(),
    "iri": lambda f, r: f.url(),
    "uuid": _uuid,
    "ipv4": lambda f, r: f.ipv4(),
    "ipv6": lambda f, r: f.ipv6(),
    "hostname": lambda f, r: f.hostname(),
}

# Property names that suggest a Faker provider (matched whole, then by the last ``_`` word).
_FAKER_BY_NAME: dict[str, Callable[[Faker], str]] = {
    "name": lambda f: f.name(),
    "fullname": lambda f: f.name(),
    "firstname": lambda f: f.first_name(),
    "lastname": lambda f: f.last_name(),
    "username": lambda f: f.user_name(),
    "email": lambda f: f.email(),
    "phone": lambda f: f.phone_number(),
    "address": lambda f: f.street_address(),
    "street": lambda f: f.street_address(),
    "city": lambda f: f.city(),
    "state": lambda f: f.state(),
    "country": lambda f: f.country(),
    "zip": lambda f: f.postcode(),
    "zipcode": lambda f: f.postcode(),
    "postcode": lambda f: f.postcode(),
    "company": lambda f: f.company(),
    "job": lambda f: f.job(),
    "url": lambda f: f.url(),
    "website": lambda f: f.url(),
    "color": lambda f: f.color_name(),
    "currency": lambda f: f.currency_code(),
    "title": lambda f: f.sentence(nb_words=4).rstrip("."),
    "description": lambda f: f.sentence(),
    "summary": lambda f: f.sentence(),
    "text": lambda f: f.sentence(),
}


def _faker_for(name: str | None) -> Callable[[Faker], str] | None:
    if not name:
        return None
    key = name.lower().replace("-", "_")
    found = _FAKER_BY_NAME.get(key.replace("_", "")) or _FAKER_BY_NAME.get(key.rsplit("_", 1)[-1])
    return found


# --------------------------------------------------------------------------------------------------
# Strings from a regex

_PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]
_CATEGORIES: dict[str, str] = {
    "CATEGORY_DIGIT": string.digits,
    "CATEGORY_NOT_DIGIT": string.ascii_letters + " _-",
    "CATEGORY_WORD": string.ascii_letters + string.digits + "_",
    "CATEGORY_NOT_WORD": " -.,:;!?",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": string.ascii_letters + string.digits,
}


_CATEGORY_SOURCE = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
}


class _RegexWriter:
    """Writes one string a parsed regex matches (``sre_parse``'s tree; ASCII choices)."""

    def __init__(self, rng: random.Random, path: str, pattern: str) -> None:
        self.rng = rng
        self.path = path
        self.pattern = pattern
        self.groups: dict[int, str] = {}
        self.size = 0

    def refuse(self, what: str) -> SchemaError:
        return SchemaError(self.path, f"pattern {self.pattern!r}: {what} is not supported")

    def write(self, parsed: Any) -> str:
        return "".join(self.node(op, arg) for op, arg in parsed)

    def node(self, op: Any, arg: Any) -> str:
        kind = getattr(op, "name", str(op))
        if kind == "LITERAL":
            return chr(arg)
        if kind == "NOT_LITERAL":
            return self.rng.choice([c for c in _PRINTABLE if c != chr(arg)])
        if kind == "ANY":
            return self.rng.choice(string.ascii_letters + string.digits)
        if kind == "IN":
            return self.char_in(arg)
        if kind == "AT":
            return ""
        if kind == "BRANCH":
            return self.write(self.rng.choice(arg[1]))
        if kind == "SUBPATTERN":
            group, *_, sub = arg
            text = self.write(sub)
            if group is not None:
                self.groups[group] = text
            return text
        if kind in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            if high == _sre.MAXREPEAT or high - low > _UNBOUNDED_REPEAT:
                high = low + _UNBOUNDED_REPEAT
            if low > MAX_LENGTH:
                raise SchemaError(
                    self.path, f"pattern {self.pattern!r} repeats {low} times, above {MAX_LENGTH}"
                )
            parts: list[str] = []
            for _ in range(self.rng.randint(low, high)):
                parts.append(self.write(sub))
                self.size += len(parts[-1])
                if self.size > MAX_LENGTH:
                    raise SchemaError(
                        self.path, f"pattern {self.pattern!r} makes strings above {MAX_LENGTH} characters"
                    )
            return "".join(parts)
        if kind == "GROUPREF":
            return self.groups.get(arg, "")
        if kind == "ATOMIC_GROUP":
            return self.write(arg)
        if kind in ("ASSERT", "ASSERT_NOT"):
            raise self.refuse("a look-ahead or look-behind")
        raise self.refuse(kind.lower())

    def char_in(self, items: Sequence[tuple[Any, Any]]) -> str:
        negate = False
        chars: list[str] = []
        for op, arg in items:
            kind = getattr(op, "name", str(op))
            if kind == "NEGATE":
                negate = True
            elif kind == "LITERAL":
                chars.append(chr(arg))
            elif kind == "RANGE":
                lo, hi = arg
                chars.extend(chr(c) for c in range(lo, min(hi, lo + 256) + 1))
            elif kind == "CATEGORY":
                name = getattr(arg, "name", str(arg))
                if name not in _CATEGORIES:
                    raise self.refuse(name.lower())
                chars.extend(_CATEGORIES[name])
            else:
                raise self.refuse(f"{kind.lower()} in a character class")
        if negate:
            banned = set(chars)
            if any(getattr(op, "name", "") == "CATEGORY" for op, _ in items):
                # \D, \W, \S inside a negated class: refuse rather than guess Unicode categories
                pool = [c for c in _PRINTABLE if c not in banned and re.match(f"[{_class_source(items)}]", c)]
            else:
                pool = [c for c in _PRINTABLE if c not in banned]
            chars = pool
        if not chars:
            raise SchemaError(
                self.path, f"pattern {self.pattern!r} has a character class no character matches"
            )
        return self.rng.choice(chars)


def _class_source(items: Sequence[tuple[Any, Any]]) -> str:
    """A character class rebuilt from its parse (only for checking candidates of negated classes)."""
    parts = []
    for op, arg in items:
        kind = getattr(op, "name", str(op))
        if kind == "NEGATE":
            parts.append("^")
        elif kind == "LITERAL":
            parts.append(re.escape(chr(arg)))
        elif kind == "RANGE":
            parts.append(f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}")
        elif kind == "CATEGORY":
            parts.append(_CATEGORY_SOURCE[arg.name])
    return "".join(parts)


# --------------------------------------------------------------------------------------------------
# Checking: the same subset, so that a document is never served invalid


class _Validator:
    def __init__(self, root: Mapping[str, Any] | bool) -> None:
        self.root = root

    def problem(self, schema: Any, value: Any, depth: int, path: str = "") -> tuple[str, str] | None:
        """``(schema path, what fails)`` for the first failure, ``None`` when ``value`` is valid."""
        if depth > MAX_DEPTH * 2:
            return path, "too deep to check"
        if schema is True or schema == {}:
            return None
        if schema is False:
            return path, "false accepts nothing"
        if not isinstance(schema, Mapping):
            return path, "not a schema"
        for issue in self.issues(schema, value, depth, path):
            return issue
        return None

    def issues(self, s: Mapping[str, Any], v: Any, depth: int, path: str) -> Iterator[tuple[str, str]]:
        def sub(schema: Any, value: Any, where: str) -> Iterator[tuple[str, str]]:
            found = self.problem(schema, value, depth + 1, where)
            if found is not None:
                yield found

        if "$ref" in s:
            target, target_path = _resolve(self.root, s["$ref"], path)
            yield from sub(target, v, target_path)
        for i, part in enumerate(s.get("allOf", ())):
            yield from sub(part, v, _join(path, "allOf", i))
        if "anyOf" in s and all(self.problem(b, v, depth + 1) is not None for b in s["anyOf"]):
            yield path, "matches no anyOf branch"
        if "oneOf" in s and sum(self.problem(b, v, depth + 1) is None for b in s["oneOf"]) != 1:
            yield path, "does not match exactly one oneOf branch"
        if "const" in s and _json_key(s["const"]) != _json_key(v):
            yield path, f"is not the const {s['const']!r}"
        if "enum" in s and _json_key(v) not in {_json_key(e) for e in s["enum"]}:
            yield path, "is not one of the enum"
        if "type" in s:
            types = [s["type"]] if isinstance(s["type"], str) else s["type"]
            if not any(_is_type(v, t) for t in types):
                yield path, f"{v!r} is not of type {s['type']!r}"
                return
        if isinstance(v, str):
            if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", math.inf):
                yield path, f"length {len(v)} is outside minLength/maxLength"
            if "pattern" in s and not re.search(s["pattern"], v):
                yield path, f"does not match pattern {s['pattern']!r}"
        elif isinstance(v, int | float) and not isinstance(v, bool):
            low, high = s.get("minimum"), s.get("maximum")
            ex_low, ex_high = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
            if (low is not None and v < low) or (high is not None and v > high):
                yield path, f"{v} is outside minimum/maximum"
            if (ex_low is True and v == low) or (ex_high is True and v == high):
                yield path, f"{v} is on an exclusive bound"
            if not isinstance(ex_low, bool) and ex_low is not None and v <= ex_low:
                yield path, f"{v} <= exclusiveMinimum {ex_low}"
            if not isinstance(ex_high, bool) and ex_high is not None and v >= ex_high:
                yield path, f"{v} >= exclusiveMaximum {ex_high}"
            step = s.get("multipleOf")
            if step is not None:
                q = v / step
                if not (
                    (isinstance(q, float) and q.is_integer())
                    or (isinstance(v, int) and isinstance(step, int) and v % step == 0)
                ):
                    yield path, f"{v} is not a multiple of {step}"
        elif isinstance(v, list):
            if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", math.inf):
                yield path, f"{len(v)} items is outside minItems/maxItems"
            if s.get("uniqueItems") and len({_json_key(x) for x in v}) != len(v):
                yield path, "items are not unique"
            items = s.get("items", True)
            prefix, rest = s.get("prefixItems", []), items
            if isinstance(items, list):
                prefix, rest = items, s.get("additionalItems", True)
            for i, x in enumerate(v):
                where = _join(path, "prefixItems", i) if i < len(prefix) else _join(path, "items")
                yield from sub(prefix[i] if i < len(prefix) else rest, x, where)
        elif isinstance(v, dict):
            props = s.get("properties", {})
            for r in s.get("required", ()):
                if r not in v:
                    yield path, f"required property {r!r} is missing"
            if len(v) < s.get("minProperties", 0) or len(v) > s.get("maxProperties", math.inf):
                yield path, f"{len(v)} properties is outside minProperties/maxProperties"
            extra = s.get("additionalProperties", True)
            for k, x in v.items():
                if k in props:
                    yield from sub(props[k], x, _join(path, "properties", k))
                else:
                    yield from sub(extra, x, _join(path, "additionalProperties"))


def _is_type(v: Any, t: str) -> bool:
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
    if t == "number":
        return not isinstance(v, bool) and isinstance(v, int | float)
    if t == "string":
        return isinstance(v, str)
    if t == "array":
        return isinstance(v, list)
    return t == "object" and isinstance(v, dict)


_ANY_OBJECT: dict[str, Any] = {"type": "object"}


@dataclass(frozen=True, slots=True)
class JsonDocument:
    """Structured output: ``json: auto`` generates a seeded document valid against the schema the
    request asks for (``schema_data.generate``: Chat's ``response_format``, Responses'
    ``text.format``; any JSON object when the request names none); ``json: {...}`` sends the given
    document. Either is sent as compact JSON, in tokens like any text."""

    document: Any = None  # None: auto

    def text(self, request: dict[str, Any], rng: random.Random) -> str:
        return self.text_for_schema(None, rng)

    def text_for_schema(self, schema: dict[str, Any] | None, rng: random.Random) -> str:
        value = self.document if self.document is not None else generate(schema or _ANY_OBJECT, rng)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
