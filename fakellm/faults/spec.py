"""Fault settings read from scenario files (:func:`parse_fault`, :func:`build_fault`) and from the
compact spec of ``X-FakeLLM-Faults`` and ``--faults`` (:func:`parse_fault_spec`).

Both ways in check each setting against the fault's dataclass fields and their types, so an error
names the field (and, for a spec, the character) whichever way the fault was written.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin, get_type_hints

from ..errors import FaultSpecError, ScenarioError, shown
from .base import Fault, _Positioned
from .bounds import _MAX_INT_DIGITS, MAX_FAULTS, MAX_POSITION_TOKENS, MAX_WRITE_BYTES
from .registry import FAULTS


def _fields(cls: type[Fault]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _unit(key: str) -> str | None:
    if key == "ms" or key.endswith("_ms"):
        return "ms"
    if key.endswith("_s") and not key.endswith("_per_s"):
        return "s"
    return None


_DURATION = re.compile(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(ms|s)?")


def _number(text: str, key: str) -> float:
    """A number from text; for duration settings ``500ms`` and ``2s`` are converted to the
    setting's own unit (so ``duration_ms=2s`` is 2000, ``retry_after_s=500ms`` is 0.5)."""
    unit = _unit(key)
    if key == "factor":
        text = text.removeprefix("x").removesuffix("x")
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return float(text)  # raises ValueError, or reads "inf"/"nan", refused by the caller
    value = float(match.group(1))
    given = match.group(2)
    if given is None:
        return value
    if unit is None:
        raise ValueError(text)
    if given != unit:
        value = value * 1000.0 if given == "s" else value / 1000.0
    return value


_SIZE_UNITS = {"k": 1024, "m": 1024 * 1024}


def _size(text: str, key: str) -> int:
    """An integer; a ``*_bytes`` setting also takes nginx's size notation, ``4k`` and ``1m``
    (1024 and 1048576 bytes, either case)."""
    unit = _SIZE_UNITS.get(text[-1:].lower()) if key.endswith("_bytes") else None
    if unit is None:
        return _int(text)
    return _int(text[:-1]) * unit


def _int(text: str) -> int:
    """``int(text)`` without Python's digit limit (a ValueError that is not ours past 4300 digits):
    no setting takes a number of more than 18 digits."""
    if len(text.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
        raise ValueError(text)
    return int(text)


def _convert(key: str, value: Any, hint: Any, *, quoted: bool = False) -> Any:
    """Check one setting's value (YAML-typed, or text from the compact spec) against its type."""
    from_text = isinstance(value, str)
    base = hint
    optional = False
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        optional = len(args) < len(get_args(hint))
        base = args[0]
    if value is None or (from_text and not quoted and value.lower() in ("null", "none")):
        if optional:
            return None
        raise ScenarioError("may not be null", field=key)
    try:
        if base is str:
            if not from_text:
                raise ValueError
            return value
        if base is bool:
            if isinstance(value, bool):
                return value
            if from_text and value.lower() in ("true", "yes", "on", "1"):
                return True
            if from_text and value.lower() in ("false", "no", "off", "0"):
                return False
            raise ValueError
        if isinstance(value, bool):
            raise ValueError
        if base is int:
            if from_text:
                return _size(value.strip(), key)
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError
        if base is float:
            number = _number(value, key) if from_text else value
            if not isinstance(number, int | float) or not math.isfinite(number):
                raise ValueError
            return float(number)
    except (ValueError, OverflowError):  # OverflowError: an int too large for a float
        unit = _unit(key)
        kind = {
            bool: "true or false",
            int: "an integer (of bytes, or 4k, 1m)" if key.endswith("_bytes") else "an integer",
            float: f"a number{f' of {unit} (or a duration like 500ms, 2s)' if unit else ''}",
        }.get(base, "a string")
        raise ScenarioError(f"must be {kind}, got {shown(value)}", field=key) from None
    raise ScenarioError(f"unsupported value {value!r}", field=key)  # pragma: no cover


def _suggest(word: str, options: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _alias(cls: type[Fault], key: str, value: Any) -> tuple[Any] | None:
    """A bare word of the fault's that stands for a value of ``key`` (``size_bytes: all``,
    ``duration_ms: forever``), as a 1-tuple; None for any other value."""
    alias = cls.aliases.get(value) if isinstance(value, str) else None
    return (alias[1],) if alias is not None and alias[0] == key else None


def build_fault(kind: str, settings: Mapping[str, Any], *, prefix: str = "") -> Fault:
    """A fault from its name and a mapping of settings. Errors name the field, with ``prefix``."""
    cls = FAULTS.get(kind)
    if cls is None:
        raise ScenarioError(
            f"unknown fault {kind!r}{_suggest(kind, FAULTS)}; known faults: {', '.join(sorted(FAULTS))}",
            field="type" if not prefix else None,
        )
    fields = _fields(cls)
    values: dict[str, Any] = {}
    try:
        for key, value in settings.items():
            key = str(key)
            if key not in fields:
                raise ScenarioError(
                    f"unknown setting for {kind}{_suggest(key, fields)}; it takes: "
                    f"{', '.join(sorted(fields))}",
                    field=key,
                )
            alias = _alias(cls, key, value)
            values[key] = alias[0] if alias else _convert(key, value, fields[key])
        return cls(**values)
    except ScenarioError as exc:
        if not prefix:
            raise
        field = f"{prefix}{exc.field}" if exc.field else prefix.rstrip(".")
        raise ScenarioError(exc.reason, field=field) from None


def parse_fault(item: Any) -> Fault:
    """A fault from a scenario file: ``{type: drop, after_tokens: 5, mode: rst}``, the one-key form
    ``{drop: {after_tokens: 5, mode: rst}}``, or one compact spec string ``"drop@5 rst"``.
    Errors are :class:`ScenarioError` naming the field (the scenario loader adds file and line)."""
    if isinstance(item, Fault):
        return item
    if isinstance(item, str):
        try:
            faults = parse_fault_spec(item)
        except FaultSpecError as exc:
            raise ScenarioError(str(exc)) from None
        if len(faults) != 1:
            raise ScenarioError(
                f"a fault written as a string must hold exactly one fault, got {len(faults)}: {item!r}"
            )
        return faults[0]
    if not isinstance(item, Mapping):
        raise ScenarioError(f"a fault must be a mapping or a string, got {type(item).__name__}")
    if "type" in item:
        kind = item["type"]
        if not isinstance(kind, str):
            raise ScenarioError(f"must be a fault name, got {kind!r}", field="type")
        return build_fault(kind, {k: v for k, v in item.items() if k != "type"})
    if len(item) == 1:
        ((kind, settings),) = item.items()
        kind = str(kind)
        if settings is None:
            settings = {}
        if not isinstance(settings, Mapping):
            raise ScenarioError(
                f"the settings of {kind!r} must be a mapping, got {type(settings).__name__}", field=kind
            )
        return build_fault(kind, settings, prefix=f"{kind}.")
    raise ScenarioError(
        "a fault needs a 'type' field (e.g. {type: drop, mode: rst}) or a single key naming it "
        "(e.g. {drop: {mode: rst}})"
    )


# The compact spec of X-FakeLLM-Faults and --faults (docs/faults.md has the full reference):
#
#   spec     = [ fault ] *( ";" [ fault ] )
#   fault    = name [ "@" position ] *( ws arg )
#   position = INT                       after_tokens
#            | NUMBER ( "ms" | "s" )      after_ms
#   arg      = key "=" value             any setting
#            | INT "-" INT [ "bytes" ]   min_bytes, max_bytes (fragment)
#            | flag                      a true/false setting set to true (comments, bom, coalesce, ...)
#            | value                     the fault's main setting (status, duration_ms, mode, ...)
#   value    = WORD | '"' text '"'        quotes allow spaces and ';' (\" and \\ escape)
#
# Durations: "500ms" or "2s" for any *_ms or *_s setting. Examples: "error_event@20",
# "fragment 1-7 bytes", "http_error 429 retry_after_s=1 times=1", "drop@5 rst",
# "stall@10 2s keepalive_ms=500", "sse crlf comments bom", 'error_event@3 message="Overloaded"'.


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    at: int  # offset in the spec
    key: str | None = None  # set for key=value
    quoted: bool = False


def _words(spec: str) -> list[list[_Word]]:
    """Split a spec into faults and words, keeping each word's offset, honouring quotes."""
    faults: list[list[_Word]] = [[]]
    i, n = 0, len(spec)
    while i < n:
        ch = spec[i]
        if ch == ";":
            faults.append([])
            i += 1
            continue
        if ch.isspace():
            i += 1
            continue
        start = i
        buf: list[str] = []
        key: str | None = None
        quoted = False
        while i < n and not spec[i].isspace() and spec[i] != ";":
            ch = spec[i]
            if ch == '"':
                quoted = True
                j = i + 1
                while j < n and spec[j] != '"':
                    if spec[j] == "\\" and j + 1 < n:
                        j += 1
                    buf.append(spec[j])
                    j += 1
                if j >= n:
                    raise FaultSpecError("unterminated quote", spec=spec, position=i)
                i = j + 1
                continue
            if ch == "=" and key is None and not quoted:
                key = "".join(buf)
                buf = []
                i += 1
                continue
            buf.append(ch)
            i += 1
        faults[-1].append(_Word("".join(buf), start, key, quoted))
    return [f for f in faults if f]


_POSITION_TOKENS = re.compile(r"[0-9]+")
_POSITION_TIME = re.compile(r"([0-9]*\.?[0-9]+)(ms|s)")
_RANGE = re.compile(r"([0-9]+)-([0-9]+)(?:bytes|b)?")


def parse_fault_spec(spec: str) -> list[Fault]:
    """Parse a compact spec (``X-FakeLLM-Faults`` header, ``--faults``) into faults.

    Raises :class:`FaultSpecError` saying what is wrong and at which character."""
    faults = _words(spec)
    if len(faults) > MAX_FAULTS:
        raise FaultSpecError(
            f"at most {MAX_FAULTS} faults in one spec, got {len(faults)}",
            spec=spec,
            position=faults[MAX_FAULTS][0].at,
        )
    return [_parse_one(words, spec) for words in faults]


def _parse_one(words: list[_Word], spec: str) -> Fault:
    head = words[0]
    name, at_sign, position = head.text.partition("@")
    if head.key is not None or head.quoted or not name:
        raise FaultSpecError(
            f"expected a fault name (one of {', '.join(sorted(FAULTS))})", spec=spec, position=head.at
        )
    cls = FAULTS.get(name)
    if cls is None:
        raise FaultSpecError(
            f"unknown fault {name!r}{_suggest(name, FAULTS)}; known faults: {', '.join(sorted(FAULTS))}",
            spec=spec,
            position=head.at,
        )
    fields = _fields(cls)
    values: dict[str, Any] = {}
    where: dict[str, int] = {}

    def fail(message: str, at: int, field: str | None = None) -> FaultSpecError:
        return FaultSpecError(f"{name}{f' {field}' if field else ''}: {message}", spec=spec, position=at)

    def put(key: str, value: Any, at: int) -> None:
        if key in values:
            raise fail(f"{key} is given twice", at)
        values[key] = value
        where[key] = at

    if at_sign:
        at = head.at + len(name) + 1
        if not issubclass(cls, _Positioned):
            positioned = sorted(k for k, c in FAULTS.items() if issubclass(c, _Positioned))
            raise fail(f"takes no position (only {', '.join(positioned)} do)", at)
        if _POSITION_TOKENS.fullmatch(position):
            if len(position.lstrip("0")) > _MAX_INT_DIGITS:
                raise fail(f"must be <= {MAX_POSITION_TOKENS}, got {position[:20]}...", at, "after_tokens")
            put("after_tokens", int(position), at)
        elif match := _POSITION_TIME.fullmatch(position):
            value = float(match.group(1))
            put("after_ms", value * 1000.0 if match.group(2) == "s" else value, at)
        else:
            raise fail(f"bad position {position!r}: expected a token count (@20) or a time (@500ms, @2s)", at)

    after_range = False
    for word in words[1:]:
        text = word.text
        try:
            if word.key is not None:
                if word.key not in fields:
                    raise ScenarioError(
                        f"unknown setting {word.key!r}{_suggest(word.key, fields)}; "
                        f"{name} takes: {', '.join(sorted(fields))}"
                    )
                alias = None if word.quoted else _alias(cls, word.key, text)
                value = alias[0] if alias else _convert(word.key, text, fields[word.key], quoted=word.quoted)
                put(word.key, value, word.at)
            elif not word.quoted and after_range and text in ("bytes", "b"):
                pass
            elif not word.quoted and (match := _RANGE.fullmatch(text)) and "min_bytes" in fields:
                for key, digits in (("min_bytes", match.group(1)), ("max_bytes", match.group(2))):
                    try:
                        put(key, _int(digits), word.at)
                    except ValueError:  # more digits than any bound
                        raise fail(
                            f"must be an integer <= {MAX_WRITE_BYTES}, got {shown(digits)}", word.at, key
                        ) from None
                after_range = True
                continue
            elif not word.quoted and text in cls.aliases:
                key, value = cls.aliases[text]
                put(key, value, word.at)
            elif not word.quoted and text in fields and fields[text] in (bool, bool | None):
                put(text, True, word.at)
            elif cls.primary is not None:
                put(
                    cls.primary, _convert(cls.primary, text, fields[cls.primary], quoted=word.quoted), word.at
                )
            else:
                raise ScenarioError(
                    f"cannot read {text!r}: {name} has no main setting; use key=value "
                    f"(it takes: {', '.join(sorted(fields))})"
                )
        except ScenarioError as exc:
            raise fail(exc.reason, word.at, exc.field) from None
        after_range = False
    try:
        return cls(**values)
    except ScenarioError as exc:
        raise fail(exc.reason, where.get(exc.field or "", head.at), exc.field) from None
