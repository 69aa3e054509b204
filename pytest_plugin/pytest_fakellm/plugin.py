"""The pytest entry point (registered through ``pytest11``): options, the marker, the report header,
and the fixtures.

``fakellm_server`` is one real server for the session (pytest-httpserver's design); ``fakellm`` is a
function-scoped handle on it, reset before each test and checked after it (pytest_httpx's habit:
fail at teardown, saying how to allow it). With ``--fakellm-mode inprocess`` the same handle drives
the app without a socket. The fixtures are sync, so they work in sync tests and under pytest-asyncio
in strict and auto mode alike.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from fakellm import FakeLLMError, InProcess, Server, ServerConfig

from .handle import FakeLLM, MarkerOptions, check_keywords, derive

SEED_KEY = pytest.StashKey[int]()
HANDLES_KEY = pytest.StashKey[list[FakeLLM]]()
FAILED_KEY = pytest.StashKey[bool]()
MODES = ("socket", "inprocess")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakellm", "fakellm: a fake LLM for streaming tests")
    group.addoption(
        "--fakellm-seed",
        type=int,
        default=None,
        metavar="N",
        help="seed for every fakellm stream (random by default; printed in the report header, so that "
        "a run replays)",
    )
    group.addoption(
        "--fakellm-mode",
        choices=MODES,
        default="socket",
        help="what the `fakellm` fixture talks to: a real server on 127.0.0.1 (socket, the default) or "
        "the app in process through a streaming ASGI transport (inprocess)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fakellm(responses=None, *, text=, faker=, echo=, ttft_ms=, itl_ms=, jitter_ms=, faults=, seed=, "
        "match=, finish_reason=, assert_all_requested=True, assert_no_internal_errors=True): script the "
        "`fakellm` fixture for this test (the keywords of fakellm.script())",
    )
    seed = config.getoption("fakellm_seed", None)
    config.stash[SEED_KEY] = seed if seed is not None else random.SystemRandom().randrange(2**31)


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.stash[SEED_KEY]
    mode = config.getoption("fakellm_mode", "socket")
    return f"fakellm: seed {seed} (replay with --fakellm-seed {seed}), mode {mode}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("fakellm") is None:
        return
    names = getattr(item, "fixturenames", ())
    if "fakellm" not in names and "fakellm_inprocess" not in names:
        pytest.fail(
            "@pytest.mark.fakellm scripts the `fakellm` (or `fakellm_inprocess`) fixture, which this test "
            "does not use: add it to the test's arguments",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    try:
        return (yield)
    finally:
        for handle in item.stash.get(HANDLES_KEY, []):
            handle.close_async()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED_KEY] = True
    if report.failed:
        for handle in item.stash.get(HANDLES_KEY, []):
            report.sections.append((f"fakellm ({handle.mode})", handle.report()))
    return report


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def fakellm_server() -> Iterator[Server]:
    """One real fakellm server for the session: hypercorn on a background thread, on a pre-bound
    socket on 127.0.0.1:0. Prefer the ``fakellm`` fixture, which resets it for each test."""
    with Server(config=ServerConfig(port=0, shutdown_grace_s=1.0)) as server:
        yield server


@pytest.fixture(scope="session")
def _fakellm_inprocess_app() -> Iterator[InProcess]:
    with InProcess(config=ServerConfig(port=0)) as inprocess:
        yield inprocess


def _marker_options(request: pytest.FixtureRequest) -> MarkerOptions:
    marker = request.node.get_closest_marker("fakellm")
    if marker is None:
        return MarkerOptions()
    if len(marker.args) > 1:
        pytest.fail("@pytest.mark.fakellm takes one positional argument (a list of responses)", pytrace=False)
    kwargs = dict(marker.kwargs)
    if marker.args:
        kwargs["responses"] = marker.args[0]
    problem = None
    try:
        check_keywords(MarkerOptions, kwargs, "@pytest.mark.fakellm")
        return MarkerOptions(**kwargs)
    except TypeError as exc:
        problem = str(exc)
    pytest.fail(problem, pytrace=False)


def _handle(request: pytest.FixtureRequest, **backend: Any) -> Iterator[FakeLLM]:
    options = _marker_options(request)
    seed = derive(request.config.stash[SEED_KEY], request.node.nodeid)
    handle = FakeLLM(seed=seed, **backend)
    handle.reset()
    handle.assert_all_requested = options.assert_all_requested
    handle.assert_no_internal_errors = options.assert_no_internal_errors
    problem = None
    try:
        if options.responses is not None:
            handle.script(options.responses, **options.script_fields())
        elif options.script_fields():
            handle.script(**options.script_fields())
    except (TypeError, FakeLLMError) as exc:
        problem = f"@pytest.mark.fakellm: {exc}"
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    request.node.stash.setdefault(HANDLES_KEY, []).append(handle)
    inprocess = handle.inprocess
    if inprocess is not None:
        with inprocess.intercept():
            yield handle
    else:
        yield handle
    handle.close()
    _check(handle, failed=request.node.stash.get(FAILED_KEY, False))


def _check(handle: FakeLLM, *, failed: bool) -> None:
    problems: list[str] = []
    inprocess = handle.inprocess
    if inprocess is not None and inprocess.problems:
        problems += [f"fakellm: {p}" for p in inprocess.problems]
        inprocess.problems.clear()
    errors = list(handle.state.internal_errors)
    if errors and handle.assert_no_internal_errors:
        problems.append(
            f"fakellm: the server hit {len(errors)} internal error(s) while serving this test (a bug in "
            "fakellm or in a scripted scenario; the client saw a 500 or a cut stream):\n\n"
            + "\n".join(errors)
            + "\nIf that is expected, mark the test @pytest.mark.fakellm(assert_no_internal_errors=False)."
        )
    unrequested = handle.unrequested()
    if unrequested and handle.assert_all_requested and not failed:
        problems.append(
            f"fakellm: {len(unrequested)} scripted response(s) were never requested:\n"
            + "".join(f"  - {line}\n" for line in unrequested)
            + "If that is expected, mark the test @pytest.mark.fakellm(assert_all_requested=False) or set "
            "fakellm.assert_all_requested = False."
        )
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def fakellm(request: pytest.FixtureRequest) -> Iterator[FakeLLM]:
    """A fake LLM for this test, reset before it and checked after it: ``base_url``, clients,
    ``script()``, ``journal``, ``record()`` / ``arecord()``. Socket server or in process, as
    ``--fakellm-mode`` says."""
    if request.config.getoption("fakellm_mode", "socket") == "inprocess":
        yield from _handle(request, inprocess=request.getfixturevalue("_fakellm_inprocess_app"))
    else:
        yield from _handle(request, server=request.getfixturevalue("fakellm_server"))


@pytest.fixture
def fakellm_inprocess(request: pytest.FixtureRequest) -> Iterator[FakeLLM]:
    """The ``fakellm`` handle in process, whatever ``--fakellm-mode`` says."""
    yield from _handle(request, inprocess=request.getfixturevalue("_fakellm_inprocess_app"))
