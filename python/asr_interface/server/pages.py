"""The browser page and its assets, answered over plain HTTP on the server's port.

The files under `static/` ship inside the package and are served as they are: no build
step, no CDN. Only files that exist there are served, looked up by exact name, so a
request path can never reach anything outside the folder.
"""

from __future__ import annotations

import email.utils
import hashlib
import http
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from websockets.datastructures import Headers
from websockets.http11 import Response

PAGE_PATH = "/"
STATIC_PREFIX = "/static/"

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# The page loads nothing from elsewhere; the socket it opens is its own server's.
_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class _Asset:
    body: bytes
    content_type: str
    etag: str


@cache
def _assets() -> dict[str, _Asset]:
    """Every servable file by URL path, read once: they change only with the package."""
    assets: dict[str, _Asset] = {}
    root = resources.files("asr_interface.server") / "static"
    for name, entry in _walk(root, ""):
        suffix = name[name.rfind(".") :] if "." in name else ""
        content_type = _CONTENT_TYPES.get(suffix)
        if content_type is None:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        assets[STATIC_PREFIX + name] = _Asset(body, content_type, etag)
    index = assets.get(STATIC_PREFIX + "index.html")
    if index is not None:
        assets[PAGE_PATH] = index
    return assets


def _walk(folder: Traversable, prefix: str) -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            found += _walk(entry, f"{prefix}{entry.name}/")
        elif not entry.name.startswith("."):
            found.append((prefix + entry.name, entry))
    return found


def page_response(path: str, headers: Headers) -> Response | None:
    """The answer to a GET of `path`, or `None` when the path is not the page's to answer.

    Assets carry an ETag and `Cache-Control: no-cache`, so a browser keeps them but asks
    again each time and gets a bodiless 304 until the package is upgraded.
    """
    if path != PAGE_PATH and not path.startswith(STATIC_PREFIX):
        return None
    asset = _assets().get(path)
    if asset is None:
        return _response(
            http.HTTPStatus.NOT_FOUND,
            [("Content-Type", "text/plain; charset=utf-8")],
            f"no asset {path}\n".encode(),
        )
    cache_headers = [("ETag", asset.etag), ("Cache-Control", "no-cache")]
    # A list header: HTTP allows it split over several lines, read as one joined by commas.
    offered = ",".join(headers.get_all("If-None-Match"))
    if asset.etag in (tag.strip() for tag in offered.split(",")):
        return _response(http.HTTPStatus.NOT_MODIFIED, cache_headers, b"")
    return _response(
        http.HTTPStatus.OK,
        [
            ("Content-Type", asset.content_type),
            *cache_headers,
            ("Content-Security-Policy", _CONTENT_SECURITY_POLICY),
            ("X-Content-Type-Options", "nosniff"),
            # The page's own address may carry ?token=; it must not leak to other sites.
            ("Referrer-Policy", "no-referrer"),
        ],
        asset.body,
    )


def _response(status: http.HTTPStatus, headers: list[tuple[str, str]], body: bytes) -> Response:
    # The connection closes after a plain HTTP answer, as for every non-WebSocket route.
    common = [
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Connection", "close"),
    ]
    if status is not http.HTTPStatus.NOT_MODIFIED:
        common.append(("Content-Length", str(len(body))))
    return Response(status.value, status.phrase, Headers(common + headers), body)
