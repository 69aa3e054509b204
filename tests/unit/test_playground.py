"""The playground's files ship inside the installed package, and ``Accept`` picks page or JSON."""

from __future__ import annotations

from importlib import resources

import pytest

from fakellm.playground import ASSETS, asset, wants_html


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_the_installed_package_has_the_playground_files(name: str) -> None:
    shipped = resources.files("fakellm").joinpath("playground", name)
    assert shipped.is_file(), f"{name} is not in the installed fakellm package"
    found = asset(name)
    assert found is not None
    body, content_type = found
    assert body == shipped.read_bytes() and len(body) > 500
    assert content_type.endswith("charset=utf-8")


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """No CDN, no font download: every URL the files name is this server's own."""
    for name in ASSETS:
        found = asset(name)
        assert found is not None
        text = found[0].decode()
        for scheme in ("http://", "https://", "//cdn", "@import", "fonts.googleapis"):
            assert scheme not in text.replace("https://html.spec.whatwg.org", ""), (name, scheme)


@pytest.mark.parametrize("name", ["../__init__.py", "__init__.py", "index.htm", "", "app.js/", "APP.JS"])
def test_only_the_named_files_are_served(name: str) -> None:
    assert asset(name) is None


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8", True),  # Chromium
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # Firefox
        ("text/html", True),
        ("application/json, text/html;q=0.5", False),
        ("text/html, application/json", False),  # a tie is JSON
        ("text/html;q=0.9, application/json;q=0.1", True),
        ("*/*", False),  # curl, httpx, the SDKs
        ("application/json", False),
        ("text/html;q=0", False),
        ("text/html;q=x", False),
        ("", False),
        (None, False),
    ],
)
def test_accept_picks_the_page_or_the_json(accept: str | None, html: bool) -> None:
    assert wants_html(accept) is html
