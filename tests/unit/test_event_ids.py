"""event_ids.py: every event of a resumable stream numbered, and a resumed stream that starts after
its client's last event on the original schedule; planning a stream again gives the same bytes."""

from __future__ import annotations

import pytest

from fakellm import Scenario
from fakellm.content import FakerText, FixedText
from fakellm.event_ids import ResumePoint, parse_event_id
from fakellm.faults import parse_fault_spec
from fakellm.pipeline import StreamPlan, plan_stream
from fakellm.scenario import Timing
from fakellm.stream import HOLD, Frame
from fakellm.wire import SSEDecoder, WireFormat
from fakellm.wire.anthropic_messages import MESSAGES
from fakellm.wire.openai import CHAT
from fakellm.wire.openai_completions import COMPLETIONS
from fakellm.wire.openai_responses import RESPONSES

FORMATS = [CHAT, COMPLETIONS, RESPONSES, MESSAGES]
BODIES = {
    CHAT: b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}',
    COMPLETIONS: b'{"model":"m","prompt":"hi","stream":true}',
    RESPONSES: b'{"model":"m","input":"hi","stream":true}',
    MESSAGES: b'{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}],"stream":true}',
}
SCENARIO = Scenario(name="s", content=FakerText(sentences=3), timing=Timing(ttft_ms=100, itl_ms=10))


def _plan(fmt: WireFormat, resume: ResumePoint | None = None, **kw: object) -> StreamPlan:
    request = fmt.parse_request(BODIES[fmt], {})
    return plan_stream(request, SCENARIO, format=fmt, resume=resume, **kw)  # type: ignore[arg-type]


def _events(frames: list[Frame]) -> list[tuple[str, str]]:
    decoder = SSEDecoder()
    return [(e.id, e.data) for f in frames for e in decoder.feed(f.data)]


@pytest.mark.parametrize("value", ["chatcmpl-abc:0", "resp_1:42", "a:b:7"])
def test_an_event_id_is_the_stream_id_and_a_number(value: str) -> None:
    parsed = parse_event_id(value)
    assert parsed is not None and f"{parsed[0]}:{parsed[1]}" == value


def test_an_event_id_may_come_back_with_spaces_around_it() -> None:
    assert parse_event_id("  req_1:3 ") == ("req_1", 3)
    assert parse_event_id("x:" + "9" * 12) == ("x", 10**12 - 1)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "7",
        ":7",
        "x:",
        "x:-1",
        "x:+1",
        "x:1.5",
        "x: 1",
        "x:1 2",
        "x:" + "9" * 13,
        # Digits to str.isdigit() but not ours: a header may carry any Latin-1 byte ("\xb2" is
        # "²", which int() refuses: it was a 500), and fakellm sends ASCII digits only.
        "x:\u00b2",
        "x:\u0663",
        "x:\uff15",
    ],
)
def test_anything_else_is_not_an_event_id(value: str) -> None:
    assert parse_event_id(value) is None


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_every_event_carries_its_number_and_nothing_else_changes(fmt: WireFormat) -> None:
    plain = list(_plan(fmt, stream_seed=5).frames())
    numbered = list(_plan(fmt, ResumePoint("sid"), stream_seed=5).frames())
    events = _events(numbered)
    assert [i for i, _ in events] == [f"sid:{n}" for n in range(len(events))]
    assert [d for _, d in events] == [d for _, d in _events(plain)]
    assert [(f.due, f.text, f.tokens) for f in numbered] == [(f.due, f.text, f.tokens) for f in plain]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_a_frame_with_content_ends_with_the_event_that_carries_it(fmt: WireFormat) -> None:
    """What a resume inside a write relies on: the events a write holds before its token are the
    ones that open the message or a block (event_ids.py's docstring)."""
    for frame in _plan(fmt, stream_seed=9).frames():
        if frame.text:
            last = frame.data.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
            assert frame.text.encode() in last or frame.text.encode("unicode_escape") in last


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("after", [0, 1, 2, 5, 9])
def test_a_resume_sends_every_later_event_once_on_the_original_schedule(fmt: WireFormat, after: int) -> None:
    whole = list(_plan(fmt, ResumePoint("sid"), stream_seed=3).frames())
    rest = list(_plan(fmt, ResumePoint("sid", after=after, offset_s=0.15), stream_seed=3).frames())
    assert _events(rest) == _events(whole)[after + 1 :]
    by_id = {}
    for frame in whole:
        for event in SSEDecoder().feed(frame.data):
            by_id[event.id] = frame.due
    for frame in (f for f in rest if f.data):
        first = SSEDecoder().feed(frame.data)[0]
        assert frame.due == pytest.approx(max(0.0, by_id[first.id] - 0.15))
    # The content of the rest is the content after the resume point, nothing more, nothing less.
    sent = "".join(f.text or "" for f in whole)
    assert sent.endswith("".join(f.text or "" for f in rest))


def test_planning_again_with_the_seed_and_created_time_gives_the_same_bytes() -> None:
    """An unseeded stream draws its seed and carries the real time in ``created``; planned again
    with both, its bytes are the same, whatever the scenario's own seed."""
    first = _plan(CHAT, now=1_800_000_000.0)
    assert first.created == 1_800_000_000.0
    again = _plan(CHAT, stream_seed=first.seed, created=first.created)
    assert [f.data for f in again.frames()] == [f.data for f in first.frames()]
    seeded = Scenario(name="s", content=FakerText(sentences=2), seed=11)
    request = CHAT.parse_request(BODIES[CHAT], {})
    original = plan_stream(request, seeded, server_seed=4, now=1_800_000_000.0)
    assert original.created is None  # seeded: created is drawn from the seed
    replanned = plan_stream(request, seeded, stream_seed=original.seed)
    assert [f.data for f in replanned.frames()] == [f.data for f in original.frames()]


def test_faults_given_to_a_plan_are_its_faults_and_no_times_are_counted() -> None:
    faults = parse_fault_spec("error_event@2 hold")
    request = CHAT.parse_request(BODIES[CHAT], {})
    scenario = Scenario(name="s", content=FixedText("a b c d e"), faults=tuple(parse_fault_spec("drop@1")))
    plan = plan_stream(request, scenario, stream_seed=1, faults=faults)
    assert [f.name for f in plan.faults] == ["error_event"]
    frames = list(plan.frames())
    assert frames[-1].action == HOLD
