"""The plain-HTTP answers on the WebSocket port, from a real server on loopback: the routes,
and the refusal of an upgrade without the token."""

from __future__ import annotations

import asyncio
import http.client
import json
from importlib import metadata
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response
from websockets.typing import Subprotocol

from asr_interface.client import StreamingClient
from asr_interface.protocol import Ready
from tests.server.asr_calls import http_get, receive, sessions_closed, stream_file
from tests.server.conftest import TOKEN, ServerProcess, running_server
from tests.speech import SHORT, speech_audio

pytestmark = pytest.mark.model


def test_health_backends_and_metrics_answer(server: ServerProcess) -> None:
    """The HTTP routes answer on the WebSocket port: health, backends and Prometheus text
    with the asr_ metrics."""
    asyncio.run(stream_file(server.url, SHORT))
    status, body = http_get(server, "/health")
    health = json.loads(body)
    assert status == 200
    assert health["status"] == "ok"
    assert health["version"] == metadata.version("asr-interface")
    assert "tiny.en" in health["models"]
    status, body = http_get(server, "/backends")
    backends = json.loads(body)
    assert status == 200
    assert "faster-whisper" in backends["backends"]
    assert backends["default"]["model"] == "tiny.en"
    assert backends["allowed_models"] == ["no-such-model", "tiny.en"]
    status, body = http_get(server, "/metrics")
    assert status == 200
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    assert samples["asr_sessions_total"] >= 1
    assert samples["asr_audio_seconds_total"] >= speech_audio(SHORT).size / 16000 - 0.01
    assert samples["asr_model_call_seconds_count"] >= 1
    assert samples["asr_commit_latency_seconds_count"] >= 1
    assert "asr_sessions_active" in samples
    assert http_get(server, "/no-such-route")[0] == 404


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({}, ""),
        ({"Authorization": "Bearer wrong"}, ""),
        ({"Authorization": TOKEN}, ""),
        ({}, "?token=wrong"),
    ],
    ids=["missing", "wrong-header", "not-bearer", "wrong-query"],
)
async def test_missing_or_wrong_token_is_refused_before_upgrade(
    guarded_server: ServerProcess, headers: dict[str, str], query: str
) -> None:
    """Without the right token the upgrade is answered with HTTP 401 and the protocol's
    `unauthorized` error, naming the Bearer scheme."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(guarded_server.url + query, additional_headers=headers):
            pass
    assert_unauthorized(refused.value.response)


def assert_unauthorized(response: Response) -> None:
    """`response` is the one answer to a missing or wrong token."""
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    error = json.loads(response.body)
    assert (error["type"], error["code"]) == ("error", "unauthorized")


BROWSER_OFFER = ["realtime", f"openai-insecure-api-key.{TOKEN}", "openai-beta.realtime-v1"]
"""What OpenAI's browser clients offer, which cannot set an `Authorization` header."""


@pytest.mark.parametrize(
    ("path", "answer", "first"),
    [
        ("/v1/realtime", "realtime", "session.created"),
        ("/asr", f"openai-insecure-api-key.{TOKEN}", "ready"),
    ],
)
async def test_token_as_subprotocol_is_accepted_and_answered(
    guarded_server: ServerProcess, path: str, answer: str, first: str
) -> None:
    """A client offering the token as `openai-insecure-api-key.<token>` beside `realtime`
    gets a session, and the handshake answers with an offered subprotocol (`realtime` on
    the Realtime path, the key on `/asr`), without which a browser drops the connection;
    the same offer with a wrong key is refused."""
    url = guarded_server.url.removesuffix("/asr") + path
    await sessions_closed(guarded_server)  # it holds one session at a time
    async with connect(url, subprotocols=[Subprotocol(s) for s in BROWSER_OFFER]) as accepted:
        assert accepted.subprotocol == answer
        assert accepted.response is not None
        assert accepted.response.headers["Sec-WebSocket-Protocol"] == answer
        assert json.loads(await asyncio.wait_for(accepted.recv(), 60))["type"] == first
    wrong = ["realtime", "openai-insecure-api-key.wrong"]
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, subprotocols=[Subprotocol(s) for s in wrong]):
            pass
    assert_unauthorized(refused.value.response)


async def test_token_in_header_or_query_is_accepted(guarded_server: ServerProcess) -> None:
    """The token works as a Bearer header or as ?token=, and /backends wants it too."""
    async with connect(guarded_server.url + f"?token={TOKEN}") as connection:
        assert isinstance(await receive(connection), Ready)
    async with StreamingClient(guarded_server.url, token=TOKEN) as client:
        assert client.ready is not None
    status, body = http_get(guarded_server, "/backends")
    assert (status, json.loads(body)["code"]) == (401, "unauthorized")
    assert http_get(guarded_server, "/backends", token=TOKEN)[0] == 200
    assert http_get(guarded_server, "/health")[0] == 200


def status_for_host(server: ServerProcess, path: str, host: str) -> int:
    """The status of a GET on `path` whose `Host` header names `host` (the server's port)."""
    address = urlsplit(server.http_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": f"{host}:{address.port}"})
        return connection.getresponse().status
    finally:
        connection.close()


async def test_without_a_token_only_known_host_names_are_answered(server: ServerProcess) -> None:
    """A page whose name was rebound to this machine names its own host: without a token
    the server refuses it the page, the sockets and the model routes (403), while the
    loopback names and probes of `/health` under any name are answered."""
    assert [status_for_host(server, "/", host) for host in ("127.0.0.1", "localhost")] == [200] * 2
    for path in ("/", "/backends", "/static/main.js"):
        assert status_for_host(server, path, "rebound.example") == 403, path
    assert status_for_host(server, "/health", "rebound.example") == 200
    rebound = {"Host": f"rebound.example:{urlsplit(server.url).port}"}
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.url, additional_headers=rebound):
            pass
    assert refused.value.response.status_code == 403


def test_allowed_hosts_and_a_token_open_other_names(guarded_server: ServerProcess) -> None:
    """`--allowed-hosts` names more hosts; with a token the token guards, whatever the name."""
    assert status_for_host(guarded_server, "/", "rebound.example") == 200
    with running_server("--allowed-hosts", "asr.example") as named:
        assert status_for_host(named, "/", "asr.example") == 200
        assert status_for_host(named, "/", "rebound.example") == 403
