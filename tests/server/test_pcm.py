"""Binary frames become 16 kHz float32 samples, whatever the declared format and framing."""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.audio import SAMPLING_RATE
from asr_interface.protocol import ErrorCode, ProtocolError
from asr_interface.server.pcm import MAX_FLOAT_SAMPLE, PcmDecoder

RATE = SAMPLING_RATE


def sine(frequency: float, rate: int, seconds: float) -> npt.NDArray[np.float32]:
    times = np.arange(round(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * times)).astype(np.float32)


def encode(samples: npt.NDArray[np.float32], encoding: str) -> bytes:
    if encoding == "pcm_s16le":
        return np.round(samples * 32767).astype("<i2").tobytes()
    return samples.astype("<f4").tobytes()


def decode_in_frames(decoder: PcmDecoder, data: bytes, frame_bytes: int) -> npt.NDArray[np.float32]:
    parts = [decoder.decode(data[i : i + frame_bytes]) for i in range(0, len(data), frame_bytes)]
    return np.concatenate([*parts, decoder.flush()])


def dominant_frequency(samples: npt.NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def test_s16le_is_scaled_to_unit_range() -> None:
    """16-bit samples are divided by 32768, so full scale maps onto [-1, 1)."""
    values = np.array([-32768, -16384, 0, 1, 16384, 32767], dtype="<i2")
    decoded = PcmDecoder("pcm_s16le", RATE).decode(values.tobytes())
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, values / np.float32(32768))


def test_f32le_passes_through() -> None:
    """Float samples at 16 kHz arrive unchanged, as native float32."""
    values = np.array([-1.0, -0.25, 0.0, 0.5, 1.0], dtype="<f4")
    decoded = PcmDecoder("pcm_f32le", RATE).decode(values.tobytes())
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, values)


@pytest.mark.parametrize("encoding", ["pcm_s16le", "pcm_f32le"])
@pytest.mark.parametrize("frame_bytes", [1, 3, 5, 7, 1001])
def test_samples_split_across_frames_are_joined(encoding: str, frame_bytes: int) -> None:
    """Frames of any length, even cutting samples in two, decode to the whole signal."""
    signal = sine(440, RATE, 0.25)
    data = encode(signal, encoding)
    whole = PcmDecoder(encoding, RATE).decode(data)
    pieces = decode_in_frames(PcmDecoder(encoding, RATE), data, frame_bytes)
    np.testing.assert_array_equal(pieces, whole)


@pytest.mark.parametrize(("encoding", "size"), [("pcm_s16le", 2), ("pcm_f32le", 4)])
def test_dangling_bytes_wait_for_the_rest_of_their_sample(encoding: str, size: int) -> None:
    """Bytes short of a whole sample yield nothing until the frame that completes them."""
    decoder = PcmDecoder(encoding, RATE)
    data = encode(np.array([0.5, -0.5], dtype=np.float32), encoding)
    assert decoder.decode(data[: size - 1]).size == 0
    assert decoder.decode(data[size - 1 : size + 1]).size == 1
    assert decoder.decode(data[size + 1 :]).tolist() == pytest.approx([-0.5], abs=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 3e38, -3e38, 16.5])
def test_non_finite_or_out_of_range_float_frame_is_refused_whole(bad: float) -> None:
    """A frame with NaN, Inf or a sample far outside [-1, 1] raises `invalid_audio` naming
    the sample; bytes carried from the frame before are kept for the next good frame."""
    decoder = PcmDecoder("pcm_f32le", RATE)
    good = np.array([0.25, 0.5], dtype="<f4").tobytes()
    assert decoder.decode(good[:3]).size == 0
    frame = good[3:4] + np.array([0.0, bad], dtype="<f4").tobytes()
    with pytest.raises(ProtocolError) as caught:
        decoder.decode(frame)
    assert caught.value.code is ErrorCode.INVALID_AUDIO
    assert "sample 2 " in caught.value.message
    assert decoder.decode(good[3:]).tolist() == [0.25, 0.5]


def test_overshoot_within_the_margin_is_audio() -> None:
    """Samples a little beyond full scale, as resampling leaves them, are accepted as sent."""
    values = np.array([1.2, -1.5, MAX_FLOAT_SAMPLE], dtype="<f4")
    np.testing.assert_array_equal(PcmDecoder("pcm_f32le", RATE).decode(values.tobytes()), values)


def test_16_khz_needs_no_flush() -> None:
    """Without resampling nothing is held back at the end of the stream."""
    decoder = PcmDecoder("pcm_s16le", RATE)
    decoder.decode(encode(sine(440, RATE, 0.1), "pcm_s16le"))
    assert decoder.flush().size == 0


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
@pytest.mark.parametrize("encoding", ["pcm_s16le", "pcm_f32le"])
def test_other_rates_are_resampled_to_16_khz(rate: int, encoding: str) -> None:
    """Audio at another rate, sent in 20 ms frames, becomes as many 16 kHz samples as its
    duration holds, and a tone keeps its pitch."""
    seconds, tone = 2.0, 1000.0
    data = encode(sine(tone, rate, seconds), encoding)
    frame_bytes = (rate // 50) * (2 if encoding == "pcm_s16le" else 4)
    decoded = decode_in_frames(PcmDecoder(encoding, rate), data, frame_bytes)
    assert decoded.dtype == np.float32
    assert abs(decoded.size - seconds * RATE) <= 4
    assert dominant_frequency(decoded, RATE) == pytest.approx(tone, abs=2)
    assert np.max(np.abs(decoded[RATE // 2 : -RATE // 2])) == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("encoding", ["pcm_mulaw", "pcm_alaw"])
def test_g711_bytes_decode_as_ffmpeg_decodes_them(encoding: str) -> None:
    """Every one of the 256 mu-law and A-law codes gives FFmpeg's 16-bit value."""
    codec = av.CodecContext.create(encoding, "r")
    codec.sample_rate = RATE
    codec.layout = "mono"
    every_code = bytes(range(256))
    expected = np.concatenate(
        [f.to_ndarray().reshape(-1) for f in codec.decode(av.Packet(every_code))]
    )
    decoded = PcmDecoder(encoding, RATE).decode(every_code)
    np.testing.assert_array_equal(decoded, expected / np.float32(32768))


@pytest.mark.parametrize(
    ("encoding", "rate", "frame_bytes"),
    [("pcm_s16le", 48000, 999), ("pcm_f32le", 8000, 1001), ("pcm_mulaw", 8000, 160)],
)
def test_a_frames_seconds_are_known_before_it_is_decoded(
    encoding: str, rate: int, frame_bytes: int
) -> None:
    """`seconds_of` counts the samples a frame completes, a sample split across frames
    included, so that the backlog is checked before decoding: over a stream they add up to
    its length."""
    tone = sine(440, rate, 1.0)
    data = bytes(range(256)) * (rate // 256) if encoding == "pcm_mulaw" else encode(tone, encoding)
    decoder = PcmDecoder(encoding, rate)
    counted = 0.0
    for begin in range(0, len(data), frame_bytes):
        frame = data[begin : begin + frame_bytes]
        counted += decoder.seconds_of(len(frame))
        decoder.decode(frame)
    bytes_per_sample = {"pcm_s16le": 2, "pcm_f32le": 4, "pcm_mulaw": 1}[encoding]
    assert counted == pytest.approx(len(data) // bytes_per_sample / rate)
