"""Who may open a session: the token, the Host a request names and the Origin of the
WebSocket upgrade.

Each kind of client carries the token where it can: programs in `Authorization: Bearer`,
browser pages in the `openai-insecure-api-key.<token>` subprotocol (the upgrade answers
with a subprotocol the page offered, or the browser drops the connection), and `?token=`
only for a client that can do neither, since addresses end up in logs.

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
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeader
from websockets.headers import parse_subprotocol
from websockets.typing import Subprotocol

from asr_interface.realtime_protocol import REALTIME_PATH


def normalized_origin(origin: str) -> str:
    """An origin as browsers send it: `scheme://host[:port]`, lower case, no slash."""
    return origin.strip().rstrip("/").lower()


TOKEN_SUBPROTOCOL = "openai-insecure-api-key."
"""The prefix of the WebSocket subprotocol that carries the token, as OpenAI's Realtime API
names it: the one credential a browser page can put on a WebSocket upgrade (it cannot set
headers) without writing it into the address, which proxies and servers log."""

REALTIME_SUBPROTOCOL = "realtime"
"""The subprotocol OpenAI's Realtime clients offer beside their key, and the one its API
answers with; only the Realtime path speaks it."""


def offered_subprotocols(headers: Headers) -> list[Subprotocol] | None:
    """The subprotocols a WebSocket upgrade offers, in order; `None` for a malformed header."""
    try:
        return [
            subprotocol
            for value in headers.get_all("Sec-WebSocket-Protocol")
            for subprotocol in parse_subprotocol(value)
        ]
    except InvalidHeader:
        return None


def offered_tokens(headers: Headers, path: str) -> list[str] | None:
    """Every token a request carries: `Authorization: Bearer`, the token subprotocol and
    `?token=`, at most one from each place; `None` when one place holds more than one (or a
    malformed subprotocol header), which is refused rather than guessed between."""
    authorizations = headers.get_all("Authorization")
    subprotocols = offered_subprotocols(headers)
    queried = parse_qs(urlsplit(path).query).get("token", [])
    if subprotocols is None:
        return None
    keys = [s.removeprefix(TOKEN_SUBPROTOCOL) for s in subprotocols if _carries_token(s)]
    bearers = [a.removeprefix("Bearer ").strip() for a in authorizations if a.startswith("Bearer ")]
    if len(authorizations) > 1 or len(keys) > 1 or len(queried) > 1:
        return None
    return bearers + keys + queried


def token_matches(headers: Headers, path: str, token: str | None) -> bool:
    """Whether the request carries `token`: as `Authorization: Bearer`, as the
    `openai-insecure-api-key.<token>` subprotocol, or as `?token=` (for a client that can do
    neither), each compared in constant time. A request giving it in several places must
    give the same token in each."""
    if token is None:
        return True
    offered = offered_tokens(headers, path)
    if not offered:
        return False
    matches = [hmac.compare_digest(each.encode(), token.encode()) for each in offered]
    return all(matches)


def answered_subprotocol(path: str, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """The subprotocol the server answers an upgrade on `path` with, among those `offered`.

    A browser fails a connection whose answer names none of the subprotocols it offered,
    so an offer is answered whenever the server accepts one of its parts: `realtime` on the
    Realtime path (what OpenAI's API answers), else the token subprotocol the client sent.
    Others (`openai-beta.realtime-v1`, names of other servers' protocols) are never
    answered; an offer of only those gets no subprotocol, and a browser gives up.
    """
    if path == REALTIME_PATH and REALTIME_SUBPROTOCOL in offered:
        return Subprotocol(REALTIME_SUBPROTOCOL)
    return next((each for each in offered if _carries_token(each)), None)


def _carries_token(subprotocol: str) -> bool:
    return subprotocol.startswith(TOKEN_SUBPROTOCOL) and len(subprotocol) > len(TOKEN_SUBPROTOCOL)


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
