"""``fakellm matrix`` on real processes: the bundled careful and naive clients (openai-python,
anthropic, openai-node) are told apart, the outputs parse, the exit codes, ``--only`` / ``--skip``,
a command that hangs is killed with its children, and usage errors are one line.

The matrix runs in this process (``cli.main``: a real server on a thread) and each case's
command in its own; ``test_cli.py`` runs ``fakellm matrix`` itself once.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakellm import cli
from fakellm.matrix_cases import CASES, TEXT

ROOT = Path(__file__).resolve().parents[2]
CAREFUL = str(ROOT / "fixtures" / "matrix" / "careful.py")
NAIVE = str(ROOT / "fixtures" / "matrix" / "naive.py")
NODE_DIR = ROOT / "tests" / "node"
PY = sys.executable

# The whole catalogue through a client takes a process per case (and a hung case its timeout), so
# each full run is made once per module (the fixtures careful_python, naive_python, naive_node) and
# shared by the tests that read it. All the module's tests are one xdist group, so "once per module"
# is once per suite run.
pytestmark = pytest.mark.xdist_group("matrix")


def main(argv: list[str]) -> int:
    """``fakellm matrix ARGV`` in this process; its exit status (argparse's usage errors too)."""
    try:
        return cli.main(["matrix", *argv])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2


# The faults that tell a careful client from a naive one, and a few a correct one must read.
TELLING = "none,truncate,drop_fin,error_event,sse_crlf,http_429"


def run(tmp_path: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    """Run the matrix; its exit status and its JSON report, cases by name."""
    out = tmp_path / f"report-{len(list(tmp_path.iterdir()))}.json"
    status = main(["--json", str(out), *argv])
    report = json.loads(out.read_text(encoding="utf-8"))
    report["by_name"] = {case["name"]: case for case in report["cases"]}
    return status, report


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {case["name"]: case["verdict"] for case in report["cases"]}


def only(report: dict[str, Any], names: str) -> dict[str, str]:
    """The verdicts of the named cases (a comma-separated list, as ``--only`` takes it)."""
    return {name: report["by_name"][name]["verdict"] for name in names.split(",")}


@dataclass(frozen=True)
class Run:
    status: int
    report: dict[str, Any]
    seconds: float  # wall time of the whole run


def _run_once(tmp_path_factory: pytest.TempPathFactory, *argv: str) -> Run:
    started = time.monotonic()
    status, report = run(tmp_path_factory.mktemp("matrix"), *argv)
    return Run(status, report, time.monotonic() - started)


@pytest.fixture(scope="module")
def careful_python(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Every case through fixtures/matrix/careful.py, three at a time, the default timeout."""
    return _run_once(tmp_path_factory, "--jobs", "3", "--", PY, CAREFUL)


@pytest.fixture(scope="module")
def naive_python(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Every case through fixtures/matrix/naive.py, as docs/openai-sdk-faults.md shows it."""
    return _run_once(tmp_path_factory, "--jobs", "3", "--timeout", str(DOC_TIMEOUT_S), "--", PY, NAIVE)


@pytest.fixture(scope="module")
def naive_node(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Every case through tests/node/matrix/naive.mjs, as docs/openai-sdk-faults.md shows it."""
    _node()
    command = ["node", str(NODE_DIR / "matrix" / "naive.mjs")]
    return _run_once(tmp_path_factory, "--jobs", "3", "--timeout", str(DOC_TIMEOUT_S), "--", *command)


def test_the_python_clients_are_told_apart(careful_python: Run, naive_python: Run) -> None:
    careful_status, careful = careful_python.status, careful_python.report
    naive_status, naive = naive_python.status, naive_python.report
    assert careful_status == 0, careful
    assert naive_status == 1
    assert only(careful, TELLING) == {
        "none": "correct",
        "truncate": "error_surfaced",  # no finish_reason: retried once, then gave up
        "drop_fin": "error_surfaced",
        "error_event": "error_surfaced",
        "sse_crlf": "correct",
        "http_429": "retried",  # the SDK's own retry
    }
    assert only(naive, TELLING) == {
        "none": "correct",
        "truncate": "truncation_accepted",  # exit 0 with 3 of 12 tokens
        "drop_fin": "error_surfaced",  # openai-python raises APIConnectionError itself
        "error_event": "error_surfaced",
        "sse_crlf": "correct",
        "http_429": "retried",
    }
    # What each printed, against what the server sent.
    assert careful["by_name"]["truncate"]["requests"] == 2  # it retried the incomplete answer once
    assert careful["by_name"]["truncate"]["printed"] == ""  # and printed nothing of it
    truncated = naive["by_name"]["truncate"]
    assert truncated["sent"] == [truncated["printed"]] and len(truncated["printed"]) < len(TEXT)
    assert truncated["outcomes"] == ["truncated"] and truncated["exit_status"] == 0
    assert naive["by_name"]["http_429"]["statuses"] == [429, 200]
    assert "APIConnectionError" in naive["by_name"]["drop_fin"]["stderr_tail"]  # its traceback


def test_a_full_run_of_the_careful_python_client_passes(careful_python: Run) -> None:
    status, report = careful_python.status, careful_python.report
    assert status == 0, [
        (c["name"], c["verdict"], c["stderr_tail"]) for c in report["cases"] if not c["passed"]
    ]
    assert [c["name"] for c in report["cases"]] == [c.name for c in CASES]
    by = report["by_name"]
    assert by["http_503_no_retry"]["requests"] == 1  # x-should-retry: false obeyed
    assert by["stall_forever"]["verdict"] == "error_surfaced" and not by["stall_forever"]["hung"]
    assert by["stall_keepalive"]["verdict"] == "correct"
    assert careful_python.seconds < 90


@pytest.mark.parametrize("fmt", ["anthropic", "responses"])
def test_the_base_urls_serve_the_other_formats(tmp_path: Path, fmt: str) -> None:
    only = "none,truncate,error_event,http_500"
    _, careful = run(tmp_path, "--format", fmt, "--jobs", "2", "--only", only, "--", PY, CAREFUL)
    _, naive = run(tmp_path, "--format", fmt, "--jobs", "2", "--only", only, "--", PY, NAIVE)
    expected_format = {"anthropic": "anthropic.messages", "responses": "openai.responses"}[fmt]
    assert careful["by_name"]["none"]["formats"] == [expected_format]
    assert verdicts(careful) == {
        "none": "correct",
        "truncate": "error_surfaced",
        "error_event": "error_surfaced",
        "http_500": "retried",
    }
    assert verdicts(naive)["truncate"] == "truncation_accepted"
    assert verdicts(naive)["none"] == "correct"


def _node() -> None:
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    elif not (NODE_DIR / "node_modules").is_dir():
        missing = "tests/node/node_modules is missing: run `npm ci --prefix tests/node`"
    if missing:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"CI must run the Node client tests: {missing}")
        pytest.skip(missing)


def test_the_node_clients_are_told_apart(tmp_path: Path, naive_node: Run) -> None:
    _node()
    cases = f"{TELLING},stall_forever"
    careful_status, careful = run(
        tmp_path,
        "--jobs",
        "3",
        "--timeout",
        "12",
        "--only",
        cases,
        "--",
        "node",
        str(NODE_DIR / "matrix" / "careful.mjs"),
    )
    naive_status, naive = naive_node.status, naive_node.report  # the whole catalogue, --timeout 8
    assert (careful_status, naive_status) == (0, 1)
    assert verdicts(careful) == {
        "none": "correct",
        "truncate": "error_surfaced",
        "drop_fin": "error_surfaced",
        "error_event": "error_surfaced",
        "sse_crlf": "correct",
        "http_429": "retried",
        "stall_forever": "error_surfaced",  # its idle timer, twice
    }
    assert careful["by_name"]["stall_forever"]["requests"] == 2
    assert only(naive, cases) == {
        "none": "correct",
        "truncate": "truncation_accepted",
        "drop_fin": "error_surfaced",
        "error_event": "error_surfaced",
        "sse_crlf": "correct",
        "http_429": "retried",
        "stall_forever": "hung",  # a 10 minute timeout: killed at 8 s
    }


def test_the_outputs_parse_and_the_exit_status_gates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md, xml, js = tmp_path / "m.md", tmp_path / "j.xml", tmp_path / "r.json"
    argv = [
        "--markdown",
        str(md),
        "--junit",
        str(xml),
        "--json",
        str(js),
        "--only",
        "none,truncate",
        "--",
        PY,
        NAIVE,
    ]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "truncation_accepted FAIL" in out and out.rstrip().endswith("1 of 2 cases passed, 1 failed")
    rows = [line for line in md.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    assert [row.split("|")[1].strip() for row in rows] == ["`none`", "`truncate`"]
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failing = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failing == ["truncate"]
    report = json.loads(js.read_text(encoding="utf-8"))
    assert report["passed"] is False and report["command"] == [PY, NAIVE]
    assert main(["--only", "none", "--", PY, NAIVE]) == 0


def test_skip_leaves_cases_out(tmp_path: Path) -> None:
    _, report = run(
        tmp_path, "--only", "sse_*", "--skip", "sse_c*,sse_bom", "--skip", "sse_ids", "--", PY, NAIVE
    )
    assert list(verdicts(report)) == ["sse_retry"]


ENV_CLIENT = """
import json, os, sys
names = ["OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "FAKELLM_BASE_URL", "FAKELLM_MATRIX_CASE",
         "FAKELLM_MATRIX_FORMAT", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"]
with open(sys.argv[1], "w") as f:
    json.dump({n: os.environ.get(n) for n in names}, f)
"""


def test_the_command_gets_the_base_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-mine")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")  # replaced, per case
    seen = tmp_path / "env.json"
    script = tmp_path / "env_client.py"
    script.write_text(ENV_CLIENT, encoding="utf-8")
    status, report = run(
        tmp_path, "--format", "anthropic", "--only", "truncate", "--", PY, str(script), str(seen)
    )
    env = json.loads(seen.read_text(encoding="utf-8"))
    root = env["FAKELLM_BASE_URL"].removesuffix("/_matrix/truncate/v1")
    assert root.startswith("http://127.0.0.1:") and root != env["FAKELLM_BASE_URL"]
    assert env["OPENAI_BASE_URL"] == f"{root}/_matrix/truncate/v1"
    assert env["ANTHROPIC_BASE_URL"] == f"{root}/_matrix/truncate"
    assert env["FAKELLM_MATRIX_CASE"] == "truncate" and env["FAKELLM_MATRIX_FORMAT"] == "anthropic"
    assert env["OPENAI_API_KEY"] and env["ANTHROPIC_API_KEY"] == "sk-ant-mine"  # a key of its own is kept
    # It made no request and printed nothing, exit 0: it accepted an empty answer.
    assert (status, report["by_name"]["truncate"]["verdict"]) == (1, "truncation_accepted")


HANGING = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "w").write(str(child.pid))
print("partial", flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): it is gone once /proc says so.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_a_command_that_hangs_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = tmp_path / "hang.py"
    script.write_text(HANGING, encoding="utf-8")
    started = time.monotonic()
    status, report = run(tmp_path, "--timeout", "1.5", "--only", "none", "--", PY, str(script), str(pid_file))
    assert time.monotonic() - started < 10
    case = report["by_name"]["none"]
    assert (status, case["verdict"], case["hung"], case["exit_status"]) == (1, "hung", True, None)
    assert case["printed"] == "partial"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the command's child outlived its case"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--", "no-such-command-fakellm"], "fakellm matrix: command not found: 'no-such-command-fakellm'"),
        ([], "fakellm matrix: no command to run: fakellm matrix [flags] -- CMD ARGS..."),
        (["--"], "fakellm matrix: no command to run"),
        (
            ["--only", "truncat", "--", PY],
            "fakellm matrix: --only: no case 'truncat' (did you mean 'truncate'?)",
        ),
        (["--timeout", "0", "--", PY], "argument --timeout: must be more than 0"),
        (["--format", "grpc", "--", PY], "argument --format: invalid choice: 'grpc'"),
    ],
)
def test_usage_errors_exit_2_with_one_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


# -- docs/openai-sdk-faults.md: the matrix of three SDKs used plainly ---------------------------------
DOC = ROOT / "docs" / "openai-sdk-faults.md"
DOC_START, DOC_END = "<!-- matrix:start -->", "<!-- matrix:end -->"
DOC_TIMEOUT_S = 8
DOC_CLIENTS = [
    ("openai-python", "fixtures/matrix/naive.py", [PY, NAIVE]),
    ("openai-node", "tests/node/matrix/naive.mjs", ["node", str(NODE_DIR / "matrix" / "naive.mjs")]),
    ("the AI SDK", "tests/node/matrix/ai-sdk.mjs", ["node", str(NODE_DIR / "matrix" / "ai-sdk.mjs")]),
]


def _version(package: str) -> str:
    if package == "openai-python":
        import openai

        return f"openai {openai.__version__.split('.')[0]}.x"
    names = {"openai-node": ["openai"], "the AI SDK": ["ai", "@ai-sdk/openai"]}[package]
    versions = []
    for name in names:
        meta = json.loads((NODE_DIR / "node_modules" / name / "package.json").read_text(encoding="utf-8"))
        versions.append(f"{name} {meta['version'].split('.')[0]}.x")  # a patch release: no new doc
    return ", ".join(versions)


def _raised(stderr: str) -> str:
    """The class the client reported last on stderr (``raised: Class: message``)."""
    lines = [line for line in stderr.splitlines() if line.startswith("raised: ")]
    return f"`{lines[-1].removeprefix('raised: ').split(':')[0]}`" if lines else ""


def render_doc_matrix(reports: list[tuple[str, str, dict[str, Any]]]) -> str:
    lines = [
        "## Every fault through three SDKs, used plainly",
        "",
        "`fakellm matrix` (docs/matrix.md) ran each client below once per case of its",
        f"catalogue, with `--timeout {DOC_TIMEOUT_S}`. Each streams one chat completion with the SDK's",
        "defaults (two retries of a failed request, a 10 minute timeout), prints the text as it comes,",
        "and reports what the SDK raised (the *raised* column); the *verdict* says whether an",
        "application using it this way gets the right answer or an error, or is misled",
        '(docs/matrix.md, "Verdicts"). The answer is 12 tokens; faults at `@3` fire after the third.',
        "",
    ]
    for name, path, report in reports:
        lines += [
            f"### {name} ({_version(name)}: `{path}`)",
            "",
            "| case | faults | verdict | raised | printed | requests |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for case in report["cases"]:
            spec = next(c.spec for c in CASES if c.name == case["name"])
            verdict = f"`{case['verdict']}`" if case["passed"] else f"**`{case['verdict']}`**"
            lines.append(
                f"| `{case['name']}` | `{spec}` | {verdict} | {_raised(case['stderr_tail'])} | "
                f"{case['received']} | {case['requests']} |"
            )
        lines.append("")
    return "\n".join(lines)


def test_the_sdk_fault_doc_is_the_matrix_of_three_sdks(
    tmp_path: Path, naive_python: Run, naive_node: Run
) -> None:
    _node()
    doc = DOC.read_text(encoding="utf-8")
    head, start, rest = doc.partition(DOC_START)
    _, end, tail = rest.partition(DOC_END)
    assert start and end, f"{DOC} lacks the {DOC_START} ... {DOC_END} markers"

    shared = {"openai-python": naive_python.report, "openai-node": naive_node.report}

    def matrices(jobs: str) -> str:
        reports = []
        for name, path, command in DOC_CLIENTS:
            if jobs == "3" and name in shared:  # the module's run, made with these flags
                report = shared[name]
            else:
                _, report = run(tmp_path, "--jobs", jobs, "--timeout", str(DOC_TIMEOUT_S), "--", *command)
            reports.append((name, path, report))
        return render_doc_matrix(reports)

    text = matrices("3")
    if rest.partition(DOC_END)[0] != f"\n{text}" and os.environ.get("FAKELLM_UPDATE_DOCS") != "1":
        # Under a loaded machine (the full suite on two CPUs) a case can run late: once more, one
        # case at a time, before calling the file stale.
        text = matrices("1")
    if os.environ.get("FAKELLM_UPDATE_DOCS") == "1":
        DOC.write_text(f"{head}{start}\n{text}{end}{tail}", encoding="utf-8")
        rest = f"\n{text}{end}{tail}"
    hint = "regenerate it with FAKELLM_UPDATE_DOCS=1 pytest tests/e2e/test_matrix.py"
    shown = rest.partition(DOC_END)[0]
    diff = "\n".join(
        difflib.unified_diff(shown.splitlines(), f"\n{text}".splitlines(), "doc", "now", lineterm="")
    )
    assert shown == f"\n{text}", f"{DOC}'s matrix is stale: {hint}\n\n{diff}"
