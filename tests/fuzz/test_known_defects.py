"""The fuzz properties at the values of issue 10's known defects, which the grammar-aware strategies
elsewhere keep out of their ranges so that those properties stay green meanwhile.

They do not shrink (the minimal reproducer of each is its first example).
Alias bombs, huge faker counts and the quadratic tokenizer are left to their own regression tests:
before the fix each one hangs the process instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import Phase, example, given
from hypothesis import strategies as st

from fakellm import (
    FaultSpecError,
    InProcess,
    ScenarioError,
    load_scenario_files,
    parse_fault_spec,
    scenario_from_dict,
)
from fakellm.state import ServerState

from .strategies import budget
from .test_requests import READ_TIMEOUT_S, SCENARIOS

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


_huge = st.integers(4301, 6000).map(lambda n: "9" * n)


@budget(0.1, phases=NO_SHRINK)
@given(_huge.flatmap(lambda d: st.sampled_from([f"drop@{d}", f"fragment {d}-1", f"fragment 1-{d} bytes"])))
@example("drop@" + "9" * 5000)
def test_huge_integers_are_a_fault_spec_error(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_fault_spec(spec)


@pytest.fixture(scope="module")
def inprocess() -> Iterator[tuple[httpx.Client, ServerState]]:
    with InProcess(scenarios=SCENARIOS, seed=7) as fake, fake.httpx_client(timeout=READ_TIMEOUT_S) as client:
        yield client, fake.state


_overflowing = st.one_of(
    st.floats(1e15, 1e308).map(lambda ms: {"X-FakeLLM-TTFT-Ms": f"{ms:g}"}),
    st.floats(1e15, 1e308).map(lambda ms: {"X-FakeLLM-ITL-Ms": f"{ms:g}"}),
    st.floats(1e-300, 1e-12).map(lambda rate: {"X-FakeLLM-Faults": f"bandwidth {rate:g}"}),
    st.floats(1e15, 1e300).map(lambda ms: {"X-FakeLLM-Faults": f"latency {ms:g}"}),
    st.floats(1e15, 1e300).map(lambda ms: {"X-FakeLLM-Faults": f"stall@1 {ms:g}ms"}),
)


@budget(0.05, phases=NO_SHRINK)
@given(_overflowing)
@example({"X-FakeLLM-Faults": "bandwidth 1e-300"})
@example({"X-FakeLLM-TTFT-Ms": "1e306"})
def test_overflowing_durations_and_rates_are_a_400(
    inprocess: tuple[httpx.Client, ServerState], headers: dict[str, str]
) -> None:
    client, state = inprocess
    state.internal_errors.clear()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    try:
        response = client.post("chat/completions", json=body, headers=headers)
    except httpx.ReadTimeout:
        pytest.fail(f"{headers} was accepted: the stream waits for a moment that never comes")
    finally:
        errors = list(state.internal_errors)
        state.internal_errors.clear()
    assert not errors, errors[0]
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["param"] in headers


def test_many_faults_are_served_or_refused(inprocess: tuple[httpx.Client, ServerState]) -> None:
    # Through the app: the depth of one nested generator per fault is reached on its event loop.
    client, state = inprocess
    state.internal_errors.clear()
    headers = {"X-FakeLLM-Scenario": "fixed", "X-FakeLLM-Faults": "fragment 1-7 bytes;" * 500}
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    try:
        response = client.post("chat/completions", json=body, headers=headers, timeout=30)
    except httpx.TransportError as exc:
        pytest.fail(f"the stream was cut: {exc!r}")
    finally:
        errors = [e.splitlines()[-1] for e in state.internal_errors]
        state.internal_errors.clear()
    assert not errors, errors[0]
    assert response.status_code == 400 or response.text.endswith("data: [DONE]\n\n"), response.text[-200:]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("defects")


_TIMING = ("ttft_ms", "itl_ms", "jitter_ms", "ttft_jitter_ms")


@budget(0.1, phases=NO_SHRINK)
@given(st.sampled_from(_TIMING), st.sampled_from([".nan", ".inf", ".NaN", ".Inf"]))
@example("ttft_ms", ".nan")
def test_nan_and_inf_timing_are_a_scenario_error(folder: Path, key: str, value: str) -> None:
    path = folder / "timing.yaml"
    path.write_text(f"scenarios:\n  - name: a\n    timing: {{{key}: {value}}}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario_files([path])
    assert (caught.value.line, caught.value.field) == (3, f"timing.{key}")
    # Scripted in code (fakellm.script(ttft_ms=float("nan")) builds the same mapping).
    with pytest.raises(ScenarioError):
        scenario_from_dict({"name": "a", "timing": {key: float(value.lower().lstrip("."))}})
