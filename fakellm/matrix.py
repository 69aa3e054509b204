"""``fakellm matrix -- CMD ARGS...``: how does *your* client survive each fault?

It starts a real server (``Server``: an ephemeral port, seeded) and runs the command once per case
of the catalogue (``matrix_cases.CASES``), each under its own path prefix
(``/_matrix/<case>/v1``, served by ``app.prefixed``: the case's faults as if they came in
``X-FakeLLM-Faults``), so the command needs nothing but the base URL it finds in
``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL`` or ``FAKELLM_BASE_URL``. Each run is judged by one
function, :func:`judge`, from what the command did (exit status, whether it hung, what it printed
on stdout) and what the server's journal says it sent (every attempt of the case). The report is
a terminal table, and Markdown, JSON and JUnit XML files (docs/matrix.md).

A command's stdout is its answer: the sample clients (fixtures/matrix/) print the answer text
there and nothing else, and errors on stderr.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import difflib
import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .matrix_cases import CASES, SCENARIO, TEXT, Case, Kind
from .server import Server
from .tokens import tokenize

__all__ = [
    "CASE_HEADER",
    "FORMATS",
    "PASSING",
    "VERDICTS",
    "CaseResult",
    "MatrixUsageError",
    "Report",
    "as_json",
    "catalogue_markdown",
    "judge",
    "junit",
    "markdown",
    "run_from_args",
    "run_matrix",
    "select_cases",
    "table",
]

Verdict = Literal[
    "correct",
    "error_surfaced",
    "retried",
    "truncation_accepted",
    "text_lost",
    "duplicated",
    "hung",
    "crashed_on_valid_stream",
    "retried_against_advice",
]
VERDICTS: tuple[Verdict, ...] = (
    "correct",
    "error_surfaced",
    "retried",
    "truncation_accepted",
    "text_lost",
    "duplicated",
    "hung",
    "crashed_on_valid_stream",
    "retried_against_advice",
)
PASSING: frozenset[str] = frozenset({"correct", "error_surfaced", "retried"})

FORMATS = ("chat", "responses", "anthropic")
CASE_HEADER = "x-fakellm-matrix-case"  # marks a case's requests in the journal
SEED = 5
DEFAULT_TIMEOUT_S = 15.0  # cli.py's --timeout default
STDERR_TAIL_CHARS = 2000
SETTLE_S = 3.0  # how long a case's streams may take to end once its command has


class MatrixUsageError(Exception):
    """A bad command line: one message, exit status 2."""


# -- the verdict ------------------------------------------------------------------------------------
def _pieces_of_prefixes(printed: str, text: str) -> bool:
    """``printed`` is two or more non-empty prefixes of ``text`` one after the other (a retry that
    printed again what an earlier attempt had printed)."""
    # splits[i]: the fewest pieces printed[:i] cuts into (0 for the empty start; None: it cannot).
    splits: list[int | None] = [0] + [None] * len(printed)
    for i in range(len(printed)):
        if splits[i] is None:
            continue
        for j in range(i + 1, min(len(printed), i + len(text)) + 1):
            if printed[i:j] == text[: j - i]:
                count = splits[i]
                assert count is not None
                if splits[j] is None or count + 1 > (splits[j] or 0):
                    splits[j] = count + 1
            else:
                break
    last = splits[len(printed)]
    return last is not None and last >= 2


def judge(
    kind: Kind, *, exit_status: int | None, hung: bool, printed: str, text: str, sent: Sequence[str]
) -> Verdict:
    """The verdict of one case (docs/matrix.md, "Verdicts": these rules, in this order).

    ``kind``: what the server did (``matrix_cases.KINDS``); ``exit_status``: the command's (None
    when it was killed); ``printed``: its stdout, without trailing line breaks; ``text``: the whole
    answer; ``sent``: the text each of the case's requests carried, in order (its length is the
    number of requests)."""
    if hung or exit_status is None:
        return "hung"
    failed = exit_status != 0
    retried = len(sent) > 1
    if kind == "no_retry" and retried:
        return "retried_against_advice"
    if printed == text:
        if failed:
            return "crashed_on_valid_stream" if kind == "valid" else "error_surfaced"
        return "retried" if retried and kind in ("broken", "retry") else "correct"
    if text.startswith(printed):  # a strict prefix, maybe empty
        if failed:
            return "crashed_on_valid_stream" if kind == "valid" else "error_surfaced"
        # Exit 0 on part of the answer: the client lost what the server sent, or took what a
        # failed stream sent for the whole answer.
        return "text_lost" if sent and sent[-1] == text else "truncation_accepted"
    if _pieces_of_prefixes(printed, text):
        return "duplicated"
    return "text_lost"


# -- running the cases ------------------------------------------------------------------------------
@dataclass
class CaseResult:
    """One case's run and its verdict."""

    case: Case
    verdict: Verdict
    exit_status: int | None  # None: killed at the timeout
    duration_s: float
    hung: bool
    printed: str  # stdout, without trailing line breaks
    stderr_tail: str
    sent: list[str] = field(default_factory=list)  # the text of each request of the case, in order
    outcomes: list[str] = field(default_factory=list)  # the journal's outcome of each
    statuses: list[int] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict in PASSING

    @property
    def requests(self) -> int:
        return len(self.sent)


@dataclass
class Report:
    format: str
    command: list[str]
    timeout_s: float
    text: str
    results: list[CaseResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def select_cases(only: Sequence[str] = (), skip: Sequence[str] = ()) -> list[Case]:
    """The catalogue's cases named by ``only`` (all when empty) but not by ``skip``; names may be
    shell patterns (``sse_*``). A name that matches no case is a :class:`MatrixUsageError`."""
    names = [c.name for c in CASES]

    def matching(patterns: Sequence[str], flag: str) -> set[str]:
        chosen: set[str] = set()
        for pattern in patterns:
            hits = fnmatch.filter(names, pattern)
            if not hits:
                close = difflib.get_close_matches(pattern, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise MatrixUsageError(f"{flag}: no case {pattern!r}{hint}; the cases: {', '.join(names)}")
            chosen.update(hits)
        return chosen

    wanted = matching(only, "--only") if only else set(names)
    dropped = matching(skip, "--skip")
    cases = [c for c in CASES if c.name in wanted and c.name not in dropped]
    if not cases:
        raise MatrixUsageError("no case left to run (--only and --skip leave none)")
    return cases


def _split(values: Iterable[str]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _environment(url: str, case: Case, fmt: str) -> dict[str, str]:
    env = dict(os.environ)
    prefix = f"{url}/_matrix/{case.name}"
    env["OPENAI_BASE_URL"] = f"{prefix}/v1"  # the openai SDKs expect the /v1
    env["ANTHROPIC_BASE_URL"] = prefix  # the anthropic SDKs add /v1 themselves
    env["FAKELLM_BASE_URL"] = f"{prefix}/v1"
    env["FAKELLM_MATRIX_CASE"] = case.name
    env["FAKELLM_MATRIX_FORMAT"] = fmt
    env.setdefault("OPENAI_API_KEY", "sk-fakellm-matrix")
    env.setdefault("ANTHROPIC_API_KEY", "sk-ant-fakellm-matrix")
    return env


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """End the command and whatever it started (its own session: ``start_new_session``)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _run_command(
    command: Sequence[str], env: dict[str, str], timeout_s: float
) -> tuple[int | None, bool, bytes, bytes, float]:
    started = time.monotonic()
    process = subprocess.Popen(
        list(command),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a process group of its own, to kill with its children
    )
    hung = False
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        hung = True
        _kill_group(process)
        out, err = process.communicate()
    finally:
        _kill_group(process)  # no orphan outlives its case
    duration = time.monotonic() - started
    return (None if hung else process.returncode), hung, out, err, duration


def _case_entries(server: Server, case: Case) -> list[Any]:
    """The journal entries of the case's streamed requests, once its streams have ended."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        entries = [
            e
            for e in server.journal.entries()
            if e.headers.get(CASE_HEADER) == case.name and e.format is not None
        ]
        if all(e.outcome != "streaming" for e in entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.02)


def _tail(data: bytes) -> str:
    return data.decode("utf-8", "replace")[-STDERR_TAIL_CHARS:]


def run_case(server: Server, case: Case, command: Sequence[str], fmt: str, timeout_s: float) -> CaseResult:
    exit_status, hung, out, err, duration = _run_command(
        command, _environment(server.url, case, fmt), timeout_s
    )
    entries = _case_entries(server, case)
    printed = out.decode("utf-8", "replace").rstrip("\r\n")
    sent = [e.text for e in entries]
    verdict = judge(case.kind, exit_status=exit_status, hung=hung, printed=printed, text=TEXT, sent=sent)
    return CaseResult(
        case=case,
        verdict=verdict,
        exit_status=exit_status,
        duration_s=duration,
        hung=hung,
        printed=printed,
        stderr_tail=_tail(err),
        sent=sent,
        outcomes=[e.outcome for e in entries],
        statuses=[e.status for e in entries],
        formats=sorted({e.format for e in entries}),
    )


def _prefixes(cases: Sequence[Case]) -> dict[str, tuple[tuple[str, str], ...]]:
    routes = {}
    for case in cases:
        faults = (("x-fakellm-faults", case.faults),) if case.faults else ()
        routes[case.name] = ((CASE_HEADER, case.name), *faults, *case.headers)
    return routes


def run_matrix(
    command: Sequence[str],
    cases: Sequence[Case] = CASES,
    *,
    fmt: str = "chat",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    jobs: int = 1,
    progress: Any = None,
) -> Report:
    """Run ``command`` once per case against a fresh server; ``progress(result)`` after each."""
    server = Server(scenarios=[SCENARIO], seed=SEED)
    server.app.prefixes = dict(_prefixes(cases))
    results: dict[str, CaseResult] = {}
    with server, concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_case, server, case, command, fmt, timeout_s): case for case in cases}
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            results[result.case.name] = result
            if progress is not None:
                progress(result)
    return Report(fmt, list(command), timeout_s, TEXT, [results[c.name] for c in cases])


# -- the outputs -------------------------------------------------------------------------------------
_TOKENS = tokenize(TEXT)


def received(printed: str, text: str = TEXT) -> str:
    """What the command printed, in words: ``the whole text``, ``nothing``, ``the first 3 tokens``."""
    if printed == text:
        return "the whole text"
    if not printed:
        return "nothing"
    tokens = _TOKENS if text == TEXT else tokenize(text)
    for n in range(len(tokens), 0, -1):
        if printed == "".join(tokens[:n]):
            return f"the first {n} token{'s' if n > 1 else ''}"
    if text.startswith(printed):
        return f"the first {len(printed)} characters"
    shown = printed if len(printed) <= 60 else f"{printed[:57]}..."
    return f"other text: {shown!r}"


def catalogue_markdown(cases: Sequence[Case] = CASES) -> str:
    """The catalogue as a Markdown table (docs/matrix.md carries it; a test keeps it current)."""
    lines = ["| case | faults | kind | a correct client |", "| --- | --- | --- | --- |"]
    lines += [f"| `{c.name}` | `{_cell(c.spec)}` | {c.kind} | {_cell(c.expectation)} |" for c in cases]
    return "\n".join(lines) + "\n"


def _exit(result: CaseResult) -> str:
    return "killed" if result.exit_status is None else str(result.exit_status)


def table(report: Report) -> str:
    """The terminal table."""
    header = ("case", "verdict", "exit", "requests", "time", "received")
    rows = [
        (
            r.case.name,
            r.verdict if r.passed else f"{r.verdict} FAIL",
            _exit(r),
            str(r.requests),
            f"{r.duration_s:.1f}s",
            received(r.printed, report.text),
        )
        for r in report.results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    failed = sum(not r.passed for r in report.results)
    lines.append("")
    lines.append(
        f"{len(report.results) - failed} of {len(report.results)} cases passed"
        + (f", {failed} failed" if failed else "")
    )
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report, *, title: str | None = None) -> str:
    """The Markdown table (docs/matrix.md shows one)."""
    lines = [f"## {title}", ""] if title else []
    lines += [
        "| case | faults | a correct client | verdict | exit | requests | printed |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report.results:
        verdict = f"`{r.verdict}`" if r.passed else f"**`{r.verdict}`**"
        lines.append(
            f"| `{r.case.name}` | `{_cell(r.case.spec)}` | {_cell(r.case.expectation)} | {verdict} | "
            f"{_exit(r)} | {r.requests} | {_cell(received(r.printed, report.text))} |"
        )
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> dict[str, Any]:
    return {
        "format": report.format,
        "command": report.command,
        "timeout_s": report.timeout_s,
        "text": report.text,
        "passed": report.passed,
        "cases": [
            {
                "name": r.case.name,
                "faults": r.case.faults,
                "headers": dict(r.case.headers),
                "kind": r.case.kind,
                "expectation": r.case.expectation,
                "verdict": r.verdict,
                "passed": r.passed,
                "exit_status": r.exit_status,
                "hung": r.hung,
                "duration_s": round(r.duration_s, 3),
                "printed": r.printed,
                "received": received(r.printed, report.text),
                "requests": r.requests,
                "sent": r.sent,
                "outcomes": r.outcomes,
                "statuses": r.statuses,
                "formats": r.formats,
                "stderr_tail": r.stderr_tail,
            }
            for r in report.results
        ],
    }


def junit(report: Report) -> str:
    """JUnit XML: one testcase per case, a failure element for each failing verdict."""
    failures = sum(not r.passed for r in report.results)
    suite = ET.Element(
        "testsuite",
        name=f"fakellm matrix ({report.format})",
        tests=str(len(report.results)),
        failures=str(failures),
        errors="0",
        time=f"{sum(r.duration_s for r in report.results):.3f}",
    )
    for r in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"fakellm.matrix.{report.format}",
            name=r.case.name,
            time=f"{r.duration_s:.3f}",
        )
        if not r.passed:
            failure = ET.SubElement(
                case, "failure", message=f"{r.verdict}: {r.case.expectation}", type=r.verdict
            )
            failure.text = (
                f"faults: {r.case.spec}\nexit: {_exit(r)}\nrequests: {r.requests} ({', '.join(r.outcomes)})\n"
                f"printed: {received(r.printed, report.text)}"
            )
        if r.stderr_tail:
            ET.SubElement(case, "system-err").text = r.stderr_tail
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# -- the command line --------------------------------------------------------------------------------
def _progress(result: CaseResult) -> None:
    mark = "ok  " if result.passed else "FAIL"
    print(
        f"fakellm matrix: {mark} {result.case.name}: {result.verdict} ({result.duration_s:.1f}s)",
        file=sys.stderr,
        flush=True,
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Run the matrix the parsed flags ask for: 0 when every case passed, 1 when one failed, 2 for
    a usage error (one line on stderr)."""
    command = list(args.cmd)
    if command[:1] == ["--"]:
        command = command[1:]
    try:
        if not command:
            raise MatrixUsageError("no command to run: fakellm matrix [flags] -- CMD ARGS...")
        if shutil.which(command[0]) is None:
            raise MatrixUsageError(f"command not found: {command[0]!r}")
        cases = select_cases(_split(args.only), _split(args.skip))
    except MatrixUsageError as exc:
        print(f"fakellm matrix: {exc}", file=sys.stderr)
        return 2
    report = run_matrix(
        command, cases, fmt=args.format, timeout_s=args.timeout, jobs=args.jobs, progress=_progress
    )
    print(table(report), flush=True)
    if args.markdown is not None:
        args.markdown.write_text(markdown(report), encoding="utf-8")
    if args.json is not None:
        args.json.write_text(
            json.dumps(as_json(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    if args.junit is not None:
        args.junit.write_text(junit(report), encoding="utf-8")
    return 0 if report.passed else 1
