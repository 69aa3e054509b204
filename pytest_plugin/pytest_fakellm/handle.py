"""The ``fakellm`` fixture's handle: one test's view of a fake LLM (a socket server, or the app in
process), with scripting, clients, the journal, the recorder and the teardown checks.

Seeds: the session has one seed (``--fakellm-seed``, random when not given, printed in the report
header); every test derives its own from it and its node id, so a single failing test replays with
the same seed whether or not the rest of the suite runs. A scripted response without ``seed=`` gets
one derived from the test's seed and its position in the script.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import difflib
import hashlib
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx

from fakellm import (
    Fault,
    Journal,
    Match,
    Scenario,
    ScenarioError,
    Timing,
    parse_fault_spec,
    scenario_from_dict,
)
from fakellm.scenario import default_scenario

from .recording import Kind, StreamRecording, arecord, record

if TYPE_CHECKING:
    # The app (quart, hypercorn) is imported by whoever starts a server, not by this module.
    from fakellm import InProcess, Server
    from fakellm.state import ServerState

__all__ = ["FakeLLM", "MarkerOptions", "ScriptOptions"]

DEFAULT_NAME = "fakellm-default"
_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True, slots=True)
class ScriptOptions:
    """One scripted response: the fields of a scenario file, flattened (``ttft_ms`` rather than
    ``timing: {ttft_ms}``). Content is one of ``text``, ``faker`` (True or its settings) or ``echo``;
    without one, the test default (Faker markdown). ``faults`` is a list of fault mappings, compact
    spec strings or fault objects, or one compact spec string (``"error_event@5; fragment 1-7 bytes"``)."""

    text: str | None = None
    faker: bool | Mapping[str, Any] | None = None
    echo: bool | Mapping[str, Any] | None = None
    json: Any = None  # "auto" (a document valid against the request's schema) or the document
    ttft_ms: float | None = None
    itl_ms: float | None = None
    jitter_ms: float | None = None
    ttft_jitter_ms: float | None = None
    # Thinking streamed before the answer: its text, or {faker: ...}/{echo: ...}/{text: ...}; its
    # pace; the Chat delta field it goes out in (None: not sent on Chat).
    reasoning: str | Mapping[str, Any] | None = None
    reasoning_itl_ms: float | None = None
    reasoning_field: str | None = None
    faults: str | Sequence[Any] = ()
    seed: int | None = None
    match: Mapping[str, str] | Match | None = None
    finish_reason: str | None = None
    # [{name, arguments, id?}], after the text; or "auto": one of the request's tools (tools.decide)
    tool_calls: Sequence[Mapping[str, Any]] | Literal["auto"] | None = None
    # A conversation: each call's answer, as a scenario file's turns (content, tool_calls, after_tool...)
    turns: Sequence[Mapping[str, Any]] | None = None
    ascii_only: bool | None = None
    # Every SSE event carries ``id: <stream id>:<n>``; a reconnect with ``Last-Event-ID`` resumes.
    resumable: bool | None = None
    name: str | None = None

    def scenario(self, *, name: str, seed: int, default: Scenario) -> Scenario:
        label = self.name or name
        data: dict[str, Any] = {"name": label}
        given = (("text", self.text), ("faker", self.faker), ("echo", self.echo), ("json", self.json))
        contents = {k: v for k, v in given if v is not None}
        if len(contents) > 1:
            both = " and ".join(contents)
            raise ScenarioError(f"give one of text=, faker=, echo= or json=, not {both}", scenario=label)
        if contents:
            data["content"] = contents
        timing = {
            k: getattr(self, k)
            for k in ("ttft_ms", "itl_ms", "jitter_ms", "ttft_jitter_ms", "reasoning_itl_ms")
            if getattr(self, k) is not None
        }
        if timing:
            data["timing"] = timing
        if isinstance(self.faults, str):
            try:
                data["faults"] = list(parse_fault_spec(self.faults))
            except Exception as exc:
                raise ScenarioError(str(exc), scenario=label, field="faults") from None
        elif self.faults:
            data["faults"] = list(self.faults)
        if self.match is not None:
            match = self.match
            data["match"] = (
                {
                    k: v
                    for k, v in (("model", match.model), ("prompt", match.prompt), ("path", match.path))
                    if v is not None
                }
                if isinstance(match, Match)
                else dict(match)
            )
        data["seed"] = self.seed if self.seed is not None else seed
        if self.finish_reason is not None:
            data["finish_reason"] = self.finish_reason
        if self.tool_calls is not None:
            calls = self.tool_calls
            data["tool_calls"] = calls if isinstance(calls, str) else [dict(call) for call in calls]
        if self.ascii_only is not None:
            data["ascii_only"] = self.ascii_only
        if self.resumable is not None:
            data["resumable"] = self.resumable
        if self.turns is not None:
            # Copied as given: scenario_from_dict says what is wrong with a turn, as for a file.
            turns = self.turns
            is_list = isinstance(turns, Sequence) and not isinstance(turns, str | bytes)
            data["turns"] = [dict(t) if isinstance(t, Mapping) else t for t in turns] if is_list else turns
        if self.reasoning is not None:
            data["reasoning"] = self.reasoning if isinstance(self.reasoning, str) else dict(self.reasoning)
        if self.reasoning_field is not None:
            data["reasoning_field"] = self.reasoning_field
        try:
            scenario = scenario_from_dict(data)
        except ScenarioError as exc:
            flat = _flat(exc.field)
            if flat == "content" and contents:  # beside turns: name the keyword given, text= ...
                flat = next(iter(contents))
            raise ScenarioError(exc.reason, scenario=label, field=flat) from None
        if not contents and not self.tool_calls:  # a call alone says nothing before it
            scenario = replace(scenario, content=default.content)
        return scenario


def _flat(field_name: str | None) -> str | None:
    """``timing.ttft_ms`` -> ``ttft_ms``: name the keyword the user wrote."""
    if field_name is None:
        return None
    for prefix in ("timing.", "content."):
        if field_name.startswith(prefix):
            return field_name[len(prefix) :]
    return field_name


@dataclass(frozen=True, kw_only=True, slots=True)
class MarkerOptions(ScriptOptions):
    """``@pytest.mark.fakellm(...)``: the same keywords as :meth:`FakeLLM.script` (a list of
    responses as the one positional argument), plus the teardown checks to relax."""

    responses: Sequence[Any] | None = None
    assert_all_requested: bool = True
    assert_no_internal_errors: bool = True

    def script_fields(self) -> dict[str, Any]:
        names = {f.name for f in dataclasses.fields(ScriptOptions)}
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name in names and getattr(self, f.name) != f.default
        }


def _import_anthropic() -> Any:
    try:
        import anthropic
    except ImportError as exc:
        raise ImportError(
            "fakellm.anthropic_client() needs the anthropic SDK: pip install anthropic"
        ) from exc
    return anthropic


def check_keywords(cls: type[Any], kwargs: Mapping[str, Any], where: str) -> None:
    """Fail with the unknown keyword named (pytest_httpx's habit, with a suggestion)."""
    known = sorted(f.name for f in dataclasses.fields(cls))
    for key in kwargs:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"{where} got an unknown keyword {key!r}{hint}; it takes: {', '.join(known)}")


def derive(seed: int, *parts: object) -> int:
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass
class _Script:
    scenarios: list[Scenario] = field(default_factory=list)
    sequence: bool = False


class FakeLLM:
    """A fake LLM for one test (the ``fakellm`` fixture). ``mode`` is ``"socket"`` (a real server
    on 127.0.0.1) or ``"inprocess"`` (the app, reached through a streaming ASGI transport)."""

    def __init__(
        self,
        *,
        seed: int,
        server: Server | None = None,
        inprocess: InProcess | None = None,
    ) -> None:
        if (server is None) == (inprocess is None):
            raise TypeError("give a server or an in-process app")
        self.server = server
        self.inprocess = inprocess
        self.mode = "socket" if server is not None else "inprocess"
        self.seed = seed
        self.assert_all_requested = True
        self.assert_no_internal_errors = True
        self._script = _Script()
        self._clients: list[Any] = []
        self._async_clients: list[tuple[asyncio.AbstractEventLoop, Callable[[], Awaitable[None]]]] = []
        owner = server if server is not None else inprocess
        assert owner is not None  # one of the two, checked above
        self.state: ServerState = owner.state
        # Kept now: the session server stops in the last test's teardown, before that test's
        # report (which names the address) is made.
        self._base_url: str = owner.base_url
        # Unscripted requests: Faker markdown at full speed, seeded by the test.
        self.default = replace(
            default_scenario(), name=DEFAULT_NAME, timing=Timing(), seed=derive(seed, "default")
        )

    def __repr__(self) -> str:
        return f"<FakeLLM {self.mode} {self.base_url} seed={self.seed}>"

    # -- where it is -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (socket), ``http://fakellm.invalid/v1`` (in process)."""
        return self._base_url

    @property
    def journal(self) -> Journal:
        """The requests served during this test: ``.last``, ``len()``, iteration, ``[i]``."""
        return self.state.journal

    # -- clients ---------------------------------------------------------------------------------
    def openai_client(self, **kwargs: Any) -> Any:
        """``openai.OpenAI`` pointed at this fake (closed at teardown)."""
        if self.inprocess is not None:
            client = self.inprocess.openai_client(**kwargs)
        else:
            import openai

            kwargs.setdefault("base_url", self.base_url)
            kwargs.setdefault("api_key", "fakellm")
            client = openai.OpenAI(**kwargs)
        self._clients.append(client)
        return client

    def async_openai_client(self, **kwargs: Any) -> Any:
        """``openai.AsyncOpenAI`` pointed at this fake (closed at teardown when made inside the
        test's event loop; ``async with`` it to be sure)."""
        if self.inprocess is not None:
            return self._track_async(self.inprocess.async_openai_client(**kwargs), "close")
        import openai

        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("api_key", "fakellm")
        return self._track_async(openai.AsyncOpenAI(**kwargs), "close")

    def anthropic_client(self, **kwargs: Any) -> Any:
        """``anthropic.Anthropic`` pointed at this fake (closed at teardown)."""
        anthropic = _import_anthropic()
        if self.inprocess is not None and "http_client" not in kwargs:
            import httpx2

            kwargs["http_client"] = httpx2.Client(transport=self.inprocess.transport2())
        # The SDK adds /v1/messages to its base URL itself.
        kwargs.setdefault("base_url", self.base_url.removesuffix("/v1"))
        kwargs.setdefault("api_key", "fakellm")
        client = anthropic.Anthropic(**kwargs)
        self._clients.append(client)
        return client

    def async_anthropic_client(self, **kwargs: Any) -> Any:
        """``anthropic.AsyncAnthropic`` pointed at this fake (closed at teardown like the async
        openai client)."""
        anthropic = _import_anthropic()
        if self.inprocess is not None and "http_client" not in kwargs:
            import httpx2

            kwargs["http_client"] = httpx2.AsyncClient(transport=self.inprocess.transport2())
        kwargs.setdefault("base_url", self.base_url.removesuffix("/v1"))
        kwargs.setdefault("api_key", "fakellm")
        return self._track_async(anthropic.AsyncAnthropic(**kwargs), "close")

    def httpx_client(self, **kwargs: Any) -> httpx.Client:
        """``httpx.Client`` with ``base_url`` set (closed at teardown)."""
        if self.inprocess is not None:
            client = self.inprocess.httpx_client(**kwargs)
        else:
            kwargs.setdefault("base_url", self.base_url)
            client = httpx.Client(**kwargs)
        self._clients.append(client)
        return client

    def async_httpx_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """``httpx.AsyncClient`` with ``base_url`` set (closed at teardown like the async openai
        client)."""
        if self.inprocess is not None:
            client = self.inprocess.async_httpx_client(**kwargs)
        else:
            kwargs.setdefault("base_url", self.base_url)
            client = httpx.AsyncClient(**kwargs)
        return self._track_async(client, "aclose")

    def _track_async(self, client: _T, close: str) -> _T:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return client  # made outside a loop: the caller closes it
        self._async_clients.append((loop, getattr(client, close)))
        return client

    # -- scripting -------------------------------------------------------------------------------
    def script(self, responses: Sequence[Any] | None = None, /, **fields: Any) -> None:
        """Set what this test's requests get, replacing any earlier script:

        - keywords (``text=``, ``faker=``, ``ttft_ms=``, ``itl_ms=``, ``jitter_ms=``, ``faults=``,
          ``seed=``, ``match=``, ...): one scenario; without ``match`` it answers every request;
        - a list of responses (each a dict of those keywords, a ``str`` as the text, or a
          ``Scenario``): served in order, one per request; requests after the last get the default.
        """
        check_keywords(ScriptOptions, fields, "fakellm.script()")
        if responses is not None:
            if fields:
                raise TypeError("fakellm.script() takes a list of responses or keywords, not both")
            if isinstance(responses, str | bytes | Mapping) or not isinstance(responses, Sequence):
                raise TypeError(
                    "fakellm.script() takes a list of responses as its positional argument, got "
                    f"{type(responses).__name__}; for one response use keywords: script(text=...)"
                )
            scenarios = [self._scenario(item, i) for i, item in enumerate(responses)]
            self._apply(_Script(scenarios, sequence=True))
            return
        options = ScriptOptions(**fields)
        scenario = options.scenario(name="scripted", seed=derive(self.seed, 0), default=self.default)
        self._apply(_Script([scenario]))

    def _scenario(self, item: Any, index: int) -> Scenario:
        name = f"scripted-{index + 1}"
        seed = derive(self.seed, index)
        if isinstance(item, Scenario):
            return item
        if isinstance(item, str):
            item = {"text": item}
        if isinstance(item, ScriptOptions):
            return item.scenario(name=name, seed=seed, default=self.default)
        if isinstance(item, Mapping):
            check_keywords(ScriptOptions, item, f"fakellm.script() response #{index + 1}")
            return ScriptOptions(**item).scenario(name=name, seed=seed, default=self.default)
        raise TypeError(
            f"fakellm.script() response #{index + 1}: expected a dict of scenario fields, a str or a "
            f"Scenario, got {type(item).__name__}"
        )

    def _apply(self, script: _Script) -> None:
        state = self.state
        self._script = script
        if script.sequence:
            # After the last scripted response: the test default, not the server's slow one.
            state.script(script.scenarios, sequence=True, default=self.default)
        else:
            state.script([*script.scenarios, self.default])

    def reset(self) -> None:
        """Forget the journal, the script and the fault counters (done before every test)."""
        self.state.reset()
        self._script = _Script()
        self.state.script([self.default])

    # -- recording -------------------------------------------------------------------------------
    def record(
        self,
        iterable: Iterable[Any],
        *,
        kind: Kind = "auto",
        timeout_s: float | None = 30.0,
        started: float | None = None,
    ) -> StreamRecording:
        """Consume ``iterable`` (text pieces, openai chunks or raw SSE lines) and record what it
        delivered and when; see :class:`~pytest_fakellm.StreamRecording`."""
        recording = record(
            iterable,
            kind=kind,
            timeout_s=timeout_s,
            started=started,
            journal=self.journal,
            where="fakellm.record()",
        )
        return self._with_script(recording)

    async def arecord(
        self,
        iterable: AsyncIterable[Any] | Iterable[Any] | Awaitable[AsyncIterable[Any] | Iterable[Any]],
        *,
        kind: Kind = "auto",
        timeout_s: float | None = 30.0,
        started: float | None = None,
    ) -> StreamRecording:
        """The async twin of :meth:`record`; it also takes a sync iterable (read on a worker thread)
        and an awaitable that gives an iterable, such as ``AsyncOpenAI``'s ``create(stream=True)``."""
        recording = await arecord(
            iterable, kind=kind, timeout_s=timeout_s, started=started, journal=self.journal
        )
        return self._with_script(recording)

    def _with_script(self, recording: StreamRecording) -> StreamRecording:
        """Tell the recording what was scripted for its stream, for the assertions' messages."""
        entry = recording.entry
        if entry is None:
            return recording
        script = self._script
        candidates = [*script.scenarios, self.default]
        if entry.scenario == "default" and not script.sequence:
            # The server serves the first scripted response without a match as its "default".
            found = next((s for s in candidates if s.match is None), None)
        else:
            found = next((s for s in candidates if s.name == entry.scenario), None)
        if found is not None:
            recording.scripted_faults = [_spec(f) for f in found.faults]
        return recording

    # -- teardown --------------------------------------------------------------------------------
    def unrequested(self) -> list[str]:
        """The scripted responses that no request got."""
        script = self._script
        if script.sequence:
            left = list(self.state.sequence)
            first = len(script.scenarios) - len(left)
            total = len(script.scenarios)
            return [f"response #{first + i + 1} of {total} ({_describe(s)})" for i, s in enumerate(left)]
        served = {entry.scenario for entry in self.journal}
        missing = []
        for scenario in script.scenarios:
            name = scenario.name if scenario.match is not None else "default"
            if name not in served:
                missing.append(f"{scenario.name!r} ({_describe(scenario)})")
        return missing

    def close(self) -> None:
        """End what the test left open: streams, clients (the sync ones)."""
        clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
        self.close_async()
        if self.inprocess is not None:
            self.inprocess.end_requests()
        elif self.server is not None:
            self.server.call_in_loop(self.server.app.shutdown_streams)

    def close_async(self) -> None:
        """Close the async clients made during the test, and end its async in-process requests, on
        the test's event loop. Called right after the test function: pytest-asyncio closes the loop
        before fixtures are torn down, and an unclosed client leaves sockets to the garbage collector
        (a ResourceWarning: an error under filterwarnings=error)."""
        async_clients, self._async_clients = self._async_clients, []
        for loop, aclose in async_clients:
            if not loop.is_closed() and not loop.is_running():
                with contextlib.suppress(Exception):
                    loop.run_until_complete(aclose())
        if self.inprocess is not None:
            self.inprocess.end_tasks()

    def report(self) -> str:
        """The journal in short, for a failed test's report. Never raises (it runs inside pytest's
        reporting, where an exception is an INTERNALERROR that hides the test's failure)."""
        lines = [f"test seed {self.seed} (mode {self.mode}, {self._base_url})"]
        try:
            lines += self._journal_lines()
        except Exception as exc:  # pragma: no cover - a bug here must not hide the test's failure
            lines.append(f"(the journal could not be read: {type(exc).__name__}: {exc})")
        return "\n".join(lines)

    def _journal_lines(self) -> list[str]:
        lines = []
        for entry in self.journal:
            faults = ", ".join(f"{f.fault}@{f.at_token}" for f in entry.faults) or "no faults"
            turn = f" turn {entry.turn}" if entry.turn is not None else ""
            lines.append(
                f"#{entry.index} {entry.method} {entry.path} -> {entry.status} {entry.outcome}: "
                f"scenario {entry.scenario!r}{turn}, seed {entry.seed}, {entry.tokens_sent} tokens, "
                f"{entry.bytes_sent} bytes, {faults}; text {entry.text[:80]!r}"
                + ("…" if len(entry.text) > 80 else "")
            )
        return lines or ["no requests reached fakellm"]


def _spec(fault: Fault) -> str:
    """A fault as the compact spec a test would write (``truncate@3``, ``stall@2 duration_ms=200``)."""
    spec = fault.name
    settings = {f.name: getattr(fault, f.name) for f in dataclasses.fields(fault)}
    defaults = {f.name: f.default for f in dataclasses.fields(fault)}
    after_tokens, after_ms = settings.pop("after_tokens", None), settings.pop("after_ms", None)
    if after_tokens is not None:
        spec += f"@{after_tokens}"
    elif after_ms is not None:
        spec += f"@{after_ms:g}ms"
    extra = [f"{k}={_value(v)}" for k, v in settings.items() if v != defaults[k]]
    return " ".join([spec, *extra])


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _describe(scenario: Scenario) -> str:
    content = scenario.content
    value = getattr(content, "value", None)
    what = f"text {value[:40]!r}" if isinstance(value, str) else type(content).__name__
    if scenario.match is not None:
        what += f", match model={scenario.match.model!r} prompt={scenario.match.prompt!r}"
    if scenario.faults:
        what += ", faults " + ", ".join(f.name for f in scenario.faults)
    return what
