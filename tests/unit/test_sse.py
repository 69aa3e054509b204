"""The SSE encoder and the spec-correct decoder (wire.md §5.1, §5.2).

Every case is bytes in, events out. Each case also runs fed one byte per read and fed in one read:
a spec-correct decoder gives the same events however the bytes are cut (T4, T12, T13).
Spec: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fakellm import ServerSentEvent, SSEDecoder
from fakellm.wire.sse import encode_sse


def decode(reads: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for read in reads:
        events.extend(decoder.feed(read))
    events.extend(decoder.close())
    return events


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def datas(events: list[ServerSentEvent]) -> list[str]:
    return [e.data for e in events]


@dataclass(frozen=True)
class Case:
    id: str
    stream: bytes
    data: list[str]


# Bytes in, the data of every dispatched event out.
CASES = [
    # §5.1, the spec's first example: a comment, "id" with no value resets the id, two spaces keep one.
    Case(
        "spec-example-1",
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
        ["first event", "second event", " third event"],
    ),
    # §5.1, the spec's second example: "data" with no colon; two of them join with LF; the last
    # block has no blank line after it and is discarded at EOF.
    Case("spec-example-2", b"data\n\ndata\ndata\n\ndata:", ["", "\n"]),
    Case("T1-lf-baseline", b'data: {"x":1}\n\n', ['{"x":1}']),
    Case("T2-crlf", b'data: {"x":1}\r\n\r\n', ['{"x":1}']),
    Case("T3-cr-only", b'data: {"x":1}\r\r', ['{"x":1}']),
    Case("T5-lf-then-crlf-blank-line", b'data: {"x":1}\n\r\n', ['{"x":1}']),
    Case("T6-bom-at-start-stripped", b'\xef\xbb\xbfdata: {"x":1}\n\n', ['{"x":1}']),
    Case("T7-bom-mid-stream-is-a-character", b"data: 1\n\n\xef\xbb\xbfdata: 2\n\n", ["1"]),
    Case("T8-comment-keepalive", b": keep-alive\n\n:OPENROUTER PROCESSING\n\n", []),
    Case("T8-comment-inside-an-event", b"data: a\n: ping\ndata: b\n\n", ["a\nb"]),
    Case("T9-no-space-after-colon", b'data:{"x":1}\n\n', ['{"x":1}']),
    Case("T9-two-spaces-keep-one", b"data:  hello\n\n", [" hello"]),
    Case("T9-tab-is-not-stripped", b"data:\thello\n\n", ["\thello"]),
    Case("T10-field-with-no-colon", b"data\n\n", [""]),
    Case("T11-multi-line-data", b'data: {"a":\ndata: 1}\n\n', ['{"a":\n1}']),
    Case("T14-three-events-one-read", b"data: a\n\ndata: b\n\ndata: c\n\n", ["a", "b", "c"]),
    Case("T15-event-with-no-data", b"event: ping\n\n", []),
    Case("T16-id-only-block", b"id: 1\n\n", []),
    Case("T16-extra-blank-line-after-id", b"id: 1\ndata: {}\n\n\n", ["{}"]),
    Case("T16-retry-only-block", b"retry: 1000\n\n", []),
    Case("T19-unknown-field-ignored", b"foo: bar\ndata: x\n\n", ["x"]),
    Case("T19-field-names-are-case-sensitive", b"Data: x\n\n", []),
    Case("T20-last-event-without-blank-line", b'data: {"x":1}\n', []),
    Case("T20-partial-line-at-eof", b'data: a\n\ndata: {"x', ["a"]),
    Case("T22-done-without-space", b"data:[DONE]\n\n", ["[DONE]"]),
    Case("T22-done-crlf", b"data: [DONE]\r\n\r\n", ["[DONE]"]),
    Case("T24-trailing-lone-cr-at-eof", b"data: a\r\rdata: b\r\r", ["a", "b"]),
    Case("colon-in-value-kept", b"data: a:b: c\n\n", ["a:b: c"]),
    Case("empty-data-value-dispatches", b"data:\n\n", [""]),
    Case("crlf-mixed-with-cr-and-lf", b"data: a\r\ndata: b\rdata: c\n\r\n", ["a\nb\nc"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_decode_in_one_read(case: Case) -> None:
    assert datas(decode([case.stream])) == case.data


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_decode_one_byte_per_read(case: Case) -> None:
    assert datas(decode(bytewise(case.stream))) == case.data


def test_spec_example_last_event_ids() -> None:
    events = decode([b"data: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"])
    assert [e.id for e in events] == ["1", "", ""]


def test_event_type_defaults_to_message_and_resets_after_dispatch() -> None:
    events = decode([b"event: add\ndata: 1\n\ndata: 2\n\n"])
    assert [(e.event, e.data) for e in events] == [("add", "1"), ("message", "2")]


def test_event_type_is_reset_by_an_empty_dispatch() -> None:
    # "event: ping" with no data dispatches nothing, but the type must not leak into the next event.
    events = decode([b"event: ping\n\ndata: x\n\n"])
    assert [(e.event, e.data) for e in events] == [("message", "x")]


def test_id_is_kept_by_later_events() -> None:
    events = decode([b"id: 7\ndata: a\n\ndata: b\n\n"])
    assert [e.id for e in events] == ["7", "7"]


def test_T17_id_with_nul_is_ignored() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\nid: a\x00b\ndata: x\n\n")
    assert [(e.data, e.id) for e in events] == [("a", "1"), ("x", "1")]
    assert decoder.last_event_id == "1"


def test_last_event_id_updates_on_an_empty_dispatch() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 5\n\n") == []
    assert decoder.last_event_id == "5"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"retry: 3000\n", 3000),
        (b"retry: 5x\n", None),
        (b"retry: -1\n", None),
        (b"retry: +5\n", None),
        (b"retry: \n", None),
        (b"retry: \xd9\xa3\n", None),  # an Arabic-Indic digit: a digit, but not an ASCII one
    ],
)
def test_T18_retry_takes_ascii_digits_only(line: bytes, expected: int | None) -> None:
    decoder = SSEDecoder()
    decoder.feed(line + b"data: x\n\n")
    assert decoder.retry == expected


def test_comments_are_kept_for_inspection() -> None:
    decoder = SSEDecoder()
    decoder.feed(b": keep-alive\n:x\n\n")
    assert decoder.comments == [" keep-alive", "x"]


def test_T4_crlf_split_across_reads() -> None:
    # The CR ends the line; the LF in the next read must not count as a second (blank) line.
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert datas(decoder.feed(b"\ndata: b\r\n\r\n")) == ["a\nb"]


def test_T4_cr_lf_pair_split_does_not_dispatch_early() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"x":1}\r') == []
    assert datas(decoder.feed(b"\n\r\n")) == ['{"x":1}']


def test_T12_event_split_mid_json() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"id":"c","obj') == []
    assert datas(decoder.feed(b'ect":"x"}\n\n')) == ['{"id":"c","object":"x"}']


def test_T13_utf8_split_one_byte_per_read() -> None:
    text = "hé€😀"
    assert datas(decode(bytewise(f"data: {text}\n\n".encode()))) == [text]


def test_T6_bom_split_across_reads_is_still_stripped() -> None:
    assert datas(decode([b"\xef", b"\xbb", b"\xbfdata: a\n\n"])) == ["a"]


def test_T6_only_one_bom_is_stripped() -> None:
    # A second BOM right after the first is content: the field name becomes "\ufeffdata".
    assert datas(decode([b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n"])) == []


def test_invalid_utf8_becomes_replacement_characters() -> None:
    # The spec decodes with "UTF-8 decode": errors are replaced, not fatal.
    assert datas(decode([b"data: a\xffb\n\n"])) == ["a\ufffdb"]
    assert datas(decode(bytewise(b"data: \xe2\x82x\n\n"))) == ["\ufffdx"]


def test_eof_inside_a_utf8_character_is_not_an_error() -> None:
    decoder = SSEDecoder()
    assert datas(decoder.feed(b"data: a\n\ndata: \xe2\x82")) == ["a"]
    assert decoder.close() == []


def test_events_are_returned_by_the_read_that_completes_them() -> None:
    decoder = SSEDecoder()
    assert datas(decoder.feed(b"data: a\n\ndata: b\n")) == ["a"]
    assert datas(decoder.feed(b"\n")) == ["b"]


def test_T30_huge_single_line() -> None:
    payload = "x" * (2 * 1024 * 1024)
    assert datas(decode([f"data: {payload}\n\n".encode()])) == [payload]


def test_close_discards_the_pending_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.close() == []


# --------------------------------------------------------------------------------------------------
# The encoder


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"data": "hello"}, b"data: hello\n\n"),
        ({"data": '{"x":1}'}, b'data: {"x":1}\n\n'),
        ({"data": ""}, b"data: \n\n"),
        ({"data": "a\nb"}, b"data: a\ndata: b\n\n"),
        ({"data": "a\r\nb\rc"}, b"data: a\ndata: b\ndata: c\n\n"),
        ({"data": " lead"}, b"data:  lead\n\n"),
        ({"data": "x", "event": "ping"}, b"event: ping\ndata: x\n\n"),
        ({"data": "x", "event": "e", "id": "7"}, b"event: e\nid: 7\ndata: x\n\n"),
        ({"data": "é€😀"}, "data: é€😀\n\n".encode()),
    ],
)
def test_encode_sse_bytes(kwargs: dict[str, str], expected: bytes) -> None:
    assert encode_sse(**kwargs) == expected


@pytest.mark.parametrize("data", ["", "x", " lead", "a\nb", "\n", "a\n\nb", "é€😀", "a\r\nb", "tail\r"])
def test_encode_then_decode_round_trips(data: str) -> None:
    # CR and CRLF are line ends on the wire: they come back as LF.
    expected = data.replace("\r\n", "\n").replace("\r", "\n")
    assert datas(decode([encode_sse(data, event="e", id="1")])) == [expected]
