"""Fuzzing scenario files: any document, and documents shaped like scenario files, load into
scenarios that plan a stream, or fail with a ScenarioError naming the file (and, for a problem inside
a scenario, the line and the field). Never another exception."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from fakellm import Scenario, ScenarioError, load_scenario_files
from fakellm.pipeline import plan_stream
from fakellm.wire.openai import parse_chat_request

from .strategies import budget, fault_specs, json_values, valid_fault_specs

REQUEST = parse_chat_request(
    b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi there"}],"stream":true}'
)
MAX_FRAMES = 5000

# A scalar where a section (match, content, timing) is expected is refused without a line, and null
# crashes the loader: pinned by test_a_section_that_is_not_a_mapping_says_where below, and kept
# out of the general property until fixed.
_section_junk = st.lists(json_values, max_size=3) | st.dictionaries(
    st.text(max_size=6), json_values, max_size=3
)
_names = st.text(max_size=8) | st.sampled_from(["a", "b", "default"])
_ms = st.floats(0, 50, allow_nan=False) | st.integers(-1, 50) | json_values
_content = st.one_of(
    st.fixed_dictionaries({"text": st.text(max_size=30) | json_values}),
    st.fixed_dictionaries(
        {
            "faker": st.just(True)
            | st.fixed_dictionaries(
                {},
                optional={
                    "paragraphs": st.integers(-1, 3) | json_values,
                    "sentences": st.integers(-1, 3) | json_values,
                    "markdown": st.booleans() | json_values,
                    "code_probability": st.floats(-1, 2, allow_nan=False) | json_values,
                },
            )
            | json_values
        }
    ),
    st.fixed_dictionaries(
        {"echo": st.just(True) | st.fixed_dictionaries({"prefix": st.text(max_size=5) | json_values})}
    ),
    st.dictionaries(st.sampled_from(["text", "faker", "echo", "txt"]), json_values, max_size=3),
    _section_junk,
)
_fault_items = st.one_of(
    valid_fault_specs.filter(lambda s: ";" not in s),
    fault_specs,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["drop", "stall", "fragment", "sse", "error_event", "dorp"]) | json_values},
        optional={
            "after_tokens": st.integers(-1, 20) | json_values,
            "mode": st.sampled_from(["fin", "rst", "x"]),
            "duration_ms": _ms,
            "min_bytes": st.integers(0, 9),
            "probability": st.floats(0, 1) | json_values,
        },
    ),
    st.dictionaries(
        st.sampled_from(["drop", "truncate", "latency"]),
        st.none() | st.fixed_dictionaries({}, optional={"ms": _ms, "after_tokens": st.integers(0, 5)}),
        min_size=1,
        max_size=2,
    ),
    json_values,
)
_scenario = st.fixed_dictionaries(
    {"name": _names | json_values},
    optional={
        "match": st.fixed_dictionaries(
            {},
            optional={
                "model": st.sampled_from(["gpt-*", "[", ""]) | json_values,
                "prompt": st.sampled_from(["(?i)hi", "(", "a{2"]) | json_values,
            },
        )
        | _section_junk,
        "content": _content,
        "timing": st.fixed_dictionaries(
            {}, optional={k: _ms for k in ("ttft_ms", "itl_ms", "jitter_ms", "ttft_jitter_ms")}
        )
        | st.dictionaries(st.sampled_from(["ttft_ms", "itl", "jitter"]), _ms, max_size=2)
        | _section_junk,
        "seed": st.integers(-5, 2**64) | json_values,
        "faults": st.lists(_fault_items, max_size=3) | json_values,
        "finish_reason": st.sampled_from(["stop", "length", "tool_calls", "nope"]) | json_values,
        "ascii_only": st.booleans() | json_values,
        "nmae": json_values,
    },
)
scenario_documents = st.one_of(
    st.fixed_dictionaries({"scenarios": st.lists(_scenario, max_size=3)}),
    st.fixed_dictionaries({"scenarios": st.lists(_scenario, max_size=2)}, optional={"extra": json_values}),
    st.lists(_scenario, max_size=3),
    st.fixed_dictionaries({"scenarios": json_values}),
    json_values,
)


@st.composite
def scenario_files(draw: st.DrawFn) -> tuple[str, str]:
    """(suffix, text): a document written as JSON or YAML, or any text at all."""
    how = draw(st.sampled_from(["json", "yaml", "yaml-flow", "text-yaml", "text-json"]))
    if how.startswith("text"):
        return "." + how[5:], draw(st.text(max_size=80))
    document = draw(scenario_documents)
    if how == "json":
        return ".json", json.dumps(document, indent=draw(st.sampled_from([None, 2])))
    return ".yaml", yaml.safe_dump(document, default_flow_style=how == "yaml-flow", allow_unicode=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenarios")


def _inside_a_scenario(text: str, suffix: str) -> bool:
    """Whether the document is a scenario list of mappings: its errors are in one scenario."""
    try:
        data: Any = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return False
    if isinstance(data, dict) and list(data) == ["scenarios"]:
        data = data["scenarios"]
    return isinstance(data, list) and bool(data) and all(isinstance(item, dict) for item in data)


def _frames(scenario: Scenario) -> Iterator[float]:
    plan = plan_stream(REQUEST, scenario, server_seed=3)
    for frame in itertools.islice(plan.frames(), MAX_FRAMES):
        yield frame.due


@budget(1.0)
@given(scenario_files())
@example((".yaml", "scenarios:\n  - name: a\n    timing: {ttft_ms: x}\n"))
@example((".json", '{"scenarios": [{"name": "a", "faults": ["drop@5 fn"]}]}'))
@example((".yaml", "scenarios: [{name: a}, {name: a}]"))
@example((".yaml", "- name: a\n  content: {faker: {paragraphs: 2}}\n"))
def test_any_document_loads_or_says_where(folder: Path, file: tuple[str, str]) -> None:
    suffix, text = file
    path = folder / f"scenarios{suffix}"
    path.write_text(text, encoding="utf-8")
    try:
        scenarios = load_scenario_files([path])
    except ScenarioError as exc:
        assert exc.file == str(path)
        assert str(exc).startswith(str(path)), str(exc)
        assert exc.reason
        if _inside_a_scenario(text, suffix):
            assert exc.line is not None, str(exc)
            assert exc.field is not None or "duplicate" in exc.reason, str(exc)
        return
    for scenario in scenarios:
        assert isinstance(scenario, Scenario)
        for due in _frames(scenario):
            assert math.isfinite(due) and due >= 0, due


@pytest.mark.parametrize("section", ["match", "content", "timing"])
@pytest.mark.parametrize("value", ["null", "false", "3", "hello"])
def test_a_section_that_is_not_a_mapping_says_where(folder: Path, section: str, value: str) -> None:
    path = folder / "section.yaml"
    path.write_text(f"scenarios:\n  - name: a\n    {section}: {value}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario_files([path])
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), 3, section)
