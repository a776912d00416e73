"""The plain-HTTP answers on the WebSocket port, from a real server on loopback: the routes,
and the refusal of an upgrade without the token."""

from __future__ import annotations

import asyncio
import json
from importlib import metadata

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from asr_interface.client import StreamingClient
from asr_interface.protocol import Ready
from tests.server.asr_calls import http_get, receive, stream_file
from tests.server.conftest import TOKEN, ServerProcess
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
    """Without the right token the upgrade is answered with HTTP 401."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(guarded_server.url + query, additional_headers=headers):
            pass
    assert refused.value.response.status_code == 401


async def test_token_in_header_or_query_is_accepted(guarded_server: ServerProcess) -> None:
    """The token works as a Bearer header or as ?token=, and /backends wants it too."""
    async with connect(guarded_server.url + f"?token={TOKEN}") as connection:
        assert isinstance(await receive(connection), Ready)
    async with StreamingClient(guarded_server.url, token=TOKEN) as client:
        assert client.ready is not None
    assert http_get(guarded_server, "/backends")[0] == 401
    assert http_get(guarded_server, "/backends", token=TOKEN)[0] == 200
    assert http_get(guarded_server, "/health")[0] == 200
