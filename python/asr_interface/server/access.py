"""Who may open a session: the bearer token, the Host a request names and the Origin of the
WebSocket upgrade.

Browsers let any page open a WebSocket to any address, the user's own machine included;
only the `Origin` header tells the server which page asks. A page the server serves
itself (same host and port), a listed origin, and clients that send no Origin at all
(programs, not pages) may connect.

A page's own origin is only as good as its host name: a page from a name its owner points
at 127.0.0.1 after it loaded (DNS rebinding) sends its requests, with an Origin that matches
their Host, to a server on the user's machine. So without a token a server answers only
for host names it knows (`host_allowed`): the loopback names, the address it listens on and
those of `--allowed-hosts`.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers


def normalized_origin(origin: str) -> str:
    """An origin as browsers send it: `scheme://host[:port]`, lower case, no slash."""
    return origin.strip().rstrip("/").lower()


def token_matches(headers: Headers, path: str, token: str | None) -> bool:
    """Whether the request carries `token` as `Authorization: Bearer` or `?token=`.

    More than one `Authorization` header is refused rather than guessed between.
    """
    if token is None:
        return True
    values = headers.get_all("Authorization")
    if len(values) > 1:
        return False
    header = values[0] if values else ""
    offered = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if not offered:
        tokens = parse_qs(urlsplit(path).query).get("token", [])
        if len(tokens) > 1:
            return False
        offered = tokens[0] if tokens else ""
    return hmac.compare_digest(offered.encode(), token.encode())


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""The names of the machine itself, allowed to a server that listens on loopback."""


def request_host(header: str) -> str:
    """The host name of a `Host` header, without its port or IPv6 brackets, lower case."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(headers: Headers, allowed: frozenset[str]) -> bool:
    """Whether a request's one `Host` header names an allowed host (`*`: any)."""
    if "*" in allowed:
        return True
    hosts = headers.get_all("Host")
    return len(hosts) == 1 and request_host(hosts[0]) in allowed


def origin_allowed(headers: Headers, allowed: frozenset[str]) -> bool:
    """Whether a WebSocket upgrade's Origin may open a session.

    `allowed` holds normalized origins; `*` allows every origin.
    """
    origins = headers.get_all("Origin")
    if not origins:
        return True  # not a browser page
    if len(origins) > 1:
        return False
    origin = normalized_origin(origins[0])
    if origin in allowed or "*" in allowed:
        return True
    hosts = headers.get_all("Host")
    parts = urlsplit(origin)
    return (
        len(hosts) == 1
        and parts.scheme in ("http", "https")
        and parts.netloc == hosts[0].strip().lower()
    )
