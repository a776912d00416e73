"""One audio path for every encoding, on real servers on loopback: decoded seconds count
against the backlog whatever the bytes, a compressed stream cannot expand past it, and its
decoding never holds up the event loop."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import struct
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from websockets.asyncio.client import ClientConnection, connect

from asr_interface.audio import SAMPLING_RATE
from asr_interface.protocol import Done, Error, ServerMessage
from tests.encoded_audio import COMPRESSED_FORMATS, encode_g711, encode_speech
from tests.server.asr_calls import receive
from tests.server.conftest import ServerProcess, running_server
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model

BACKLOG_SECONDS = 5.0
MAX_FRAME_BYTES = 1 << 20


@pytest.fixture(scope="module")
def small_backlog() -> Iterator[ServerProcess]:
    """A server where 5 s of audio may wait for the model, read at any frame rate."""
    flags = ["--max-backlog-seconds", str(BACKLOG_SECONDS), "--max-frames-per-second", "100000"]
    with running_server(*flags) as started:
        yield started


@pytest.fixture(scope="module")
def default_backlog() -> Iterator[ServerProcess]:
    """A server with the default limits (300 s of backlog, 1 MiB frames) and one model
    worker, so that what a refused stream leaves to transcribe takes little CPU."""
    with running_server("--workers", "1") as started:
        yield started


def resampled(audio: npt.NDArray[np.float32], sample_format: str, rate: int) -> bytes:
    """16 kHz speech as PCM of `sample_format` (`s16` or `flt`) at `rate`."""
    resampler = av.AudioResampler(format=sample_format, layout="mono", rate=rate)
    frame = av.AudioFrame.from_ndarray(audio.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = SAMPLING_RATE
    frames = resampler.resample(frame) + resampler.resample(None)
    dtype = "<i2" if sample_format == "s16" else "<f4"
    return b"".join(f.to_ndarray().astype(dtype).tobytes() for f in frames)


PCM_ENCODINGS: dict[str, tuple[str, int, Callable[[npt.NDArray[np.float32]], bytes]]] = {
    # name: (encoding, declared rate, 16 kHz speech -> bytes)
    "s16-16k": ("pcm_s16le", 16000, lambda audio: resampled(audio, "s16", 16000)),
    "s16-48k": ("pcm_s16le", 48000, lambda audio: resampled(audio, "s16", 48000)),
    "f32-8k": ("pcm_f32le", 8000, lambda audio: resampled(audio, "flt", 8000)),
    "f32-24k": ("pcm_f32le", 24000, lambda audio: resampled(audio, "flt", 24000)),
    "mulaw": ("pcm_mulaw", 8000, lambda audio: encode_g711(audio, "pcm_mulaw")),
    "alaw": ("pcm_alaw", 8000, lambda audio: encode_g711(audio, "pcm_alaw")),
}


def speech_seconds(seconds: float) -> npt.NDArray[np.float32]:
    """`seconds` of real speech (JFK, repeated as needed)."""
    audio = speech_audio(JFK)
    repeats = int(seconds * SAMPLING_RATE) // audio.size + 1
    return np.tile(audio, repeats)[: round(seconds * SAMPLING_RATE)]


async def until_done(connection: ClientConnection) -> list[ServerMessage]:
    """Every message up to and including `done`."""
    messages = [await receive(connection)]
    while not isinstance(messages[-1], Done):
        messages.append(await receive(connection))
    return messages


def error_codes(messages: list[ServerMessage]) -> list[str]:
    return [m.code for m in messages if isinstance(m, Error)]


@pytest.mark.parametrize("name", PCM_ENCODINGS)
async def test_pcm_seconds_count_against_the_backlog(
    small_backlog: ServerProcess, name: str
) -> None:
    """Whatever its sample format and rate, a 4 s frame fits a 5 s backlog and a 6 s one
    does not: the 6 s frame gets `backlog_full` and is dropped, the stream goes on."""
    encoding, rate, encode = PCM_ENCODINGS[name]
    async with connect(small_backlog.url, max_size=None) as connection:
        await receive(connection)  # ready
        start = {"type": "start", "encoding": encoding, "sample_rate": rate}
        await connection.send(json.dumps(start))
        await connection.send(encode(speech_seconds(4.0)))
        await connection.send(encode(speech_seconds(6.0)))
        await connection.send(json.dumps({"type": "end"}))
        messages = await until_done(connection)
    assert error_codes(messages) == ["backlog_full"]
    done = messages[-1]
    assert isinstance(done, Done)
    assert done.audio_seconds == pytest.approx(4.0, abs=0.02)


@pytest.mark.parametrize("name", COMPRESSED_FORMATS)
async def test_compressed_seconds_count_against_the_backlog(
    small_backlog: ServerProcess, name: str
) -> None:
    """A compressed stream of 11 s, sent in one frame, decodes to more than the 5 s that may
    wait: it gets `backlog_full` and ends (no `end` needed) with what fitted."""
    data = encode_speech(speech_audio(JFK), name)
    async with connect(small_backlog.url, max_size=None) as connection:
        await receive(connection)  # ready
        await connection.send(json.dumps({"type": "start", "encoding": "auto"}))
        await connection.send(data)
        messages = await until_done(connection)
    assert error_codes(messages) == ["backlog_full"]
    done = messages[-1]
    assert isinstance(done, Done)
    assert 3.0 < done.audio_seconds <= BACKLOG_SECONDS


REALTIME_FORMATS: dict[str, tuple[int, Callable[[npt.NDArray[np.float32]], bytes]]] = {
    "audio/pcm": (24000, lambda audio: resampled(audio, "s16", 24000)),
    "audio/pcmu": (8000, lambda audio: encode_g711(audio, "pcm_mulaw")),
}


async def realtime_event(connection: ClientConnection, kind: str) -> dict[str, Any]:
    """The next Realtime event of type `kind`, skipping the others."""
    while True:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(connection.recv(), 120))
        if event["type"] == kind:
            return event


@pytest.mark.parametrize("name", REALTIME_FORMATS)
async def test_realtime_audio_counts_against_the_backlog(
    small_backlog: ServerProcess, name: str
) -> None:
    """The Realtime API's base64 audio ends in the same sink: after 4 s appended, an append
    of 6 s gets the `error` event with `backlog_full`, naming the client's event."""
    rate, encode = REALTIME_FORMATS[name]
    url = small_backlog.url.removesuffix("/asr") + "/v1/realtime?intent=transcription"
    update = {"type": "transcription", "audio": {"input": {"format": {"type": name, "rate": rate}}}}
    async with connect(url, max_size=None) as connection:
        await realtime_event(connection, "session.created")
        await connection.send(json.dumps({"type": "session.update", "session": update}))
        await realtime_event(connection, "session.updated")
        for seconds, event_id in ((4.0, "fits"), (6.0, "too-much")):
            audio = base64.b64encode(encode(speech_seconds(seconds))).decode()
            append = {"type": "input_audio_buffer.append", "audio": audio, "event_id": event_id}
            await connection.send(json.dumps(append))
        error = await realtime_event(connection, "error")
    assert error["error"]["code"] == "backlog_full"
    assert error["error"]["event_id"] == "too-much"


@functools.cache
def lying_wav(size: int, rate: int = 100) -> bytes:
    """`size` bytes of a WAV whose header claims 4 GB of 8-bit audio at `rate` Hz: at 100 Hz
    each byte is a hundredth of a second, 160 samples once resampled to 16 kHz."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
    header += b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 0xFFFFFFF0)
    noise = np.random.default_rng(5).integers(0, 256, size - len(header), dtype=np.uint8)
    return header + noise.tobytes()


def resident_bytes(pid: int) -> int:
    """The process's resident memory now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Sampler:
    """Calls `probe` every 20 ms on a thread of its own and keeps what it returns."""

    def __init__(self, probe: Callable[[], float]) -> None:
        self.values: list[float] = []
        self._probe = probe
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.values.append(self._probe())


async def refused_lying_wav(server: ServerProcess) -> Error:
    """Sends a 1 MiB lying WAV as one frame of an `auto` stream; the error it gets."""
    async with connect(server.url, max_size=None) as connection:
        await receive(connection)  # ready
        await connection.send(json.dumps({"type": "start", "encoding": "auto"}))
        await connection.send(lying_wav(MAX_FRAME_BYTES))
        while not isinstance(message := await receive(connection), Error):
            pass
        return message


async def test_a_wav_with_a_lying_header_is_refused_within_bounded_memory(
    default_backlog: ServerProcess,
) -> None:
    """1 MiB of WAV declared at 100 Hz would be 10,000 s of audio at 16 kHz (640 MB of
    samples): decoding stops at the 300 s the backlog holds, with `backlog_full`, and the
    server's memory grows by little more than those 300 s (19 MB)."""
    pid = default_backlog.process.pid
    baseline = resident_bytes(pid)
    with Sampler(lambda: resident_bytes(pid)) as memory:
        error = await refused_lying_wav(default_backlog)
    assert error.code == "backlog_full"
    assert "300 s" in error.message
    assert max(memory.values, default=baseline) - baseline < 150 << 20


def health_seconds(server: ServerProcess) -> float:
    """How long `/health` takes to answer."""
    began = time.monotonic()
    with urllib.request.urlopen(server.http_url + "/health", timeout=30) as response:
        response.read()
    return time.monotonic() - began


async def test_health_answers_at_once_while_compressed_streams_decode(
    default_backlog: ServerProcess,
) -> None:
    """Three sessions each decoding a lying WAV up to the backlog (about a second of CPU
    in all) leave the event loop free: `/health` answers every probe in less than half
    the time they take (decoding on the loop, a probe waited for nearly all of it). The
    bound is relative, so a loaded machine slows both alike."""
    lying_wav(MAX_FRAME_BYTES)  # made before the clock runs
    with Sampler(lambda: health_seconds(default_backlog)) as health:
        began = time.monotonic()
        errors = await asyncio.gather(*(refused_lying_wav(default_backlog) for _ in range(3)))
        busy = time.monotonic() - began
    assert [error.code for error in errors] == ["backlog_full"] * 3
    assert len(health.values) >= 3, f"too few probes in {busy:.2f} s"
    assert max(health.values) < busy / 2, (health.values, busy)
