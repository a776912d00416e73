"""Audio files and PCM streams become 16 kHz mono float32, and bad files fail in one line."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from asr_interface.audio import SAMPLING_RATE, Resampler, audio_duration, load_audio
from asr_interface.errors import AudioDecodeError
from tests.speech import JFK, speech_audio, speech_path


def encode(path: Path, audio: np.ndarray, codec: str, rate: int, layout: str) -> Path:
    """Writes 16 kHz mono `audio` to `path` with another codec, rate and channel layout."""
    frame = av.AudioFrame.from_ndarray(audio.reshape(1, -1).copy(), format="flt", layout="mono")
    frame.sample_rate = SAMPLING_RATE
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        for pending in (frame, None):
            for packet in stream.encode(pending):
                container.mux(packet)
    return path


def test_wav_decodes_to_its_exact_samples() -> None:
    """A 16 kHz 16-bit WAV decodes to its samples scaled into [-1, 1), unchanged."""
    with wave.open(str(speech_path(JFK))) as recording:
        raw = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2")
    audio = load_audio(speech_path(JFK))
    assert audio.dtype == np.float32
    assert audio.ndim == 1
    assert audio_duration(audio) == pytest.approx(11.0)
    np.testing.assert_array_equal(audio, raw / np.float32(32768))


@pytest.mark.parametrize(
    ("suffix", "codec", "rate", "layout"),
    [
        ("wav", "pcm_s16le", 8000, "mono"),
        ("flac", "flac", 44100, "stereo"),
        ("mp3", "libmp3lame", 22050, "mono"),
        ("ogg", "libopus", 48000, "stereo"),
    ],
)
def test_other_formats_rates_and_layouts_come_back_as_the_same_speech(
    tmp_path: Path, suffix: str, codec: str, rate: int, layout: str
) -> None:
    """Speech re-encoded at another rate, codec and layout decodes to nearly the same signal."""
    original = speech_audio(JFK)[: 3 * SAMPLING_RATE]
    decoded = load_audio(encode(tmp_path / f"speech.{suffix}", original, codec, rate, layout))
    assert decoded.dtype == np.float32
    assert abs(len(decoded) - len(original)) <= SAMPLING_RATE // 100
    length = min(len(decoded), len(original))
    assert np.corrcoef(decoded[:length], original[:length])[0, 1] > 0.99


def test_chunked_resampling_matches_resampling_at_once() -> None:
    """Chunk boundaries of a 48 kHz int16 stream change nothing in the 16 kHz output."""
    rng = np.random.default_rng(7)
    pcm = (rng.standard_normal(48000) * 3000).astype(np.int16)
    whole = Resampler()
    expected = np.concatenate([whole.push_pcm(pcm, 48000), whole.flush()])
    chunked = Resampler()
    cuts = np.sort(rng.choice(np.arange(1, len(pcm)), size=20, replace=False))
    parts = [chunked.push_pcm(part, 48000) for part in np.split(pcm, cuts)]
    np.testing.assert_allclose(np.concatenate([*parts, chunked.flush()]), expected, atol=1e-6)
    assert abs(len(expected) - 16000) <= 32


@pytest.mark.parametrize(
    "samples",
    [np.zeros((2, 100), dtype=np.int16), np.zeros(100, dtype=np.int32)],
    ids=["two-dimensional", "int32"],
)
def test_push_pcm_refuses_other_shapes_and_types(samples: np.ndarray) -> None:
    """Only 1-D int16 or float32 PCM is accepted, with a reason."""
    with pytest.raises(ValueError, match="1-D int16 or float32"):
        Resampler().push_pcm(samples, 8000)


def write_bytes(path: Path, content: bytes) -> Path:
    """Creates `path` holding `content`."""
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: tmp / "missing.wav", "not found"),
        (lambda tmp: tmp, "not found"),
        (lambda tmp: write_bytes(tmp / "empty.wav", b""), "cannot decode"),
        (lambda tmp: write_bytes(tmp / "text.wav", b"hello, not audio\n" * 50), "cannot decode"),
        (lambda tmp: write_bytes(tmp / "cut.wav", b"RIFF$\0\0\0WAVEfmt "), "cannot decode"),
    ],
    ids=["missing", "directory", "empty", "text", "truncated-header"],
)
def test_unreadable_files_raise_one_line_errors(
    tmp_path: Path, make: Callable[[Path], Path], reason: str
) -> None:
    """Missing, empty, non-audio and truncated files raise AudioDecodeError naming the file."""
    path = make(tmp_path)
    with pytest.raises(AudioDecodeError, match=reason) as raised:
        load_audio(path)
    assert str(path) in str(raised.value)
    assert "\n" not in str(raised.value)
