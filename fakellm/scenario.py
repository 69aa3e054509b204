"""Scenarios: what a request gets back, and how it is chosen.

A scenario file is YAML or JSON holding a list under ``scenarios:``. Each entry is validated into a
frozen :class:`Scenario`; every problem is reported as a :class:`ScenarioError` naming the file, the
line, the scenario and the field. Files are read, with the line of every key, by documents.py.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .content import FAKER_MAXIMUMS, EchoText, FakerText, FixedText, TokenSource
from .documents import DocumentReader, Located, read_document
from .errors import RequestError, ScenarioError, shown
from .faults import MAX_DURATION_MS, MAX_FAULTS, Fault, parse_fault
from .reasoning import REASONING_FIELDS
from .schema_data import JsonDocument
from .tools import ToolCall

__all__ = [
    "Match",
    "Scenario",
    "ScenarioBook",
    "Timing",
    "Turn",
    "default_scenario",
    "scenario_from_dict",
    "scenarios_from_document",
]

MAX_SEED = 2**63 - 1
DEFAULT_TEXT = "Hello! How can I help you today?"
"""A scenario's answer when it gives no content (and calls no tool)."""


@dataclass(frozen=True, slots=True)
class Timing:
    """When tokens are due. ``jitter_ms`` is the standard deviation of a normal added to each gap
    (clamped at 0); ``ttft_jitter_ms`` does the same for the first token. ``reasoning_itl_ms`` is
    the gap between reasoning tokens (None: ``itl_ms``)."""

    ttft_ms: float = 0.0
    itl_ms: float = 0.0
    jitter_ms: float = 0.0
    ttft_jitter_ms: float = 0.0
    reasoning_itl_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """``model`` is a glob on the request's model; ``prompt`` a regex searched in the last user
    message; ``path`` a glob on the route (``/v1/messages``: a scenario for one format only, as a
    recording is). All that are given must hold."""

    model: str | None = None
    prompt: str | None = None
    _prompt_re: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    path: str | None = None

    def holds(self, model: str, prompt: str, path: str | None = None) -> bool:
        if self.model is not None and not fnmatch.fnmatchcase(model, self.model):
            return False
        if self.path is not None and path is not None and not fnmatch.fnmatchcase(path, self.path):
            return False
        return self._prompt_re is None or self._prompt_re.search(prompt) is not None


@dataclass(frozen=True, slots=True)
class Turn:
    """One answer of a conversation (``turns:``): answer k is sent when the request's conversation
    holds k-1 assistant turns (pipeline.py). ``timing`` None: the scenario's. In a turn's ``text``,
    ``{tool_result}`` stands for the text of the conversation's last tool result. ``after_tool``:
    the turn also answers whenever the request ends with that tool's result, whatever the count."""

    content: TokenSource
    finish_reason: str = "stop"
    tool_calls: tuple[ToolCall, ...] = ()
    timing: Timing | None = None
    auto_calls: bool = False  # tool_calls: auto (see Scenario)
    after_tool: str | None = None
    # Only the stream answering this turn carries these (after the scenario's own); their
    # ``times`` count per turn (pipeline._active_faults).
    faults: tuple[Fault, ...] = ()
    reasoning: TokenSource | None = None  # streamed before the answer (reasoning.py)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    content: TokenSource = field(default_factory=lambda: FixedText(DEFAULT_TEXT))
    timing: Timing = field(default_factory=Timing)
    match: Match | None = None
    seed: int | None = None
    faults: tuple[Fault, ...] = ()
    finish_reason: str = "stop"
    tool_calls: tuple[ToolCall, ...] = ()  # after the text, if any (tools.py)
    source: str | None = None  # "file:line" the scenario came from, for messages
    # False: stream non-ASCII text as raw UTF-8 instead of OpenAI's \uXXXX escapes (so that byte-level
    # faults such as fragment can cut inside a multi-byte character).
    ascii_only: bool = True
    turns: tuple[Turn, ...] = ()  # a conversation: the answer of each call (pipeline.py)
    # tool_calls: auto: one call to a tool picked from the request's, arguments generated from its
    # schema (tools.decide); text when the request has no tools.
    auto_calls: bool = False
    turn: int | None = None  # which of ``turns`` this answer is, once chosen (pipeline.answer_for_turn)
    # Thinking streamed before the answer (reasoning.py), and the Chat delta field it goes out in
    # (None: not sent on Chat Completions, as OpenAI's own models never send it there).
    reasoning: TokenSource | None = None
    reasoning_field: str | None = None
    # Every SSE event carries ``id: <stream id>:<n>``, and a reconnect with ``Last-Event-ID``
    # continues the stream (event_ids.py, resume.py).
    resumable: bool = False


_SCENARIO_FIELDS = (
    "name",
    "match",
    "content",
    "timing",
    "seed",
    "faults",
    "finish_reason",
    "tool_calls",
    "ascii_only",
    "turns",
    "reasoning",
    "reasoning_field",
    "resumable",
)
_ANSWER_FIELDS = ("content", "timing", "finish_reason", "tool_calls", "reasoning")  # what a turn may say
_TURN_FIELDS = (*_ANSWER_FIELDS, "after_tool", "faults")  # and which tool's result it answers
MAX_TURNS = 64
_FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls")


def _content(reader: DocumentReader) -> TokenSource:
    kinds = [k for k in ("text", "faker", "echo", "json") if reader.has(k)]
    if len(kinds) != 1:
        raise reader.error("give exactly one of 'text', 'faker', 'echo' or 'json'", None)
    kind = kinds[0]
    if kind == "json":
        value = reader.get("json")
        if value == "auto":
            return JsonDocument()
        if isinstance(value, Mapping | list):
            return JsonDocument(value)
        raise reader.error(f"must be 'auto' or a JSON object or array, got {shown(value)}", "json")
    if kind == "text":
        value = reader.get("text")
        if not isinstance(value, str):
            raise reader.error(f"must be a string, got {shown(value)}", "text")
        return FixedText(value)
    if kind == "echo":
        value = reader.get("echo")
        if value is True:
            return EchoText()
        if isinstance(value, Mapping):
            echo = reader.sub("echo", ("prefix",))
            return EchoText(prefix=echo.string("prefix") or "")
        raise reader.error(f"must be true or a mapping, got {shown(value)}", "echo")
    value = reader.get("faker")
    if value is True or value is None:
        return FakerText()
    faker = reader.sub("faker", ("paragraphs", "sentences", "markdown", "code_probability"))
    paragraphs = faker.integer("paragraphs", minimum=1, maximum=FAKER_MAXIMUMS["paragraphs"])
    sentences = faker.integer("sentences", minimum=1, maximum=FAKER_MAXIMUMS["sentences"])
    probability = faker.number("code_probability", 0.5, maximum=1.0)
    return FakerText(
        paragraphs=paragraphs if paragraphs is not None else 3,
        sentences=sentences if sentences is not None else 3,
        markdown=faker.boolean("markdown", False),
        code_probability=probability,
    )


MAX_TOOL_CALLS = 64
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def _entries(
    reader: DocumentReader, key: str, maximum: int, noun: str, shape: str, allowed: tuple[str, ...]
) -> list[DocumentReader]:
    """A non-empty list of at most ``maximum`` mappings under ``key``, each as a reader whose
    errors name ``key[i].field``."""
    raw = reader.get(key)
    if not isinstance(raw, list) or not raw:
        raise reader.error(f"must be a non-empty list of {noun}, got {shown(raw)}", key)
    if len(raw) > maximum:
        raise reader.error(f"at most {maximum} {key.replace('_', ' ')}, got {len(raw)}", key)
    entries = []
    for i, item in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(item, Mapping):
            raise reader.error(f"must be a mapping {shape}, got {shown(item)}", where)
        entries.append(
            DocumentReader(
                item,
                reader.located,
                scenario=reader.scenario,
                prefix=f"{reader.prefix}{where}.",
                allowed=allowed,
            )
        )
    return entries


def _tool_calls(reader: DocumentReader) -> tuple[ToolCall, ...]:
    calls = []
    for call in _entries(
        reader, "tool_calls", MAX_TOOL_CALLS, "calls or 'auto'", "with a 'name'", ("name", "arguments", "id")
    ):
        name = call.string("name", required=True)
        assert name is not None
        if not _TOOL_NAME.fullmatch(name):
            raise call.error("must be 1-128 letters, digits, '_', '-', '.' or ':'", "name")
        arguments = call.get("arguments")
        if arguments is None:
            text = "{}"
        elif isinstance(arguments, str):
            text = arguments  # as written: invalid JSON on purpose is allowed
        elif isinstance(arguments, Mapping | list):
            text = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
        else:
            raise call.error(f"must be a mapping or a string, got {shown(arguments)}", "arguments")
        calls.append(ToolCall(name, text, call.string("id")))
    return tuple(calls)


def scenario_from_dict(
    data: Any,
    *,
    located: Located | None = None,
    index: int | None = None,
) -> Scenario:
    """Validate one scenario mapping (from a file, or scripted in code)."""
    label = None
    if isinstance(data, Mapping) and isinstance(data.get("name"), str):
        label = data["name"]
    elif index is not None:
        label = f"#{index + 1}"
    reader = DocumentReader(data, located, scenario=label, allowed=_SCENARIO_FIELDS)
    name = reader.string("name", required=True)
    assert name is not None

    if reader.has("turns"):
        given = [k for k in ("content", "tool_calls", "finish_reason", "reasoning") if reader.has(k)]
        if given:
            raise reader.error("give each answer inside 'turns', not beside it", given[0])
    content, tool_calls, auto_calls, finish, timing = _answer(reader)
    turns = _turns(reader) if reader.has("turns") else ()
    reasoning = _reasoning(reader)
    reasoning_field = _reasoning_field(reader, reasoning is not None or any(t.reasoning for t in turns))

    match = None
    if reader.has("match"):
        m = reader.sub("match", ("model", "prompt", "path"))
        prompt = m.string("prompt")
        prompt_re = None
        if prompt is not None:
            try:
                prompt_re = re.compile(prompt)
            except re.error as exc:
                raise m.error(f"not a valid regular expression: {exc}", "prompt") from None
        match = Match(model=m.string("model"), prompt=prompt, _prompt_re=prompt_re, path=m.string("path"))

    faults = _faults(reader) if reader.has("faults") else ()

    source = None
    if located is not None and located.file is not None:
        source = f"{located.file}:{located.line_of(data)}"
    return Scenario(
        name=name,
        content=content,
        timing=timing,
        match=match,
        # Non-negative, like X-FakeLLM-Seed and --seed: a journaled seed must replay through them.
        seed=reader.integer("seed", minimum=0, maximum=MAX_SEED),
        faults=faults,
        finish_reason=finish,
        tool_calls=tool_calls,
        source=source,
        ascii_only=reader.boolean("ascii_only", True),
        turns=turns,
        auto_calls=auto_calls,
        reasoning=reasoning,
        reasoning_field=reasoning_field,
        resumable=reader.boolean("resumable", False),
    )


def _reasoning(reader: DocumentReader) -> TokenSource | None:
    """``reasoning:``: a string (the text), or a mapping with one of ``text``, ``faker``, ``echo``,
    as ``content`` takes them (not ``json``: thinking is prose)."""
    if not reader.has("reasoning"):
        return None
    value = reader.get("reasoning")
    if isinstance(value, str):
        return FixedText(value)
    if not isinstance(value, Mapping):
        raise reader.error(
            f"must be a string or a mapping (text, faker, echo), got {shown(value)}", "reasoning"
        )
    return _content(reader.sub("reasoning", ("text", "faker", "echo")))


def _reasoning_field(reader: DocumentReader, has_reasoning: bool) -> str | None:
    field_name = reader.string("reasoning_field")
    if field_name is None:
        return None
    if field_name not in REASONING_FIELDS:
        raise reader.error(f"must be one of {', '.join(REASONING_FIELDS)}", "reasoning_field")
    if not has_reasoning:
        raise reader.error("is set, but the scenario has no reasoning to send", "reasoning_field")
    return field_name


def _answer(reader: DocumentReader) -> tuple[TokenSource, tuple[ToolCall, ...], bool, str, Timing]:
    """The fields of one answer (a scenario's, or one of its turns'): content, tool calls (or
    ``auto``), finish reason and timing, checked against each other."""
    auto = reader.has("tool_calls") and reader.get("tool_calls") == "auto"
    tool_calls = _tool_calls(reader) if reader.has("tool_calls") and not auto else ()
    # A scenario that only calls tools says nothing before the calls.
    content: TokenSource = FixedText("" if tool_calls or auto else DEFAULT_TEXT)
    if reader.has("content"):
        content = _content(reader.sub("content", ("text", "faker", "echo", "json")))

    timing = Timing()
    if reader.has("timing"):
        t = reader.sub("timing", ("ttft_ms", "itl_ms", "jitter_ms", "ttft_jitter_ms", "reasoning_itl_ms"))
        ms = functools.partial(t.number, maximum=MAX_DURATION_MS, unit=" (24 h)")
        timing = Timing(
            ttft_ms=ms("ttft_ms", 0.0),
            itl_ms=ms("itl_ms", 0.0),
            jitter_ms=ms("jitter_ms", 0.0),
            ttft_jitter_ms=ms("ttft_jitter_ms", 0.0),
            reasoning_itl_ms=ms("reasoning_itl_ms", 0.0) if t.has("reasoning_itl_ms") else None,
        )

    finish = reader.string("finish_reason") or ("tool_calls" if tool_calls or auto else "stop")
    if finish not in _FINISH_REASONS:
        raise reader.error(f"must be one of {', '.join(_FINISH_REASONS)}", "finish_reason")
    if finish == "tool_calls" and not (tool_calls or auto):
        # No model ends on tool_calls without calling one; the SDKs' agent loops would spin.
        raise reader.error("is tool_calls, but the scenario has no tool_calls to send", "finish_reason")
    return content, tool_calls, auto, finish, timing


def _turns(reader: DocumentReader) -> tuple[Turn, ...]:
    turns: list[Turn] = []
    for turn in _entries(reader, "turns", MAX_TURNS, "answers", "(content, tool_calls, ...)", _TURN_FIELDS):
        content, tool_calls, auto, finish, timing = _answer(turn)
        if not turns and isinstance(content, FixedText) and "{tool_result}" in content.value:
            # The first answer is for a conversation without an assistant turn, so without a tool
            # result (a tool message answers an assistant's call): it would always quote ''.
            text = turn.sub("content", ("text",))
            raise text.error("quotes {tool_result}, but the first turn comes before any tool result", "text")
        after = _after_tool(turn, turns)
        timed = timing if turn.has("timing") else None
        faults = _faults(turn) if turn.has("faults") else ()
        reasoning = _reasoning(turn)
        turns.append(
            Turn(
                content, finish, tool_calls, timed, auto, after_tool=after, faults=faults, reasoning=reasoning
            )
        )
    return tuple(turns)


def _after_tool(turn: DocumentReader, earlier: list[Turn]) -> str | None:
    """A turn's ``after_tool``: a tool name, named by one turn at most (which of two would answer
    that tool's result is better said by the file than guessed)."""
    name = turn.string("after_tool")
    if name is None:
        return None
    if not _TOOL_NAME.fullmatch(name):
        raise turn.error("must be a tool name: 1-128 letters, digits, '_', '-', '.' or ':'", "after_tool")
    for number, other in enumerate(earlier, start=1):
        if other.after_tool == name:
            raise turn.error(f"{name!r} is already the after_tool of turn {number}", "after_tool")
    return name


def _faults(reader: DocumentReader) -> tuple[Fault, ...]:
    """A scenario's or a turn's ``faults`` list, each checked with its file:line:field."""
    raw = reader.get("faults")
    if not isinstance(raw, list):
        raise reader.error(f"must be a list, got {type(raw).__name__}", "faults")
    if len(raw) > MAX_FAULTS:
        raise reader.error(f"at most {MAX_FAULTS} faults in one scenario, got {len(raw)}", "faults")
    return tuple(_fault(item, reader, i) for i, item in enumerate(raw))


def _fault(item: Any, reader: DocumentReader, index: int) -> Fault:
    located = reader.located
    where = f"faults[{index}]"
    try:
        return parse_fault(item)
    except ScenarioError as exc:
        line = None
        if located is not None:
            line = located.line_of(item, exc.field) if isinstance(item, Mapping) else None
            line = line or located.line_of(reader.data, "faults")
        raise ScenarioError(
            exc.reason,
            file=located.file if located is not None else None,
            line=line,
            scenario=reader.scenario,
            field=f"{reader.prefix}{where}.{exc.field}" if exc.field else f"{reader.prefix}{where}",
        ) from None


def scenarios_from_document(data: Any, located: Located, path: Path) -> list[Scenario]:
    """The scenarios of a scenario document (a ``scenarios:`` mapping, or a bare list), read by
    :func:`~fakellm.documents.read_document` from ``path``. Which kind of document a file is
    (scenarios or a recording) is decided above this module, in ``scenario_files.py``."""
    if isinstance(data, list):
        items = data
    elif isinstance(data, Mapping):
        if "scenarios" not in data:
            raise ScenarioError(
                "expected a top-level 'scenarios:' list",
                file=str(path),
                line=located.line_of(data),
            )
        extra = [k for k in data if k != "scenarios"]
        if extra:
            raise ScenarioError(
                f"unknown top-level field {extra[0]!r}; only 'scenarios' is allowed",
                file=str(path),
                line=located.line_of(data, extra[0]),
                field=extra[0],
            )
        items = data["scenarios"]
        if not isinstance(items, list):
            raise ScenarioError(
                "'scenarios' must be a list",
                file=str(path),
                line=located.line_of(data, "scenarios"),
                field="scenarios",
            )
    else:
        raise ScenarioError("expected a 'scenarios:' list", file=str(path))
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ScenarioError(
                f"each scenario must be a mapping with at least a 'name', got {type(item).__name__}",
                file=str(path),
                line=located.item_line(items, i),
                scenario=f"#{i + 1}",
                field=f"scenarios[{i}]",
            )
    return [scenario_from_dict(item, located=located, index=i) for i, item in enumerate(items)]


@functools.cache  # read once: every ScenarioBook without a default of its own needs it
def default_scenario() -> Scenario:
    """The embedded default: Faker markdown with realistic timing (ships inside the package)."""
    text = resources.files("fakellm").joinpath("default_scenarios.yaml")
    with resources.as_file(text) as path:
        data, located = read_document(path)
        return scenarios_from_document(data, located, path)[0]


class ScenarioBook:
    """The scenarios a server knows, and the rule that picks one for a request:
    header ``X-FakeLLM-Scenario`` → a scenario named like the request's model → the first whose
    ``match`` holds → the default (a loaded scenario named ``default``, else the embedded one)."""

    def __init__(self, scenarios: Iterable[Scenario] = (), default: Scenario | None = None) -> None:
        self.scenarios: list[Scenario] = list(scenarios)
        self.by_name: dict[str, Scenario] = {s.name: s for s in self.scenarios}
        self.default = default or self.by_name.get("default") or default_scenario()

    def names(self) -> list[str]:
        names = [s.name for s in self.scenarios]
        if self.default.name not in self.by_name:
            names.insert(0, self.default.name)
        return names

    def get(self, name: str) -> Scenario | None:
        if name == self.default.name:
            return self.default
        return self.by_name.get(name)

    def select(self, header: str | None, model: str, prompt: str, path: str | None = None) -> Scenario:
        """The scenario for a request: the one named in ``X-FakeLLM-Scenario``, else the one named
        as the model, else the first whose ``match`` holds (``path`` is the request's route), else
        the default."""
        if header is not None:
            scenario = self.get(header)
            if scenario is None:
                raise RequestError(
                    404,
                    f"Unknown scenario {header!r} in X-FakeLLM-Scenario. "
                    f"Known scenarios: {', '.join(self.names())}.",
                    param="X-FakeLLM-Scenario",
                    code="scenario_not_found",
                )
            return scenario
        named = self.get(model)
        if named is not None:
            return named
        for scenario in self.scenarios:
            if scenario.match is not None and scenario.match.holds(model, prompt, path):
                return scenario
        return self.default
