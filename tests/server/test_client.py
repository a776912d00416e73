"""The Python client against a real server: its sources, its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import cycle
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.audio import SAMPLING_RATE
from asr_interface.client import AudioSource, ServerError, StreamingClient
from asr_interface.errors import AudioDecodeError
from asr_interface.evaluation import word_error_rate
from asr_interface.protocol import Commit, Done, Partial, Ready, ServerMessage
from tests.server.conftest import ServerProcess
from tests.speech import SHORT, speech_audio, speech_path, transcript

pytestmark = pytest.mark.model

CLIP_SECONDS = speech_audio(SHORT).size / SAMPLING_RATE


async def stream_all(client: StreamingClient, source: AudioSource) -> list[ServerMessage]:
    return [message async for message in client.stream(source)]


def text_of(messages: list[ServerMessage]) -> str:
    return "".join(m.text for m in messages if isinstance(m, Commit))


async def uneven_chunks(audio: npt.NDArray[np.float32]) -> AsyncIterator[npt.NDArray[np.float32]]:
    """A live source: chunks of varying length, as a capture device delivers them."""
    begin = 0
    for size in cycle([800, 4000, 1234, 16000, 320]):
        if begin >= len(audio):
            return
        yield audio[begin : begin + size]
        begin += size


@pytest.mark.parametrize("kind", ["array", "async-iterator", "path"])
async def test_every_source_kind_is_transcribed(server: ServerProcess, kind: str) -> None:
    """A numpy array, an async iterator of chunks and a file path all stream to the same
    transcript, ending with `done` for the whole audio."""
    audio = speech_audio(SHORT)
    sources: dict[str, AudioSource] = {
        "array": audio,
        "async-iterator": uneven_chunks(audio),
        "path": speech_path(SHORT),
    }
    async with StreamingClient(server.url) as client:
        assert isinstance(client.ready, Ready)
        messages = await stream_all(client, sources[kind])
    assert isinstance(messages[-1], Done)
    assert messages[-1].audio_seconds == pytest.approx(CLIP_SECONDS, abs=0.001)
    assert word_error_rate(transcript(SHORT), text_of(messages)) <= 0.2
    assert all(isinstance(m, Commit | Partial | Done) for m in messages)


async def test_streams_follow_one_another_on_a_session(server: ServerProcess) -> None:
    """A second stream on the same session starts from time 0 with nothing of the first."""
    async with StreamingClient(server.url) as client:
        first = await stream_all(client, speech_audio(SHORT))
        second = await stream_all(client, speech_audio(SHORT))
    assert text_of(first) == text_of(second)
    assert [m.start for m in first if isinstance(m, Commit)] == [
        m.start for m in second if isinstance(m, Commit)
    ]


async def test_missing_file_fails_before_any_audio_is_sent(
    server: ServerProcess, tmp_path: Path
) -> None:
    """A missing file raises `AudioDecodeError` before the stream starts: the session is
    left idle, and the next stream holds only its own audio."""
    async with StreamingClient(server.url) as client:
        with pytest.raises(AudioDecodeError, match="not found"):
            await stream_all(client, tmp_path / "missing.wav")
        messages = await stream_all(client, speech_audio(SHORT))
    assert isinstance(messages[-1], Done)
    assert messages[-1].audio_seconds == pytest.approx(CLIP_SECONDS, abs=0.001)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"model": "base.en"}, "model_not_allowed"),
        ({"model": "no-such-model"}, "model_load_failed"),
        ({"backend": "no-such-backend"}, "unknown_backend"),
        ({"beam_size": 0}, "invalid_config"),
    ],
)
async def test_refused_load_model_raises_server_error(
    server: ServerProcess, fields: dict[str, object], code: str
) -> None:
    """A refused or failed `load_model` raises `ServerError` carrying the error code, and
    the session streams on with its model."""
    async with StreamingClient(server.url) as client:
        with pytest.raises(ServerError) as refused:
            await client.load_model(**fields)
        assert refused.value.code == code
        messages = await stream_all(client, speech_audio(SHORT))
    assert word_error_rate(transcript(SHORT), text_of(messages)) <= 0.2


async def test_token_is_sent_as_a_bearer_header(server: ServerProcess) -> None:
    """A client given a token still connects to a server that needs none."""
    async with StreamingClient(server.url, token="unused") as client:
        assert client.ready is not None
        assert client.ready.config["model"] == "tiny.en"
