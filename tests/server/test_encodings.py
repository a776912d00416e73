"""`/asr` with telephony and compressed audio, end to end: real speech converted in the
test, a real server, the real tiny.en model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from asr_interface.cli.main import main
from asr_interface.client import StreamingClient
from asr_interface.evaluation import word_error_rate
from asr_interface.protocol import Commit, Done, Error, ServerMessage
from tests.encoded_audio import COMPRESSED_FORMATS, encode_g711, encode_speech
from tests.server.conftest import ServerProcess
from tests.speech import JFK, speech_audio, transcript

pytestmark = pytest.mark.model


def outcome(messages: list[ServerMessage]) -> tuple[str, Done, list[str]]:
    """The joined commits, the `done` and the error codes of one stream."""
    text = "".join(m.text for m in messages if isinstance(m, Commit))
    (done,) = [m for m in messages if isinstance(m, Done)]
    return text, done, [m.code for m in messages if isinstance(m, Error)]


@pytest.mark.parametrize("name", COMPRESSED_FORMATS)
async def test_compressed_speech_is_transcribed(server: ServerProcess, name: str) -> None:
    """A recording sent in its compressed bytes (`encoding: "auto"`) is decoded by the
    server and transcribed as well as PCM."""
    data = encode_speech(speech_audio(JFK), name)
    async with StreamingClient(server.url) as client:
        text, done, errors = outcome([m async for m in client.stream_encoded(data)])
    assert errors == []
    assert done.audio_seconds == pytest.approx(11.0, abs=0.1)
    assert word_error_rate(transcript(JFK), text) <= 0.1


@pytest.mark.parametrize("codec", ["pcm_mulaw", "pcm_alaw"])
async def test_telephony_speech_is_transcribed(server: ServerProcess, codec: str) -> None:
    """8 kHz G.711 speech, as a phone system sends it, declared in `start`."""
    coded = encode_g711(speech_audio(JFK), codec)
    async with StreamingClient(server.url) as client:
        await client.connection.send(
            json.dumps({"type": "start", "encoding": codec, "sample_rate": 8000})
        )
        for begin in range(0, len(coded), 1600):
            await client.connection.send(coded[begin : begin + 1600])
        await client.connection.send(json.dumps({"type": "end"}))
        messages = [await client._receive()]
        while not isinstance(messages[-1], Done):
            messages.append(await client._receive())
    text, done, errors = outcome(messages)
    assert errors == []
    assert done.audio_seconds == pytest.approx(11.0, abs=0.05)
    assert word_error_rate(transcript(JFK), text) <= 0.15


async def test_corrupt_stream_ends_cleanly_and_the_session_goes_on(server: ServerProcess) -> None:
    """Bytes no demuxer knows get `invalid_audio` once 16 KiB are in, and `done` ends the
    stream without the client's `end`; the session's next stream works."""
    garbage = np.random.default_rng(3).integers(0, 256, 40_000, dtype=np.uint8).tobytes()
    async with StreamingClient(server.url) as client:
        await client.connection.send(json.dumps({"type": "start", "encoding": "auto"}))
        for begin in range(0, len(garbage), 4000):
            await client.connection.send(garbage[begin : begin + 4000])
        replies = [await client._receive()]
        while not isinstance(replies[-1], Done):
            replies.append(await client._receive())
        codes = [reply.code for reply in replies if isinstance(reply, Error)]
        assert codes[0] == "invalid_audio"
        assert set(codes[1:]) <= {"audio_after_end"}  # the frames after the failure
        assert replies[-1].audio_seconds == 0.0
        messages = [m async for m in client.stream(speech_audio(JFK))]
    text, _, errors = outcome(messages)
    assert set(errors) <= {"audio_after_end"}  # garbage frames that arrived after `done`
    assert word_error_rate(transcript(JFK), text) <= 0.1


def test_stream_command_sends_a_files_bytes(
    server: ServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`asr-interface stream FILE --encoding auto` sends an Ogg Opus file as it is and
    prints the server's commits."""
    path = tmp_path / "jfk.ogg"
    path.write_bytes(encode_speech(speech_audio(JFK), "ogg_opus"))
    status = main(["stream", str(path), "--encoding", "auto", "--no-realtime", "--url", server.url])
    printed = capsys.readouterr()
    assert status == 0
    words = " ".join(line.split(maxsplit=2)[2] for line in printed.out.splitlines())
    assert word_error_rate(transcript(JFK), words) <= 0.1
    assert "# done: 11.0 s of audio" in printed.err
