"""Every assertion passing and failing, with the failure text checked."""

from __future__ import annotations

import pytest

from .helpers import run_suite


def test_assertions_suite(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "assertions_suite")
    out = result.stdout
    # Without --fakellm-seed a random seed is drawn, and printed so that the run can be replayed.
    out.re_match_lines([r"fakellm: seed (\d+) \(replay with --fakellm-seed \1\), mode socket"])
    # Lost token: where, both texts around it, and what each side did.
    out.fnmatch_lines(
        [
            "*fakellm: the client's accumulated text is not what the server sent.",
            "*first difference at character 19 (line 1, column 20):",
            "*  server sent: 'one two three four five six seven eight'<end>",
            "*  client got:  'one two three four six seven eight'<end>",
            "*  scripted: faults none",
            "*  server: completed the stream (a finish chunk and [[]DONE]), after 8 tokens (39 characters); "
            "stream #* (scenario 'default', seed *), outcome 'completed', faults fired: none",
            "*  client: 7 items (7 with text, kind 'text'), 34 characters, then its iteration ended without "
            "an error",
        ]
    )
    out.fnmatch_lines(
        [
            "*the client's accumulated text is not the expected text.",
            "*first difference at character 14 (line 1, column 15):",
            "*  expected:   'one two three FOUR five six seven eight'<end>",
            "*  client got: 'one two three four five six seven eight'<end>",
        ]
    )
    out.fnmatch_lines(["*fakellm: TTFT * ms is over max_ms=100 (the server sent its first token 3*ms after*"])
    out.fnmatch_lines(["*fakellm: TTFT * ms is under min_ms=5000*"])
    out.fnmatch_lines(
        ["*fakellm: the client swallowed the server's error_event at token 3: its stream ended normally."]
    )
    out.fnmatch_lines(
        [
            "*fakellm: the client surfaced the server's error_event at token 3, but its text before the "
            "error is not what the server sent before it.",
            "*first difference at character 7 (line 1, column 8):",
            "*the client's text lacks the last 6 characters of the server's",
        ]
    )
    out.fnmatch_lines(
        ["*fakellm: the client surfaced the server's error_event at token 3 as a JSONDecodeError*"]
    )
    out.fnmatch_lines(
        [
            "*fakellm: the client hung: after the server's error_event at token 3 it delivered nothing "
            "more and did not raise for 1 s.",
            "*client: 4 items (3 with text, kind 'text'), 13 characters, then hung: no item for 1 s",
        ]
    )
    out.fnmatch_lines(
        ["*fakellm: the server did not end this stream with an error, so the client had none to surface."]
    )
    out.fnmatch_lines(["*fakellm: the client raised APIError: The server had an error*, not ValueError.*"])
    out.fnmatch_lines(
        [
            "*fakellm: the client finished without an error, but the server did not complete the stream "
            "(outcome 'truncated'): the client could not tell.",
        ]
    )
    out.fnmatch_lines(["*fakellm: the stream did not complete: 3 items *, then raised APIError*"])
    failed = {line.split("::")[1].split(" ")[0] for line in out.lines if line.startswith("FAILED test_")}
    passed = {line.split("::")[1] for line in out.lines if line.startswith("PASSED test_")}
    assert all(name.startswith("test_fails_") for name in failed), failed
    assert not any(name.startswith("test_fails_") for name in passed), passed
    result.assert_outcomes(passed=6, failed=12)


def test_a_fault_that_fired_twice_is_hinted_once() -> None:
    from fakellm import JournalEntry
    from fakellm.stream import FaultFired
    from pytest_fakellm import StreamRecording, assert_accumulated

    entry = JournalEntry(index=0, time=0.0, method="POST", path="/v1/chat/completions", status=200)
    entry.outcome = "completed"
    entry.text_parts = ["one two"]
    entry.faults = [FaultFired("malformed", 1, 0, 0.0), FaultFired("malformed", 2, 0, 0.0)]
    with pytest.raises(AssertionError) as failed:
        assert_accumulated(StreamRecording(text="one", entry=entry))
    assert str(failed.value).count("the stream had 'malformed'") == 1
