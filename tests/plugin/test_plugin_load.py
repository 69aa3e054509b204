"""Loading the plugin costs a suite that does not use it nothing: pytest imports
``pytest_fakellm.plugin`` in every run, and the server stack must wait for a fixture."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import fakellm
import pytest_fakellm

HEAVY = ("quart", "hypercorn", "fakellm.app", "fakellm.server", "fakellm.inprocess", "pytest_fakellm.handle")

NO_FAKELLM_TEST = f"""
import sys


def test_nothing_heavy_was_imported():
    assert "pytest_fakellm.plugin" in sys.modules  # the plugin is loaded...
    heavy = [name for name in {HEAVY!r} if name in sys.modules]
    assert heavy == []  # ...and imported none of these
"""


def test_loading_the_plugin_imports_neither_quart_nor_hypercorn(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n")
    pytester.makepyfile(test_plain=NO_FAKELLM_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=1)


def test_using_the_fixture_loads_the_server() -> None:
    # The other side: the lazy names really load (a fresh interpreter, nothing imported before).
    code = (
        "import sys, pytest_fakellm.plugin\n"
        "import fakellm\n"
        "assert 'quart' not in sys.modules\n"
        "fakellm.Server\n"
        "assert 'quart' in sys.modules and 'hypercorn' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _type_checking_names(module: object) -> dict[str, str]:
    """name -> module, from the ``if TYPE_CHECKING:`` imports of a package's ``__init__.py``."""
    tree = ast.parse(Path(str(getattr(module, "__file__", ""))).read_text())
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom):
                    for alias in stmt.names:
                        names[alias.name] = "." * stmt.level + (stmt.module or "")
    return names


@pytest.mark.parametrize("package", [fakellm, pytest_fakellm], ids=lambda p: p.__name__)
def test_every_public_name_loads(package: object) -> None:
    # The lazy table, the TYPE_CHECKING imports (what mypy sees) and __all__ say the same.
    where = package._WHERE  # type: ignore[attr-defined]
    assert _type_checking_names(package) == where
    assert sorted([*where, "__version__"]) == sorted(package.__all__)  # type: ignore[attr-defined]
    for name in package.__all__:  # type: ignore[attr-defined]
        assert getattr(package, name) is not None
        assert name in dir(package)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        package.nope  # type: ignore[attr-defined]  # noqa: B018
