"""Scenarios that contradict themselves are refused where they are read, naming the file, the line
and the field: by the loader and by ``fakellm serve`` (one line, exit 2, before it listens). What a
recording cannot honour at request time is a 400 in the route's format; what it replays is what
it holds (a request's ``stop`` and ``max_tokens`` do not change a replay)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from fakellm import Server, load_scenario_files
from fakellm.errors import ScenarioError

MakeServer = Callable[..., Server]
BIN = Path(sys.executable).parent
RECORDED = Path(__file__).parents[2] / "fixtures" / "recorded" / "openai-text-usage.json"


def _recording_with(**fields: object) -> str:
    data = json.loads(RECORDED.read_text())
    data.update(fields)
    head = {k: v for k, v in data.items() if k != "events"}
    # One key a line, so that the line numbers below are stable: events last.
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    return "{\n" + "\n".join(lines) + f'\n  "events": {json.dumps(data["events"])}\n}}\n'


# (file name, text, line, scenario, field, words)
CONTRADICTIONS = [
    (
        "finish-without-calls.yaml",
        "scenarios:\n  - name: a\n    content: {text: hi}\n    finish_reason: tool_calls\n",
        4,
        "a",
        "finish_reason",
        "is tool_calls, but the scenario has no tool_calls to send",
    ),
    (
        "turn-finish-without-calls.yaml",
        "scenarios:\n  - name: a\n    turns:\n      - tool_calls: [{name: f}]\n"
        "      - finish_reason: tool_calls\n",
        5,
        "a",
        "turns[1].finish_reason",
        "is tool_calls, but the scenario has no tool_calls to send",
    ),
    (
        "turns-beside-content.yaml",
        "scenarios:\n  - name: a\n    content: {text: hi}\n    turns:\n      - content: {text: x}\n",
        3,
        "a",
        "content",
        "give each answer inside 'turns', not beside it",
    ),
    (
        "first-turn-quotes-a-result.yaml",
        "scenarios:\n  - name: a\n    turns:\n      - content:\n          text: 'It is {tool_result}.'\n",
        5,
        "a",
        "turns[0].content.text",
        "quotes {tool_result}, but the first turn comes before any tool result",
    ),
    (
        "recording-on-another-route.json",
        _recording_with(match={"path": "/v1/messages"}),
        "match",
        "openai-text-usage",
        "match.path",
        "'/v1/messages' does not match POST /v1/chat/completions, the route of this recording's events",
    ),
]


def _line(text: str, line: int | str) -> int:
    """A line given as a number, or as the key that starts it (in the JSON recordings)."""
    if isinstance(line, int):
        return line
    return next(i for i, row in enumerate(text.splitlines(), 1) if row.lstrip().startswith(f'"{line}"'))


@pytest.mark.parametrize(
    ("name", "text", "line", "scenario", "field", "words"), CONTRADICTIONS, ids=[c[0] for c in CONTRADICTIONS]
)
def test_the_loader_names_file_line_and_field(
    tmp_path: Path, name: str, text: str, line: int | str, scenario: str, field: str, words: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    error = info.value
    assert (error.file, error.line, error.scenario, error.field) == (
        str(path),
        _line(text, line),
        scenario,
        field,
    )
    assert error.reason.startswith(words)


@pytest.mark.parametrize(
    ("name", "text", "line", "scenario", "field", "words"), CONTRADICTIONS, ids=[c[0] for c in CONTRADICTIONS]
)
def test_serve_refuses_the_file_in_one_line(
    tmp_path: Path, name: str, text: str, line: int | str, scenario: str, field: str, words: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    argv = [str(BIN / "fakellm"), "serve", "--port", "0", "--scenarios", str(path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2 and result.stdout == ""
    where = f"{path}:{_line(text, line)}, scenario {scenario!r}, field {field!r}: {words}"
    assert result.stderr.startswith(f"fakellm: bad scenario: {where}"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_recording_may_match_its_own_route(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text(_recording_with(match={"path": "/v1/chat/*"}))
    (scenario,) = load_scenario_files([path])
    assert scenario.match is not None and scenario.match.path == "/v1/chat/*"


def test_a_later_turn_may_quote_the_tool_result(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        "scenarios:\n  - name: a\n    turns:\n      - tool_calls: [{name: f}]\n"
        "      - content: {text: 'It is {tool_result}.'}\n"
    )
    (scenario,) = load_scenario_files([path])
    assert len(scenario.turns) == 2


def test_a_replay_is_what_the_recording_holds(make_server: MakeServer) -> None:
    server = make_server(scenario_paths=[RECORDED])
    messages: list[dict[str, str]] = [{"role": "user", "content": "hi"}]
    with openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10) as c:
        whole = c.chat.completions.create(model="openai-text-usage", messages=messages, stream=True)
        text = "".join(ch.choices[0].delta.content or "" for ch in whole if ch.choices)
        limited = c.chat.completions.create(
            model="openai-text-usage", messages=messages, stream=True, stop=" ", max_tokens=1
        )
        chunks = list(limited)
        with pytest.raises(openai.BadRequestError) as info:
            c.chat.completions.create(model="openai-text-usage", messages=messages, n=2)
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == text
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
    assert info.value.param == "n" and "record" in info.value.message
