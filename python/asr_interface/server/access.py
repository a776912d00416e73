"""Who may open a session: the bearer token and the Origin of the WebSocket upgrade.

Browsers let any page open a WebSocket to any address, the user's own machine included;
only the `Origin` header tells the server which page asks. A page the server serves
itself (same host and port), a listed origin, and clients that send no Origin at all
(programs, not pages) may connect.
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
