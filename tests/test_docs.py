"""The docs cannot drift from the example files they show.

Every Python block in README.md and docs/*.md that holds a test is preceded by a marker naming the file
it is taken from, ``<!-- example: tests/examples/test_quickstart.py -->``; a JavaScript block may be
too (``<!-- example: tests/e2e/pages/fetch_sse.js -->``: the code the browser tests run). A block may
be an excerpt: each of its paragraphs (blocks of lines between blank lines) must be a run of
consecutive lines of that file, blank lines aside, and the paragraphs must come in the file's order.
A changed line, in the doc or in the file, fails here.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"(?:<!-- example: (?P<path>\S+) -->\n)?```(?P<lang>python|js)\n(?P<code>.*?)```", re.S)


@dataclass(frozen=True)
class Snippet:
    doc: Path
    line: int
    path: str | None
    code: str

    def __str__(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def _snippets() -> list[Snippet]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in _BLOCK.finditer(text):
            line = text.count("\n", 0, m.start("code"))
            if m.group("lang") == "python" or m.group("path"):
                found.append(Snippet(doc, line, m.group("path"), m.group("code")))
    return found


def _paragraphs(code: str) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in code.rstrip().splitlines():
        if line.strip():
            paragraphs[-1].append(line.rstrip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def excerpt_problem(code: str, source: str) -> str | None:
    """Why ``code`` is not an excerpt of ``source`` (None when it is)."""
    lines = [line.rstrip() for line in source.splitlines() if line.strip()]
    start = 0
    for paragraph in _paragraphs(code):
        n = len(paragraph)
        at = next((i for i in range(start, len(lines) - n + 1) if lines[i : i + n] == paragraph), None)
        if at is None:
            anywhere = any(lines[i : i + n] == paragraph for i in range(len(lines) - n + 1))
            where = "comes out of the file's order" if anywhere else "is not in the file as written"
            return f"this part {where}:\n" + "\n".join(paragraph)
        start = at + n
    return None


SNIPPETS = _snippets()


def test_the_docs_have_example_snippets() -> None:
    assert sum(s.path is not None for s in SNIPPETS) >= 5, "the markers are gone: see this module's docstring"


@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if "def test_" in s.code], ids=str)
def test_every_test_shown_in_the_docs_names_its_example_file(snippet: Snippet) -> None:
    assert snippet.path is not None, (
        f"{snippet}: a test shown in the docs must be one that runs: put it in tests/examples/ and precede "
        "the block with <!-- example: tests/examples/FILE.py -->"
    )


@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if s.path is not None], ids=str)
def test_a_snippet_is_what_its_example_file_says(snippet: Snippet) -> None:
    assert snippet.path is not None
    source = ROOT / snippet.path
    assert source.is_file(), f"{snippet}: names {snippet.path}, which does not exist"
    problem = excerpt_problem(snippet.code, source.read_text(encoding="utf-8"))
    assert problem is None, f"{snippet} has drifted from {snippet.path}: {problem}"


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("a = 1\nb = 2\n", True),
        ("a = 1\n\nc = 3\n", True),  # an excerpt: b left out between paragraphs
        ("b = 2\n\na = 1\n", False),  # out of order
        ("a = 1\nc = 3\n", False),  # a paragraph must be consecutive lines of the file
        ("a = 2\n", False),  # drifted
    ],
)
def test_what_counts_as_an_excerpt(code: str, ok: bool) -> None:
    source = "a = 1\nb = 2\n\n\nc = 3\n"
    assert (excerpt_problem(code, source) is None) is ok


def _cli_flags() -> list[tuple[str, str]]:
    from fakellm.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [
        (name, flag)
        for name, sub in commands.choices.items()
        for action in sub._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    ]


@pytest.mark.parametrize(("command", "flag"), _cli_flags(), ids=lambda v: str(v))
def test_every_cli_flag_is_documented(command: str, flag: str) -> None:
    """A flag of ``fakellm serve|proxy|matrix`` appears, in backquotes, in README.md or docs/*.md."""
    pattern = re.compile(rf"`{re.escape(flag)}(?![\w-])")
    assert any(pattern.search(doc.read_text(encoding="utf-8")) for doc in DOCS), (
        f"fakellm {command} {flag} is not documented in README.md or docs/*.md"
    )
