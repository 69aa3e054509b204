"""The browser playground: static files shipped in this folder, served by ``app.py`` at ``GET /``
(to browsers: ``Accept`` prefers ``text/html``) and at ``/_fakellm/playground``.

The page is plain HTML, CSS and JavaScript with no build step, no CDN and no font download: it
works offline, from a wheel, and it only talks to the server that served it (its
Content-Security-Policy says so, and the browser enforces it). Everything it shows comes from the
public routes: the streaming routes, ``GET /v1/models``, ``GET /_fakellm/scenarios`` and the journal.
Only the files named in :data:`ASSETS` are served; any other name is a 404, so no path from a
request ever reaches the file system.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["ASSETS", "CSP", "PATH", "asset", "wants_html"]

PATH = "/_fakellm/playground"

# name -> content type
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

# The page may load and call nothing but this origin ('self'); the favicon is a data: URL.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


def asset(name: str) -> tuple[bytes, str] | None:
    """A shipped file's bytes and content type, or None for a name that is not one of them."""
    content_type = ASSETS.get(name)
    if content_type is None:
        return None
    return _read(name), content_type


@cache  # only names from ASSETS reach it, so the cache holds three files at most
def _read(name: str) -> bytes:
    return resources.files(__name__).joinpath(name).read_bytes()


def wants_html(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for a page rather than JSON: ``text/html`` named and
    ranked above ``application/json`` (or a wildcard that covers it; a tie is JSON). A browser's
    navigation does; curl's ``*/*``, httpx's and the SDKs' do not, nor does no header at all."""
    if not accept:
        return False
    html = json = 0.0
    for item in accept.split(","):
        kind, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        kind = kind.strip().lower()
        if kind == "text/html":
            html = max(html, quality)
        elif kind in ("application/json", "application/*", "*/*"):
            json = max(json, quality)
    return html > 0 and html > json
