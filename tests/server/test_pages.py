"""The page routes: which paths they answer, with what, and that nothing else is reachable."""

from __future__ import annotations

import re

import pytest
from websockets.datastructures import Headers

from asr_interface.server.pages import page_response
from asr_interface.wire import ErrorCode


def get(path: str, **headers: str) -> tuple[int, Headers, bytes]:
    response = page_response(path, Headers(headers))
    assert response is not None, f"{path} was not answered"
    return response.status_code, response.headers, response.body


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/static/index.html", "text/html; charset=utf-8"),
        ("/static/main.js", "text/javascript; charset=utf-8"),
        ("/static/capture-worklet.js", "text/javascript; charset=utf-8"),
        ("/static/app.css", "text/css; charset=utf-8"),
    ],
)
def test_assets_are_served_with_their_type(path: str, content_type: str) -> None:
    """Each asset comes back whole, typed, and with the headers that keep the page safe."""
    status, headers, body = get(path)
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers["Content-Length"] == str(len(body))
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert body


@pytest.mark.parametrize(
    "path",
    [
        "/static/missing.js",
        "/static/",
        "/static/../pages.py",
        "/static/..%2Fpages.py",
        "/static/%2e%2e/app.py",
        "/static//etc/passwd",
        "/static/../../../../etc/passwd",
        "/static/__init__.py",
    ],
)
def test_unknown_and_escaping_paths_are_not_found(path: str) -> None:
    """Only files of the static folder are served; anything else, traversal included, is 404."""
    status, _, body = get(path)
    assert status == 404
    assert b"no asset" in body


@pytest.mark.parametrize("path", ["/asr", "/health", "/backends", "/metrics", "/staticfile"])
def test_other_paths_are_left_to_the_server(path: str) -> None:
    """Paths outside the page's own are not answered here."""
    assert page_response(path, Headers()) is None


def test_unchanged_asset_is_not_sent_again() -> None:
    """A browser offering the current ETag gets a bodiless 304; a stale one gets the file."""
    _, headers, body = get("/static/main.js")
    etag = headers["ETag"]
    assert headers["Cache-Control"] == "no-cache"

    status, revalidated, again = get("/static/main.js", **{"If-None-Match": f'"stale", {etag}'})
    assert (status, again, revalidated["ETag"]) == (304, b"", etag)

    status, _, fresh = get("/static/main.js", **{"If-None-Match": '"stale"'})
    assert (status, fresh) == (200, body)


def _references() -> set[str]:
    """Every asset path the page loads, following module imports and the worklet."""
    _, _, html = get("/")
    pending = re.findall(r'(?:src|href)="(/static/[^"]+)"', html.decode())
    found: set[str] = set()
    while pending:
        path = pending.pop()
        if path in found:
            continue
        found.add(path)
        status, _, source = get(path)
        if status == 200 and path.endswith(".js"):
            imports = re.findall(r'(?:from |new URL\()"\./([^"]+)"', source.decode())
            pending += [f"/static/{name}" for name in imports]
    return found


def test_everything_the_page_loads_is_served() -> None:
    """Each stylesheet, script, imported module and worklet the page names exists."""
    references = _references()
    assert {"/static/app.css", "/static/transcript.js", "/static/capture-worklet.js"} <= references
    for path in references:
        assert get(path)[0] == 200, path


def test_the_page_explains_every_error_code() -> None:
    """errors.js has a sentence for each code the server may send, so a new code is not
    shown to a person as its bare name."""
    _, _, body = get("/static/errors.js")
    table = body.decode().split("const EXPLANATIONS = {", 1)[1].split("};", 1)[0]
    explained = set(re.findall(r"^\s*([a-z_]+):", table, flags=re.MULTILINE))
    assert explained == {code.value for code in ErrorCode}
