"""The tree stays ruff-clean and mypy --strict clean: checked as part of the suite, so CI enforces it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"{name} is not installed: install the project with pip install -e '.[dev]'")
    return path


def test_ruff_clean() -> None:
    result = subprocess.run(
        [_tool("ruff"), "check", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_clean() -> None:
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# Imported inside functions on purpose: the CLI loads the server or the proxy only for the command
# that runs (start-up time), and ``__init__`` names its exports lazily (``import fakellm`` stays cheap).
_DEFERRED_OK = {"fakellm/cli.py", "fakellm/__init__.py", "fakellm/app.py"}


def test_every_module_imports_first_and_none_defers_an_import_to_dodge_a_cycle() -> None:
    """The layering in ARCHITECTURE.md ("Modules in layers"): each module can be the first one
    imported (a cycle shows as an ImportError of a partly initialised module), and the only imports
    inside functions are the ones named above."""
    package = ROOT / "fakellm"
    modules = sorted(
        ".".join(("fakellm", *p.relative_to(package).with_suffix("").parts)).removesuffix(".__init__")
        for p in package.rglob("*.py")
        if p.name != "__main__.py"
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'fakellm' or m.startswith('fakellm.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    deferred = []
    for path in sorted(package.rglob("*.py")):
        shown = str(path.relative_to(ROOT))
        if shown in _DEFERRED_OK:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        in_type_checking = False
        for number, line in enumerate(lines, 1):
            if line.startswith("if TYPE_CHECKING"):
                in_type_checking = True
            elif line and not line[0].isspace():
                in_type_checking = False
            stripped = line.lstrip()
            if (
                line != stripped
                and not in_type_checking
                and stripped.startswith(("from .", "import fakellm"))
            ):
                deferred.append(f"{shown}:{number}: {stripped}")
    assert not deferred, "imports inside functions (a cycle being dodged?):\n" + "\n".join(deferred)
