"""Who may open a session: the token, Host and Origin checks, read from request headers."""

from __future__ import annotations

import hmac

import pytest
from websockets.datastructures import Headers
from websockets.typing import Subprotocol

from asr_interface.server.access import (
    LOOPBACK_HOSTS,
    answered_subprotocol,
    host_allowed,
    origin_allowed,
    request_host,
    token_matches,
)
from asr_interface.server.settings import ServerSettings

TOKEN = "t0ken"
BEARER = ("Authorization", f"Bearer {TOKEN}")
HOST = ("Host", "127.0.0.1:43007")
KEY = f"openai-insecure-api-key.{TOKEN}"
BETA = "openai-beta.realtime-v1"


def offer(*subprotocols: str) -> tuple[str, str]:
    """A `Sec-WebSocket-Protocol` header offering `subprotocols`, as browsers write it."""
    return ("Sec-WebSocket-Protocol", ", ".join(subprotocols))


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
        ([offer(KEY)], "/asr", True),
        ([offer("realtime", KEY, BETA)], "/v1/realtime", True),
        ([offer("realtime"), offer(KEY)], "/v1/realtime", True),
        ([offer("realtime", "openai-insecure-api-key.wrong")], "/v1/realtime", False),
        ([offer(KEY, KEY)], "/asr", False),
        ([offer("openai-insecure-api-key.")], "/asr", False),
        ([offer("realtime")], "/v1/realtime", False),
        ([BEARER, offer(KEY)], f"/asr?token={TOKEN}", True),
        ([BEARER, offer("openai-insecure-api-key.wrong")], "/asr", False),
        ([offer(KEY)], "/asr?token=wrong", False),
        ([BEARER, ("Sec-WebSocket-Protocol", "a b")], "/asr", False),
    ],
    ids=[
        "header",
        "query",
        "none",
        "header-twice",
        "wrong-then-right",
        "query-twice",
        "no-bearer",
        "subprotocol",
        "subprotocol-among-others",
        "subprotocol-in-a-second-header",
        "subprotocol-wrong",
        "subprotocol-twice",
        "subprotocol-empty",
        "realtime-alone",
        "every-place-agrees",
        "header-right-subprotocol-wrong",
        "subprotocol-right-query-wrong",
        "malformed-offer",
    ],
)
def test_token_is_taken_from_one_header_subprotocol_or_query(
    headers: list[tuple[str, str]], path: str, matches: bool
) -> None:
    """A Bearer header, an `openai-insecure-api-key.` subprotocol among others offered, or
    a `?token=` carries the token; a place holding it twice, a malformed offer and places
    that disagree are refused rather than guessed between."""
    assert token_matches(Headers(headers), path, TOKEN) is matches


def test_every_offered_token_is_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each token a request carries goes through `hmac.compare_digest`, the later ones too
    when the first is already wrong, so the answer's timing tells nothing about them."""
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    headers = Headers([("Authorization", "Bearer wrong"), offer("realtime", KEY)])
    assert not token_matches(headers, f"/asr?token={TOKEN}", TOKEN)
    assert compared == [(b"wrong", TOKEN.encode()), *[(TOKEN.encode(), TOKEN.encode())] * 2]


@pytest.mark.parametrize(
    ("path", "offered", "answer"),
    [
        ("/v1/realtime", ["realtime", KEY, BETA], "realtime"),
        ("/v1/realtime", [BETA, KEY], KEY),
        ("/asr", ["realtime", KEY], KEY),
        ("/asr", [KEY], KEY),
        ("/asr", ["realtime"], None),
        ("/v1/realtime", [BETA], None),
        ("/asr", ["chat", "openai-insecure-api-key."], None),
        ("/asr", [], None),
    ],
    ids=[
        "openai-browser-client",
        "beta-and-key",
        "realtime-off-its-path",
        "key-alone",
        "realtime-alone-off-its-path",
        "beta-alone",
        "foreign",
        "none",
    ],
)
def test_the_upgrade_answers_with_an_offered_subprotocol_it_accepts(
    path: str, offered: list[str], answer: str | None
) -> None:
    """`realtime` on the Realtime path, as OpenAI's API answers its browser clients, else
    the token subprotocol echoed (a browser drops a connection whose answer names nothing
    it offered); subprotocols the server does not speak are never answered."""
    assert answered_subprotocol(path, [Subprotocol(each) for each in offered]) == answer


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


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("127.0.0.1:43007", "127.0.0.1"),
        ("LOCALHOST", "localhost"),
        ("[::1]:43007", "::1"),
        ("::1", "::1"),
        ("asr.example:443", "asr.example"),
    ],
)
def test_the_host_name_is_read_without_port_or_brackets(host: str, name: str) -> None:
    assert request_host(host) == name


@pytest.mark.parametrize(
    ("hosts", "allowed"),
    [
        (["127.0.0.1:43007"], True),
        (["localhost:43007"], True),
        (["[::1]:43007"], True),
        (["rebound.example:43007"], False),
        ([], False),
        (["localhost", "rebound.example"], False),
    ],
    ids=["loopback", "localhost", "ipv6", "rebound", "none", "twice"],
)
def test_host_must_be_a_known_name(hosts: list[str], allowed: bool) -> None:
    """A request names one of the server's known hosts, once: a page whose name was
    rebound to this machine still names its own host."""
    headers = Headers([("Host", host) for host in hosts])
    assert host_allowed(headers, ServerSettings().host_names()) is allowed


def test_known_hosts_are_loopback_the_listening_address_and_the_allowed() -> None:
    """A wildcard address names no host; a given one does; `--allowed-hosts` adds more."""
    assert ServerSettings(host="0.0.0.0").host_names() == LOOPBACK_HOSTS
    assert "192.0.2.7" in ServerSettings(host="192.0.2.7").host_names()
    assert "asr.example" in ServerSettings(allowed_hosts=("ASR.example",)).host_names()
    with pytest.raises(ValueError, match="an allowed host"):
        ServerSettings(allowed_hosts=("asr.example/path",))
