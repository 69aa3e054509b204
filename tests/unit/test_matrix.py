"""``fakellm.matrix``: the verdict rules (docs/matrix.md, "Verdicts"), one row per rule, the case
selection, the catalogue, the path prefix (``app.prefixed``) and the report's renderers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from fakellm import parse_fault_spec
from fakellm.app import prefixed
from fakellm.faults import FAULTS
from fakellm.matrix import (
    PASSING,
    VERDICTS,
    CaseResult,
    MatrixUsageError,
    Report,
    as_json,
    catalogue_markdown,
    judge,
    junit,
    markdown,
    received,
    select_cases,
    table,
)
from fakellm.matrix_cases import CASES, KINDS, TEXT, Case, Kind
from fakellm.tokens import tokenize

TOKENS = tokenize(TEXT)
PART = "".join(TOKENS[:3])


@pytest.mark.parametrize(
    ("kind", "exit_status", "hung", "printed", "sent", "verdict"),
    [
        # 1. killed at the timeout
        ("broken", None, True, PART, [PART], "hung"),
        ("valid", None, True, TEXT, [TEXT], "hung"),
        # 2. a retry where the server said not to
        ("no_retry", 0, False, TEXT, ["", TEXT], "retried_against_advice"),
        ("no_retry", 1, False, "", ["", ""], "retried_against_advice"),
        # 3. the whole text
        ("valid", 0, False, TEXT, [TEXT], "correct"),
        ("slow", 0, False, TEXT, [TEXT], "correct"),
        ("broken", 0, False, TEXT, [TEXT], "correct"),  # malformed: the bad event skipped
        ("broken", 0, False, TEXT, [PART, TEXT], "retried"),
        ("retry", 0, False, TEXT, ["", TEXT], "retried"),
        ("valid", 0, False, TEXT, [TEXT, TEXT], "correct"),  # two requests of a valid stream: no retry
        ("valid", 1, False, TEXT, [TEXT], "crashed_on_valid_stream"),
        ("slow", 1, False, TEXT, [TEXT], "error_surfaced"),
        ("broken", 1, False, TEXT, [TEXT], "error_surfaced"),
        # 4. a strict prefix (maybe empty)
        ("broken", 1, False, PART, [PART], "error_surfaced"),
        ("broken", 1, False, "", [PART, PART], "error_surfaced"),
        ("retry", 1, False, "", [""], "error_surfaced"),
        ("no_retry", 1, False, "", [""], "error_surfaced"),
        ("slow", 1, False, PART, [PART], "error_surfaced"),
        ("valid", 1, False, PART, [TEXT], "crashed_on_valid_stream"),
        ("broken", 0, False, PART, [PART], "truncation_accepted"),
        ("retry", 0, False, "", [""], "truncation_accepted"),
        ("no_retry", 0, False, "", [""], "truncation_accepted"),
        ("slow", 0, False, PART, [PART], "truncation_accepted"),  # the client cut it, saying nothing
        ("valid", 0, False, TEXT[:-1], [TEXT], "text_lost"),  # the server sent it all
        ("valid", 0, False, "", [TEXT], "text_lost"),
        # 5. prefixes one after the other: a retry printed again
        ("broken", 0, False, PART + TEXT, [PART, TEXT], "duplicated"),
        ("broken", 1, False, PART + PART, [PART, PART], "duplicated"),
        # 6. anything else
        ("valid", 0, False, TEXT[1:], [TEXT], "text_lost"),
        ("broken", 1, False, "Traceback (most recent call last)", [PART], "text_lost"),
        ("valid", 0, False, TEXT + " extra", [TEXT], "text_lost"),
    ],
)
def test_judge(
    kind: Kind, exit_status: int | None, hung: bool, printed: str, sent: list[str], verdict: str
) -> None:
    assert judge(kind, exit_status=exit_status, hung=hung, printed=printed, text=TEXT, sent=sent) == verdict


def test_every_verdict_has_a_rule_and_three_pass() -> None:
    assert {"correct", "error_surfaced", "retried"} == PASSING
    assert set(VERDICTS) > PASSING


def test_an_exit_status_of_none_is_a_hang_even_unflagged() -> None:
    assert judge("valid", exit_status=None, hung=False, printed=TEXT, text=TEXT, sent=[TEXT]) == "hung"


# -- the catalogue ---------------------------------------------------------------------------------
def test_the_catalogue_names_are_unique_path_segments() -> None:
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)
    assert all(name.replace("_", "").isalnum() and name.islower() for name in names)


def test_the_catalogue_specs_are_unique_so_times_count_per_case() -> None:
    # X-FakeLLM-Faults counts ``times`` per distinct header value: two cases with one spec would
    # share one 429.
    specs = [c.faults for c in CASES if c.faults]
    assert len(set(specs)) == len(specs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_case_parses_and_says_what_a_correct_client_does(case: Case) -> None:
    parse_fault_spec(case.faults)  # raises on a bad spec
    assert case.kind in KINDS
    assert case.expectation


def test_the_catalogue_covers_every_fault_of_the_docs() -> None:
    used = {f.name for c in CASES for f in parse_fault_spec(c.faults)}
    assert used == {
        "http_error",
        "error_event",
        "drop",
        "stall",
        "truncate",
        "malformed",
        "fragment",
        "sse",
        "bandwidth",
        "latency",
        "slow_tokens",
        "buffer",
    }
    # accel_buffering is left out: with no proxy between the server and the client, no client can
    # tell the header is missing.
    assert set(FAULTS) - used == {"accel_buffering"}
    assert any(name == "X-FakeLLM-TTFT-Ms" for c in CASES for name, _ in c.headers)


def test_the_docs_show_the_catalogue() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "matrix.md").read_text(encoding="utf-8")
    shown = doc.partition("<!-- matrix-catalogue:start -->\n")[2].partition("<!-- matrix-catalogue:end -->")[
        0
    ]
    assert shown == catalogue_markdown(), "docs/matrix.md's catalogue is stale: paste catalogue_markdown()"


def test_the_text_is_long_enough_for_faults_at_3() -> None:
    assert len(TOKENS) == 12


# -- choosing cases --------------------------------------------------------------------------------
def test_only_and_skip_take_names_and_patterns() -> None:
    assert [c.name for c in select_cases(["none", "truncate"])] == ["none", "truncate"]  # catalogue order
    assert {c.name for c in select_cases(["sse_*"])} == {c.name for c in CASES if c.name.startswith("sse_")}
    assert "sse_bom" not in {c.name for c in select_cases(skip=["sse_bom"])}
    assert [c.name for c in select_cases(["sse_*"], ["sse_c*", "sse_bom", "sse_ids"])] == ["sse_retry"]


def test_an_unknown_case_is_named_with_a_suggestion() -> None:
    with pytest.raises(MatrixUsageError, match=r"--only: no case 'truncat' \(did you mean 'truncate'\?\)"):
        select_cases(["truncat"])
    with pytest.raises(MatrixUsageError, match=r"--skip: no case 'nope'"):
        select_cases(skip=["nope"])


def test_skipping_everything_is_a_usage_error() -> None:
    with pytest.raises(MatrixUsageError, match="no case left"):
        select_cases(["none"], ["none"])


# -- the path prefix -------------------------------------------------------------------------------
def _scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {"type": "http", "path": path, "raw_path": path.encode(), "headers": headers or []}


def test_a_case_prefix_is_cut_and_its_headers_come_first() -> None:
    client = [(b"x-fakellm-faults", b"drop@1"), (b"authorization", b"Bearer x")]
    scope = prefixed(
        _scope("/_matrix/truncate/v1/chat/completions", client),
        {"truncate": [("X-FakeLLM-Faults", "truncate@3")]},
    )
    assert scope["path"] == "/v1/chat/completions"
    assert scope["raw_path"] == b"/v1/chat/completions"
    assert scope["headers"] == [(b"x-fakellm-faults", b"truncate@3"), *client]  # the first value wins


@pytest.mark.parametrize(
    "path",
    [
        "/_matrix/other/v1/chat/completions",
        "/_matrix/truncate",
        "/v1/chat/completions",
        "/_matrixtruncate/v1",
    ],
)
def test_other_paths_are_left_alone(path: str) -> None:
    scope = _scope(path)
    assert prefixed(scope, {"truncate": [("x-fakellm-faults", "truncate@3")]}) is scope


# -- the outputs -----------------------------------------------------------------------------------
def _report() -> Report:
    ok = CaseResult(
        CASES[0], "correct", 0, 0.5, False, TEXT, "", [TEXT], ["completed"], [200], ["openai.chat"]
    )
    bad = CaseResult(
        next(c for c in CASES if c.name == "truncate"),
        "truncation_accepted",
        0,
        0.4,
        False,
        PART,
        "a <warning> & more",
        [PART],
        ["truncated"],
        [200],
        ["openai.chat"],
    )
    hung = CaseResult(
        next(c for c in CASES if c.name == "stall_forever"),
        "hung",
        None,
        3.0,
        True,
        PART,
        "",
        [PART],
        ["client_disconnected"],
    )
    return Report("chat", ["python", "client.py"], 3.0, TEXT, [ok, bad, hung])


def test_received_says_what_was_printed() -> None:
    assert received(TEXT) == "the whole text"
    assert received("") == "nothing"
    assert received(PART) == "the first 3 tokens"
    assert received(TOKENS[0]) == "the first 1 token"
    assert received(TOKENS[0][:2]) == "the first 2 characters"
    assert received("nope") == "other text: 'nope'"


def test_the_terminal_table_marks_the_failures() -> None:
    text = table(_report())
    lines = text.splitlines()
    assert lines[0].split() == ["case", "verdict", "exit", "requests", "time", "received"]
    assert "truncation_accepted FAIL" in text and "killed" in text
    assert lines[-1] == "1 of 3 cases passed, 2 failed"


def test_markdown_has_one_row_per_case() -> None:
    rows = [line for line in markdown(_report()).splitlines() if line.startswith("| `")]
    assert len(rows) == 3
    assert rows[1].startswith("| `truncate` | `truncate@3` |") and "**`truncation_accepted`**" in rows[1]


def test_json_round_trips() -> None:
    data = json.loads(json.dumps(as_json(_report())))
    assert data["passed"] is False and data["text"] == TEXT
    assert [c["verdict"] for c in data["cases"]] == ["correct", "truncation_accepted", "hung"]
    assert data["cases"][2]["exit_status"] is None and data["cases"][2]["hung"] is True
    assert data["cases"][1]["sent"] == [PART] and data["cases"][1]["requests"] == 1


def test_junit_has_a_failure_per_failing_case() -> None:
    root = ET.fromstring(junit(_report()))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "2"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["none", "truncate", "stall_forever"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("type") == "truncation_accepted"
    assert cases[1].findtext("system-err") == "a <warning> & more"
