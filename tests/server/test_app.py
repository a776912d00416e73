"""The server end to end: real subprocesses on loopback, the real tiny.en model, real speech."""

from __future__ import annotations

import asyncio
import json
import threading
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from asr_interface.backends import registry
from asr_interface.backends.registry import get_loader, register_loader
from asr_interface.client import ServerError, StreamingClient
from asr_interface.core.config import ASRConfig
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.errors import ModelLoadError
from asr_interface.evaluation import word_error_rate
from asr_interface.protocol import (
    Commit,
    Done,
    Error,
    ModelLoaded,
    Ready,
    ResetDone,
    ServerMessage,
)
from tests.bad_inputs import BAD_INPUTS
from tests.server.asr_calls import REPLY_TIMEOUT, collect, joined, pcm16, receive, stream_file
from tests.server.conftest import TOKEN, ServerProcess, in_process_server, running_server
from tests.speech import JFK, SHORT, speech_audio, speech_path, transcript
from tests.wording import heard

pytestmark = pytest.mark.model

LONG = "long/ljspeech_LJ001-0001_to_0032.wav"
CLIPS = ["ljspeech/LJ001-0002.wav", "ljspeech/LJ001-0008.wav", "ljspeech/LJ001-0013.wav"]


async def raw_stream(connection: ClientConnection, name: str) -> str:
    """Streams a file on an open raw connection and returns the text of its commits."""
    await connection.send(json.dumps({"type": "start"}))
    audio = speech_audio(name)
    for begin in range(0, len(audio), 3200):
        await connection.send(pcm16(audio[begin : begin + 3200]))
    await connection.send(json.dumps({"type": "end"}))
    texts = []
    while not isinstance(message := await receive(connection), Done):
        assert not isinstance(message, Error), message
        if isinstance(message, Commit):
            texts.append(message.text)
    return "".join(texts)


async def test_jfk_in_real_time_gives_the_sentence(server: ServerProcess) -> None:
    """Streaming JFK at the pace of speech commits the famous sentence, word times inside
    the recording."""
    commits, done = await stream_file(server.url, JFK, realtime=True)
    text = joined(commits)
    assert heard("ask not what your country can do for you", text), text
    assert word_error_rate(transcript(JFK), text) < 0.2
    assert done.audio_seconds == pytest.approx(11.0, abs=0.01)
    assert all(0 <= c.start <= c.end <= done.audio_seconds + 0.5 for c in commits)


@pytest.mark.timeout(1200)
async def test_long_recording_sent_at_once_is_transcribed_whole(server: ServerProcess) -> None:
    """A 3.8-minute recording sent as fast as possible is transcribed completely: its
    commits concatenate to the transcript and come in stream order, inside the audio."""
    commits, done = await stream_file(server.url, LONG)
    assert word_error_rate(transcript(LONG), joined(commits)) < 0.12
    assert done.audio_seconds == pytest.approx(229.5, abs=0.01)
    words = [word for commit in commits for word in commit.words]
    assert all(0 <= w.start <= w.end <= done.audio_seconds + 0.5 for w in words)
    assert all(a.start <= b.start for a, b in pairwise(words))
    assert all(a.end <= b.start + 0.1 for a, b in pairwise(commits))
    assert [c.start for c in commits] == [c.words[0].start for c in commits]


async def test_concurrent_sessions_get_their_own_transcripts(server: ServerProcess) -> None:
    """Three sessions streaming different recordings at once each get their own text."""
    results = await asyncio.gather(*(stream_file(server.url, name) for name in CLIPS))
    for name, (commits, _) in zip(CLIPS, results, strict=True):
        assert word_error_rate(transcript(name), joined(commits)) <= 0.2, name


async def test_bad_input_gets_typed_errors_and_harms_no_one(server: ServerProcess) -> None:
    """Each bad input gets its error code while a clean session streams alongside; the clean
    transcript is the one it gets alone, and the offending session streams fine afterwards."""
    alone, _ = await stream_file(server.url, JFK)
    clean = asyncio.create_task(stream_file(server.url, JFK))
    codes = []
    async with connect(server.url, max_size=None) as connection:
        assert isinstance(await receive(connection), Ready)
        for frame, expected in BAD_INPUTS:
            await connection.send(frame)
            if expected:
                message = await receive(connection)
                codes.append(message.code if isinstance(message, Error) else message.type)
            else:
                codes.append("")
        assert codes == [expected for _, expected in BAD_INPUTS]
        text = await raw_stream(connection, SHORT)
    assert word_error_rate(transcript(SHORT), text) <= 0.2
    commits, _ = await clean
    assert joined(commits) == joined(alone)


async def test_load_model_reloads_the_default_and_streams(server: ServerProcess) -> None:
    """`load_model` with an allowed model answers `model_loaded` with its metadata; the
    session then streams with it."""
    async with StreamingClient(server.url) as client:
        loaded = await client.load_model(model="tiny.en", beam_size=5)
        assert isinstance(loaded, ModelLoaded)
        assert (loaded.config["model"], loaded.config["beam_size"]) == ("tiny.en", 5)
        assert loaded.metadata["backend"] == "faster-whisper"
        commits, _ = await collect(client, speech_audio(SHORT))
    assert word_error_rate(transcript(SHORT), joined(commits)) <= 0.2


async def test_audio_frames_are_not_compressed(server: ServerProcess) -> None:
    """The server declines permessage-deflate, which would cost CPU on every PCM frame."""
    async with connect(server.url) as connection:  # offers permessage-deflate by default
        assert isinstance(await receive(connection), Ready)
        assert connection.protocol.extensions == []


async def test_session_over_the_limit_is_closed_with_1013(guarded_server: ServerProcess) -> None:
    """Beyond --max-sessions a connection gets `too_many_sessions` and close code 1013; the
    session already open is unaffected."""
    async with StreamingClient(guarded_server.url, token=TOKEN) as first:
        async with connect(guarded_server.url + f"?token={TOKEN}") as second:
            refusal = await receive(second)
            assert isinstance(refusal, Error)
            assert refusal.code == "too_many_sessions"
            with pytest.raises(ConnectionClosed) as closed:
                await second.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1013
        with pytest.raises(ServerError) as caught:
            async with StreamingClient(guarded_server.url, token=TOKEN):
                pass
        assert caught.value.code == "too_many_sessions"
        commits, _ = await collect(first, speech_audio(SHORT))
        assert word_error_rate(transcript(SHORT), joined(commits)) <= 0.2


async def test_sigterm_mid_stream_delivers_the_tail_then_closes_with_1001() -> None:
    """On SIGTERM the server commits the rest of an open stream, sends `done` and closes
    with 1001, then exits cleanly."""
    with running_server() as stopping:
        async with StreamingClient(stopping.url) as client:
            after_signal: list[ServerMessage] = []
            async for message in client.stream(speech_path(JFK), realtime=True):
                if stopping.process.returncode is not None or after_signal:
                    after_signal.append(message)
                elif isinstance(message, Commit):
                    stopping.process.terminate()
                    after_signal.append(message)
            await client.connection.wait_closed()
        assert stopping.process.wait(30) == 0
    assert client.connection.close_code == 1001
    done = after_signal[-1]
    assert isinstance(done, Done)
    assert any(isinstance(m, Commit) for m in after_signal[1:])
    assert 0 < done.audio_seconds < 11.0


class FaultyASR:
    """A real tiny.en model whose third call raises, as a crashing backend would."""

    def __init__(self, asr: Any) -> None:
        self.asr = asr
        self.sep = asr.sep
        self.calls = 0

    def transcribe(self, audio: npt.NDArray[np.float32], init_prompt: str = "") -> Any:
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("injected fault")
        return self.asr.transcribe(audio, init_prompt=init_prompt)

    def ts_words(self, result: Any) -> Any:
        return self.asr.ts_words(result)

    def segments_end_ts(self, result: Any) -> Any:
        return self.asr.segments_end_ts(result)


class FaultyLoader:
    """The faster-whisper loader with the fault above injected into its model."""

    def load(self, config: ASRConfig) -> tuple[OnlineASRProcessor, dict[str, Any]]:
        # The fault is injected into LocalAgreement's model step.
        real = config.model_copy(update={"backend": "faster-whisper", "policy": "local-agreement"})
        processor, metadata = get_loader(real.backend).load(real)
        assert isinstance(processor, OnlineASRProcessor)
        return OnlineASRProcessor(FaultyASR(processor.asr)), metadata


async def test_failing_backend_fails_only_its_own_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backend raising mid-stream gives that session `backend_error`; `reset` lets it
    stream again, and a concurrent clean session's transcript is untouched."""
    monkeypatch.setattr(registry, "_loaders", dict(registry._loaders))
    register_loader("faulty", FaultyLoader())
    clip = "ljspeech/LJ001-0004.wav"
    async with in_process_server() as server:
        alone, _ = await stream_file(server.url, JFK)
        clean = asyncio.create_task(stream_file(server.url, JFK))
        async with StreamingClient(server.url) as client:
            await client.load_model(backend="faulty")
            with pytest.raises(ServerError) as failed:
                await collect(client, speech_audio(clip))
            assert failed.value.code == "backend_error"
            assert "injected fault" in failed.value.message
            await client.reset()
            commits, _ = await collect(client, speech_audio(clip))
        assert word_error_rate(transcript(clip), joined(commits)) <= 0.2
        assert joined((await clean)[0]) == joined(alone)
        metrics = server.metrics.registry
        assert metrics.get_sample_value("asr_errors_total", {"code": "backend_error"}) == 1


class GatedLoader:
    """The faster-whisper loader (the real tiny.en), each load waiting until the test opens
    the gate; a load asking for beam size 3 then fails, as a broken model would."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def load(self, config: ASRConfig) -> tuple[Any, dict[str, Any]]:
        self.gate.wait(REPLY_TIMEOUT)
        if config.beam_size == 3:
            raise ModelLoadError("injected load failure")
        real = config.model_copy(update={"backend": "faster-whisper"})
        return get_loader(real.backend).load(real)


@pytest.mark.parametrize(
    ("first_beam", "first_answer"), [(1, "model_loaded"), (3, "error model_load_failed")]
)
async def test_a_burst_during_a_load_is_answered_in_order(
    monkeypatch: pytest.MonkeyPatch, first_beam: int, first_answer: str
) -> None:
    """`start`, audio, `end`, `load_model` and `reset` sent at once behind a `load_model`
    are answered in the order sent once it is over: the first load's answer, the stream's
    words and `done` (on the new model, or the old one when the load failed), the second
    model, then `reset_done`; nothing at all while the load runs."""
    monkeypatch.setattr(registry, "_loaders", dict(registry._loaders))
    gated = GatedLoader()
    register_loader("gated", gated)
    audio = speech_audio(SHORT)
    burst: list[str | bytes] = [
        json.dumps({"type": "load_model", "backend": "gated", "beam_size": first_beam}),
        json.dumps({"type": "start"}),
        *(pcm16(audio[begin : begin + 8000]) for begin in range(0, len(audio), 8000)),
        json.dumps({"type": "end"}),
        json.dumps({"type": "load_model", "backend": "gated", "beam_size": 2}),
        json.dumps({"type": "reset"}),
    ]
    answers: list[str] = []
    texts: list[str] = []
    async with in_process_server() as server, connect(server.url, max_size=None) as connection:
        assert isinstance(await receive(connection), Ready)
        for frame in burst:
            await connection.send(frame)
        with pytest.raises(TimeoutError):  # everything waits for the load
            await asyncio.wait_for(receive(connection), 1.0)
        gated.gate.set()
        while not answers or answers[-1] != "reset_done":
            message = await receive(connection)
            if isinstance(message, Commit):
                texts.append(message.text)
            elif isinstance(message, ModelLoaded):
                answers.append("model_loaded")
            elif isinstance(message, Error):
                answers.append(f"error {message.code}")
            elif isinstance(message, Done | ResetDone):
                answers.append(message.type)
    assert answers == [first_answer, "done", "model_loaded", "reset_done"]
    assert word_error_rate(transcript(SHORT), "".join(texts)) <= 0.2


class HangingLoader:
    """A backend whose model never returns until the test releases it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def load(self, config: ASRConfig) -> tuple[OnlineASRProcessor, dict[str, Any]]:
        return OnlineASRProcessor(HangingASR(self)), {}


class HangingASR:
    sep = " "

    def __init__(self, loader: HangingLoader) -> None:
        self.loader = loader

    def transcribe(self, audio: npt.NDArray[np.float32], init_prompt: str = "") -> Any:
        self.loader.entered.set()
        self.loader.release.wait(REPLY_TIMEOUT)
        return []

    def ts_words(self, result: Any) -> list[Any]:
        return []

    def segments_end_ts(self, result: Any) -> list[float]:
        return []


async def test_shutdown_cuts_off_streams_the_grace_period_did_not_finish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stream stuck in its model past the shutdown grace period is closed with 1001, and
    shutdown completes without waiting for the model."""
    monkeypatch.setattr(registry, "_loaders", dict(registry._loaders))
    hanging = HangingLoader()
    register_loader("hanging", hanging)
    try:
        async with (
            in_process_server(shutdown_grace=0.1) as server,
            connect(server.url) as connection,
        ):
            assert isinstance(await receive(connection), Ready)
            await connection.send(json.dumps({"type": "load_model", "backend": "hanging"}))
            assert isinstance(await receive(connection), ModelLoaded)
            await connection.send(pcm16(speech_audio(SHORT)))
            await asyncio.to_thread(hanging.entered.wait, REPLY_TIMEOUT)
            await asyncio.wait_for(server.shutdown(), REPLY_TIMEOUT)
            assert not hanging.release.is_set()  # shutdown did not wait for the model
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await receive(connection)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001
    finally:
        hanging.release.set()
