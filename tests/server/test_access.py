"""Who may open a session: the token and the Origin checks, read from request headers."""

from __future__ import annotations

import pytest
from websockets.datastructures import Headers

from asr_interface.server.access import origin_allowed, token_matches

TOKEN = "t0ken"
BEARER = ("Authorization", f"Bearer {TOKEN}")
HOST = ("Host", "127.0.0.1:43007")


@pytest.mark.parametrize(
    ("headers", "path", "matches"),
    [
        ([BEARER], "/asr", True),
        ([], f"/asr?token={TOKEN}", True),
        ([], "/asr", False),
        (
            [("Authorization", f"Bearer {TOKEN}"), ("Authorization", f"Bearer {TOKEN}")],
            "/asr",
            False,
        ),
        ([("Authorization", "Bearer x"), ("Authorization", f"Bearer {TOKEN}")], "/asr", False),
        ([], f"/asr?token={TOKEN}&token={TOKEN}", False),
        ([("Authorization", TOKEN)], "/asr", False),
    ],
    ids=["header", "query", "none", "header-twice", "wrong-then-right", "query-twice", "no-bearer"],
)
def test_token_is_taken_from_exactly_one_place(
    headers: list[tuple[str, str]], path: str, matches: bool
) -> None:
    """One Bearer header or one `?token=` carries the token; repeated ones are refused
    rather than guessed between."""
    assert token_matches(Headers(headers), path, TOKEN) is matches


def test_without_a_token_everyone_is_authorized() -> None:
    """A server without a token lets any request through, duplicate headers included."""
    headers = Headers([("Authorization", "a"), ("Authorization", "b")])
    assert token_matches(headers, "/asr", None)


@pytest.mark.parametrize(
    ("origins", "allowed"),
    [
        ([], True),
        (["http://127.0.0.1:43007"], True),
        (["HTTPS://127.0.0.1:43007/"], True),
        (["http://evil.example"], False),
        (["http://127.0.0.1:43008"], False),
        (["null"], False),
        (["file://127.0.0.1:43007"], False),
        (["https://app.example"], True),
        (["https://app.example", "http://127.0.0.1:43007"], False),
    ],
    ids=[
        "none",
        "same",
        "same-case-slash",
        "foreign",
        "other-port",
        "null",
        "file",
        "listed",
        "twice",
    ],
)
def test_origin_must_be_the_servers_own_or_listed(origins: list[str], allowed: bool) -> None:
    """Programs (no Origin), the server's own page and listed origins may connect; other
    pages, opaque origins and repeated headers may not."""
    headers = Headers([HOST, *(("Origin", origin) for origin in origins)])
    assert origin_allowed(headers, frozenset({"https://app.example"})) is allowed


def test_a_star_allows_every_origin() -> None:
    """`*` in the allowed origins turns the check off for single Origin headers."""
    headers = Headers([HOST, ("Origin", "http://evil.example")])
    assert origin_allowed(headers, frozenset({"*"}))
