"""Fuzzing the X-FakeLLM-Faults grammar: any string parses into faults that plan a stream, or is a
FaultSpecError that says where; through the header, a 400 in OpenAI's shape. Never another exception."""

from __future__ import annotations

import itertools
import math

from hypothesis import example, given

from fakellm import FaultSpecError, RequestError, Scenario, parse_fault_spec
from fakellm.content import FixedText
from fakellm.headers import FAULTS_HEADER, instructions
from fakellm.pipeline import plan_stream
from fakellm.stream import Frame
from fakellm.wire.openai import parse_chat_request

from .strategies import budget, check_fault, fault_specs

REQUEST = parse_chat_request(
    b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,'
    b'"stream_options":{"include_usage":true}}'
)
SCENARIO = Scenario(name="s", content=FixedText("Hello there, wörld 😀 and more words."))
MAX_FRAMES = 5000  # a stall forever with keep-alives is an endless (lazy) run of comments


@budget(1.0)
@given(fault_specs)
@example("drop@5 fn")
@example('error_event@3 message="unterminated')
@example("fragment 7-1 bytes")
@example("stall@10 forever keepalive_ms=1")
def test_any_spec_is_faults_or_a_positioned_error(spec: str) -> None:
    try:
        faults = parse_fault_spec(spec)
    except FaultSpecError as exc:
        assert exc.reason
        assert 0 <= exc.position <= len(spec)
        assert str(exc).endswith(f"at character {exc.position + 1} of {spec!r}")
        return
    for fault in faults:
        check_fault(fault)
    # A valid plan: the faults compose into a stream whose frames are all due at finite times.
    plan = plan_stream(REQUEST, SCENARIO, server_seed=1, extra_faults=faults)
    for frame in itertools.islice(plan.frames(), MAX_FRAMES):
        assert isinstance(frame, Frame)
        assert isinstance(frame.data, bytes)
        assert math.isfinite(frame.due) and frame.due >= 0, frame


@budget(1.0)
@given(fault_specs)
def test_the_header_is_read_or_refused_with_a_400(spec: str) -> None:
    try:
        asked = instructions({FAULTS_HEADER.lower(): spec})
    except RequestError as exc:
        assert exc.status == 400
        error = exc.body()["error"]
        assert error["message"].startswith(f"Bad {FAULTS_HEADER} header: ")
        assert error["type"] == "invalid_request_error"
        assert error["param"] == FAULTS_HEADER
        assert error["code"] == "invalid_fault_spec"
        return
    assert list(asked.faults) == parse_fault_spec(spec)
