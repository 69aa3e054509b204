"""The pytest entry point (registered through ``pytest11``): options, the marker, the report header,
and the fixtures.

``fakellm_server`` is one real server for the session (pytest-httpserver's design); ``fakellm`` is a
function-scoped handle on it, reset before each test and checked after it (pytest_httpx's habit:
fail at teardown, saying how to allow it). With ``--fakellm-mode inprocess`` the same handle drives
the app without a socket. The fixtures are sync, so they work in sync tests and under pytest-asyncio
in strict and auto mode alike.

pytest loads this module in every run of a project that has fakellm installed, so it imports
nothing of the server stack: the fixtures import it when a test first uses one (the cost is then
paid once, by a run that needs it). tests/plugin/test_plugin_load.py pins that.

Under pytest-xdist every worker is its own process, so it starts its own session server; the
controller hands its session seed to the workers, and each test derives its seed from that and its
node id, so a test streams the same with ``-n 2``, ``-n 0`` or alone.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fakellm import InProcess, Server

    from .handle import FakeLLM, MarkerOptions

SEED_KEY = pytest.StashKey[int]()
HANDLES_KEY = pytest.StashKey["list[FakeLLM]"]()
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
    workerinput = getattr(config, "workerinput", None)  # an xdist worker: the controller's seed
    if seed is None and workerinput is not None and "fakellm_seed" in workerinput:
        seed = int(workerinput["fakellm_seed"])
    config.stash[SEED_KEY] = seed if seed is not None else random.SystemRandom().randrange(2**31)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, on the controller: every worker gets the session seed the header printed."""
    node.workerinput["fakellm_seed"] = node.config.stash[SEED_KEY]


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.stash[SEED_KEY]
    mode = config.getoption("fakellm_mode", "socket")
    header = f"fakellm: seed {seed} (replay with --fakellm-seed {seed}), mode {mode}"
    if config.pluginmanager.hasplugin("dsession"):  # xdist's controller, with workers to come
        header += " (every xdist worker: its own server, this seed; each test's seed is from its node id)"
    return header


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
            # handle.report() never raises: the session server may be gone already (the last test's
            # teardown stops it), and an exception here would be pytest's INTERNALERROR, which
            # hides the test's real failure.
            report.sections.append((f"fakellm ({handle.mode})", f"{_replay(item)}\n{handle.report()}"))
    return report


def _replay(item: pytest.Item) -> str:
    """The command that replays this test's streams (under xdist too: the seed is the session's,
    the same on every worker, and a test's own seed does not depend on the worker that ran it)."""
    config = item.config
    mode = config.getoption("fakellm_mode", "socket")
    line = f"replay: pytest --fakellm-seed {config.stash[SEED_KEY]}"
    if mode != "socket":
        line += f" --fakellm-mode {mode}"
    line += f" '{item.nodeid}'"
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is not None:
        line += f" (ran on xdist worker {worker})"
    return line


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def fakellm_server() -> Iterator[Server]:
    """One real fakellm server for the session: hypercorn on a background thread, on a pre-bound
    socket on 127.0.0.1:0. Prefer the ``fakellm`` fixture, which resets it for each test."""
    from fakellm import Server, ServerConfig

    with Server(config=ServerConfig(port=0, shutdown_grace_s=1.0)) as server:
        yield server


@pytest.fixture(scope="session")
def _fakellm_inprocess_app() -> Iterator[InProcess]:
    from fakellm import InProcess, ServerConfig

    with InProcess(config=ServerConfig(port=0)) as inprocess:
        yield inprocess


def _marker_options(request: pytest.FixtureRequest) -> MarkerOptions:
    from .handle import MarkerOptions, check_keywords

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
    from fakellm import FakeLLMError

    from .handle import FakeLLM, derive

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
