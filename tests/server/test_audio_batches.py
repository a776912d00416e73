"""Tiny frames cost their bytes, not a decoding each: `AudioSink` gathers PCM frames shorter
than `BATCH_SECONDS` and decodes them together, losing no byte and adding at most a batch
of delay; a stream ending inside a sample says so."""

from __future__ import annotations

import base64

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.audio import SAMPLING_RATE
from asr_interface.protocol import ErrorCode, ProtocolError
from asr_interface.realtime_protocol import AudioCommitted, ErrorEvent, TranscriptionCompleted
from asr_interface.server.audio_sink import BATCH_SECONDS, AudioSink
from asr_interface.server.models import ModelPool
from asr_interface.server.realtime import RealtimeSession
from asr_interface.server.session import Session
from asr_interface.server.session_types import RunStep, SessionLimits
from tests.server.asr_session import error_codes, new_session, text
from tests.server.realtime_events import append, event, of_type, result, steps, words

SIZES = {"pcm_s16le": 2, "pcm_f32le": 4, "pcm_mulaw": 1, "pcm_alaw": 1}


def speech_like(encoding: str, rate: int, seconds: float) -> bytes:
    """A chirp in `encoding` at `rate`: every sample differs, so a lost or shifted byte
    shows."""
    times = np.arange(round(rate * seconds)) / rate
    signal = 0.5 * np.sin(2 * np.pi * (200 + 300 * times) * times)
    if encoding == "pcm_s16le":
        return np.round(signal * 32767).astype("<i2").tobytes()
    if encoding == "pcm_f32le":
        return signal.astype("<f4").tobytes()
    return np.random.default_rng(0).integers(0, 256, round(rate * seconds), np.uint8).tobytes()


def sink_samples(sink: AudioSink, data: bytes, frame_bytes: int) -> npt.NDArray[np.float32]:
    """Every sample `sink` gives for `data` sent in frames of `frame_bytes`, its end
    included; the end must refuse nothing."""
    parts = [
        sink.push(data[i : i + frame_bytes], 0.0, 0.0) for i in range(0, len(data), frame_bytes)
    ]
    closed = sink.close(0.0)
    assert closed.refusals == ()
    return np.concatenate([*parts, closed.samples])


@pytest.mark.parametrize(
    ("encoding", "rate"),
    [
        ("pcm_s16le", 16000),
        ("pcm_s16le", 24000),
        ("pcm_f32le", 16000),
        ("pcm_f32le", 48000),
        ("pcm_mulaw", 8000),
        ("pcm_alaw", 8000),
    ],
)
@pytest.mark.parametrize("frame_bytes", [1, 3, 7])
def test_tiny_frames_decode_to_the_samples_of_one_frame(
    encoding: str, rate: int, frame_bytes: int
) -> None:
    """Half a second sent one, three or seven bytes at a time gives the samples the same
    bytes give in one frame: gathered frames lose, add and shift no byte."""
    data = speech_like(encoding, rate, 0.5)
    whole = sink_samples(AudioSink(encoding, rate), data, len(data))
    pieces = sink_samples(AudioSink(encoding, rate), data, frame_bytes)
    assert pieces.size == whole.size
    np.testing.assert_allclose(pieces, whole, atol=1e-6)


def test_frames_shorter_than_a_batch_wait_for_one() -> None:
    """One-byte frames give nothing until a batch's bytes have come, then all of its
    samples at once; the bookkeeping of a second of audio is a hundred batches, not
    thousands of frames."""
    sink = AudioSink("pcm_s16le", SAMPLING_RATE)
    batch = round(BATCH_SECONDS * SAMPLING_RATE) * 2
    given = [sink.push(b"\x01", 0.0, 0.0).size for _ in range(2 * SAMPLING_RATE)]
    assert given[: batch - 1] == [0] * (batch - 1)
    assert given[batch - 1] == batch // 2
    assert sum(given) == SAMPLING_RATE
    assert sum(1 for size in given if size) == round(1 / BATCH_SECONDS)


def test_a_frame_of_a_batch_or_more_is_decoded_at_once() -> None:
    """A live client's 20 ms frames are decoded as they come: gathering adds no delay."""
    sink = AudioSink("pcm_s16le", SAMPLING_RATE)
    frame = np.ones(320, dtype="<i2").tobytes()
    assert [sink.push(frame, 0.0, 0.0).size for _ in range(5)] == [320] * 5


def test_gathered_bytes_count_against_the_backlog() -> None:
    """The bytes gathered and not yet decoded count as audio waiting: with 1 s of backlog
    allowed and 0.999 s waiting, tiny frames are taken until their samples would pass it,
    then refused with `backlog_full`."""
    sink = AudioSink("pcm_s16le", SAMPLING_RATE, limits=SessionLimits(max_backlog_seconds=1.0))
    waiting = 1.0 - 16 / SAMPLING_RATE
    for _ in range(32):
        sink.push(b"\x00", waiting, 0.0)
    with pytest.raises(ProtocolError) as refused:
        sink.push(b"\x00\x00", waiting, 0.0)
    assert refused.value.code is ErrorCode.BACKLOG_FULL
    assert sink.close(0.0).samples.size == 16


@pytest.mark.parametrize(("encoding", "sent"), [("pcm_s16le", 3), ("pcm_f32le", 6)])
def test_a_stream_ending_inside_a_sample_says_so(encoding: str, sent: int) -> None:
    """Odd-length frames carry their byte into the next, and the whole samples all arrive;
    bytes of a sample the stream ends inside are refused at the end with `invalid_audio`,
    never dropped silently."""
    sink = AudioSink(encoding, SAMPLING_RATE)
    for _ in range(sent):
        sink.push(b"\x00", 0.0, 0.0)
    closed = sink.close(0.0)
    size = SIZES[encoding]
    assert closed.samples.size == sent // size
    (refusal,) = closed.refusals
    assert refusal.code is ErrorCode.INVALID_AUDIO
    assert f"{sent % size} byte(s) into a sample" in refusal.message


def test_a_tiny_float_frame_with_a_bad_sample_is_refused_at_once() -> None:
    """A tiny float frame completing a NaN is refused as it comes, alone: the frames
    gathered before it and the next frames are decoded."""
    sink = AudioSink("pcm_f32le", SAMPLING_RATE)
    good = np.array([0.5], dtype="<f4").tobytes()
    assert sink.push(good, 0.0, 0.0).size == 0
    with pytest.raises(ProtocolError) as refused:
        sink.push(np.array([np.nan], dtype="<f4").tobytes(), 0.0, 0.0)
    assert refused.value.code is ErrorCode.INVALID_AUDIO
    more = np.full(SAMPLING_RATE // 10, 0.25, dtype="<f4").tobytes()
    assert sink.push(more, 0.0, 0.0).tolist() == [0.5] + [0.25] * (SAMPLING_RATE // 10)


def test_a_second_of_one_byte_frames_is_one_stream_of_a_second(pool: ModelPool) -> None:
    """32,000 one-byte frames then `end` (with 2 s steps, so none runs before): the
    session takes them all with no reply, and finishes with one final step of exactly a
    second of audio."""
    session: Session = new_session(pool, min_chunk_size=2.0)
    session.receive_text(text("start"), 0.0)
    replies = [session.receive_bytes(b"\x00", 0.0) for _ in range(2 * SAMPLING_RATE)]
    assert not any(replies)
    ended = session.receive_text(text("end"), 0.0)
    assert error_codes(ended) == []
    (step,) = [action for action in ended if isinstance(action, RunStep)]
    assert step.final
    assert step.audio.size == SAMPLING_RATE


def test_an_odd_byte_at_the_end_is_an_error_before_done(pool: ModelPool) -> None:
    """A stream of 3 one-byte s16 frames: `end` answers `invalid_audio` for the last byte
    and still finishes the stream with its one sample."""
    session = new_session(pool)
    session.receive_text(text("start"), 0.0)
    for _ in range(3):
        session.receive_bytes(b"\x00", 0.0)
    ended = session.receive_text(text("end"), 0.0)
    assert error_codes(ended) == ["invalid_audio"]
    (step,) = [action for action in ended if isinstance(action, RunStep)]
    assert step.final and step.audio.size == 1


def test_a_realtime_turn_ending_inside_a_sample_is_still_completed(
    realtime: RealtimeSession,
) -> None:
    """A turn whose appends end one byte into a sample, committed while a step runs: the
    commit gets `invalid_audio` for that byte, naming the commit, and the turn is still
    finished and completed."""
    realtime.receive_text(append(1.1), 0.0)
    odd = base64.b64encode(b"\x00").decode()
    assert realtime.receive_text(event("input_audio_buffer.append", audio=odd), 0.05) == []
    actions = realtime.receive_text(event("input_audio_buffer.commit", event_id="c1"), 0.1)
    (error,) = of_type(actions, ErrorEvent)
    assert (error.error.code, error.error.event_id) == ("invalid_audio", "c1")
    (committed,) = of_type(actions, AudioCommitted)
    (final,) = steps(realtime.step_finished(result(words((0.0, 0.5, " one"))), 1.0))
    assert final.final
    (completed,) = of_type(realtime.step_finished(result(), 1.2), TranscriptionCompleted)
    assert (completed.item_id, completed.transcript) == (committed.item_id, "one")
