"""Compressed streams decoded as their bytes arrive: every format clients send, made from
real speech in the test, fed a quarter second at a time."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.audio import SAMPLING_RATE
from asr_interface.protocol import ProtocolError
from asr_interface.server import compressed
from asr_interface.server.audio_sink import AudioSink
from asr_interface.server.compressed import STALL_SECONDS, CompressedDecoder, UndecodableStream
from asr_interface.server.session_types import SessionLimits
from tests.encoded_audio import COMPRESSED_FORMATS, encode_speech
from tests.speech import JFK, speech_audio

FEEDS = 44  # JFK is 11 s: a quarter second of it per frame


def envelope(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Loudness per 50 ms, which survives lossy coding and resampling."""
    frames = audio[: len(audio) // 800 * 800].reshape(-1, 800).astype(np.float64)
    return np.sqrt((frames**2).mean(axis=1))


@pytest.mark.parametrize("name", COMPRESSED_FORMATS)
def test_each_format_decodes_as_it_arrives(name: str) -> None:
    """Most of the speech is decoded before the last byte arrives, and all of it, in
    sync with the original, after the stream ends."""
    original = speech_audio(JFK)
    data = encode_speech(original, name)
    decoder = CompressedDecoder()
    size = -(-len(data) // FEEDS)
    parts = [decoder.decode(data[i : i + size]) for i in range(0, len(data), size)]
    before_end = sum(part.size for part in parts[:-1]) / SAMPLING_RATE
    decoded = np.concatenate([*parts, decoder.flush()])
    assert before_end > 8.0
    assert abs(decoded.size / SAMPLING_RATE - 11.0) < 0.1
    # Encoders may delay the signal (AAC by 64 ms here): the best alignment within 0.2 s.
    reference, heard = envelope(original), envelope(decoded)
    length = min(len(reference), len(heard)) - 4
    correlation = max(
        np.corrcoef(reference[:length], heard[shift : shift + length])[0, 1] for shift in range(5)
    )
    assert correlation > 0.95


def test_garbage_is_refused_and_flush_returns() -> None:
    """Bytes no demuxer recognises raise `UndecodableStream` (invalid_audio) once the
    first 16 KiB are in; `flush` then neither hangs nor raises again."""
    decoder = CompressedDecoder()
    noise = np.random.default_rng(7).integers(0, 256, 64_000, dtype=np.uint8).tobytes()
    with pytest.raises(UndecodableStream) as refused:
        for begin in range(0, len(noise), 4000):
            decoder.decode(noise[begin : begin + 4000])
    assert refused.value.code == "invalid_audio"
    assert decoder.flush().size == 0


def test_audio_per_byte_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream decoding to more audio than its bytes may carry is cut off with
    `UndecodableStream`; the limit is lowered here so that real speech crosses it."""
    monkeypatch.setattr(compressed, "FREE_SECONDS", 0.0)
    monkeypatch.setattr(compressed, "SECONDS_PER_BYTE", 5.0 / 92_000)
    data = encode_speech(speech_audio(JFK), "webm_opus")
    decoder = CompressedDecoder()
    with pytest.raises(UndecodableStream, match="decode to over 5 s") as refused:
        decoder.decode(data)
    assert 4.0 < refused.value.samples.size / SAMPLING_RATE <= 5.0


def test_an_abandoned_stream_ends_its_thread() -> None:
    """A stream dropped without `flush` (a reset, a lost connection) does not leave its
    decoding thread behind."""
    decoder = CompressedDecoder()
    data = encode_speech(speech_audio(JFK), "webm_opus")
    before = set(threading.enumerate())
    decoder.decode(data[:20_000])
    (thread,) = set(threading.enumerate()) - before
    del decoder
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


def test_decoding_ahead_of_the_model_is_bounded() -> None:
    """A decoder given room for 5 s stops before one frame passes it: `backlog_full`, with
    the audio decoded up to the limit."""
    data = encode_speech(speech_audio(JFK), "webm_opus")
    decoder = CompressedDecoder(room=5.0 * SAMPLING_RATE)
    with pytest.raises(UndecodableStream) as refused:
        decoder.decode(data)
    assert refused.value.code == "backlog_full"
    assert 4.9 < refused.value.samples.size / SAMPLING_RATE <= 5.0


def test_feed_returns_at_once_and_the_thread_wakes_the_caller() -> None:
    """`feed` only hands the bytes over; the thread calls `on_settled` once they are
    decoded, and `take` then has them all."""
    settled = threading.Event()
    decoder = CompressedDecoder(on_settled=settled.set)
    decoder.feed(encode_speech(speech_audio(JFK), "ogg_opus"))
    assert settled.wait(STALL_SECONDS)
    assert decoder.settled
    decoder.close()
    parts = [decoder.take()]
    while not decoder.done:
        settled.clear()
        settled.wait(STALL_SECONDS)
        parts.append(decoder.take())
    assert abs(np.concatenate(parts).size / SAMPLING_RATE - 11.0) < 0.1


def test_compressed_bytes_waiting_for_their_decoder_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While a decoding thread is held up, the sink takes compressed bytes up to
    `max_frame_bytes` waiting for it; a frame beyond gets `backlog_full`, and is taken
    once the thread has read what waited."""
    release = threading.Event()
    run = compressed._Pipeline.run

    def held_up(pipeline: compressed._Pipeline) -> None:
        release.wait(STALL_SECONDS)
        run(pipeline)

    monkeypatch.setattr(compressed._Pipeline, "run", held_up)
    data = encode_speech(speech_audio(JFK), "wav")
    sink = AudioSink("auto", limits=SessionLimits(max_frame_bytes=1000))
    sink.push(data[:600], 0.0, 0.0)
    with pytest.raises(ProtocolError) as refused:
        sink.push(data[600:1200], 0.0, 0.0)
    assert refused.value.code == "backlog_full"
    release.set()
    for _ in range(100):
        if not sink.decoding:
            break
        time.sleep(0.05)
    sink.push(data[600:1200], 0.0, 0.0)


def test_a_stalled_decoder_ends_its_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes that the thread has not decoded `STALL_SECONDS` after they arrived (FFmpeg
    stuck, here made to hang) end the stream with `invalid_audio`, so that a stuck decoder
    cannot hold its session for ever; until then `take` waits."""
    never = threading.Event()
    monkeypatch.setattr(compressed._Pipeline, "run", lambda pipeline: never.wait())
    sink = AudioSink("auto")
    assert sink.push(encode_speech(speech_audio(JFK), "wav"), 0.0, now=0.0).size == 0
    assert sink.take(0.0, now=STALL_SECONDS - 1).size == 0
    assert sink.decoding
    with pytest.raises(UndecodableStream, match="no progress") as refused:
        sink.take(0.0, now=STALL_SECONDS + 1)
    assert refused.value.code == "invalid_audio"
    assert sink.done
    never.set()


def test_the_room_counts_the_samples_taken_with_it() -> None:
    """`take(room)` leaves the thread room for `room` samples less those it returns, which
    now wait for the model: after 2 s or more taken with room for 5 s, the rest of the
    stream stops at 5 s in all."""
    settled = threading.Event()
    data = encode_speech(speech_audio(JFK), "wav")
    decoder = CompressedDecoder(on_settled=settled.set)
    decoder.feed(data[: 44 + 4 * 32000])  # the header and 4 s of 16 kHz 16-bit samples
    assert settled.wait(STALL_SECONDS)
    first = decoder.take(room=5.0 * SAMPLING_RATE).size
    assert first >= 2 * SAMPLING_RATE
    settled.clear()
    decoder.feed(data[44 + 4 * 32000 :])
    assert settled.wait(STALL_SECONDS)
    with pytest.raises(UndecodableStream) as refused:
        decoder.take()
    assert refused.value.code == "backlog_full"
    assert first + refused.value.samples.size <= 5 * SAMPLING_RATE
