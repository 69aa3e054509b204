"""Credentials out of everything fakellm keeps or prints: the journal, recordings and logs.

By rule, not by list: a header or query parameter is a secret when its name contains ``key``,
``token``, ``secret``, ``auth``, ``cookie``, ``signature``, ``passw`` or ``credential`` (any case;
``x-goog-api-key``, ``x-amz-security-token``, ``idempotency-key`` too: a harmless id hidden costs
nothing, a key kept in clear does), or is ``sig``, or names the account: ``openai-organization``
and ``openai-project`` (not credentials, but they identify whose key it was, and a recording is
made to be committed). One exception: a name ending in ``tokens`` counts tokens
(``x-ratelimit-remaining-tokens``) and is kept, unless another word marks it.

A secret is kept as its last 4 characters (:func:`redact`): enough to tell two keys apart. Logs
are rewritten by :class:`RedactingFilter`, on fakellm's loggers and the third-party ones that print
URLs or headers (httpx prints every upstream URL at ``info``; httpcore response headers at
``debug``), so a key sent as ``?api_key=...`` never reaches a log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

__all__ = [
    "RedactingFilter",
    "install_log_redaction",
    "is_secret_name",
    "redact",
    "redact_headers",
    "redact_query",
    "redact_text",
]

_SECRET_WORDS = re.compile(r"key|token(?!s$)|secret|auth|cookie|signature|passw|credential")
_SECRET_NAMES = frozenset({"sig", "openai-organization", "openai-project"})


def is_secret_name(name: str) -> bool:
    """Whether a header or query parameter called ``name`` carries a secret (see the module)."""
    lowered = unquote_plus(name).strip().lower()
    return lowered in _SECRET_NAMES or _SECRET_WORDS.search(lowered) is not None


def redact(value: str) -> str:
    """A credential as its last 4 characters (``Bearer ***x9Zq``): enough to tell keys apart,
    never enough to use one. An auth scheme word is kept; short secrets are hidden entirely."""
    scheme, _, secret = value.partition(" ")
    if not secret:
        scheme, secret = "", value
    hidden = f"***{secret[-4:]}" if len(secret) >= 12 else "***"
    return f"{scheme} {hidden}" if scheme else hidden


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers as the journal keeps them: lower-cased names, credentials redacted."""
    return {k.lower(): redact(v) if is_secret_name(k) else v for k, v in headers}


def redact_query(query: str) -> str:
    """A query string with the values of secret parameters redacted (``api_key=***x9Zq``); the
    rest is kept byte for byte."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        secret = sep and is_secret_name(name) and not value.startswith("***")
        parts.append(f"{name}={redact(unquote_plus(value))}" if secret else part)
    return "&".join(parts)


# In free text (a log line): ``name=value`` after ``?`` or ``&`` (a URL's query), a header as
# httpcore prints it (``(b'set-cookie', b'...')``), and a bearer token wherever it appears.
_QUERY_PAIR = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&#\s\"'<>]+)=(?P<value>[^&#\s\"'<>]*)")
_BYTES_HEADER = re.compile(r"\(b'(?P<name>[^']*)', b'(?P<value>[^']*)'\)")
# A credential has a digit or a punctuation mark in it; "Basic usage" is prose.
_BEARER = re.compile(
    r"(?i)\b(?P<scheme>bearer|basic)\s+(?P<value>(?=[A-Za-z]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,})"
)


def _query_pair(match: re.Match[str]) -> str:
    if not is_secret_name(match["name"]) or match["value"].startswith("***"):
        return match[0]
    return f"{match['lead']}{match['name']}={redact(unquote_plus(match['value']))}"


def _bytes_header(match: re.Match[str]) -> str:
    if not is_secret_name(match["name"]) or match["value"].startswith("***"):
        return match[0]
    return f"(b'{match['name']}', b'{redact(match['value'])}')"


def redact_text(text: str) -> str:
    """Free text (a log message, an exception's text) with the secrets it shows redacted."""
    if "=" in text:
        text = _QUERY_PAIR.sub(_query_pair, text)
    if "(b'" in text:
        text = _BYTES_HEADER.sub(_bytes_header, text)
    return _BEARER.sub(lambda m: f"{m['scheme']} {redact(m['value'])}", text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with :func:`redact_text` (it never drops a record). On a logger
    it sees only the records made there, not its children's; on a handler, every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format is logging's to report, not ours
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
            # A traceback's last line is the exception's text, which may hold the URL.
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        return True


# The loggers that can print a URL, a header or an exception's text. httpcore logs on its
# submodules' loggers, which a filter on "httpcore" would not see.
_LOGGERS = (
    "fakellm",
    "fakellm.proxy",
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "hypercorn.access",
    "hypercorn.error",
    "quart.app",
    "asyncio",
)
_FILTER = RedactingFilter()


def install_log_redaction(handlers: Iterable[logging.Handler] = ()) -> None:
    """Put the redacting filter on the loggers above and on ``handlers`` (the CLI's), once."""
    for target in [*(logging.getLogger(name) for name in _LOGGERS), *handlers]:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
