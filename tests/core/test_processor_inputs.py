"""What the processor accepts as audio, what it refuses, and the attributes callers read."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface import OnlineASRProcessor
from asr_interface.backends.replay import ReplayASR, Trace, TraceCall

SAMPLE_RATE = 16000
HELLO = (0.0, 0.5, " Hello")
WORLD = (0.5, 1.0, " world")
AGAIN = (1.0, 1.5, " again")


def script(*calls: tuple[tuple[float, float, str], ...]) -> ReplayASR:
    """An ASR that answers each transcription with the next of `calls`."""
    trace = Trace(sep="", calls=[TraceCall(words=c, segment_ends=(c[-1][1],)) for c in calls])
    return ReplayASR(trace)


def streaming_processor(**kwargs: Any) -> OnlineASRProcessor:
    """A processor two passes into a stream: "Hello world" committed, "again" unconfirmed."""
    processor = OnlineASRProcessor(script((HELLO, WORLD), (HELLO, WORLD, AGAIN)), **kwargs)
    processor.insert_audio_chunk(np.linspace(-0.5, 0.5, 2 * SAMPLE_RATE, dtype=np.float32))
    processor.process_iter()
    processor.process_iter()
    return processor


def snapshot(processor: OnlineASRProcessor) -> tuple[Any, ...]:
    return (
        processor.audio_buffer.copy(),
        processor.buffer_time_offset,
        processor.prompt(),
        processor.unconfirmed(),
        processor.commited,
        processor.pending_seconds,
    )


def assert_same_state(before: tuple[Any, ...], after: tuple[Any, ...]) -> None:
    assert np.array_equal(before[0], after[0])
    assert before[1:] == after[1:]


def with_sample(value: float, dtype: type[np.floating[Any]]) -> npt.NDArray[Any]:
    samples = np.zeros(100, dtype=dtype)
    samples[37] = value
    return samples


@pytest.mark.parametrize(
    "audio",
    [
        pytest.param(np.zeros((2, 160), dtype=np.float32), id="2-D"),
        pytest.param(np.float32(0.5), id="0-D"),
        pytest.param(with_sample(np.nan, np.float32), id="NaN float32"),
        pytest.param(with_sample(np.inf, np.float32), id="+Inf float32"),
        pytest.param(with_sample(-np.inf, np.float32), id="-Inf float32"),
        pytest.param(with_sample(np.nan, np.float64), id="NaN float64"),
        pytest.param(with_sample(-np.inf, np.float64), id="-Inf float64"),
        pytest.param(np.zeros(160, dtype=np.int32), id="int32"),
    ],
)
def test_bad_audio_is_refused_and_leaves_the_state_unchanged(audio: npt.NDArray[Any]) -> None:
    """A chunk of the wrong shape, type or with a non-finite sample raises and changes nothing."""
    processor = streaming_processor()
    before = snapshot(processor)
    with pytest.raises(ValueError):
        processor.insert_audio_chunk(audio)
    assert_same_state(before, snapshot(processor))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_an_empty_chunk_is_a_no_op(dtype: type[np.generic]) -> None:
    """Inserting no samples changes nothing."""
    processor = streaming_processor()
    before = snapshot(processor)
    processor.insert_audio_chunk(np.array([], dtype=dtype))
    assert_same_state(before, snapshot(processor))


def test_int16_is_scaled_into_the_unit_range() -> None:
    """16-bit PCM is divided by 32768: -32768 becomes -1.0 and 32767 stays below 1.0."""
    processor = OnlineASRProcessor(script())
    processor.insert_audio_chunk(np.array([-32768, -16384, 0, 1, 32767], dtype=np.int16))
    expected = np.array([-1.0, -0.5, 0.0, 1 / 32768, 32767 / 32768], dtype=np.float32)
    assert processor.audio_buffer.dtype == np.float32
    assert np.array_equal(processor.audio_buffer, expected)


def test_float64_is_accepted_and_rounded_to_float32() -> None:
    """float64 samples are stored as the nearest float32 values."""
    samples = np.array([0.1, -0.3333333333333333, 0.7, 1e-9], dtype=np.float64)
    processor = OnlineASRProcessor(script())
    processor.insert_audio_chunk(samples)
    assert np.array_equal(processor.audio_buffer, samples.astype(np.float32))


def test_a_prepared_window_stays_valid_while_the_stream_moves_on() -> None:
    """The array from prepare() keeps its content through appends, trimming and a restart."""
    processor = streaming_processor(buffer_trimming=("segment", 1.0))
    window, _ = processor.prepare()
    expected = window.copy()
    for _ in range(40):  # enough to outgrow and reallocate the audio storage
        processor.insert_audio_chunk(np.full(SAMPLE_RATE // 2, 0.25, dtype=np.float32))
    assert np.array_equal(window, expected)
    processor.commit([HELLO, WORLD, AGAIN], [0.5, 1.0, 1.5])
    processor.commit([HELLO, WORLD, AGAIN], [0.5, 1.0, 1.5])
    assert processor.buffer_time_offset > 0  # the window was trimmed
    assert np.array_equal(window, expected)
    processor.finish()
    processor.init()
    processor.insert_audio_chunk(np.ones(SAMPLE_RATE, dtype=np.float32))
    assert np.array_equal(window, expected)


def test_the_window_is_read_only() -> None:
    """Writing into the window handed out by prepare() raises."""
    processor = streaming_processor()
    window, _ = processor.prepare()
    with pytest.raises(ValueError):
        window[0] = 1.0


@pytest.mark.parametrize("chunk_samples", [SAMPLE_RATE, 5923, 10 * SAMPLE_RATE + 7])
def test_an_hour_of_audio_never_exceeds_the_cap(chunk_samples: int) -> None:
    """However the hour arrives, the window never holds more than max_window_sec of audio."""
    cap = 30.0
    processor = OnlineASRProcessor(script(), max_window_sec=cap)
    chunk = np.full(chunk_samples, 0.1, dtype=np.float32)
    longest = 0
    for _ in range(3600 * SAMPLE_RATE // chunk_samples):
        processor.insert_audio_chunk(chunk)
        longest = max(longest, len(processor.audio_buffer))
    assert longest <= cap * SAMPLE_RATE
    assert processor.buffer_time_offset > 3600 - cap - 10


def test_whisper_streaming_attributes_read_the_state() -> None:
    """Code written for whisper_streaming reads the same attributes with the same meaning."""
    processor = OnlineASRProcessor(script((HELLO, WORLD), (HELLO, WORLD, AGAIN)))
    processor.insert_audio_chunk(np.zeros(2 * SAMPLE_RATE, dtype=np.float32))
    assert processor.process_iter() == (None, None, "")
    assert processor.process_iter() == (0.0, 1.0, " Hello world")
    assert OnlineASRProcessor.SAMPLING_RATE == processor.SAMPLING_RATE == 16000
    assert isinstance(processor.audio_buffer, np.ndarray)
    assert processor.audio_buffer.shape == (2 * SAMPLE_RATE,)
    assert isinstance(processor.buffer_time_offset, float)
    assert processor.buffer_time_offset == 0.0
    assert processor.commited == [HELLO, WORLD]
    hypothesis = processor.transcript_buffer
    assert hypothesis.complete() == hypothesis.buffer == [AGAIN]
    assert hypothesis.commited_in_buffer == [HELLO, WORLD]
    assert hypothesis.last_commited_time == 1.0
    assert hypothesis.last_commited_word == " world"
