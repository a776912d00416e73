"""The server and `simulate` pace a stream with one rule: a recording streamed to a real server
at real-time pace and the same recording simulated take the same steps and commit the same
words."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from asr_interface.backends.loaded import load_model
from asr_interface.cli.main import build_parser
from asr_interface.cli.serve import serving_config
from asr_interface.client import StreamingClient
from asr_interface.core.pacing import Pacing
from asr_interface.protocol import Commit
from asr_interface.simulation import simulate
from tests.server.conftest import ServerProcess, running_server
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model

FRAME_SECONDS = 1.0


def model_calls(server: ServerProcess) -> float:
    """How many model calls the server has made, from its metrics."""
    with urllib.request.urlopen(server.http_url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "asr_model_call_seconds_count":
                return sample.value
    raise AssertionError("no model call count in /metrics")


async def test_real_time_stream_steps_as_simulated() -> None:
    """JFK sent in 1 s frames at real-time pace to a default server commits exactly the
    words, in the same steps, that `simulate` commits for the same frames and configuration."""
    audio = speech_audio(JFK)
    config = serving_config(build_parser().parse_args(["serve"]))
    simulated = simulate(
        load_model(config).open_stream(),
        audio,
        pacing=Pacing.from_config(config),
        frame_sec=FRAME_SECONDS,
        compute_aware=False,
    )
    with running_server() as server:
        before = model_calls(server)
        async with StreamingClient(server.url) as client:
            commits = [
                message
                for message in [
                    m
                    async for m in client.stream(audio, realtime=True, chunk_seconds=FRAME_SECONDS)
                ]
                if isinstance(message, Commit)
            ]
        calls = model_calls(server) - before
    assert [commit.text for commit in commits] == [c.text for c in simulated.commits]
    assert calls == simulated.asr_calls
