"""`/v1/realtime` end to end: the official `openai` SDK and raw WebSockets against a real
server on loopback, the real tiny.en model, real speech."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from asr_interface.backends import registry
from asr_interface.backends.registry import register_loader
from asr_interface.core.config import ASRConfig
from asr_interface.evaluation import word_error_rate
from asr_interface.protocol import Commit, Done, parse_server_message
from asr_interface.server.app import ASRServer
from asr_interface.server.settings import ServerSettings
from tests.encoded_audio import encode_g711
from tests.server.asr_calls import sessions_closed
from tests.server.conftest import ServerProcess, running_server
from tests.server.test_app import FaultyLoader
from tests.speech import JFK, speech_audio, transcript

pytestmark = pytest.mark.model

LONG = "long/ljspeech_LJ001-0001_to_0032.wav"
TOKEN = "realtime-token"
REPLY_TIMEOUT = 120.0
CHUNK_BYTES = 24000  # half a second of 24 kHz 16-bit PCM


@pytest.fixture(scope="module")
def guarded() -> Iterator[ServerProcess]:
    """A server that wants a token and holds one session at a time."""
    with running_server("--token", TOKEN, "--max-sessions", "1") as started:
        yield started


def pcm_24k(audio: npt.NDArray[np.float32]) -> bytes:
    """16 kHz speech as the API's `audio/pcm`: 16-bit little-endian at 24 kHz."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=24000)
    frame = av.AudioFrame.from_ndarray(audio.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = 16000
    frames = resampler.resample(frame) + resampler.resample(None)
    return b"".join(f.to_ndarray().astype("<i2").tobytes() for f in frames)


def realtime_url(server: ServerProcess, query: str = "intent=transcription") -> str:
    return server.url.removesuffix("/asr") + "/v1/realtime?" + query


def append_event(pcm: bytes) -> str:
    audio = base64.b64encode(pcm).decode()
    return json.dumps({"type": "input_audio_buffer.append", "audio": audio})


async def receive(connection: ClientConnection) -> dict[str, Any]:
    frame = await asyncio.wait_for(connection.recv(), REPLY_TIMEOUT)
    assert isinstance(frame, str)
    event: dict[str, Any] = json.loads(frame)
    return event


async def receive_until(connection: ClientConnection, kind: str) -> list[dict[str, Any]]:
    """Every event up to and including the first of type `kind`."""
    events = [await receive(connection)]
    while events[-1]["type"] != kind:
        events.append(await receive(connection))
    return events


async def asr_transcript(server: ServerProcess, pcm: bytes) -> str:
    """The same 24 kHz audio streamed on `/asr`: the joined commits."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with connect(server.url, additional_headers=headers) as connection:
        await connection.recv()  # ready
        await connection.send(json.dumps({"type": "start", "sample_rate": 24000}))
        for offset in range(0, len(pcm), CHUNK_BYTES):
            await connection.send(pcm[offset : offset + CHUNK_BYTES])
        await connection.send(json.dumps({"type": "end"}))
        text = ""
        while True:
            frame = await asyncio.wait_for(connection.recv(), REPLY_TIMEOUT)
            assert isinstance(frame, str)
            message = parse_server_message(frame)
            if isinstance(message, Commit):
                text += message.text
            if isinstance(message, Done):
                return text


async def test_openai_sdk_transcribes_like_asr(guarded: ServerProcess) -> None:
    """The official SDK, pointed at the server by its base URL and authenticated with the
    server's token, gets a recording's transcript as deltas and one `completed`, with a
    WER within 1 point of `/asr` on the same audio."""
    pcm = pcm_24k(speech_audio(LONG))
    client = AsyncOpenAI(api_key=TOKEN, base_url=guarded.http_url + "/v1")
    deltas: list[str] = []
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        await connection.session.update(
            session={
                "type": "transcription",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                        "turn_detection": None,
                    }
                },
            }
        )
        for offset in range(0, len(pcm), CHUNK_BYTES):
            chunk = base64.b64encode(pcm[offset : offset + CHUNK_BYTES]).decode()
            await connection.input_audio_buffer.append(audio=chunk)
        await connection.input_audio_buffer.commit()
        kinds = []
        async for event in connection:
            kinds.append(event.type)
            assert event.type != "error", event
            if event.type == "conversation.item.input_audio_transcription.delta":
                deltas.append(event.delta or "")
            if event.type == "conversation.item.input_audio_transcription.completed":
                completed = event
                break
    assert kinds[:2] == ["session.created", "session.updated"]
    assert "input_audio_buffer.committed" in kinds
    assert completed.transcript == "".join(deltas)
    assert completed.usage.type == "duration"
    assert completed.usage.seconds == pytest.approx(229.5, abs=0.05)
    reference = transcript(LONG)
    realtime_wer = word_error_rate(reference, completed.transcript)
    asr_wer = word_error_rate(reference, await asr_transcript(guarded, pcm))
    assert realtime_wer < 0.12
    assert abs(realtime_wer - asr_wer) <= 0.01


async def test_token_intent_and_session_limit(guarded: ServerProcess) -> None:
    """The upgrade wants the token (401) and a transcription intent (400); a session over
    the limit gets the API's `error` event with `too_many_sessions`."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(realtime_url(guarded)):
            pass
    assert refused.value.response.status_code == 401
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            realtime_url(guarded, "intent=conversation"), additional_headers=headers
        ):
            pass
    assert refused.value.response.status_code == 400
    await sessions_closed(guarded)
    async with connect(realtime_url(guarded), additional_headers=headers) as first:
        assert (await receive(first))["type"] == "session.created"
        async with connect(realtime_url(guarded), additional_headers=headers) as second:
            error = await receive(second)
    assert error["type"] == "error"
    assert error["error"]["code"] == "too_many_sessions"
    assert error["error"]["type"] == "server_error"


async def test_server_vad_turns_on_real_speech(server: ServerProcess) -> None:
    """With `server_vad`, each utterance of a recording becomes an item: `speech_started`,
    `speech_stopped`, `committed`, its words as deltas and `completed` after its end;
    `clear` then answers `cleared`."""
    silence = np.zeros(16000 * 2, dtype=np.float32)
    pcm = pcm_24k(np.concatenate([speech_audio(JFK), silence]))
    async with connect(realtime_url(server)) as connection:
        assert (await receive(connection))["type"] == "session.created"
        update = {
            "type": "transcription",
            "audio": {"input": {"turn_detection": {"type": "server_vad"}}},
        }
        await connection.send(json.dumps({"type": "session.update", "session": update}))
        (updated,) = await receive_until(connection, "session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        for offset in range(0, len(pcm), CHUNK_BYTES):
            await connection.send(append_event(pcm[offset : offset + CHUNK_BYTES]))
        events = await receive_until(connection, "input_audio_buffer.speech_stopped")
        while events[-1]["audio_end_ms"] < 10_000:  # JFK's last word ends at 10.5 s
            events += await receive_until(connection, "input_audio_buffer.speech_stopped")
        events += await receive_until(
            connection, "conversation.item.input_audio_transcription.completed"
        )
        await connection.send(json.dumps({"type": "input_audio_buffer.clear"}))
        events += await receive_until(connection, "input_audio_buffer.cleared")

    def of_type(suffix: str) -> list[dict[str, Any]]:
        return [event for event in events if event["type"].endswith(suffix)]

    assert not of_type("error")
    items = [event["item_id"] for event in of_type("buffer.committed")]
    started, stopped = of_type("speech_started"), of_type("speech_stopped")
    assert len(items) == len(set(items)) >= 2
    assert [event["item_id"] for event in started] == items[: len(started)]
    assert [event["item_id"] for event in stopped] == items[: len(stopped)]
    times = [e["audio_start_ms"] for e in started] + [e["audio_end_ms"] for e in stopped]
    assert all(0 <= time <= 13000 for time in times)
    assert all(
        a["audio_start_ms"] < b["audio_end_ms"] for a, b in zip(started, stopped, strict=False)
    )
    completed = of_type("transcription.completed")
    assert [event["item_id"] for event in completed] == items
    for done in completed:
        deltas = [e["delta"] for e in of_type("delta") if e["item_id"] == done["item_id"]]
        assert done["transcript"] == "".join(deltas)
    text = " ".join(done["transcript"] for done in completed)
    # tiny.en hears short utterances alone, without the context of the sentence.
    assert word_error_rate(transcript(JFK), text) <= 0.25


WIRE_ERRORS: list[tuple[str | bytes, str]] = [
    ("{", "invalid_json"),
    (json.dumps({"type": "input_audio_buffer.pause"}), "unknown_type"),
    (json.dumps({"type": "input_audio_buffer.append", "audio": "%%%"}), "invalid_message"),
    (b"\x00\x01", "invalid_message"),
    (json.dumps({"type": "response.create"}), "unsupported_feature"),
    (json.dumps({"type": "input_audio_buffer.commit"}), "empty_commit"),
    (append_event(bytes(1200 << 10)), "frame_too_large"),
    (
        json.dumps(
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"transcription": {"model": "base.en"}}},
                },
            }
        ),
        "model_not_allowed",
    ),
    (
        json.dumps(
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"transcription": {"model": "no-such-model"}}},
                },
            }
        ),
        "model_load_failed",
    ),
]


async def test_errors_on_the_wire_keep_the_session(server: ServerProcess) -> None:
    """Each bad frame gets the API's `error` event with our code, naming the client's
    event; afterwards the session still transcribes."""
    async with connect(realtime_url(server), max_size=None) as connection:
        await receive(connection)
        for frame, code in WIRE_ERRORS:
            if isinstance(frame, str) and frame.startswith('{"'):
                frame = json.dumps({**json.loads(frame), "event_id": f"evt_{code}"})
            await connection.send(frame)
            error = await receive(connection)
            assert error["type"] == "error", (code, error)
            assert error["error"]["code"] == code
            named = isinstance(frame, str) and frame.startswith('{"')
            assert error["error"]["event_id"] == (f"evt_{code}" if named else None)
        pcm = pcm_24k(speech_audio(JFK))
        await connection.send(append_event(pcm))
        update = {"type": "transcription", "audio": {"input": {"format": {"type": "audio/pcma"}}}}
        await connection.send(json.dumps({"type": "session.update", "session": update}))
        busy = await receive_until(connection, "error")
        assert busy[-1]["error"]["code"] == "stream_in_progress"
        await connection.send(json.dumps({"type": "input_audio_buffer.commit"}))
        events = await receive_until(
            connection, "conversation.item.input_audio_transcription.completed"
        )
    assert word_error_rate(transcript(JFK), events[-1]["transcript"]) <= 0.1


@pytest.mark.parametrize(
    ("name", "codec"), [("audio/pcmu", "pcm_mulaw"), ("audio/pcma", "pcm_alaw")]
)
async def test_telephony_formats_on_real_speech(
    server: ServerProcess, name: str, codec: str
) -> None:
    """G.711 speech made by PyAV's encoder, at 8 kHz, is transcribed after `session.update`
    selects its format."""
    coded = encode_g711(speech_audio(JFK), codec)
    async with connect(realtime_url(server)) as connection:
        await receive(connection)
        update = {"type": "transcription", "audio": {"input": {"format": {"type": name}}}}
        await connection.send(json.dumps({"type": "session.update", "session": update}))
        (updated,) = await receive_until(connection, "session.updated")
        assert updated["session"]["audio"]["input"]["format"] == {"type": name}
        for offset in range(0, len(coded), 4000):
            await connection.send(append_event(coded[offset : offset + 4000]))
        await connection.send(json.dumps({"type": "input_audio_buffer.commit"}))
        events = await receive_until(
            connection, "conversation.item.input_audio_transcription.completed"
        )
    completed = events[-1]
    assert completed["usage"]["seconds"] == pytest.approx(11.0, abs=0.05)
    assert word_error_rate(transcript(JFK), completed["transcript"]) <= 0.15


async def test_backend_failure_fails_the_item_and_the_next_turn_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model raising mid-turn gives `error` (`backend_error`, a server error) and the
    item's `failed`; the client's next turn is transcribed without any reset."""
    monkeypatch.setattr(registry, "_loaders", dict(registry._loaders))
    register_loader("faulty", FaultyLoader())
    server = ASRServer(ServerSettings(port=0, workers=2, config=ASRConfig(backend="faulty")))
    await server.start()
    pcm = pcm_24k(speech_audio(JFK))
    try:
        async with connect(server.url.removesuffix("/asr") + "/v1/realtime") as connection:
            await receive(connection)
            for offset in range(0, len(pcm), CHUNK_BYTES):
                await connection.send(append_event(pcm[offset : offset + CHUNK_BYTES]))
            failure = await receive_until(
                connection, "conversation.item.input_audio_transcription.failed"
            )
            await connection.send(append_event(pcm))
            await connection.send(json.dumps({"type": "input_audio_buffer.commit"}))
            events = await receive_until(
                connection, "conversation.item.input_audio_transcription.completed"
            )
    finally:
        await server.shutdown()
    (error,) = [event for event in failure if event["type"] == "error"]
    assert error["error"]["code"] == "backend_error"
    assert error["error"]["type"] == "server_error"
    assert "injected fault" in failure[-1]["error"]["message"]
    assert events[-1]["item_id"] != failure[-1]["item_id"]
    assert word_error_rate(transcript(JFK), events[-1]["transcript"]) <= 0.1
