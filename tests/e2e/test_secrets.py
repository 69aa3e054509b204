"""Credentials never kept or printed in clear: the journals of the server and the proxy, the proxy's
recordings, and the logs of a real ``fakellm proxy --log-level debug`` (httpx's included)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fakellm import ProxyServer, Server
from tests.helpers import chat_body, fakellm_process, raw_request

from ..conftest import FAST_TEXT

# Each secret is long enough to keep its last 4 characters in the journal: a test can tell
# "redacted" from "dropped" from "kept".
QUERY_KEY = "AIzaQUERYSECRET0123456789-qk42"
SECRETS = {
    "Authorization": "Bearer sk-AUTHSECRET-0123456789-au42",
    "x-goog-api-key": "AIzaGOOGSECRET0123456789-gg42",
    "api-key": "AZURESECRET-0123456789-az42",
    "x-amz-security-token": "AMZTOKENSECRET-0123456789-am42",
    "openai-organization": "org-ORGSECRET0123456789-or42",
    "openai-project": "proj_PROJSECRET0123456789-pr42",
    "Cookie": "session=COOKIESECRET0123456789-co42",
}
CLEAR = {"x-custom": "kept-as-is", "x-stainless-lang": "python"}
ALL_SECRETS = [QUERY_KEY, *SECRETS.values()]
PATH = f"/v1/chat/completions?api_key={QUERY_KEY}&alt=sse"


def _no_secret_in(text: str, where: str) -> None:
    for secret in ALL_SECRETS:
        # The secret itself, and enough of it to use or look up.
        assert secret not in text, f"{secret!r} in clear in {where}"
        assert secret[:-4] not in text, f"{secret!r} in part in {where}"


def _check_headers(headers: dict[str, str]) -> None:
    for name, value in SECRETS.items():
        assert headers[name.lower()] in (f"Bearer ***{value[-4:]}", f"***{value[-4:]}"), name
    for name, value in CLEAR.items():
        assert headers[name] == value


def test_the_server_journal_redacts_by_rule(server: Server) -> None:
    response = raw_request(server.port, chat_body(), path=PATH, headers={**SECRETS, **CLEAR})
    assert response.status == 200
    entry = server.journal.last
    assert entry is not None
    _check_headers(entry.headers)
    _no_secret_in(httpx.get(f"{server.url}/_fakellm/journal").text, "the server's journal")


@pytest.fixture
def upstream(make_server: Callable[..., Server]) -> Server:
    return make_server(seed=5, scenarios=[{"name": "default", "content": {"text": FAST_TEXT}}])


def test_the_proxy_journal_and_recording_redact_by_rule(
    make_proxy: Callable[..., ProxyServer],
    upstream: Server,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    proxy = make_proxy(upstream.base_url, record_dir=tmp_path)
    response = raw_request(proxy.port, chat_body(), path=PATH, headers={**SECRETS, **CLEAR})
    assert response.status == 200 and response.terminated
    for server in (proxy, upstream):  # the key reached the upstream; neither journal keeps it
        entry = server.journal.last
        assert entry is not None
        _check_headers(entry.headers)
        _no_secret_in(httpx.get(f"{server.url}/_fakellm/journal").text, f"{server.url}'s journal")
    recordings = list(tmp_path.glob("*.json"))
    assert len(recordings) == 1
    text = recordings[0].read_text()
    _no_secret_in(text, "the recording")
    assert json.loads(text)["events"], "the recording is whole"
    assert "HTTP Request" in caplog.text, "httpx logged the upstream URL..."
    assert "api_key=***qk42" in caplog.text
    _no_secret_in(caplog.text, "the log")  # ...with the key redacted


@pytest.mark.parametrize("level", ["info", "debug"])
def test_the_proxy_command_logs_no_secret(upstream: Server, level: str) -> None:
    """A real ``fakellm proxy`` process: every line it prints, third-party loggers' included."""
    with fakellm_process(
        "proxy", "--upstream", upstream.base_url, "--port", "0", "--log-level", level
    ) as proxy:
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/v1", proxy.first_line)
        assert match, proxy.first_line
        port = int(match.group(1))
        response = raw_request(port, chat_body(), path=PATH, headers={**SECRETS, **CLEAR})
        assert response.status == 200 and response.terminated
        # Upstream refusals and errors print too.
        raw_request(port, chat_body(), path=f"/v1/nope?access_token={QUERY_KEY}", headers=SECRETS)
    assert proxy.process.returncode == 0, proxy.err
    output = proxy.out + proxy.err
    assert "HTTP Request: POST" in output, output  # httpx did log the upstream request
    _no_secret_in(output, f"the proxy's output at --log-level {level}")
