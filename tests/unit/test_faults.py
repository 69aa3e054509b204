"""Faults as pure transforms (fakellm/faults/): timed events and frames in, timed events and
frames out. No socket, no clock: due times are plain numbers, randomness comes from the stream seed.

Also the parts of the pipeline that decide which faults apply to a request (``times``,
``probability``, the stage order), the compact spec grammar of ``X-FakeLLM-Faults`` with every
error and its position, and fault errors in scenario files.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from fakellm import (
    AccelBuffering,
    Bandwidth,
    Buffer,
    Drop,
    ErrorEvent,
    Fault,
    FaultSpecError,
    Fragment,
    HttpError,
    Latency,
    MalformedChunk,
    Scenario,
    ScenarioError,
    SlowTokens,
    Sse,
    SSEDecoder,
    Stall,
    Timing,
    Truncate,
    load_scenario_files,
    parse_fault_spec,
)
from fakellm.content import FixedText
from fakellm.events import (
    BlockEnd,
    BlockStart,
    Finish,
    Hold,
    Malformed,
    RoleStart,
    StreamEnd,
    StreamError,
    TextDelta,
    Usage,
)
from fakellm.faults import FAULTS, go_duration, order_faults, parse_fault
from fakellm.pipeline import FaultCounters, plan_stream, schedule
from fakellm.stream import DROP_FIN, DROP_RST, HOLD, WRITE, Frame, StreamContext, Timed
from fakellm.wire.openai import parse_chat_request

TOKENS = ["Hel", "lo", ",", " wor", "ld", "!", " Ça", " va", " 😀", "?"]
TTFT = 0.100
ITL = 0.010


def timed_events(tokens: list[str] = TOKENS, *, usage: bool = True) -> Iterator[Timed]:
    """Role at 100 ms, token i at 100 + 10·i ms, then finish, usage and [DONE] with the last token."""
    return schedule(
        tokens,
        Timing(ttft_ms=TTFT * 1000, itl_ms=ITL * 1000),
        StreamContext.seeded(0).rng,
        finish_reason="stop",
        usage=Usage(5, len(tokens)) if usage else None,
    )


def run_events(
    fault: Fault, events: Iterable[Timed] | None = None, seed: int = 1
) -> tuple[list[Timed], StreamContext]:
    ctx = StreamContext.seeded(seed)
    out = list(fault.apply_events(iter(events if events is not None else timed_events()), ctx))
    return out, ctx


def kinds(events: list[Timed]) -> list[str]:
    """The events' kinds, without the block framing (BlockStart, BlockEnd), which every fault
    passes along untouched: positions count tokens (tests/unit/test_pipeline.py pins where the
    framing goes out)."""
    return [type(t.event).__name__ for t in events if not isinstance(t.event, BlockStart | BlockEnd)]


def token_frames(tokens: list[str] = TOKENS) -> list[Frame]:
    """Frames as the encoder makes them: a role frame, one frame per token, closing frames."""
    frames = [Frame(TTFT, b"data: role\n\n")]
    for i, token in enumerate(tokens):
        frames.append(Frame(TTFT + i * ITL, f"data: {token}\n\n".encode(), token, 1))
    end = TTFT + (len(tokens) - 1) * ITL
    frames.append(Frame(end, b"data: finish\n\n", closing=True))
    frames.append(Frame(end, b"data: [DONE]\n\n", closing=True))
    return frames


def run_frames(
    fault: Fault, frames: Iterable[Frame] | None = None, seed: int = 1
) -> tuple[list[Frame], StreamContext]:
    ctx = StreamContext.seeded(seed)
    out = list(fault.apply_frames(iter(frames if frames is not None else token_frames()), ctx))
    return out, ctx


def body(frames: Iterable[Frame]) -> bytes:
    return b"".join(f.data for f in frames)


# --------------------------------------------------------------------------------------------------
# Positions, on the events stage


@pytest.mark.parametrize("n", [0, 1, 3, len(TOKENS) - 1])
def test_error_event_after_tokens_comes_after_exactly_n_tokens(n: int) -> None:
    out, ctx = run_events(ErrorEvent(after_tokens=n))
    assert kinds(out) == ["RoleStart", *["TextDelta"] * n, "StreamError"]
    error = out[-1]
    assert error.due == pytest.approx(TTFT + n * ITL)  # when the next token would have been due
    assert [(f.fault, f.at_token) for f in ctx.fired] == [("error_event", n)]
    assert ctx.ending == "error_event"


def test_a_position_past_the_content_fires_at_the_end_of_the_content() -> None:
    out, ctx = run_events(ErrorEvent(after_tokens=50))
    assert kinds(out) == ["RoleStart", *["TextDelta"] * len(TOKENS), "StreamError"]
    assert ctx.fired[0].at_token == len(TOKENS)


@pytest.mark.parametrize(
    ("after_ms", "tokens_before", "due_ms"),
    [
        (0, 0, 100),  # never before the role chunk: the first token's moment
        (100, 0, 100),
        (125, 3, 125),  # between tokens 2 (120 ms) and 3 (130 ms): exactly at 125 ms
        (130, 3, 130),
        (5000, len(TOKENS), 190),  # past the end: at the end of the content
    ],
)
def test_after_ms_position(after_ms: float, tokens_before: int, due_ms: float) -> None:
    out, ctx = run_events(ErrorEvent(after_ms=after_ms))
    assert kinds(out) == ["RoleStart", *["TextDelta"] * tokens_before, "StreamError"]
    assert out[-1].due * 1000 == pytest.approx(due_ms)
    assert ctx.fired[0].at_token == tokens_before
    assert ctx.fired[0].at_ms == pytest.approx(due_ms)


@pytest.mark.parametrize(("then", "tail"), [("close", []), ("done", ["StreamEnd"]), ("hold", ["Hold"])])
def test_error_event_then(then: str, tail: list[str]) -> None:
    out, _ = run_events(ErrorEvent(after_tokens=2, message="boom", type="overloaded", code="c", then=then))
    assert kinds(out) == ["RoleStart", "TextDelta", "TextDelta", "StreamError", *tail]
    assert out[4].event == StreamError("boom", "overloaded", None, "c")  # role, block start, 2 tokens


def test_truncate_drops_finish_usage_and_done() -> None:
    out, ctx = run_events(Truncate(after_tokens=4))
    assert kinds(out) == ["RoleStart", *["TextDelta"] * 4]
    assert ctx.ending == "truncated"
    assert [(f.fault, f.at_token) for f in ctx.fired] == [("truncate", 4)]


def test_malformed_inserts_one_bad_event_and_the_stream_goes_on() -> None:
    out, ctx = run_events(MalformedChunk(after_tokens=2))
    assert kinds(out) == [
        "RoleStart",
        "TextDelta",
        "TextDelta",
        "Malformed",
        *["TextDelta"] * (len(TOKENS) - 2),
        "Finish",
        "Usage",
        "StreamEnd",
    ]
    bad = out[4].event  # after the role, the block's start and 2 tokens
    assert isinstance(bad, Malformed)
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.payload)
    assert ctx.ending is None  # the stream still completes


def test_malformed_payload_is_settable() -> None:
    out, _ = run_events(MalformedChunk(after_tokens=0, payload="{nope"))
    assert out[2].event == Malformed("{nope")  # after the role and the block's start


def test_slow_tokens_multiplies_the_gaps_from_token_n() -> None:
    out, ctx = run_events(SlowTokens(after_tokens=4, factor=3))
    dues = [t.due for t in out if isinstance(t.event, TextDelta)]
    gaps = [b - a for a, b in itertools.pairwise(dues)]
    assert gaps[:3] == pytest.approx([ITL] * 3)  # tokens 0-3 arrive on time
    assert gaps[3:] == pytest.approx([3 * ITL] * (len(TOKENS) - 4))  # after the 4th, 3x slower
    assert [(f.fault, f.at_token) for f in ctx.fired] == [("slow_tokens", 4)]


def test_a_fault_after_an_earlier_ending_does_not_fire() -> None:
    # error_event@3 then truncate@6 (same stage order as the pipeline): the error ends the
    # content, so the truncation never happens and is not reported.
    ctx = StreamContext.seeded(1)
    events = Truncate(after_tokens=6).apply_events(
        ErrorEvent(after_tokens=3).apply_events(timed_events(), ctx), ctx
    )
    assert kinds(list(events)) == ["RoleStart", "TextDelta", "TextDelta", "TextDelta", "StreamError"]
    assert [f.fault for f in ctx.fired] == ["error_event"]


def test_the_earlier_position_wins() -> None:
    ctx = StreamContext.seeded(1)
    events = Truncate(after_tokens=2).apply_events(
        ErrorEvent(after_tokens=5).apply_events(timed_events(), ctx), ctx
    )
    assert kinds(list(events)) == ["RoleStart", "TextDelta", "TextDelta"]
    assert [f.fault for f in ctx.fired] == ["truncate"]


# --------------------------------------------------------------------------------------------------
# Positions, on the frames stage


@pytest.mark.parametrize(("mode", "action"), [("fin", DROP_FIN), ("rst", DROP_RST)])
def test_drop_after_tokens(mode: str, action: int) -> None:
    out, ctx = run_frames(Drop(after_tokens=3, mode=mode))
    assert [f.text for f in out[:-1]] == [None, *TOKENS[:3]]
    assert out[-1].action == action and out[-1].data == b""
    assert out[-1].due == pytest.approx(TTFT + 3 * ITL)
    assert [(f.fault, f.at_token, f.detail) for f in ctx.fired] == [("drop", 3, mode)]


def test_drop_at_0_tokens_is_after_the_role_chunk() -> None:
    out, _ = run_frames(Drop())
    assert [f.data for f in out[:-1]] == [b"data: role\n\n"]
    assert out[-1].action == DROP_FIN


def test_drop_after_ms_is_exact_between_frames() -> None:
    out, ctx = run_frames(Drop(after_ms=135))
    assert sum(f.tokens for f in out) == 4  # tokens at 100, 110, 120, 130 ms
    assert out[-1].action == DROP_FIN and out[-1].due == pytest.approx(0.135)
    assert ctx.fired[0].at_ms == pytest.approx(135)


def test_drop_past_the_content_fires_before_the_finish() -> None:
    out, _ = run_frames(Drop(after_tokens=99))
    assert sum(f.tokens for f in out) == len(TOKENS)
    assert not any(f.closing for f in out)
    assert out[-1].action == DROP_FIN


def test_a_frame_fault_does_not_fire_after_an_error_event_ended_the_stream() -> None:
    frames = [*token_frames()[:4], Frame(0.13, b'data: {"error":{}}\n\n', closing=True)]
    ctx = StreamContext.seeded(1)
    ctx.ending = "error_event"  # what the events stage sets when it emits the error
    out = list(Drop(after_tokens=8).apply_frames(iter(frames), ctx))
    assert out == frames
    assert ctx.fired == []


def test_stall_shifts_everything_after_it() -> None:
    frames = token_frames()
    out, ctx = run_frames(Stall(after_tokens=2, duration_ms=500))
    assert body(out) == body(frames)
    for before, after in zip(frames, out, strict=True):
        shifted = (before.tokens and before.text in TOKENS[2:]) or before.closing
        assert after.due == pytest.approx(before.due + (0.5 if shifted else 0.0))
    assert ctx.stalled
    assert [(f.fault, f.at_token, f.detail) for f in ctx.fired] == [("stall", 2, "500ms")]


def test_stall_keepalives_fill_the_stall() -> None:
    out, _ = run_frames(Stall(after_tokens=2, duration_ms=500, keepalive_ms=200))
    keepalives = [f for f in out if f.data == b": keep-alive\n\n"]
    start = TTFT + 2 * ITL
    assert [f.due for f in keepalives] == pytest.approx([start + 0.2, start + 0.4])
    assert SSEDecoder().feed(body(out)) == SSEDecoder().feed(body(token_frames()))  # comments only


def test_stall_forever_holds() -> None:
    out, _ = run_frames(Stall(after_tokens=2, duration_ms=None))
    assert sum(f.tokens for f in out) == 2
    assert out[-1].action == HOLD


def test_stall_forever_with_keepalives_is_an_endless_lazy_run() -> None:
    ctx = StreamContext.seeded(1)
    frames = Stall(after_tokens=1, duration_ms=None, keepalive_ms=1000).apply_frames(
        iter(token_frames()), ctx
    )
    first = list(itertools.islice(frames, 2 + 50))
    tail = first[2:]
    assert all(f.data == b": keep-alive\n\n" for f in tail)
    assert tail[-1].due == pytest.approx(TTFT + ITL + 50.0)


def test_latency_shifts_the_whole_stream() -> None:
    frames = token_frames()
    out, _ = run_frames(Latency(ms=250))
    assert [f.due for f in out] == pytest.approx([f.due + 0.25 for f in frames])
    assert body(out) == body(frames)


# --------------------------------------------------------------------------------------------------
# fragment and coalesce

UTF8_FRAMES = [
    Frame(0.0, 'data: {"c":"héllo wörld ça 😀 €"}\n\n'.encode(), "héllo", 1),
    Frame(0.01, 'data: {"c":"naïve 🎉 café"}\n\n'.encode(), "naïve", 1),
    Frame(0.02, b"data: [DONE]\n\n", closing=True),
]


def test_fragment_rebuilds_the_same_bytes_in_small_pieces() -> None:
    out, ctx = run_frames(Fragment(min_bytes=1, max_bytes=5, delay_ms=2), UTF8_FRAMES)
    assert body(out) == body(UTF8_FRAMES)
    assert len(out) > 3 * len(UTF8_FRAMES)
    assert all(1 <= len(f.data) <= 5 for f in out)
    # The token is counted when its frame's last byte goes out, not before.
    assert [f.text for f in out if f.tokens] == ["héllo", "naïve"]
    assert out[-1].closing
    assert [(f.fault, f.detail) for f in ctx.fired] == [("fragment", "1-5 bytes")]


def test_fragment_writes_are_serial_and_delay_apart() -> None:
    out, _ = run_frames(Fragment(min_bytes=1, max_bytes=5, delay_ms=2), UTF8_FRAMES)
    gaps = [b.due - a.due for a, b in itertools.pairwise(out)]
    assert min(gaps) >= 0.002 - 1e-9  # never two writes at once: they arrive as separate reads


def test_fragment_cuts_inside_lines_json_strings_and_utf8_characters() -> None:
    out, _ = run_frames(Fragment(min_bytes=1, max_bytes=3), UTF8_FRAMES)
    data = body(UTF8_FRAMES)
    cuts = list(itertools.accumulate(len(f.data) for f in out))[:-1]
    assert any(data[c - 1 : c] != b"\n" for c in cuts)  # mid-line
    assert any(0x80 <= data[c] <= 0xBF for c in cuts)  # the next byte continues a UTF-8 character
    with pytest.raises(UnicodeDecodeError):
        for f in out:
            f.data.decode("utf-8")


def test_fragment_is_deterministic_per_seed() -> None:
    def cuts(seed: int) -> list[int]:
        return [len(f.data) for f in run_frames(Fragment(), UTF8_FRAMES, seed=seed)[0]]

    assert cuts(7) == cuts(7)
    assert cuts(7) != cuts(8)


def test_fragment_parses_to_the_same_events_with_a_spec_correct_decoder() -> None:
    out, _ = run_frames(Fragment(min_bytes=1, max_bytes=2), UTF8_FRAMES)
    decoder = SSEDecoder()
    events = [e.data for f in out for e in decoder.feed(f.data)]
    assert events == [e.data for e in SSEDecoder().feed(body(UTF8_FRAMES))]


def test_coalesce_puts_several_events_in_one_write() -> None:
    frames = token_frames()
    out, _ = run_frames(Fragment(coalesce=True), frames)
    assert body(out) == body(frames)
    assert len(out) < len(frames)
    assert all(f.data.count(b"\n\n") in (1, 2, 3, 4) for f in out)
    assert max(f.data.count(b"\n\n") for f in out) >= 2
    assert sum(f.tokens for f in out) == len(TOKENS)
    assert "".join(f.text or "" for f in out) == "".join(TOKENS)


def test_coalesce_with_sizes_cuts_across_event_boundaries() -> None:
    frames = token_frames()
    out, _ = run_frames(Fragment(coalesce=True, min_bytes=9, max_bytes=30), frames)
    assert body(out) == body(frames)
    straddling = [f for f in out if b"\n\n" in f.data[:-2]]
    assert straddling  # a write holding the end of one event and the start of the next


def test_coalesce_flushes_before_a_drop() -> None:
    frames = [*token_frames()[:3], Frame(0.5, b"", action=DROP_FIN)]
    out, _ = run_frames(Fragment(coalesce=True), frames)
    assert out[-1].action == DROP_FIN
    assert body(out) == body(frames)


# --------------------------------------------------------------------------------------------------
# sse framing variants: a spec-correct decoder sees the very same events


def _events(data: bytes) -> list[tuple[str, str]]:
    decoder = SSEDecoder()
    events = decoder.feed(data)
    decoder.close()
    return [(e.event, e.data) for e in events]


@pytest.mark.parametrize(
    "fault",
    [
        Sse(line_endings="crlf"),
        Sse(line_endings="cr"),
        Sse(comments=True),
        Sse(bom=True),
        Sse(retry_ms=1500),
        Sse(ids=True),
        Sse(line_endings="cr", comments=True, bom=True, retry_ms=10, ids=True),
    ],
    ids=lambda f: f._detail(),
)
def test_sse_variants_parse_to_the_same_events(fault: Sse) -> None:
    frames = token_frames()
    out, _ = run_frames(fault, frames)
    assert out != frames
    assert _events(body(out)) == _events(body(frames))
    # ... also when cut into single bytes, so a CRLF split across reads is covered (T4)
    decoder = SSEDecoder()
    data = body(out)
    assert [(e.event, e.data) for i in range(len(data)) for e in decoder.feed(data[i : i + 1])] == _events(
        body(frames)
    )


def test_sse_variant_bytes() -> None:
    plain = body(token_frames())
    assert body(run_frames(Sse(line_endings="crlf"))[0]) == plain.replace(b"\n", b"\r\n")
    assert b"\n" not in body(run_frames(Sse(line_endings="cr"))[0])
    assert body(run_frames(Sse(bom=True))[0]) == b"\xef\xbb\xbf" + plain
    with_retry = body(run_frames(Sse(retry_ms=1500))[0])
    assert with_retry.startswith(b"retry: 1500\ndata: role\n\n")
    decoder = SSEDecoder()
    decoder.feed(with_retry)
    assert decoder.retry == 1500
    ids = SSEDecoder()
    assert [e.id for e in ids.feed(body(run_frames(Sse(ids=True))[0]))] == [str(i) for i in range(1, 14)]
    commented = body(run_frames(Sse(comments=True))[0])
    assert commented.count(b"\n: fakellm comment") == len(token_frames()) - 1


# --------------------------------------------------------------------------------------------------
# bandwidth


def test_bandwidth_caps_bytes_per_second() -> None:
    frames = [Frame(0.0, b"x" * 1000), Frame(0.0, b"y" * 500, "y", 1, closing=True)]
    out, _ = run_frames(Bandwidth(bytes_per_s=1000), frames)
    assert body(out) == body(frames)
    assert max(len(f.data) for f in out) <= 100  # 100 ms worth per write
    sent = 0
    for frame in out:
        assert frame.due == pytest.approx(sent / 1000)  # byte k goes out at k / rate
        sent += len(frame.data)
    assert out[-1].text == "y" and out[-1].closing


def test_bandwidth_does_not_slow_a_stream_that_is_already_slower() -> None:
    frames = token_frames()
    out, _ = run_frames(Bandwidth(bytes_per_s=1_000_000), frames)
    # Only frames due at the same moment queue behind each other, for microseconds.
    assert [f.due for f in out] == pytest.approx([f.due for f in frames], abs=1e-4)


# --------------------------------------------------------------------------------------------------
# buffer: a buffering proxy, on due times (the transport is the only clock)


def writes(frames: Iterable[Frame]) -> list[Frame]:
    """The frames that write something (a buffer passes on empty frames while it holds bytes)."""
    return [f for f in frames if f.data]


def test_buffer_all_sends_one_write_at_the_end() -> None:
    frames = token_frames()
    out, ctx = run_frames(Buffer(size_bytes=None), frames)
    (burst,) = writes(out)
    assert burst.data == body(frames)
    assert burst.due == frames[-1].due
    assert burst is out[-1] and burst.closing
    # Every text, token and closing mark goes with the one write that completes it.
    assert (burst.text, burst.tokens) == ("".join(TOKENS), len(TOKENS))
    assert [(f.fault, f.at_token, f.detail) for f in ctx.fired] == [("buffer", 0, "all")]


def test_buffer_passes_on_an_empty_frame_at_each_due_time_while_it_holds() -> None:
    frames = token_frames()
    out, _ = run_frames(Buffer(size_bytes=None), frames)
    # One frame out per frame in, then the end's write.
    assert [f.due for f in out[:-1]] == [f.due for f in frames]
    assert all(f.data == b"" and f.tokens == 0 and not f.closing for f in out[:-1])


@pytest.mark.parametrize("size", [1, 7, 16, 40, 100, 10_000])
def test_buffer_n_writes_whole_buffers_when_they_fill(size: int) -> None:
    frames = token_frames()
    out, _ = run_frames(Buffer(size_bytes=size), frames)
    assert body(out) == body(frames)  # no byte lost, doubled or moved
    sent = writes(out)
    assert all(len(f.data) % size == 0 for f in sent[:-1])  # every write but the last: full buffers
    # One frame out per frame in (and, if bytes are left, the end's write).
    assert len(out) == len(frames) + (len(body(frames)) % size != 0)
    held = 0
    for frame, before in zip(out, frames, strict=False):
        assert frame.due == before.due
        held += len(before.data)
        if frame.data:
            assert held >= size and held - len(frame.data) < size  # full buffers, and only those
            held -= len(frame.data)
        else:
            assert held < size  # nothing goes out before a buffer is full
    if held:
        assert out[-1].data and len(out[-1].data) == held and out[-1].due == frames[-1].due
    # The texts arrive whole and in order, each with the write that carries its last byte.
    assert "".join(f.text or "" for f in out) == "".join(TOKENS)
    assert sum(f.tokens for f in out) == len(TOKENS)
    cut = 0
    for frame in sent:
        cut += len(frame.data)
        ended = [f for f in frames if f.text is not None and _end_of(frames, f) <= cut]
        assert "".join(f.text or "" for f in ended) == "".join(
            f.text or "" for f in out[: out.index(frame) + 1]
        )


def _end_of(frames: list[Frame], frame: Frame) -> int:
    """Where ``frame``'s last byte is in the body."""
    return len(body(frames[: frames.index(frame) + 1]))


def test_buffer_n_first_write_comes_when_n_bytes_are_held() -> None:
    frames = token_frames()
    size = 64
    out, _ = run_frames(Buffer(size_bytes=size), frames)
    first = next(i for i, f in enumerate(out) if f.data)
    assert len(body(frames[:first])) < size <= len(body(frames[: first + 1]))
    assert out[first].due == frames[first].due
    assert len(out[first].data) == size


def test_a_frame_larger_than_the_buffer_goes_out_in_whole_buffers() -> None:
    frames = [Frame(0.1, b"a" * 350, "a", 1), Frame(0.2, b"b" * 10, "b", 1, closing=True)]
    out, _ = run_frames(Buffer(size_bytes=100), frames)
    assert [(f.due, len(f.data), f.text) for f in writes(out)] == [(0.1, 300, None), (0.2, 60, "ab")]


def test_buffer_lets_out_what_it_holds_before_a_drop() -> None:
    for action in (DROP_FIN, DROP_RST):
        frames = [*token_frames()[:4], Frame(0.5, b"", action=action)]
        out, _ = run_frames(Buffer(size_bytes=None), frames)
        assert [f.action for f in out[-2:]] == [WRITE, action]
        assert out[-2].data == body(frames) and out[-2].due == 0.5
        assert out[-2].tokens == 3


def test_buffer_keeps_what_it_holds_through_a_hold() -> None:
    frames = [*token_frames()[:4], Frame(0.5, b"", action=HOLD)]
    out, _ = run_frames(Buffer(size_bytes=None), frames)
    assert writes(out) == []
    assert out[-1].action == HOLD


def test_buffer_behind_drop_in_a_planned_stream() -> None:
    plan = plan_stream(REQUEST, scenario(Buffer(size_bytes=None), Drop(after_tokens=3, mode="rst")))
    out = list(plan.frames())
    assert [f.action for f in out if f.data or f.action] == [WRITE, DROP_RST]
    assert writes(out)[0].tokens == 3
    assert [f.fault for f in plan.ctx.fired] == ["buffer", "drop"]


def test_buffer_all_takes_an_endless_keepalive_run_lazily() -> None:
    ctx = StreamContext.seeded(1)
    stalled = Stall(after_tokens=1, duration_ms=None, keepalive_ms=1000).apply_frames(
        iter(token_frames()), ctx
    )
    out = list(itertools.islice(Buffer(size_bytes=None).apply_frames(stalled, ctx), 2 + 50))
    assert writes(out) == []  # the comments are held like any other bytes
    assert out[-1].due == pytest.approx(TTFT + ITL + 50.0)  # one frame out per comment, when it is due


def test_keepalive_comments_fill_a_buffer() -> None:
    frames = [
        Frame(0.1, b"data: x\n\n", "x", 1),
        *(Frame(0.1 + k, b": keep-alive\n\n") for k in range(1, 11)),
    ]
    out, _ = run_frames(Buffer(size_bytes=50), frames)
    first = next(f for f in out if f.data)
    assert first.due == pytest.approx(3.1) and first.text == "x"  # 9 + 14 + 14 + 14 >= 50 bytes


def test_a_buffered_stream_parses_to_the_same_events() -> None:
    plan = plan_stream(
        REQUEST, scenario(Buffer(size_bytes=33), Fragment(min_bytes=1, max_bytes=5)), header_seed=2
    )
    clean = plan_stream(REQUEST, scenario(), header_seed=2)
    assert SSEDecoder().feed(body(plan.frames())) == SSEDecoder().feed(body(clean.frames()))


# --------------------------------------------------------------------------------------------------
# accel_buffering: the response head


HEAD = [("content-type", "text/event-stream"), ("cache-control", "no-cache"), ("x-accel-buffering", "no")]


@pytest.mark.parametrize(
    ("value", "accel"),
    [("omit", []), ("yes", [("x-accel-buffering", "yes")]), ("no", [("x-accel-buffering", "no")])],
)
def test_accel_buffering_sets_or_omits_the_header(value: str, accel: list[tuple[str, str]]) -> None:
    ctx = StreamContext.seeded(1)
    assert AccelBuffering(value=value).apply_head(HEAD, ctx) == [*HEAD[:2], *accel]
    assert [(f.fault, f.at_token, f.at_byte, f.detail) for f in ctx.fired] == [
        ("accel_buffering", 0, 0, value)
    ]


def test_accel_buffering_is_the_only_fault_that_changes_the_head() -> None:
    ctx = StreamContext.seeded(1)
    for cls in FAULTS.values():
        if cls is not AccelBuffering:
            assert cls().apply_head(list(HEAD), ctx) == HEAD
    assert ctx.fired == []


def test_the_last_accel_buffering_applies() -> None:
    plan = plan_stream(
        REQUEST,
        scenario(AccelBuffering(value="yes")),
        header_seed=5,
        extra_faults=[AccelBuffering(value="omit")],
        global_faults=[AccelBuffering(value="no")],
    )
    assert plan.head(list(HEAD)) == HEAD[:2]  # the request's header comes last
    assert [f.detail for f in plan.ctx.fired] == ["yes", "no", "omit"]
    plain = plan_stream(REQUEST, scenario(), header_seed=5)
    assert list(plan.frames()) == list(plain.frames())  # the body is untouched


# --------------------------------------------------------------------------------------------------
# http_error


def test_http_error_defaults_and_no_rate_limit_headers_unless_asked() -> None:
    error = HttpError(status=429).error()
    assert error.status == 429
    assert error.body() == {
        "error": {
            "message": "Rate limit reached for requests (scripted by fakellm).",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert error.headers == {}


def test_http_error_headers_when_asked() -> None:
    error = HttpError(
        status=429, retry_after_s=2, retry_after_ms=1500, ratelimit=True, should_retry=False
    ).error()
    assert error.headers == {
        "retry-after": "2",
        "retry-after-ms": "1500",
        "x-should-retry": "false",
        "x-ratelimit-limit-requests": "3500",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1.5s",
        "x-ratelimit-limit-tokens": "90000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "9m0s",
    }


def test_http_error_fields_are_settable() -> None:
    error = HttpError(
        status=400, message="bad", type="invalid_request_error", code="x", param="messages"
    ).error()
    assert error.body()["error"] == {
        "message": "bad",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "x",
    }


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (17, "17ms"),
        (999, "999ms"),
        (1000, "1s"),
        (1500, "1.5s"),
        (360_000, "6m0s"),
        (61_500, "1m1.5s"),
        (3_600_000, "1h0m0s"),
    ],
)
def test_go_durations(ms: float, text: str) -> None:
    assert go_duration(ms) == text


# --------------------------------------------------------------------------------------------------
# Which faults apply to a request: stage order, times, probability (pipeline.plan_stream)

REQUEST = parse_chat_request(
    b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}'
)


def scenario(*faults: Fault, text: str = "One two three four five six seven eight.") -> Scenario:
    return Scenario(name="s", content=FixedText(text), timing=Timing(ttft_ms=10, itl_ms=5), faults=faults)


def test_order_faults_is_the_documented_stage_order() -> None:
    everything = [cls() for cls in reversed(FAULTS.values())]
    assert [f.name for f in order_faults(everything)] == [
        "http_error",
        "slow_tokens",
        "malformed",
        "error_event",
        "truncate",
        "accel_buffering",
        "sse",
        "latency",
        "stall",
        "drop",
        "buffer",
        "fragment",
        "bandwidth",
    ]
    assert [f.stage for f in order_faults(everything)] == ["request"] + ["events"] * 4 + ["frames"] * 8


def test_semantic_faults_run_before_the_encoder_and_byte_faults_after() -> None:
    # Given in the "wrong" order; the error event is encoded, then its bytes are fragmented.
    plan = plan_stream(
        REQUEST,
        scenario(Fragment(min_bytes=1, max_bytes=4), ErrorEvent(after_tokens=2, message="boom")),
        header_seed=3,
    )
    frames = list(plan.frames())
    assert all(len(f.data) <= 4 for f in frames)
    events = SSEDecoder().feed(body(frames))
    assert json.loads(events[-1].data)["error"]["message"] == "boom"
    assert [f.fault for f in plan.ctx.fired] == ["fragment", "error_event"]


def test_at_the_same_position_the_earlier_stage_wins() -> None:
    plan = plan_stream(REQUEST, scenario(Drop(after_tokens=3), ErrorEvent(after_tokens=3)), header_seed=3)
    frames = list(plan.frames())
    assert all(f.action == WRITE for f in frames)
    assert b'data: {"error"' in frames[-1].data
    assert [f.fault for f in plan.ctx.fired] == ["error_event"]


def test_a_later_frame_fault_does_not_fire_after_a_truncation() -> None:
    plan = plan_stream(REQUEST, scenario(Truncate(after_tokens=2), Drop(after_tokens=5)), header_seed=3)
    frames = list(plan.frames())
    assert all(f.action == WRITE for f in frames) and sum(f.tokens for f in frames) == 2
    assert [f.fault for f in plan.ctx.fired] == ["truncate"]


def test_the_same_seed_gives_the_same_bytes_with_or_without_fragmentation() -> None:
    plain = body(plan_stream(REQUEST, scenario(), header_seed=9).frames())
    cut = list(plan_stream(REQUEST, scenario(Fragment()), header_seed=9).frames())
    assert body(cut) == plain and len(cut) > 20


def test_http_error_is_decided_before_the_stream() -> None:
    plan = plan_stream(REQUEST, scenario(HttpError(status=503), Drop()), header_seed=1)
    assert plan.http_error is not None and plan.http_error.status == 503
    assert [(f.fault, f.detail) for f in plan.ctx.fired] == [("http_error", "503")]


def test_times_applies_to_the_first_n_requests_only() -> None:
    counters = FaultCounters()
    s = scenario(HttpError(status=429, times=2))
    errors = [
        plan_stream(REQUEST, s, counters=counters, header_seed=1).http_error is not None for _ in range(5)
    ]
    assert errors == [True, True, False, False, False]
    counters.clear()  # what ServerState.reset() and script() do
    assert plan_stream(REQUEST, s, counters=counters, header_seed=1).http_error is not None


def test_times_counts_per_scenario_and_per_header_spec() -> None:
    counters = FaultCounters()
    fault = Drop(times=1)
    assert plan_stream(REQUEST, scenario(fault), counters=counters, header_seed=1).faults
    other = Scenario(name="other", content=FixedText("x"), faults=(fault,))
    assert plan_stream(REQUEST, other, counters=counters, header_seed=1).faults
    assert not plan_stream(REQUEST, scenario(fault), counters=counters, header_seed=1).faults
    spec = parse_fault_spec("drop times=1")
    header = {"extra_faults": spec, "extra_scope": "header:drop times=1", "counters": counters}
    assert plan_stream(REQUEST, scenario(), header_seed=1, **header).faults
    assert not plan_stream(REQUEST, scenario(), header_seed=1, **header).faults


def fired_per_request(probability: float, n: int, seed: int | None = 42) -> list[bool]:
    counters = FaultCounters()
    s = scenario(Drop(probability=probability))
    return [bool(plan_stream(REQUEST, s, counters=counters, server_seed=seed).faults) for _ in range(n)]


def test_probability_is_rolled_per_request_from_the_seed() -> None:
    # With a server seed every stream has the same seed; the roll still differs per request...
    fired = fired_per_request(0.3, 400)
    assert 0.2 < sum(fired) / len(fired) < 0.4
    # ... and the whole run replays exactly.
    assert fired_per_request(0.3, 400) == fired
    assert fired_per_request(0.3, 400, seed=43) != fired


def test_probability_bounds() -> None:
    assert not any(fired_per_request(0.0, 50))
    assert all(fired_per_request(1.0, 50))
    assert 0 < sum(fired_per_request(0.5, 50, seed=None)) < 50  # unseeded: still about half


def test_probability_does_not_change_the_content() -> None:
    with_fault = plan_stream(REQUEST, scenario(Drop(probability=0.5), text="a b c"), header_seed=5)
    without = plan_stream(REQUEST, scenario(text="a b c"), header_seed=5)
    assert with_fault.tokens == without.tokens and with_fault.request_id == without.request_id


# --------------------------------------------------------------------------------------------------
# Settings validation (in code, as in files)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Drop(probability=1.5), "probability"),
        (lambda: Drop(times=-1), "times"),
        (lambda: Drop(after_tokens=-1), "after_tokens"),
        (lambda: Drop(after_ms=-5), "after_ms"),
        (lambda: Drop(after_tokens=1, after_ms=5), "after_ms"),
        (lambda: Drop(mode="both"), "mode"),
        (lambda: ErrorEvent(then="later"), "then"),
        (lambda: Sse(line_endings="lfcr"), "line_endings"),
        (lambda: Sse(retry_ms=-1), "retry_ms"),
        (lambda: HttpError(status=200), "status"),
        (lambda: HttpError(retry_after_s=-1), "retry_after_s"),
        (lambda: Fragment(min_bytes=0), "min_bytes"),
        (lambda: Fragment(min_bytes=5, max_bytes=2), "max_bytes"),
        (lambda: Bandwidth(bytes_per_s=0), "bytes_per_s"),
        (lambda: SlowTokens(factor=0), "factor"),
        (lambda: Stall(keepalive_ms=0), "keepalive_ms"),
        (lambda: Stall(duration_ms=-1), "duration_ms"),
        (lambda: Latency(ms=-1), "ms"),
        (lambda: Buffer(size_bytes=0), "size_bytes"),
        (lambda: Buffer(size_bytes=-3), "size_bytes"),
        (lambda: AccelBuffering(value="off"), "value"),
    ],
)
def test_invalid_settings_name_the_field(make: Callable[[], Fault], field: str) -> None:
    with pytest.raises(ScenarioError) as info:
        make()
    assert info.value.field == field


def test_fragment_sizes_defaults() -> None:
    assert Fragment().sizes() == (1, 7)
    assert Fragment(coalesce=True).sizes() is None
    assert Fragment(min_bytes=9).sizes() == (9, 9)
    assert Fragment(max_bytes=3).sizes() == (1, 3)


# --------------------------------------------------------------------------------------------------
# The compact spec grammar (X-FakeLLM-Faults, --faults)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", []),
        (" ; ;", []),
        ("error_event@20", [ErrorEvent(after_tokens=20)]),
        (
            "error_event@20; fragment 1-7 bytes",
            [ErrorEvent(after_tokens=20), Fragment(min_bytes=1, max_bytes=7)],
        ),
        ("fragment 2-9b", [Fragment(min_bytes=2, max_bytes=9)]),
        (
            "fragment 2-9bytes coalesce delay_ms=0",
            [Fragment(min_bytes=2, max_bytes=9, coalesce=True, delay_ms=0)],
        ),
        ("fragment coalesce", [Fragment(coalesce=True)]),
        ("drop@5 rst", [Drop(after_tokens=5, mode="rst")]),
        ("drop@500ms", [Drop(after_ms=500)]),
        ("drop@1.5s", [Drop(after_ms=1500)]),
        ("drop mode=fin probability=0.25 times=3", [Drop(mode="fin", probability=0.25, times=3)]),
        (
            "http_error 429 retry_after_s=1 times=1",
            [HttpError(status=429, retry_after_s=1, times=1)],
        ),
        (
            "http_error 429 retry_after_ms=250 ratelimit should_retry=false",
            [HttpError(status=429, retry_after_ms=250, ratelimit=True, should_retry=False)],
        ),
        ("http_error 503 retry_after_s=500ms", [HttpError(status=503, retry_after_s=0.5)]),
        (
            'http_error 400 message="Bad; really bad \\"input\\"" code=bad_input param=messages',
            [HttpError(status=400, message='Bad; really bad "input"', code="bad_input", param="messages")],
        ),
        ("error_event@3 done", [ErrorEvent(after_tokens=3, then="done")]),
        (
            "error_event@3 then=hold type=overloaded_error",
            [ErrorEvent(after_tokens=3, then="hold", type="overloaded_error")],
        ),
        ("stall@10 2000ms keepalive_ms=500", [Stall(after_tokens=10, duration_ms=2000, keepalive_ms=500)]),
        ("stall@10 2s keepalive_ms=0.5s", [Stall(after_tokens=10, duration_ms=2000, keepalive_ms=500)]),
        ("stall@10 forever", [Stall(after_tokens=10, duration_ms=None)]),
        ("stall@10 duration_ms=null", [Stall(after_tokens=10, duration_ms=None)]),
        ("stall 750", [Stall(duration_ms=750)]),
        ("truncate@7", [Truncate(after_tokens=7)]),
        ("malformed@2", [MalformedChunk(after_tokens=2)]),
        ('malformed@2 "{\\"x\\": "', [MalformedChunk(after_tokens=2, payload='{"x": ')]),
        ("malformed@2 payload=null", [MalformedChunk(after_tokens=2, payload=None)]),
        ('malformed@2 payload="null"', [MalformedChunk(after_tokens=2, payload="null")]),
        ("sse crlf comments bom", [Sse(line_endings="crlf", comments=True, bom=True)]),
        ("sse cr ids retry_ms=3000", [Sse(line_endings="cr", ids=True, retry_ms=3000)]),
        ("sse comments=false bom=yes", [Sse(comments=False, bom=True)]),
        ("bandwidth 2000", [Bandwidth(bytes_per_s=2000)]),
        ("latency 250ms", [Latency(ms=250)]),
        ("latency 2s", [Latency(ms=2000)]),
        ("slow_tokens@10 4", [SlowTokens(after_tokens=10, factor=4)]),
        ("slow_tokens@10 x2.5", [SlowTokens(after_tokens=10, factor=2.5)]),
        ("  drop@1  ;  truncate@2  ", [Drop(after_tokens=1), Truncate(after_tokens=2)]),
        ("buffer", [Buffer(size_bytes=4096)]),
        ("buffer 4096", [Buffer(size_bytes=4096)]),
        ("buffer all", [Buffer(size_bytes=None)]),
        ("buffer size_bytes=null times=1", [Buffer(size_bytes=None, times=1)]),
        ("buffer 8k probability=0.5", [Buffer(size_bytes=8192, probability=0.5)]),
        ("buffer 4K", [Buffer(size_bytes=4096)]),
        ("buffer 1m", [Buffer(size_bytes=1_048_576)]),
        ("fragment min_bytes=1k", [Fragment(min_bytes=1024)]),
        ("accel_buffering", [AccelBuffering(value="omit")]),
        ("accel_buffering yes", [AccelBuffering(value="yes")]),
        ("accel_buffering value=no", [AccelBuffering(value="no")]),
    ],
)
def test_compact_spec(spec: str, expected: list[Fault]) -> None:
    assert parse_fault_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message", "column"),
    [
        ("dorp@5", "unknown fault 'dorp' (did you mean 'drop'?)", 1),
        ("drop@5; eror_event@3", "unknown fault 'eror_event' (did you mean 'error_event'?)", 9),
        ("@5", "expected a fault name", 1),
        ("mode=rst", "expected a fault name", 1),
        ('"drop"', "expected a fault name", 1),
        ("http_error@3", "http_error: takes no position", 12),
        ("fragment@3 1-7 bytes", "fragment: takes no position", 10),
        ("drop@abc", "drop: bad position 'abc': expected a token count (@20) or a time (@500ms, @2s)", 6),
        ("drop@-1", "drop: bad position '-1'", 6),
        ("drop@5m", "drop: bad position '5m'", 6),
        (
            "drop@5 foo=1",
            "drop: unknown setting 'foo'; drop takes: after_ms, after_tokens, mode, probability, times",
            8,
        ),
        ("drop@5 mdoe=rst", "drop: unknown setting 'mdoe' (did you mean 'mode'?)", 8),
        ("drop@5 fn", "drop mode: must be one of fin, rst, got 'fn'", 8),
        ("drop@5 mode=fin rst", "drop: mode is given twice", 17),
        ("drop@5 after_tokens=6", "drop: after_tokens is given twice", 8),
        ("drop@5 after_ms=100", "drop after_ms: give after_tokens or after_ms, not both", 8),
        ("drop probability=2", "drop probability: must be between 0 and 1, got 2.0", 6),
        ("drop probability=often", "drop probability: must be a number, got 'often'", 6),
        ("drop times=once", "drop times: must be an integer, got 'once'", 6),
        ("drop times=-1", "drop times: must be >= 0, got -1", 6),
        ("http_error status=abc", "http_error status: must be an integer, got 'abc'", 12),
        ("http_error 200", "http_error status: must be an HTTP error status (400-599), got 200", 12),
        ("http_error 429 ratelimit=maybe", "http_error ratelimit: must be true or false, got 'maybe'", 16),
        (
            "http_error 429 retry_after_s=soon",
            "http_error retry_after_s: must be a number of s (or a duration like 500ms, 2s)",
            16,
        ),
        ("truncate@3 now", "truncate: cannot read 'now': truncate has no main setting; use key=value", 12),
        ("fragment bytes", "fragment: cannot read 'bytes'", 10),
        ("fragment 7-1 bytes", "fragment max_bytes: must be >= min_bytes (7), got 1", 10),
        ("fragment 0-3", "fragment min_bytes: must be >= 1, got 0", 10),
        ("fragment 1-7 2-3", "fragment: min_bytes is given twice", 14),
        (
            "stall@3 5x",
            "stall duration_ms: must be a number of ms (or a duration like 500ms, 2s), got '5x'",
            9,
        ),
        ("stall@3 keepalive_ms=0", "stall keepalive_ms: must be >= 1, got 0.0", 9),
        ("latency 5m", "latency ms: must be a number of ms", 9),
        ("bandwidth fast", "bandwidth bytes_per_s: must be a number, got 'fast'", 11),
        ("bandwidth 2s", "bandwidth bytes_per_s: must be a number, got '2s'", 11),
        ("slow_tokens@2 0", "slow_tokens factor: must be > 0, got 0.0", 15),
        ("sse crlf line_endings=cr", "sse: line_endings is given twice", 10),
        ("sse lfcr", "sse line_endings: must be one of lf, crlf, cr, got 'lfcr'", 5),
        ('error_event@3 message="unterminated', "unterminated quote", 23),
        ("error_event@3 then=never", "error_event then: must be one of close, done, hold, got 'never'", 15),
        ("buffer -3", "buffer size_bytes: must be >= 1, got -3", 8),
        ("buffer 0", "buffer size_bytes: must be >= 1, got 0", 8),
        ("buffer lots", "buffer size_bytes: must be an integer (of bytes, or 4k, 1m), got 'lots'", 8),
        ("buffer 1.5k", "buffer size_bytes: must be an integer (of bytes, or 4k, 1m), got '1.5k'", 8),
        ("buffer 17m", "buffer size_bytes: must be <= 16777216, got 17825792", 8),
        ("buffer@3 all", "buffer: takes no position", 8),
        ("buffer 4096 all", "buffer: size_bytes is given twice", 13),
        ("accel_buffering off", "accel_buffering value: must be one of omit, yes, no, got 'off'", 17),
    ],
)
def test_compact_spec_errors_say_what_and_where(spec: str, message: str, column: int) -> None:
    with pytest.raises(FaultSpecError) as info:
        parse_fault_spec(spec)
    error = info.value
    assert error.reason.startswith(message), error.reason
    assert error.position == column - 1
    assert error.spec == spec
    assert str(error) == f"{error.reason} at character {column} of {spec!r}"


# --------------------------------------------------------------------------------------------------
# Faults in scenario files


def test_parse_fault_accepts_three_forms() -> None:
    assert parse_fault({"type": "drop", "after_tokens": 5, "mode": "rst"}) == Drop(after_tokens=5, mode="rst")
    assert parse_fault({"drop": {"after_tokens": 5, "mode": "rst"}}) == Drop(after_tokens=5, mode="rst")
    assert parse_fault({"truncate": None}) == Truncate()
    assert parse_fault("drop@5 rst") == Drop(after_tokens=5, mode="rst")
    assert parse_fault({"type": "stall", "duration_ms": None, "keepalive_ms": 500}) == Stall(
        duration_ms=None, keepalive_ms=500
    )
    assert parse_fault({"type": "stall", "duration_ms": "2s"}) == Stall(duration_ms=2000)


def test_a_fault_word_stands_for_its_value_in_every_form() -> None:
    for item in (
        {"type": "buffer", "size_bytes": "all"},
        {"buffer": {"size_bytes": "all"}},
        {"type": "buffer", "size_bytes": None},
        "buffer size_bytes=all",
        "buffer all",
    ):
        assert parse_fault(item) == Buffer(size_bytes=None), item
    assert parse_fault({"type": "stall", "duration_ms": "forever"}) == Stall(duration_ms=None)
    assert parse_fault({"type": "buffer", "size_bytes": "8k"}) == Buffer(size_bytes=8192)
    assert parse_fault("accel_buffering") == AccelBuffering(value="omit")
    with pytest.raises(ScenarioError, match="must be a number of ms"):
        parse_fault({"type": "latency", "ms": "all"})  # another fault's word
    with pytest.raises(FaultSpecError, match="must be an integer"):
        parse_fault_spec('buffer size_bytes="all"')  # quoted: the text itself


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "faults.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("faults", "line", "field", "reason"),
    [
        ("      - {type: dorp}\n", 4, "faults[0].type", "unknown fault 'dorp' (did you mean 'drop'?)"),
        ("      - {type: 5}\n", 4, "faults[0].type", "must be a fault name, got 5"),
        (
            "      - type: drop\n        mdoe: rst\n",
            5,
            "faults[0].mdoe",
            "unknown setting for drop (did you mean 'mode'?)",
        ),
        (
            "      - type: drop\n        mode: both\n",
            5,
            "faults[0].mode",
            "must be one of fin, rst, got 'both'",
        ),
        (
            "      - type: drop\n        after_tokens: five\n",
            5,
            "faults[0].after_tokens",
            "must be an integer, got 'five'",
        ),
        (
            "      - type: drop\n        after_tokens: 1.5\n",
            5,
            "faults[0].after_tokens",
            "must be an integer, got 1.5",
        ),
        (
            "      - type: drop\n        probability: 3\n",
            5,
            "faults[0].probability",
            "must be between 0 and 1",
        ),
        ("      - type: sse\n        bom: 1\n", 5, "faults[0].bom", "must be true or false, got 1"),
        (
            "      - type: http_error\n        status: 200\n",
            5,
            "faults[0].status",
            "must be an HTTP error status",
        ),
        ("      - type: error_event\n        message: null\n", 5, "faults[0].message", "may not be null"),
        ("      - {drop: {mode: both}}\n", 4, "faults[0].drop.mode", "must be one of fin, rst"),
        ("      - {drop: {mdoe: rst}}\n", 4, "faults[0].drop.mdoe", "unknown setting for drop"),
        ("      - {dorp: {}}\n", 4, "faults[0]", "unknown fault 'dorp'"),
        ("      - {drop: rst}\n", 4, "faults[0].drop", "the settings of 'drop' must be a mapping, got str"),
        ("      - {a: 1, b: 2}\n", 4, "faults[0]", "a fault needs a 'type' field"),
        ("      - 5\n", 3, "faults[0]", "a fault must be a mapping or a string, got int"),
        (
            "      - drop@5 rts\n",
            3,
            "faults[0]",
            "drop mode: must be one of fin, rst, got 'rts' at character 8",
        ),
        (
            "      - drop@1; truncate@2\n",
            3,
            "faults[0]",
            "a fault written as a string must hold exactly one fault, got 2",
        ),
        (
            "      - {type: drop}\n      - {type: stall, keepalive_ms: -1}\n",
            5,
            "faults[1].keepalive_ms",
            "must be >= 1",
        ),
    ],
)
def test_fault_errors_in_scenario_files_name_file_line_and_field(
    tmp_path: Path, faults: str, line: int, field: str, reason: str
) -> None:
    path = write(tmp_path, "scenarios:\n  - name: a\n    faults:\n" + faults)
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    error = info.value
    assert (error.file, error.scenario, error.field) == (str(path), "a", field)
    assert error.line == line
    assert error.reason.startswith(reason), error.reason
    assert str(error).startswith(f"{path}:{error.line}, scenario 'a', field {field!r}: ")


def test_faults_load_from_a_scenario_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "scenarios:\n  - name: a\n    faults:\n"
        "      - {type: error_event, after_tokens: 3, then: done}\n"
        "      - fragment: {min_bytes: 1, max_bytes: 3}\n"
        "      - http_error 429 retry_after_s=1 times=1\n",
    )
    (loaded,) = load_scenario_files([path])
    assert loaded.faults == (
        ErrorEvent(after_tokens=3, then="done"),
        Fragment(min_bytes=1, max_bytes=3),
        HttpError(status=429, retry_after_s=1, times=1),
    )


def test_events_without_content_pass_through() -> None:
    events = [Timed(0.0, RoleStart()), Timed(0.1, Finish("stop")), Timed(0.1, StreamEnd())]
    out, _ = run_events(Truncate(after_tokens=0), events)
    assert kinds(out) == ["RoleStart"]
    out, _ = run_events(ErrorEvent(after_tokens=0, then="hold"), events)
    assert isinstance(out[-1].event, Hold)
    assert all(f.action == WRITE for f in token_frames())


# --------------------------------------------------------------------------------------------------
# bounds: values that pass validation must not fail later, turned into deadlines, sizes or counts

NAN, INF = float("nan"), float("inf")
DIGITS = "9" * 5000  # past Python's int-string limit (4300 digits)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Latency(ms=NAN), "ms"),
        (lambda: Latency(ms=INF), "ms"),
        (lambda: Latency(ms=1e306), "ms"),
        (lambda: Latency(ms=86_400_001), "ms"),
        (lambda: Drop(after_ms=NAN), "after_ms"),
        (lambda: Drop(after_ms=1e306), "after_ms"),
        (lambda: Drop(after_tokens=1_000_001), "after_tokens"),
        (lambda: Drop(after_tokens=10**400), "after_tokens"),
        (lambda: Drop(times=10**400), "times"),
        (lambda: Drop(probability=NAN), "probability"),
        (lambda: Stall(duration_ms=NAN), "duration_ms"),
        (lambda: Stall(duration_ms=1e306), "duration_ms"),
        (lambda: Stall(keepalive_ms=1e-300), "keepalive_ms"),
        (lambda: Stall(keepalive_ms=INF), "keepalive_ms"),
        (lambda: Fragment(delay_ms=NAN), "delay_ms"),
        (lambda: Fragment(max_bytes=10**400), "max_bytes"),
        (lambda: Bandwidth(bytes_per_s=1e-300), "bytes_per_s"),
        (lambda: Bandwidth(bytes_per_s=NAN), "bytes_per_s"),
        (lambda: Bandwidth(bytes_per_s=INF), "bytes_per_s"),
        (lambda: SlowTokens(factor=1e300), "factor"),
        (lambda: SlowTokens(factor=NAN), "factor"),
        (lambda: Sse(retry_ms=10**400), "retry_ms"),
        (lambda: HttpError(retry_after_s=1e306), "retry_after_s"),
        (lambda: HttpError(retry_after_ms=NAN), "retry_after_ms"),
    ],
)
def test_out_of_range_settings_name_the_field(make: Callable[[], Fault], field: str) -> None:
    with pytest.raises(ScenarioError) as info:
        make()
    assert info.value.field == field


def test_the_largest_settings_are_accepted() -> None:
    Latency(ms=86_400_000)
    Stall(duration_ms=86_400_000, keepalive_ms=1)
    Drop(after_tokens=1_000_000, times=1_000_000)
    Bandwidth(bytes_per_s=1)
    SlowTokens(factor=1000)
    HttpError(retry_after_s=86_400)
    Buffer(size_bytes=16 * 1024 * 1024)


@pytest.mark.parametrize(
    ("spec", "message", "column"),
    [
        ("drop@" + DIGITS, "drop after_tokens: must be <= 1000000, got 99999999999999999999...", 6),
        ("drop@1000001", "drop after_tokens: must be <= 1000000, got 1000001", 6),
        ("drop@" + "9" * 400 + "ms", "drop after_ms: must be a finite number, got inf", 6),
        ("drop@25h", "drop: bad position '25h'", 6),
        ("drop@-1", "drop: bad position '-1'", 6),
        ("drop@90000s", "drop after_ms: must be <= 86400000 (24 h), got 90000000.0", 6),
        ("bandwidth 1e-300", "bandwidth bytes_per_s: must be >= 1, got 1e-300", 11),
        ("bandwidth nan", "bandwidth bytes_per_s: must be a number, got 'nan'", 11),
        ("bandwidth inf", "bandwidth bytes_per_s: must be a number, got 'inf'", 11),
        ("latency 1e306", "latency ms: must be <= 86400000 (24 h), got 1e+306", 9),
        ("latency 1e306s", "latency ms: must be a number of ms", 9),
        ("stall@1 1e300", "stall duration_ms: must be <= 86400000 (24 h)", 9),
        ("stall@1 keepalive_ms=1e-300", "stall keepalive_ms: must be >= 1, got 1e-300", 9),
        ("slow_tokens@1 1e300", "slow_tokens factor: must be <= 1000, got 1e+300", 15),
        ("fragment 1-" + DIGITS, "fragment max_bytes: must be an integer", 10),
        ("fragment 1-2000000", "fragment max_bytes: must be <= 1048576, got 2000000", 10),
        ("drop times=" + DIGITS, "drop times: must be an integer", 6),
        ("drop times=-1", "drop times: must be >= 0, got -1", 6),
        ("drop probability=nan", "drop probability: must be a number, got 'nan'", 6),
        ("http_error " + DIGITS, "http_error status: must be an integer", 12),
        ("http_error 429 retry_after_s=1e300", "http_error retry_after_s: must be <= 86400 (24 h)", 16),
        ("sse retry_ms=" + DIGITS, "sse retry_ms: must be an integer", 5),
    ],
)
def test_out_of_range_spec_values_are_spec_errors(spec: str, message: str, column: int) -> None:
    with pytest.raises(FaultSpecError) as info:
        parse_fault_spec(spec)
    assert info.value.reason.startswith(message), info.value.reason
    assert info.value.position == column - 1


def test_a_spec_holds_at_most_32_faults() -> None:
    assert len(parse_fault_spec("fragment 1-7 bytes;" * 32)) == 32
    spec = "fragment 1-7 bytes;" * 500  # 9.5 KB: under the header limit
    with pytest.raises(FaultSpecError) as info:
        parse_fault_spec(spec)
    assert info.value.reason == "at most 32 faults in one spec, got 500"
    assert info.value.position == 32 * len("fragment 1-7 bytes;")  # where the 33rd begins


def test_a_scenario_holds_at_most_32_faults(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("scenarios:\n  - name: many\n    faults: [" + ", ".join(["truncate"] * 33) + "]\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    assert (info.value.line, info.value.field) == (3, "faults")
    assert "at most 32 faults in one scenario, got 33" in str(info.value)


@pytest.mark.parametrize(
    ("item", "field", "words"),
    [
        ({"type": "latency", "ms": NAN}, "faults[0].ms", "must be a number of ms"),
        ({"type": "latency", "ms": 10**400}, "faults[0].ms", "must be a number of ms"),
        ({"type": "latency", "ms": 1e306}, "faults[0].ms", "must be <= 86400000 (24 h)"),
        ({"type": "bandwidth", "bytes_per_s": 1e-300}, "faults[0].bytes_per_s", "must be >= 1"),
        ({"type": "drop", "after_tokens": 10**400}, "faults[0].after_tokens", "must be <= 1000000"),
        ({"drop": {"times": 10**400}}, "faults[0].drop.times", "must be <= 1000000"),
    ],
)
def test_out_of_range_fault_mappings_name_the_field(item: dict[str, object], field: str, words: str) -> None:
    from fakellm.scenario import scenario_from_dict

    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"name": "s", "faults": [item]})
    assert info.value.field == field
    assert words in info.value.reason, info.value.reason
