"""The one place the stream is composed:

    scenario ─▶ token source ─▶ timed events ─▶ event faults ─▶ wire encoder ─▶ frame faults ─▶ transport
              (content.py)    (schedule())    (faults/)       (wire/*.py)     (faults/)       (transport.py)

Everything random is decided from one seed per stream (:func:`derive_seed`): the content and ids
from ``ctx.rng`` in a fixed order, timing jitter and each fault from RNGs forked from the same seed,
so that adding a fault never changes the text, and a failing stream replays exactly.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast, runtime_checkable

from .content import FixedText, TokenSource
from .errors import RequestError
from .event_ids import ResumePoint, number_events
from .events import (
    Abort,
    BlockEnd,
    BlockStart,
    Event,
    Finish,
    Hold,
    RoleStart,
    StreamEnd,
    StreamError,
    TextDelta,
    Usage,
)
from .faults import Fault, HttpError, order_faults
from .reasoning import PlannedReasoning
from .scenario import DEFAULT_TEXT, Scenario, Timing
from .schema_data import JsonDocument, SchemaError, generate
from .stops import cut_at_stop
from .stream import DROP_FIN, HOLD, Frame, StreamContext, Timed
from .tokens import count_message_tokens, joined, last_user_text, tokens_for
from .tools import ANY_TOOL, CallDecision, PlannedCall, ToolCall, decide
from .wire.format import ChatRequest, ChoicesEncoder, StreamEncoder, WireFormat
from .wire.openai import CHAT

__all__ = [
    "Choice",
    "Encoder",
    "EventSource",
    "FaultCounter",
    "FaultCounters",
    "PassthroughPlan",
    "StreamPlan",
    "answer_for_turn",
    "assistant_turns",
    "compose",
    "derive_seed",
    "fault_takes",
    "last_tool_name",
    "last_tool_result",
    "plan_passthrough",
    "plan_stream",
    "response_head",
    "schedule",
    "turn_index",
]


def derive_seed(server: int | None, scenario: int | None, header: int | None) -> int | None:
    """The stream seed from its parts; ``None`` when no part is set (the caller then draws one).
    A single part is used as it is, so ``X-FakeLLM-Seed: S`` replays a stream journaled as seed S."""
    parts = (server, scenario, header)
    given = [p for p in parts if p is not None]
    if not given:
        return None
    if len(given) == 1:
        return given[0]
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _gauss(rng: random.Random, mean: float, sd: float) -> float:
    return max(0.0, rng.gauss(mean, sd)) if sd > 0 else mean


def schedule(
    tokens: Sequence[str],
    timing: Timing,
    rng: random.Random,
    *,
    finish_reason: str,
    usage: Usage | None,
    calls: Sequence[PlannedCall] = (),
    more: Sequence[Choice] = (),
    stop_sequence: str | None = None,
    reasoning: PlannedReasoning | None = None,
) -> Iterator[Timed]:
    """The answer's events (``events.py``: the message, one text block, its tokens, the finish),
    with due times against the request's arrival: token i is due at ttft + Σ gaps, never after a
    sleep, so encoding and writing costs never accumulate into drift. The block opens with the
    message and closes with the last token. Tool calls follow the text (none when the text is
    empty and there are calls), one ``tool_call`` block each, their argument fragments paced as
    tokens. ``more``: the choices after the first (``n``), interleaved with it (:func:`_choices`).
    ``stop_sequence``: the request's stop sequence that ended the text, for the finish.
    ``reasoning`` comes first, one ``reasoning`` block at index 0 paced by ``reasoning_itl_ms``
    (the answer's blocks then start at index 1); the answer's first token follows its last one
    after one ``itl_ms`` gap. With reasoning and no text (``max_tokens`` ran out inside the
    thinking) there is no text block, as there is none before tool calls."""
    t = _gauss(rng, timing.ttft_ms, timing.ttft_jitter_ms) / 1000.0
    if more:
        yield from _choices([Choice(tokens, finish_reason, stop_sequence), *more], timing, rng, t, usage)
        return
    yield Timed(t, RoleStart())
    itl, sd = timing.itl_ms, timing.jitter_ms
    index = 0
    first = True
    if reasoning is not None and reasoning.tokens:
        t = yield from _reasoning_block(reasoning, timing, rng, t)
        first = False
        index = 1
    if tokens or not (calls or index):
        yield Timed(t, BlockStart("text", index))
        for token in tokens:
            if not first:
                t += _gauss(rng, itl, sd) / 1000.0
            first = False
            yield Timed(t, TextDelta(token))
        yield Timed(t, BlockEnd(index))
        index += 1
    for call in calls:
        if not first:
            t += _gauss(rng, itl, sd) / 1000.0
        yield Timed(t, BlockStart("tool_call", index, id=call.id, name=call.name))
        for j, fragment in enumerate(call.fragments):
            if j:
                t += _gauss(rng, itl, sd) / 1000.0
            yield Timed(t, TextDelta(fragment))
        first = False
        yield Timed(t, BlockEnd(index))
        index += 1
    yield Timed(t, Finish(finish_reason, stop_sequence=stop_sequence))
    if usage is not None:
        yield Timed(t, usage)
    yield Timed(t, StreamEnd())


def _reasoning_block(
    reasoning: PlannedReasoning, timing: Timing, rng: random.Random, t: float
) -> Generator[Timed, None, float]:
    """The reasoning block (index 0) and its tokens, ``reasoning_itl_ms`` apart (``itl_ms`` when
    unset, with the same jitter); returns when its last token is due. Its ``name`` is the Chat
    delta field it goes out in (``PlannedReasoning.field``)."""
    gap = timing.itl_ms if timing.reasoning_itl_ms is None else timing.reasoning_itl_ms
    yield Timed(t, BlockStart("reasoning", 0, name=reasoning.field))
    for j, token in enumerate(reasoning.tokens):
        if j:
            t += _gauss(rng, gap, timing.jitter_ms) / 1000.0
        yield Timed(t, TextDelta(token))
    yield Timed(t, BlockEnd(0))
    return t


@dataclass(frozen=True, slots=True)
class Choice:
    """One choice of several (``n``): its tokens and why it stops (the stop sequence that ended
    it, if one did)."""

    tokens: Sequence[str]
    finish_reason: str
    stop_sequence: str | None = None


def _choices(
    choices: Sequence[Choice], timing: Timing, rng: random.Random, t: float, usage: Usage | None
) -> Iterator[Timed]:
    """Several choices, interleaved as OpenAI streams them (wire2 §4.2): token j of every choice
    is due at the same moment, in index order, choice 0 first (openai-python's helper sizes its
    list of choices from the first chunk); each choice opens (role, text block) with its first
    step. The finishes come after the last token of the longest choice, each choice's in index
    order, as in OpenAI's capture: an unreached fault position fires at the end of the content,
    which is the first finish (``faults/``), so a finish in the middle of the stream would fire
    it while other choices still stream. Timing draws are choice 0's: one gap per step."""
    itl, sd = timing.itl_ms, timing.jitter_ms
    lengths = [len(choice.tokens) for choice in choices]
    streams = [iter(choice.tokens) for choice in choices]
    for number, length in enumerate(lengths):
        yield Timed(t, RoleStart(choice=number))
        yield Timed(t, BlockStart("text", 0, choice=number))
        if length:
            yield Timed(t, TextDelta(next(streams[number]), number))
    for step in range(1, max(lengths)):
        t += _gauss(rng, itl, sd) / 1000.0
        for number, length in enumerate(lengths):
            if length > step:
                yield Timed(t, TextDelta(next(streams[number]), number))
    for number, choice in enumerate(choices):
        yield Timed(t, BlockEnd(0, number))
        yield Timed(t, Finish(choice.finish_reason, number, choice.stop_sequence))
    if usage is not None:
        yield Timed(t, usage)
    yield Timed(t, StreamEnd())


class Encoder(Protocol):
    """A wire encoder: one event to its bytes (``wire/openai.py``, ``wire/passthrough.py``)."""

    def encode(self, event: Event) -> bytes: ...


@runtime_checkable
class EventSource(Protocol):
    """Scenario content that comes as whole timed events instead of text: a recorded stream
    (``record.RecordedStream``). Its events carry their bytes; ``encoder()`` is one replay's
    encoder (it writes them back, and what a fault injects, continuing the stream); faults apply on
    top as to any stream. ``text`` serves the non-streaming answer's token count. ``format`` is
    the format the events are in: a replay answers that format's route only."""

    headers: dict[str, str]
    format: WireFormat

    def text(self, request: dict[str, Any], rng: random.Random) -> str: ...

    def timed_events(self) -> Iterator[Timed]: ...

    def encoder(self) -> Encoder: ...

    def completion(self) -> dict[str, Any]: ...


def _encode(events: Iterable[Timed], encoder: Encoder, *, several: bool = False) -> Iterator[Frame]:
    """Each event to its frame, in order. ``RoleStart`` and ``BlockEnd`` make no frame of their
    own: they wait, and are encoded and sent with the frame after them (``BlockStart``: the message
    and its first block open in one write; ``Finish``: the block closes in the finish's write), so
    frame faults see the writes they saw when encoders framed the block implicitly, and the end of
    the content (where an unreached ``@N`` fires: before the finish) comes before the block's
    closing bytes. Hence a ``BlockEnd`` waits for its finish (or the next block's start): an
    injected malformed event goes out before it, and when the stream ends otherwise (an error
    event, a truncation) it is dropped: the block stays open, as when a real stream fails.
    ``several``: the stream has several choices, and each token's frame says whose it is."""
    encode = encoder.encode
    waiting: list[Timed] = []
    call: int | None = None  # the tool call whose block is open: its tokens are its arguments
    calls = 0
    thinking = False  # a reasoning block is open: its tokens are not the content's text
    for timed in events:
        event: Event = timed.event
        if type(event) is TextDelta:  # the hot path: one frame per token
            if waiting:
                yield from _alone(waiting, encode, keep_ends=False)
            if several:
                choice = ((event.choice, event.text),)
                yield Frame(timed.due, encode(event), event.text, 1, choice_texts=choice)
            elif call is not None:
                yield Frame(timed.due, encode(event), None, 1, arguments=((call, event.text),))
            elif thinking:
                yield Frame(timed.due, encode(event), None, 1)
            else:
                yield Frame(timed.due, encode(event), event.text, 1)
        elif isinstance(event, RoleStart | BlockEnd):
            if isinstance(event, BlockEnd):
                call = None
                thinking = False
            waiting.append(timed)
        elif isinstance(event, BlockStart):
            thinking = event.kind == "reasoning"
            if event.kind == "tool_call":
                call, calls = calls, calls + 1
            yield Frame(timed.due, _after_waiting(waiting, encode, event))
        elif isinstance(event, Finish):
            yield Frame(timed.due, _after_waiting(waiting, encode, event), closing=True)
        else:
            if waiting:
                yield from _alone(waiting, encode, keep_ends=True)
            if isinstance(event, Usage | StreamEnd | StreamError):
                yield Frame(timed.due, encode(event), closing=True)
            elif isinstance(event, TextDelta):  # a proxied or recorded chunk (wire/passthrough.py)
                yield Frame(timed.due, encode(event), event.text, 1)
            elif isinstance(event, Hold):
                yield Frame(timed.due, b"", action=HOLD)
            elif isinstance(event, Abort):
                yield Frame(timed.due, b"", action=DROP_FIN)
            else:
                yield Frame(timed.due, encode(event))
    waiting[:] = [t for t in waiting if not isinstance(t.event, BlockEnd)]
    yield from _alone(waiting, encode, keep_ends=False)


def _after_waiting(waiting: list[Timed], encode: Callable[[Event], bytes], event: Event) -> bytes:
    """The bytes of the waiting events and then of ``event``, encoded in stream order."""
    if not waiting:
        return encode(event)
    data = b"".join([*(encode(t.event) for t in waiting), encode(event)])
    waiting.clear()
    return data


def _alone(waiting: list[Timed], encode: Callable[[Event], bytes], *, keep_ends: bool) -> Iterator[Frame]:
    """Waiting events that nothing came to carry (a hand-made sequence: a ``RoleStart`` with no
    ``BlockStart`` after it), each as its own frame, in order; with ``keep_ends`` a ``BlockEnd``
    goes on waiting for its finish instead."""
    kept = [t for t in waiting if keep_ends and isinstance(t.event, BlockEnd)]
    for timed in waiting:
        if not (keep_ends and isinstance(timed.event, BlockEnd)):
            yield Frame(timed.due, encode(timed.event))
    waiting[:] = kept


def _source_errors(events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
    """An error event the source itself carries (a proxied or recorded upstream's) ends the stream
    as an injected one does: the journal says ``error_event`` and later positions do not fire."""
    for timed in events:
        if isinstance(timed.event, StreamError) and ctx.ending is None:
            ctx.ending = "error_event"
        yield timed


def compose(
    events: Iterator[Timed],
    encoder: Encoder,
    faults: Sequence[Fault],
    ctx: StreamContext,
    *,
    several: bool = False,
    resume: ResumePoint | None = None,
) -> Iterator[Frame]:
    """Timed events → event faults → wire encoder → (event ids) → frame faults: the stream the
    transport sends. The same composition serves generated, replayed and proxied streams
    (``several``: with several choices, see :func:`_encode`; ``resume``: a resumable stream's
    ids, and where an attempt starts, see ``event_ids.py``)."""
    for fault in faults:
        if fault.stage == "events":
            events = fault.apply_events(events, ctx)
    frames: Iterator[Frame] = _encode(events, encoder, several=several)
    if resume is not None:
        frames = number_events(frames, resume)
    for fault in faults:
        if fault.stage == "frames":
            frames = fault.apply_frames(frames, ctx)
    return frames


def response_head(
    faults: Sequence[Fault], headers: list[tuple[str, str]], ctx: StreamContext
) -> list[tuple[str, str]]:
    """A stream's response head as its faults leave it (``accel_buffering``), in stage order: when
    several change the same header, the last one applies."""
    for fault in faults:
        headers = fault.apply_head(headers, ctx)
    return headers


@dataclass(slots=True)
class StreamPlan:
    """Everything decided when a request arrives, before the first byte is sent."""

    scenario: Scenario
    request: ChatRequest
    ctx: StreamContext
    format: WireFormat
    encoder: StreamEncoder
    tokens: Sequence[str]  # a tuple, or lazy pieces of a long text (tokens.py)
    finish_reason: str
    usage: Usage
    timing: Timing
    request_id: str
    faults: list[Fault] = field(default_factory=list)
    http_error: RequestError | None = None
    source: EventSource | None = None  # a recorded stream, replayed instead of the schedule
    stored: Callable[[], tuple[str, dict[str, Any]] | None] | None = None  # wire/format.OpenedStream
    calls: tuple[PlannedCall, ...] = ()  # the scenario's tool calls, as this stream sends them
    more: tuple[Choice, ...] = ()  # the choices after the first (n, a list of prompts)
    stop_sequence: str | None = None  # the request's stop sequence that ended the text (stops.py)
    turn: int | None = None  # which of the scenario's turns answered, from 1 (None: no turns:)
    reasoning: PlannedReasoning | None = None  # streamed before the answer, when the format sends it
    resume: ResumePoint | None = None  # a resumable stream's event ids (event_ids.py)
    created: float | None = None  # the unix time given to the format for its body (None: seeded)

    @property
    def seed(self) -> int:
        return self.ctx.seed

    @property
    def text(self) -> str:
        """The reply's whole text."""
        return joined(self.tokens)

    @property
    def text_tokens(self) -> int:
        """How many text tokens the answer has, every choice's and its reasoning's (the journal's
        ``tokens_sent`` of a non-streamed answer)."""
        thinking = len(self.reasoning.tokens) if self.reasoning is not None else 0
        return thinking + len(self.tokens) + sum(len(choice.tokens) for choice in self.more)

    @property
    def finish_reasons(self) -> list[str]:
        """Every choice's finish reason, choice 0's first."""
        return [self.finish_reason, *(choice.finish_reason for choice in self.more)]

    @property
    def choice_texts(self) -> list[str]:
        """Every choice's whole text, choice 0's first."""
        return [self.text, *(joined(choice.tokens) for choice in self.more)]

    def head(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The stream's response head, ``headers`` as the faults leave them."""
        return response_head(self.faults, headers, self.ctx)

    def frames(self) -> Iterator[Frame]:
        if self.source is not None:
            replayed = _source_errors(self.source.timed_events(), self.ctx)
            return compose(replayed, self.source.encoder(), self.faults, self.ctx, resume=self.resume)
        events: Iterator[Timed] = schedule(
            self.tokens,
            self.timing,
            self.ctx.fork("timing"),
            finish_reason=self.finish_reason,
            usage=self.usage if self.request.include_usage else None,
            calls=self.calls,
            more=self.more,
            stop_sequence=self.stop_sequence,
            reasoning=self.reasoning,
        )
        return compose(
            events, self.encoder, self.faults, self.ctx, several=bool(self.more), resume=self.resume
        )

    def completion(self) -> dict[str, Any]:
        if self.source is not None:
            return self.source.completion()
        if self.more:
            choices = [(self.text, self.finish_reason)]
            choices += [(joined(c.tokens), c.finish_reason) for c in self.more]
            return cast(ChoicesEncoder, self.encoder).completion_choices(choices, self.usage)
        if self.reasoning is not None:
            return self.encoder.completion(
                self.text, self.finish_reason, self.usage, self.calls, reasoning=self.reasoning
            )
        if self.calls:
            return self.encoder.completion(self.text, self.finish_reason, self.usage, self.calls)
        if self.stop_sequence is not None:
            return self.encoder.completion(
                self.text, self.finish_reason, self.usage, stop_sequence=self.stop_sequence
            )
        return self.encoder.completion(self.text, self.finish_reason, self.usage)

    def completion_delay(self) -> float:
        """When a non-streaming answer is due: when the stream's last token would have been."""
        last = 0.0
        timeline = (
            self.source.timed_events()
            if self.source is not None
            else schedule(
                self.tokens,
                self.timing,
                self.ctx.fork("timing"),
                finish_reason=self.finish_reason,
                usage=None,
                calls=self.calls,
                more=self.more,
                reasoning=self.reasoning,
            )
        )
        for timed in timeline:
            last = timed.due
        for fault in self.faults:
            if fault.name == "latency":
                last += getattr(fault, "ms", 0.0) / 1000.0
        return last


class FaultCounter(Protocol):
    """Where ``times: N`` is counted (``FaultCounters``: this server's own; a shared state store
    counts across processes and hands planning its numbers taken beforehand: ``state_store``)."""

    def take(self, scope: str, index: int, fault: Fault) -> int | None:
        """Count one more request carrying ``fault``: its 0-based number, or None once ``times``
        is used up."""
        ...


class FaultCounters:
    """How many requests have carried each fault, for ``times: N``. Each distinct
    ``X-FakeLLM-Faults`` value counts on its own; the counts of the :data:`MAX_HEADER_SCOPES` values
    used last are kept (a client sending ever new values must not grow the server without bound),
    those of the scenarios and ``--faults`` always."""

    MAX_HEADER_SCOPES = 1024

    def __init__(self) -> None:
        self._counts: dict[str, dict[tuple[int, Fault], int]] = {}
        self._headers: OrderedDict[str, None] = OrderedDict()  # header scopes, least recently used first

    def take(self, scope: str, index: int, fault: Fault) -> int | None:
        """Count one more request carrying ``fault``: its 0-based number, or None once ``times``
        is used up."""
        counts = self._counts.get(scope)
        if counts is None:
            counts = self._counts[scope] = {}
        if scope.startswith("header"):
            self._headers[scope] = None
            self._headers.move_to_end(scope)
            if len(self._headers) > self.MAX_HEADER_SCOPES:
                oldest, _ = self._headers.popitem(last=False)
                del self._counts[oldest]
        key = (index, fault)
        count = counts.get(key, 0)
        counts[key] = count + 1
        return count if fault.times is None or count < fault.times else None

    @property
    def scopes(self) -> int:
        """How many sources' counts are kept (not ``__len__``: an empty counter must stay truthy)."""
        return len(self._counts)

    def clear(self) -> None:
        self._counts.clear()
        self._headers.clear()


def _fault_groups(
    scenario: Scenario, extra: Sequence[Fault], extra_scope: str, global_faults: Sequence[Fault]
) -> list[tuple[str, Sequence[Fault]]]:
    """The sources of a request's faults, each with the scope it counts ``times`` in."""
    # Each source counts `times` on its own: the scenario's faults, the server-wide --faults, and
    # each distinct X-FakeLLM-Faults header value.
    groups: list[tuple[str, Sequence[Fault]]] = [
        (f"scenario:{scenario.name}", scenario.faults),
        ("global", global_faults),
        (extra_scope, extra),
    ]
    if scenario.turn is not None:
        # A turn's faults count apart from every other turn's: `times: 1` breaks the first
        # stream answering that turn, and its retry (the same turn) gets through.
        turn_faults = scenario.turns[scenario.turn].faults
        groups.insert(1, (f"scenario:{scenario.name}:turn:{scenario.turn}", turn_faults))
    return groups


def fault_takes(
    scenario: Scenario,
    messages: Sequence[dict[str, Any]] | None,
    *,
    extra_faults: Sequence[Fault] = (),
    extra_scope: str = "header",
    global_faults: Sequence[Fault] = (),
) -> list[tuple[str, int, Fault]]:
    """What planning a request for ``scenario`` will count (``FaultCounter.take``), for a store
    that counts before planning (planning is synchronous; a shared count is a round trip): the
    faults whose number matters, those with ``times`` or a ``probability`` (the number is part
    of the roll). Any other fault's number is never looked at. ``messages``: the conversation,
    whose turn of the scenario answers (None: planned as the scenario is, as a passthrough is)."""
    if scenario.turns and messages is not None:
        scenario = answer_for_turn(scenario, messages)
    return [
        (scope, index, fault)
        for scope, faults in _fault_groups(scenario, extra_faults, extra_scope, global_faults)
        for index, fault in enumerate(faults)
        if fault.times is not None or fault.probability < 1.0
    ]


def _active_faults(
    scenario: Scenario,
    extra: Sequence[Fault],
    extra_scope: str,
    ctx: StreamContext,
    counters: FaultCounter,
    global_faults: Sequence[Fault] = (),
) -> list[Fault]:
    active: list[Fault] = []
    for scope, faults in _fault_groups(scenario, extra, extra_scope, global_faults):
        for index, fault in enumerate(faults):
            number = counters.take(scope, index, fault)
            if number is None:
                continue
            if fault.probability < 1.0:
                # The request's number is part of the roll: with a fixed seed every stream has the
                # same seed, and without it "probability: 0.3" would fire on all requests or none.
                roll = ctx.fork(f"probability:{scope}:{index}:{number}").random()
                if roll >= fault.probability:
                    continue
            active.append(fault)
    return order_faults(active)


def _plan_calls(
    scenario: Scenario,
    wanted: Sequence[ToolCall],
    format: WireFormat,
    rng: random.Random,
    max_tokens: int | None,
    used: int,
) -> tuple[tuple[PlannedCall, ...], bool]:
    """The answer's tool calls (``wanted``: the scenario's, or the one :func:`_generated_call`
    made) as this stream sends them: ids drawn after the format's own (so that adding a call never
    changes the rest of a seeded body), arguments cut into tokens, and cut short where
    ``max_tokens`` runs out (a call with no argument left is not sent); and whether they were cut."""
    calls: list[PlannedCall] = []
    cut = False
    budget = None if max_tokens is None else max_tokens - used
    for call in wanted:
        drawn = format.tool_call_id(rng)
        if drawn is None:
            raise RequestError(
                400,
                f"The scenario {scenario.name!r} calls tools, and fakellm does not send tool calls on "
                f"POST {format.path}.",
                param="X-FakeLLM-Scenario",
                code="unsupported_scenario",
            )
        fragments = tuple(tokens_for(call.arguments)) or ("",)
        if budget is not None:
            if budget <= 0:
                cut = True
                break
            cut = cut or len(fragments) > budget
            fragments = fragments[:budget]
            budget -= len(fragments)
        calls.append(PlannedCall(call.id or drawn, call.name, fragments))
    return tuple(calls), cut


def _limited(
    tokens: Sequence[str], request: ChatRequest, finish_reason: str, used: int = 0
) -> tuple[Sequence[str], str, str | None]:
    """One choice's tokens ended by the request's limits, why it finishes, and the stop sequence
    that ended it: the first stop sequence reached within ``max_tokens`` (finish ``stop``), else
    ``max_tokens`` (finish ``length``), else as the scenario says. ``used``: the tokens the
    limit already spent before the text (reasoning)."""
    limit = None if request.max_tokens is None else max(request.max_tokens - used, 0)
    if request.stop:
        cut, matched = cut_at_stop(tokens, request.stop, limit)
        if matched is not None:
            return cut, "stop", matched
    if limit is not None and len(tokens) > limit:
        return tokens[:limit], "length", None
    return tokens, finish_reason, None


def _generated_call(
    decision: CallDecision, request: ChatRequest, scenario: Scenario, rng: random.Random
) -> tuple[ToolCall, ...]:
    """The call the answer makes that the scenario does not script (``tool_calls: auto``, or one
    the request's ``tool_choice`` demands): its tool picked from the request's with ``rng`` (or
    the one named), its arguments a document valid against that tool's schema, drawn from ``rng``
    after everything else (so no seeded body without it changes). A scenario whose content is
    ``json:`` and that a forced tool makes call (structured output through a tool) gives that
    document: ``json: auto`` generated against the tool's schema."""
    if decision.pick is None:
        return ()
    if decision.pick == ANY_TOOL:
        tool = decision.candidates[rng.randrange(len(decision.candidates))]
    else:
        tool = next(t for t in request.tools if t.name == decision.pick)
    content = scenario.content
    try:
        if not decision.text and isinstance(content, JsonDocument):
            arguments = content.text_for_schema(dict(tool.schema), rng)
        else:
            arguments = json.dumps(generate(tool.schema, rng), separators=(",", ":"), ensure_ascii=False)
    except SchemaError as exc:
        raise RequestError(
            400,
            f"fakellm cannot generate arguments for the tool {tool.name!r}: {exc}",
            param="tools",
            code="unsupported_schema",
        ) from None
    return (ToolCall(tool.name, arguments),)


def _plan_reasoning(
    scenario: Scenario, format: WireFormat, ctx: StreamContext, body: dict[str, Any]
) -> PlannedReasoning | None:
    """The scenario's reasoning as this stream sends it, or None: none scripted, or the format does
    not send it (Chat without ``reasoning_field``, Completions), when it takes no time and no
    tokens either. Its text is drawn from an RNG forked from the stream's seed, not from
    ``ctx.rng``: adding reasoning to a scenario changes nothing else of a seeded body."""
    source = scenario.reasoning
    if source is None or not format.sends_reasoning(scenario.reasoning_field):
        return None
    if hasattr(scenario.content, "timed_events"):
        return None  # a recorded stream is replayed as it was
    tokens = tuple(tokens_for(source.text(body, ctx.fork("reasoning"))))
    return PlannedReasoning(tokens, scenario.reasoning_field) if tokens else None


def _plan_choices(
    request: ChatRequest,
    scenario: Scenario,
    rng: random.Random,
    reasoning: PlannedReasoning | None = None,
    *,
    calling: bool = False,
) -> tuple[Choice, ...]:
    """The choices after the first: each drawn from a Random of its own, seeded from the stream's
    RNG after everything it drew for choice 0 (so a seeded body with one choice never changes,
    and choice 2 does not depend on how long choice 1 is), each answering its own conversation
    (an ``echo`` scenario repeats each prompt of a list), each cut at its own first stop sequence
    or at ``max_tokens``."""
    if scenario.tool_calls or calling:
        raise RequestError(
            400,
            f"The scenario {scenario.name!r} calls tools; fakellm streams tool calls with one choice "
            f"only: n={request.n} is not supported with it.",
            param="n",
            code="unsupported_value",
        )
    if reasoning is not None:
        raise RequestError(
            400,
            f"The scenario {scenario.name!r} streams reasoning; fakellm streams reasoning with one "
            f"choice only: n={request.n} is not supported with it.",
            param="n",
            code="unsupported_value",
        )
    if hasattr(scenario.content, "timed_events"):
        raise RequestError(
            400,
            f"The scenario {scenario.name!r} replays a recorded stream, which has one choice: "
            f"n={request.n} cannot be answered from it.",
            param="n",
            code="unsupported_value",
        )
    seeds = [rng.getrandbits(64) for _ in range(1, request.choices)]
    more = []
    for number, seed in enumerate(seeds, start=1):
        body = {**request.body, "messages": request.conversation(number)}
        tokens = tokens_for(_content_text(scenario.content, request, body, random.Random(seed)))
        more.append(Choice(*_limited(tokens, request, scenario.finish_reason)))
    return tuple(more)


def _content_text(
    content: TokenSource, request: ChatRequest, body: dict[str, Any], rng: random.Random
) -> str:
    """One choice's text: structured output reads the schema the request asks for; any other
    source reads the body (with its neutral conversation)."""
    if not isinstance(content, JsonDocument):
        return content.text(body, rng)
    try:
        return content.text_for_schema(request.output_schema, rng)
    except SchemaError as exc:
        raise RequestError(
            400,
            f"fakellm cannot generate a document for this schema: {exc}",
            param="response_format",
            code="unsupported_schema",
        ) from None


def assistant_turns(messages: Sequence[dict[str, Any]]) -> int:
    """How many answers the conversation already holds: its assistant messages (a text answer, or
    a turn of tool calls: Chat's ``tool_calls``, Responses' ``function_call`` items, Anthropic's
    ``tool_use`` blocks all arrive as one ``assistant`` message)."""
    return sum(1 for message in messages if message.get("role") == "assistant")


def last_tool_result(messages: Sequence[dict[str, Any]]) -> str:
    """The text of the conversation's last tool result ('' if none): a ``tool`` message (Chat,
    Responses' ``function_call_output``), or an Anthropic ``tool_result`` block, which the neutral
    conversation keeps as a part of its user message."""
    for message in reversed(messages):
        if message.get("role") == "tool":
            return _text_of(message.get("content"))
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            results = [p for p in content if isinstance(p, dict) and p.get("type") == "tool_result"]
            if results:
                return _text_of(results[-1].get("content"))
    return ""


def _text_of(content: Any) -> str:
    """A message's or a tool result's text: a string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = (part.get("text") for part in content if isinstance(part, dict))
        return "".join(text for text in texts if isinstance(text, str))
    return ""


def last_tool_name(messages: Sequence[dict[str, Any]]) -> str | None:
    """The name of the tool whose result ends the conversation: its last message is a tool result
    (Chat's ``role: tool``, Responses' ``function_call_output``: the last of several; a user
    message holding Anthropic ``tool_result`` blocks: the last block), and the assistant call it
    answers is in the conversation (its ``tool_call_id`` or ``tool_use_id``). None otherwise."""
    if not messages:
        return None
    last = messages[-1]
    role, content = last.get("role"), last.get("content")
    if role == "tool":
        call_id = last.get("tool_call_id")
    elif role == "user" and isinstance(content, list):
        results = [p for p in content if isinstance(p, dict) and p.get("type") == "tool_result"]
        if not results:
            return None
        call_id = results[-1].get("tool_use_id")
    else:
        return None
    if not isinstance(call_id, str):
        return None
    for message in reversed(messages):
        if message.get("role") == "assistant":
            for made, name in _calls_of(message):
                if made == call_id:
                    return name
    return None


def _calls_of(message: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    """An assistant message's tool calls as (id, name): Chat's ``tool_calls`` (Responses'
    ``function_call`` items arrive so), Anthropic's ``tool_use`` blocks. The request's shapes are
    not all checked by its format: anything else is skipped."""
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            yield call.get("id"), function["name"]
    content = message.get("content")
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict) and block.get("type") == "tool_use" and isinstance(block.get("name"), str):
            yield block.get("id"), block["name"]


def turn_index(scenario: Scenario, messages: Sequence[dict[str, Any]]) -> int | None:
    """Which of the scenario's turns answers this request (0-based; None without ``turns:``): the
    turn whose ``after_tool`` names the tool whose result ends the conversation, else answer k
    when the conversation holds k-1 assistant turns, the last one past the end."""
    turns = scenario.turns
    if not turns:
        return None
    tool = last_tool_name(messages)
    if tool is not None:
        for index, turn in enumerate(turns):
            if turn.after_tool == tool:
                return index
    return min(assistant_turns(messages), len(turns) - 1)


def answer_for_turn(scenario: Scenario, messages: Sequence[dict[str, Any]]) -> Scenario:
    """The scenario as it answers this request of a conversation (``turns:``): the turn
    :func:`turn_index` picks. Read from the request alone, so that it needs no counter on the
    server (and holds across processes)."""
    index = turn_index(scenario, messages)
    if index is None:
        return scenario
    turn = scenario.turns[index]
    content = turn.content
    if isinstance(content, FixedText) and "{tool_result}" in content.value:
        # str.replace, not str.format: the rest of the text may hold braces (JSON, code).
        content = FixedText(content.value.replace("{tool_result}", last_tool_result(messages)))
    return replace(
        scenario,
        content=content,
        finish_reason=turn.finish_reason,
        tool_calls=turn.tool_calls,
        timing=turn.timing or scenario.timing,
        auto_calls=turn.auto_calls,
        turn=index,
        reasoning=turn.reasoning,
    )


def plan_stream(
    request: ChatRequest,
    scenario: Scenario,
    *,
    format: WireFormat = CHAT,
    server_seed: int | None = None,
    header_seed: int | None = None,
    extra_faults: Sequence[Fault] = (),
    extra_scope: str = "header",
    global_faults: Sequence[Fault] = (),
    timing: Timing | None = None,
    counters: FaultCounter | None = None,
    ascii_only: bool = True,
    now: float | None = None,
    stream_seed: int | None = None,
    created: float | None = None,
    faults: Sequence[Fault] | None = None,
    resume: ResumePoint | None = None,
) -> StreamPlan:
    """Plan one answer (module docstring). A stream planned again (a resume: ``resume.py``) is
    given what the first plan decided: its ``stream_seed`` (instead of deriving one from the server's,
    the scenario's and the header's), the ``created`` time its body carries (the unix time a
    stream with no seed was given, else None), its ``faults`` (instead of choosing them: no
    ``times`` is counted), and where this attempt starts (``resume``)."""
    turn = None
    if scenario.turns:
        given = timing
        base = scenario.timing
        turn = turn_index(scenario, request.messages)
        scenario = answer_for_turn(scenario, request.messages)
        # The endpoint passes the scenario's own timing unless a header changed it; the turn's
        # timing replaces the scenario's, never a header's.
        timing = scenario.timing if given is None or given is base else given
    if stream_seed is not None:
        ctx, deterministic = StreamContext.seeded(stream_seed), created is None
    else:
        ctx, deterministic = _stream_context(server_seed, scenario, header_seed)
    now = created if created is not None else now
    rng = ctx.rng
    # Which calls go out: the scenario's, honouring the request's tool_choice (tools.decide); a
    # recorded stream replays what it holds, whatever the request asks.
    replayed = hasattr(scenario.content, "timed_events")
    decision = (
        CallDecision(scenario.tool_calls)
        if replayed
        else decide(request.tool_choice, request.tools, scenario.tool_calls, scenario.auto_calls)
    )
    own_calls = bool(scenario.tool_calls) or scenario.auto_calls

    # The fixed order of draws from ctx.rng: text, then the format's ids, a generated call's tool
    # and arguments, the tool calls' ids, the seeds of the other choices. Never reorder (it changes
    # every body).
    # A body without chat messages (Completions' prompt, Responses' input) is given its neutral
    # conversation, so an echo scenario repeats the prompt there too.
    body = request.body if "messages" in request.body else {**request.body, "messages": request.messages}
    text = _content_text(scenario.content, request, body, rng) if decision.text else ""
    if own_calls and not decision.calling and not text:
        # The scenario only calls tools, and this request lets it call none (tool_choice none, or
        # tool_calls: auto and no tools): an answer still says something.
        text = DEFAULT_TEXT
    tokens: Sequence[str] = tokens_for(text)
    finish_reason = scenario.finish_reason
    if decision.calling and not own_calls:
        finish_reason = "tool_calls"  # a call the request forced on a scenario of text
    elif finish_reason == "tool_calls" and not decision.calling:
        finish_reason = "stop"
    reasoning = _plan_reasoning(scenario, format, ctx, body)
    thinking = len(reasoning.tokens) if reasoning is not None else 0
    stop_sequence: str | None = None
    if reasoning is not None and request.max_tokens is not None and thinking >= request.max_tokens:
        # Reasoning counts against the limit, and comes first (as OpenAI's models count it).
        thinking = request.max_tokens
        reasoning = replace(reasoning, tokens=reasoning.tokens[:thinking])
        if tokens or thinking < len(reasoning.tokens):
            finish_reason = "length"
        tokens = ()
    elif not hasattr(scenario.content, "timed_events"):  # a recording replays what it holds
        tokens, finish_reason, stop_sequence = _limited(tokens, request, finish_reason, thinking)
    prompt_tokens = count_message_tokens(request.messages)
    if request.more_prompts:
        prompt_tokens += sum(count_message_tokens(p) for p in request.more_prompts)
    usage = Usage(prompt_tokens, len(tokens))
    opened = format.open_stream(
        request,
        rng,
        now=None if deterministic else now,
        prompt_tokens=usage.prompt_tokens,
        ascii_only=ascii_only and scenario.ascii_only,
    )
    calls: tuple[PlannedCall, ...] = ()
    if decision.calling:
        wanted = decision.calls + _generated_call(decision, request, scenario, rng)
        calls, cut = _plan_calls(scenario, wanted, format, rng, request.max_tokens, thinking + len(tokens))
        if stop_sequence is not None:
            # The stop sequence ended the answer in its text: generation stops there, and no model
            # goes on to call a tool (the ids were drawn all the same: the draws keep their order).
            calls = ()
        elif cut:
            finish_reason = "length"
    usage = Usage(
        usage.prompt_tokens,
        usage.completion_tokens + thinking + sum(len(c.fragments) for c in calls),
        thinking,
    )
    more: tuple[Choice, ...] = ()
    if request.choices > 1:
        more = _plan_choices(request, scenario, rng, reasoning, calling=bool(calls))
        usage = Usage(
            usage.prompt_tokens,
            usage.completion_tokens + sum(len(c.tokens) for c in more),
            usage.reasoning_tokens,
        )

    plan = StreamPlan(
        scenario=scenario,
        request=request,
        ctx=ctx,
        format=format,
        encoder=opened.encoder,
        tokens=tokens,
        finish_reason=finish_reason,
        usage=usage,
        timing=timing or scenario.timing,
        request_id=opened.request_id,
        # Not isinstance(EventSource): a runtime Protocol check costs ~10 us a request.
        source=cast(EventSource, scenario.content) if replayed else None,
        stored=opened.stored,
        calls=calls,
        more=more,
        stop_sequence=stop_sequence,
        turn=None if turn is None else turn + 1,
        reasoning=reasoning,
    )
    if plan.source is not None and plan.source.format is not format:
        # Served as is, a stream of one format is unreadable to another's client.
        raise RequestError(
            400,
            f"The scenario {scenario.name!r} replays a recorded {plan.source.format.name} stream "
            f"(POST {plan.source.format.path}); it cannot answer POST {format.path}.",
            param="X-FakeLLM-Scenario",
            code="recording_format_mismatch",
        )
    if faults is not None:
        plan.faults = order_faults(faults)
    else:
        plan.http_error, plan.faults = _choose_faults(
            scenario, ctx, counters, extra_faults, extra_scope, global_faults
        )
    plan.created = None if deterministic else now
    plan.resume = resume
    return plan


def _stream_context(
    server_seed: int | None, scenario: Scenario, header_seed: int | None
) -> tuple[StreamContext, bool]:
    """The stream's context, and whether its seed was given (else drawn, and ``created`` is real)."""
    seed = derive_seed(server_seed, scenario.seed, header_seed)
    if seed is None:
        return StreamContext.seeded(random.SystemRandom().getrandbits(63)), False
    return StreamContext.seeded(seed), True


def _choose_faults(
    scenario: Scenario,
    ctx: StreamContext,
    counters: FaultCounter | None,
    extra_faults: Sequence[Fault],
    extra_scope: str,
    global_faults: Sequence[Fault],
) -> tuple[RequestError | None, list[Fault]]:
    """The faults this request carries: an ``http_error`` that answers instead of the stream (the
    first one, if several fire), and the stream's other faults in stage order."""
    active = _active_faults(
        scenario, extra_faults, extra_scope, ctx, counters or FaultCounters(), global_faults
    )
    http_error = None
    for fault in active:
        if isinstance(fault, HttpError):
            ctx.fire(fault.name, at_token=0, detail=str(fault.status))
            http_error = fault.error()
            break
    return http_error, [f for f in active if f.stage != "request"]


def prompt_of(request: ChatRequest) -> str:
    return last_user_text(request.messages)


@dataclass(slots=True)
class PassthroughPlan:
    """The proxy's plan for one request: its seed and faults. The events come from the upstream as
    it sends them (``proxy.py``); :meth:`frames` composes them like any other stream."""

    scenario: Scenario
    ctx: StreamContext
    faults: list[Fault] = field(default_factory=list)
    http_error: RequestError | None = None

    @property
    def seed(self) -> int:
        return self.ctx.seed

    def head(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The proxied stream's response head, ``headers`` as the faults leave them."""
        return response_head(self.faults, headers, self.ctx)

    def frames(self, events: Iterator[Timed], encoder: Encoder) -> Iterator[Frame]:
        return compose(_source_errors(events, self.ctx), encoder, self.faults, self.ctx)

    def latency_s(self) -> float:
        """The delay ``latency`` faults add, for an answer that is not a stream."""
        return sum(getattr(f, "ms", 0.0) for f in self.faults if f.name == "latency") / 1000.0


def plan_passthrough(
    scenario: Scenario,
    *,
    server_seed: int | None = None,
    header_seed: int | None = None,
    extra_faults: Sequence[Fault] = (),
    extra_scope: str = "header",
    global_faults: Sequence[Fault] = (),
    counters: FaultCounter | None = None,
) -> PassthroughPlan:
    """Seed and faults for a proxied request, chosen by the same rules as for a served one."""
    ctx, _ = _stream_context(server_seed, scenario, header_seed)
    plan = PassthroughPlan(scenario=scenario, ctx=ctx)
    plan.http_error, plan.faults = _choose_faults(
        scenario, ctx, counters, extra_faults, extra_scope, global_faults
    )
    return plan
