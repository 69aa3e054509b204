"""Teardown failures (unrequested scripted responses, server errors, what in-process mode cannot
do) with messages that say how to allow them, and marker validation."""

from __future__ import annotations

import pytest

from .helpers import run_suite


def test_teardown_suite(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "teardown_suite")
    out = result.stdout
    out.fnmatch_lines(
        [
            "*ERROR at teardown of test_unrequested_in_list*",
            "fakellm: 2 scripted response(s) were never requested:",
            "  - response #2 of 3 (text 'second')",
            "  - response #3 of 3 (text 'third')",
            "If that is expected, mark the test @pytest.mark.fakellm(assert_all_requested=False) or set "
            "fakellm.assert_all_requested = False.",
        ]
    )
    out.fnmatch_lines(
        [
            "*ERROR at teardown of test_unrequested_single*",
            "fakellm: 1 scripted response(s) were never requested:",
            "  - 'scripted' (text 'never asked for')",
        ]
    )
    out.fnmatch_lines(
        [
            "*ERROR at teardown of test_unrequested_match*",
            "  - 'scripted' (text 'Sunny.', match model=None prompt='weather')",
        ]
    )
    out.fnmatch_lines(
        [
            "*ERROR at teardown of test_internal_error*",
            "fakellm: the server hit 1 internal error(s) while serving this test*",
            "*RuntimeError: the token source broke",
            "*If that is expected, mark the test @pytest.mark.fakellm(assert_no_internal_errors=False).",
        ]
    )
    out.fnmatch_lines(
        [
            "*ERROR at setup of test_unknown_marker_keyword*",
            "@pytest.mark.fakellm got an unknown keyword 'txt' (did you mean 'text'?); it takes: *",
        ]
    )
    out.fnmatch_lines(
        [
            "*ERROR at setup of test_bad_marker_value*",
            "@pytest.mark.fakellm: scenario 'scripted', field 'ttft_ms': must be >= 0, got -5",
        ]
    )
    out.fnmatch_lines(
        [
            "*ERROR at setup of test_marker_without_fixture*",
            "@pytest.mark.fakellm scripts the `fakellm` (or `fakellm_inprocess`) fixture, which this test "
            "does not use*",
        ]
    )
    out.fnmatch_lines(
        [
            "*ERROR at teardown of test_inprocess_cannot_reset*",
            "fakellm: fakellm in-process mode cannot reset a connection: the scripted fault 'drop' with "
            "mode: rst needs a real socket.*",
        ]
    )
    out.fnmatch_lines(
        [
            "*ERROR at teardown of test_inprocess_cannot_reach_openai3_clients_of_the_code_under_test*",
            "fakellm: fakellm in-process mode cannot reach an openai>=3 client built by the code under "
            "test: it sends POST https://api.openai.com/v1/chat/completions through httpx2*",
        ]
    )
    # A test that fails on its own is not buried under "never requested".
    out.fnmatch_lines(["*AssertionError: the test's own failure*"])
    assert "ERROR at teardown of test_failing_test_reports_only_its_own_failure" not in out.str()
    errors = sorted(line.split("::")[1].split(" ")[0] for line in out.lines if line.startswith("ERROR test_"))
    assert errors == sorted(
        [
            "test_unrequested_in_list",
            "test_unrequested_single",
            "test_unrequested_match",
            "test_internal_error",
            "test_unknown_marker_keyword",
            "test_bad_marker_value",
            "test_marker_without_fixture",
            "test_inprocess_cannot_reset",
            "test_inprocess_cannot_reach_openai3_clients_of_the_code_under_test",
        ]
    )
    result.assert_outcomes(passed=10, failed=1, errors=9)


@pytest.mark.parametrize(
    ("mode", "args", "outcomes"),
    [
        pytest.param("socket", (), {"passed": 2, "errors": 1}, id="last-test"),
        pytest.param("socket", ("-k", "one_of_two"), {"passed": 1, "errors": 1, "deselected": 1}, id="k"),
        pytest.param(
            "socket",
            ("test_last_teardown_suite.py::test_requests_one_of_two",),
            {"passed": 1, "errors": 1},
            id="only",
        ),
        pytest.param("inprocess", (), {"passed": 2, "errors": 1}, id="inprocess-last-test"),
    ],
)
def test_teardown_failure_of_the_last_test_is_reported(
    pytester: pytest.Pytester, mode: str, args: tuple[str, ...], outcomes: dict[str, int]
) -> None:
    # The session server stops in the last test's teardown, before its report is made: the report's
    # fakellm section must come from what was kept while the server was up, not raise (INTERNALERROR).
    result = run_suite(pytester, "last_teardown_suite", f"--fakellm-mode={mode}", *args)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_requests_one_of_two*",
            "fakellm: 1 scripted response(s) were never requested:",
            "  - response #2 of 2 (text 'never asked for')",
        ]
    )
    result.stdout.fnmatch_lines(
        [f"*- fakellm ({mode}) -*", "test seed * (mode *", "#0 POST /v1/chat/completions -> 200*"]
    )
    result.assert_outcomes(**outcomes)
    assert result.ret == 1
