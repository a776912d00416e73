"""Speech in the compressed and telephony formats clients send, made with PyAV's encoders
so that no recording is stored in another format."""

from __future__ import annotations

import io

import av
import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE

COMPRESSED_FORMATS = {
    # name: (container, codec, sample rate)
    "webm_opus": ("webm", "libopus", 48000),
    "ogg_opus": ("ogg", "libopus", 48000),
    "mp3": ("mp3", "libmp3lame", 16000),
    "aac_adts": ("adts", "aac", 16000),
    "flac": ("flac", "flac", 16000),
    "wav": ("wav", "pcm_s16le", 16000),
}


def _frames(audio: npt.NDArray[np.float32], sample_format: str, rate: int) -> list[av.AudioFrame]:
    """16 kHz float samples as frames of the encoder's format and rate."""
    resampler = av.AudioResampler(format=sample_format, layout="mono", rate=rate)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(audio, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = SAMPLING_RATE
    return [*resampler.resample(frame), *resampler.resample(None)]


def encode_speech(audio: npt.NDArray[np.float32], name: str) -> bytes:
    """16 kHz speech as a whole file of one of `COMPRESSED_FORMATS`."""
    container_format, codec, rate = COMPRESSED_FORMATS[name]
    output = io.BytesIO()
    with av.open(output, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        encoder = stream.codec_context
        sample_format = encoder.codec.audio_formats[0].name
        for frame in _frames(audio, sample_format, rate):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return output.getvalue()


def encode_g711(audio: npt.NDArray[np.float32], codec: str) -> bytes:
    """16 kHz speech as 8 kHz G.711 bytes (`pcm_mulaw` or `pcm_alaw`), as a phone sends."""
    encoder = av.CodecContext.create(codec, "w")
    encoder.sample_rate = 8000
    encoder.layout = "mono"
    encoder.format = "s16"
    packets = [p for frame in _frames(audio, "s16", 8000) for p in encoder.encode(frame)]
    packets += encoder.encode(None)
    return b"".join(bytes(packet) for packet in packets)
