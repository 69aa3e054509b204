"""Strategies and budgets shared by the fuzz tests.

Budgets are fractions of the loaded profile's ``max_examples`` (``tests/conftest.py``): a pure parser
runs the whole budget, a round trip through the app a fraction of it, so one profile scales the suite.

Numbers in the grammar-aware strategies stay in ranges a test can serve in milliseconds. Values that
overflow a duration or a rate are issue 10's known defects, fuzzed on their own in ``test_known_defects``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, get_args

from hypothesis import settings
from hypothesis import strategies as st

from fakellm import SSEDecoder
from fakellm.faults import FAULTS, Fault, Fragment, _fields, _Positioned

__all__ = [
    "budget",
    "check_fault",
    "fault_specs",
    "header_text",
    "json_values",
    "sse_events",
    "valid_fault_specs",
]


def budget(fraction: float, **kwargs: Any) -> settings:
    """``fraction`` of the profile's example budget, at least one (and any other ``settings``)."""
    return settings(max_examples=max(1, int(settings.default.max_examples * fraction)), **kwargs)


# --------------------------------------------------------------------------------------------------
# JSON and header text

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

# What a header value can carry on the wire (RFC 9110 field-value: visible ASCII, space, tab and
# obs-text); httpx refuses CR, LF and NUL before they leave. Leading and trailing whitespace is
# stripped by every HTTP stack, so it is not generated.
_HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
header_text = st.text(_HEADER_CHARS, max_size=60).map(str.strip)


# --------------------------------------------------------------------------------------------------
# The X-FakeLLM-Faults grammar

_NAMES = sorted(FAULTS)
_KEYS = sorted({key for cls in FAULTS.values() for key in _fields(cls)})
_WORDS = sorted(
    {
        *(alias for cls in FAULTS.values() for alias in cls.aliases),
        *(choice for cls in FAULTS.values() for values in cls.choices.values() for choice in values),
        "bytes",
        "b",
        "true",
        "false",
        "yes",
        "off",
        "null",
        "none",
        "inf",
        "nan",
        "x3",
        "3x",
    }
)

_small_numbers = st.one_of(
    st.integers(-5, 10_000).map(str),
    st.floats(0, 10_000, allow_nan=False).map(lambda f: f"{f:g}"),
    st.sampled_from(["0.5", ".5", "5.", "1e3", "2E-2", "1e+1", "-1", "007", "1_000", "0x10"]),
)
_durations = st.tuples(_small_numbers, st.sampled_from(["", "ms", "s", "m", "MS"])).map("".join)
_quoted = st.text(max_size=12).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"')
_values = st.one_of(_durations, _quoted, st.sampled_from(_WORDS), st.text(max_size=6))
_positions = st.one_of(
    st.integers(0, 10**6).map(str),
    st.tuples(_small_numbers, st.sampled_from(["ms", "s", ""])).map("".join),
    st.text(max_size=4),
)
_args = st.one_of(
    st.tuples(st.sampled_from(_KEYS) | st.text(max_size=5), _values).map("=".join),
    st.tuples(st.integers(-2, 50), st.integers(-2, 50), st.sampled_from(["", "bytes", "b"])).map(
        lambda t: f"{t[0]}-{t[1]}{t[2]}"
    ),
    st.sampled_from(_KEYS),
    _values,
)
_separators = st.sampled_from([" ", "  ", "\t", " \u00a0", "\u3000"])
_faults = st.tuples(
    st.sampled_from(_NAMES) | st.text(max_size=6),
    st.none() | _positions,
    st.lists(st.tuples(_separators, _args), max_size=5),
).map(lambda t: t[0] + ("" if t[1] is None else "@" + t[1]) + "".join(s + a for s, a in t[2]))


def _setting(cls: type[Fault], key: str, hint: Any) -> st.SearchStrategy[str]:
    """``key=value`` with a value of the setting's type, mostly in range."""
    if key in cls.choices:
        value = st.sampled_from(cls.choices[key])
    elif key == "probability":
        value = st.floats(0, 1).map(lambda f: f"{f:g}")
    elif key == "status":
        value = st.integers(380, 620).map(str)
    elif bool in get_args(hint) or hint is bool:
        value = st.sampled_from(["true", "false", "yes", "no", "on", "off", "1", "0"])
    elif int in get_args(hint) or hint is int:
        value = st.integers(0, 60).map(str)
    elif float in get_args(hint) or hint is float:
        value = st.tuples(
            st.floats(0, 300, allow_nan=False).map(lambda f: f"{f:g}"), st.sampled_from(["", "ms", "s"])
        ).map("".join)
    else:
        value = _quoted | st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8)
    if type(None) in get_args(hint):
        value = value | st.just("null")
    return value.map(lambda v: f"{key}={v}")


@st.composite
def _valid_fault(draw: st.DrawFn) -> str:
    """One fault of the grammar, its settings of the right types (a few may still be refused)."""
    cls = draw(st.sampled_from([FAULTS[name] for name in _NAMES]))
    fields = _fields(cls)
    words = [cls.name]
    if issubclass(cls, _Positioned) and draw(st.booleans()):
        words[0] += "@" + draw(st.integers(0, 30).map(str) | st.sampled_from(["0ms", "15ms", "0.02s"]))
    keys = draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=4))
    words += [draw(_setting(cls, key, fields[key])) for key in keys if not key.startswith("after_")]
    if cls is Fragment and draw(st.booleans()):
        words.append(
            draw(st.tuples(st.integers(1, 9), st.integers(1, 9)).map(lambda t: f"{t[0]}-{t[1]} bytes"))
        )
    if cls.aliases and draw(st.booleans()):
        words.append(draw(st.sampled_from(sorted(cls.aliases))))
    return " ".join(words)


valid_fault_specs = st.lists(_valid_fault(), min_size=1, max_size=5).map("; ".join)

fault_specs = st.one_of(
    valid_fault_specs,
    st.lists(_faults, max_size=6).flatmap(
        lambda faults: st.sampled_from([";", "; ", " ;", ";;"]).map(lambda sep: sep.join(faults))
    ),
    st.text(max_size=40),  # no grammar at all
    st.text(st.sampled_from('@;= "\\-x0123456789msbdroptall'), max_size=30),  # the grammar's own alphabet
)


def check_fault(fault: Fault) -> None:
    """A parsed fault is a known fault whose numeric settings are finite and not negative."""
    assert type(fault) in FAULTS.values()
    for key in _fields(type(fault)):
        value = getattr(fault, key)
        if isinstance(value, float | int) and not isinstance(value, bool):
            assert math.isfinite(value), (key, value)
            assert value >= 0, (key, value)


# --------------------------------------------------------------------------------------------------
# SSE


def sse_events(chunks: Iterable[bytes]) -> list[tuple[str, str]]:
    """The (event type, data) of every event a spec-correct parser dispatches, fed read by read."""
    decoder = SSEDecoder()
    events = [(e.event, e.data) for chunk in chunks for e in decoder.feed(chunk)]
    events += [(e.event, e.data) for e in decoder.close()]
    return events


def check_chunk_data(data: str) -> None:
    """One ``data:`` payload of an OpenAI chat stream: ``[DONE]``, or a JSON object."""
    if data == "[DONE]":
        return
    value: Any = json.loads(data)
    assert isinstance(value, dict), data
    assert value.get("object") == "chat.completion.chunk" or "error" in value, data
