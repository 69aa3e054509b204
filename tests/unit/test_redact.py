"""``fakellm/redact.py``: which names are secrets (by rule), and how text, queries and recorded
headers are redacted."""

from __future__ import annotations

import logging
import sys

import pytest

from fakellm.record import recordable_headers
from fakellm.redact import RedactingFilter, is_secret_name, redact, redact_query, redact_text

QUERY_KEY = "AIzaQUERYSECRET0123456789-qk42"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        *((n, True) for n in ("Authorization", "proxy-authorization", "X-Goog-Api-Key", "x-api-key")),
        *((n, True) for n in ("api_key", "access_token", "sig", "X-Amz-Signature", "set-cookie")),
        *((n, True) for n in ("openai-organization", "OpenAI-Project", "client_secret", "password")),
        *((n, False) for n in ("content-type", "x-request-id", "x-ratelimit-remaining-tokens", "model")),
        *((n, False) for n in ("x-stainless-lang", "alt", "keep-alive", "openai-version")),
    ],
)
def test_secret_names_by_rule(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_redacting_text_and_queries() -> None:
    assert redact_query(f"alt=sse&api_key={QUERY_KEY}&key=") == "alt=sse&api_key=***qk42&key=***"
    line = f'HTTP Request: POST http://u/v1/x?key={QUERY_KEY}&alt=sse "HTTP/1.1 200 OK"'
    assert redact_text(line) == 'HTTP Request: POST http://u/v1/x?key=***qk42&alt=sse "HTTP/1.1 200 OK"'
    headers = "[(b'content-type', b'text/event-stream'), (b'set-cookie', b'id=COOKIESECRET0123')]"
    assert redact_text(headers) == "[(b'content-type', b'text/event-stream'), (b'set-cookie', b'***0123')]"
    assert redact_text("sent Bearer sk-AUTHSECRET-0123456789-au42") == "sent Bearer ***au42"
    assert redact_text(redact_text(line)) == redact_text(line), "redacting twice changes nothing"


def test_a_recording_keeps_no_secret_response_header() -> None:
    kept = recordable_headers(
        {
            "Set-Cookie": "id=1",
            "x-goog-api-key": "echoed",
            "OpenAI-Organization": "org-1",
            "openai-project": "proj-1",
            "x-session-token": "t",
            "x-request-id": "req_1",
            "x-ratelimit-remaining-tokens": "999",
            "openai-processing-ms": "12",
            "content-type": "text/event-stream",
        }
    )
    assert kept == {
        "x-request-id": "req_1",
        "x-ratelimit-remaining-tokens": "999",
        "openai-processing-ms": "12",
        "content-type": "text/event-stream",
    }


def test_the_filter_rewrites_records_and_tracebacks() -> None:
    try:
        raise ValueError(f"GET http://u/v1?api_key={QUERY_KEY}")
    except ValueError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.INFO, __file__, 1, "to %s", (f"http://u/?token={QUERY_KEY}",), sys.exc_info()
        )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "to http://u/?token=***qk42"
    assert record.exc_text is not None and QUERY_KEY not in record.exc_text and "***qk42" in record.exc_text


def test_short_secrets_are_hidden_whole() -> None:
    assert redact("Bearer short") == "Bearer ***"
    assert redact("x" * 11) == "***"
    assert redact("sk-0123456789-abcd") == "***abcd"


def test_prose_is_not_a_credential() -> None:
    for text in ("Basic usage of the proxy", "bearer of bad news", "a basic 12345 test"):
        assert redact_text(text) == text
    assert redact_text("auth: Basic dXNlcjpwYXNzd29yZA==") == "auth: Basic ***ZA=="
