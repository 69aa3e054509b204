"""record.py: the recording format, reading it back, naming, and the replay as an event source."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from fakellm import ScenarioError, load_scenario_files
from fakellm.events import Abort, StreamEnd, StreamError
from fakellm.faults import parse_fault_spec
from fakellm.pipeline import plan_stream
from fakellm.record import (
    RecordedEvent,
    RecordedStream,
    Recorder,
    Recording,
    load_recording,
    recordable_headers,
    recording_name,
)
from fakellm.stream import DROP_FIN
from fakellm.wire.openai import parse_chat_request
from fakellm.wire.passthrough import RawTextDelta

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "recorded"


def chunk(content: str | None = None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {
        "id": "chatcmpl-1",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def recording(*, end: str = "eof", speed: float = 1.0, name: str = "rec", **extra: Any) -> Recording:
    events = (
        RecordedEvent(100.0, chunk("")),
        RecordedEvent(120.0, chunk("Hello")),
        RecordedEvent(150.0, chunk(" world")),
        RecordedEvent(180.0, chunk(finish="stop")),
        RecordedEvent(181.0, b"data: [DONE]\n\n"),
    )
    return Recording(
        name=name,
        request={
            "method": "POST",
            "path": "/v1/chat/completions",
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Say hello (please)"}],
            "params": {"stream": True},
        },
        events=events,
        end=end,
        speed=speed,
        **extra,
    )


# -- the readable forms of an event --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "form"),
    [
        (chunk("Caf\u00e9"), "chunk"),  # compact ASCII JSON: kept as an object
        (b"data: [DONE]\n\n", "data"),
        (b'data: {"logprob":-3.4121115e-6}\n\n', "data"),  # json.dumps would write -3.4121115e-06
        (b'data: {"a": 1}\n\n', "data"),  # not compact
        (b": keep-alive\n\n", "raw"),
        (b"data: x\r\n\r\n", "raw"),
        (b'data: {"cut":"\xc3', "raw_base64"),
        (b'event: content_block_delta\ndata: {"text":"Caf\xc3\xa9"}\n\n', "chunk"),  # named, UTF-8 JSON
        (b'event: ping\ndata: {"type": "ping"}\n\n', "data"),  # named, not compact
        (b"event: message\ndata: x\n\n", "data"),  # "message" written out: kept
    ],
    ids=[
        "chunk",
        "done",
        "exponent",
        "spaces",
        "comment",
        "crlf",
        "not-utf8",
        "named-utf8",
        "named",
        "message",
    ],
)
def test_each_event_keeps_its_exact_bytes_in_the_most_readable_form(
    raw: bytes, form: str, tmp_path: Path
) -> None:
    event = RecordedEvent(12.5, raw)
    as_json = event.as_json()
    assert form in as_json
    rec = Recording(name="one", request={"model": "m"}, events=(event,))
    path = rec.write(tmp_path)
    assert load_recording(path).events == (event,)


def test_a_written_recording_reads_back_equal(tmp_path: Path) -> None:
    rec = recording(description="café", recorded_at="2026-01-01T00:00:00Z", headers={"x-request-id": "req_1"})
    path = rec.write(tmp_path)
    assert path.name == "rec.json"
    assert load_recording(path) == rec
    # One line per event: readable and diffable.
    lines = path.read_text().splitlines()
    assert sum(1 for line in lines if line.lstrip().startswith('{"at_ms"')) == len(rec.events)


def test_recorded_headers_lose_secrets_and_per_connection_headers() -> None:
    headers = {
        "Content-Type": "text/event-stream",
        "X-Request-Id": "req_1",
        "Set-Cookie": "session=secret",
        "openai-organization": "org-secret",
        "Transfer-Encoding": "chunked",
        "Date": "today",
        "Access-Control-Allow-Origin": "*",
        "x-fakellm-seed": "7",
    }
    assert recordable_headers(headers) == {"content-type": "text/event-stream", "x-request-id": "req_1"}


# -- as a scenario -------------------------------------------------------------------------------


def test_a_recording_in_a_scenario_folder_is_a_scenario_named_after_it(tmp_path: Path) -> None:
    recording().write(tmp_path)
    (scenario,) = load_scenario_files([tmp_path])
    assert scenario.name == "rec"
    assert isinstance(scenario.content, RecordedStream)
    assert scenario.match is not None
    assert scenario.match.holds("gpt-4o", "Say hello (please)")
    assert not scenario.match.holds("gpt-4o", "Say hello")  # the same request, not a regex
    assert not scenario.match.holds("gpt-4o-mini", "Say hello (please)")


def test_a_recording_may_carry_match_faults_and_seed(tmp_path: Path) -> None:
    doc = recording().as_json()
    doc.update(match={"model": "replay-*"}, faults=[{"type": "drop", "after_tokens": 1}], seed=3)
    (tmp_path / "rec.json").write_text(json.dumps(doc))
    (scenario,) = load_scenario_files([tmp_path])
    assert scenario.match is not None and scenario.match.holds("replay-1", "anything")
    assert scenario.faults == tuple(parse_fault_spec("drop@1"))
    assert scenario.seed == 3


def test_the_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    doc = recording().as_json()
    del doc["name"]
    (tmp_path / "from-file.json").write_text(json.dumps(doc))
    assert load_scenario_files([tmp_path])[0].name == "from-file"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d["events"][1].pop("at_ms"), "events[1].at_ms", "required"),
        (lambda d: d["events"][2].update(raw="x"), "events[2]", "exactly one"),
        (lambda d: d["events"][0].update(at_ms="soon"), "events[0].at_ms", "number"),
        (lambda d: d["response"].update(end="later"), "response.end", "eof, dropped"),
        (lambda d: d.update(speed=0), "speed", ">= 0.001"),
        (lambda d: d.update(recording=2), "recording", "unsupported"),
        (lambda d: d.update(faults=[{"type": "nope"}]), "faults[0].type", "unknown fault"),
        (lambda d: d.update(extra=1), "extra", "unknown field"),
        (lambda d: d["events"][0].update(event="a\nb"), "events[0].event", "line end"),
        (
            lambda d: d["events"].__setitem__(4, {"at_ms": 181, "raw": "data: x\n\n", "event": "x"}),
            "events[4].event",
            "goes with 'chunk' or 'data'",
        ),
        (lambda d: d["events"][0].update(ascii="no"), "events[0].ascii", "true or false"),
    ],
    ids=[
        "missing-at",
        "two-forms",
        "bad-at",
        "bad-end",
        "speed",
        "version",
        "bad-fault",
        "unknown",
        "event-line-end",
        "event-on-raw",
        "bad-ascii",
    ],
)
def test_errors_name_the_file_line_and_field(change: Any, field: str, message: str, tmp_path: Path) -> None:
    doc = recording().as_json()
    change(doc)
    path = tmp_path / "rec.json"
    path.write_text(json.dumps(doc, indent=2))
    with pytest.raises(ScenarioError) as info:
        load_scenario_files([path])
    error = info.value
    assert error.file == str(path)
    assert error.field == field
    assert error.line is not None
    text = path.read_text().splitlines()[error.line - 1].strip()
    key = field.rsplit(".", 1)[-1].split("[")[0]
    assert f'"{key}"' in text or text == "{"  # the field's line, or its object's when it is missing
    assert message in str(error)


# -- naming ----------------------------------------------------------------------------------------


def test_names_come_from_the_test_id_made_file_safe() -> None:
    name = recording_name("tests/e2e/test_chat.py::test_weather[paris-1]", "POST", "/v1/x", {})
    assert name == "tests-e2e-test_chat.py--test_weather-paris-1"


def test_without_a_test_id_the_same_request_gets_the_same_name() -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    first = recording_name(None, "POST", "/v1/chat/completions", body)
    assert first == recording_name(None, "POST", "/v1/chat/completions", dict(reversed(body.items())))
    assert first.startswith("gpt-4o-")
    assert first != recording_name(None, "POST", "/v1/chat/completions", {**body, "stream": False})


def test_a_test_that_streams_twice_gets_numbered_names(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    names = [
        recorder.capture(test_id="t::a", method="POST", path="/v1/chat/completions", body={}).name
        for _ in range(3)
    ]
    assert names == ["t--a", "t--a-2", "t--a-3"]


def test_a_capture_keeps_model_messages_and_params(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True, "temperature": 0}
    capture = recorder.capture(test_id=None, method="POST", path="/v1/chat/completions", body=body)
    capture.add(10.0, chunk("hi"))
    path = recorder.write(capture, "dropped")
    loaded = load_recording(path)
    assert loaded.request["params"] == {"stream": True, "temperature": 0}
    assert loaded.end == "dropped"
    assert loaded.events == (RecordedEvent(10.0, chunk("hi")),)


# -- the replay as an event source ------------------------------------------------------------------


def test_events_are_due_at_their_recorded_time_divided_by_speed() -> None:
    stream = RecordedStream(recording(speed=4))
    timed = list(stream.timed_events())
    assert [t.due for t in timed] == pytest.approx([0.025, 0.030, 0.0375, 0.045, 0.04525])
    assert [type(t.event).__name__ for t in timed] == [
        "Verbatim",
        "RawTextDelta",
        "RawTextDelta",
        "RawFinish",
        "RawStreamEnd",
    ]
    assert stream.text({}, random.Random()) == "Hello world"


def test_a_dropped_recording_ends_with_an_abort() -> None:
    timed = list(RecordedStream(recording(end="dropped")).timed_events())
    assert isinstance(timed[-1].event, Abort)


def plan_for(stream: RecordedStream, faults: str = "") -> Any:
    from fakellm.scenario import Scenario

    request = parse_chat_request(
        json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}).encode()
    )
    return plan_stream(
        request, Scenario(name="rec", content=stream), header_seed=1, extra_faults=parse_fault_spec(faults)
    )


def test_the_replay_is_the_recorded_bytes_at_the_recorded_times() -> None:
    rec = recording()
    frames = list(plan_for(RecordedStream(rec)).frames())
    assert b"".join(f.data for f in frames) == b"".join(e.raw for e in rec.events)
    assert [f.due for f in frames] == pytest.approx([e.at_ms / 1000 for e in rec.events])
    assert sum(f.tokens for f in frames) == 2


def test_faults_apply_on_top_of_a_replay() -> None:
    rec = recording()
    frames = list(plan_for(RecordedStream(rec), "error_event@1").frames())
    data = b"".join(f.data for f in frames)
    assert data.startswith(rec.events[0].raw + rec.events[1].raw)
    assert data.endswith(b'"type":"server_error","param":null,"code":null}}\n\n')
    assert data.count(b'data: {"error":') == 1
    assert b"world" not in data


def test_a_dropped_recording_replays_as_a_drop() -> None:
    frames = list(plan_for(RecordedStream(recording(end="dropped"))).frames())
    assert frames[-1].action == DROP_FIN


def test_the_non_streaming_answer_adds_the_stream_up() -> None:
    completion = plan_for(RecordedStream(recording())).completion()
    assert completion["id"] == "chatcmpl-1"
    assert completion["choices"][0]["message"]["content"] == "Hello world"
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"]["completion_tokens"] == 2


# -- the shipped fixtures -------------------------------------------------------------------------


def test_the_shipped_recordings_load() -> None:
    scenarios = {s.name: s for s in load_scenario_files([FIXTURES])}
    assert set(scenarios) == {"openai-text-usage", "openai-tool-call", "openai-refusal"}
    for scenario in scenarios.values():
        stream = scenario.content
        assert isinstance(stream, RecordedStream)
        events = [t.event for t in stream.timed_events()]
        assert isinstance(events[-1], StreamEnd)
        assert not any(isinstance(e, StreamError) for e in events)
        assert any(isinstance(e, RawTextDelta) for e in events)


def test_the_tool_call_fixture_adds_up_to_one_call() -> None:
    (scenario,) = [s for s in load_scenario_files([FIXTURES]) if s.name == "openai-tool-call"]
    assert isinstance(scenario.content, RecordedStream)
    message = scenario.content.completion()["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {
            "id": "call_4XzlGBLtUe9dy3GVNV4jhq7h",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"New York City"}'},
        }
    ]
