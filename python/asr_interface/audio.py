"""Audio input: any file or PCM stream becomes the 16 kHz mono float32 signal Whisper expects."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import av
import numpy as np

from asr_interface._core import SAMPLE_RATE
from asr_interface.errors import AudioDecodeError

SAMPLING_RATE: int = SAMPLE_RATE
"""The rate every stream is converted to, Whisper's (the Rust core's `SAMPLE_RATE`)."""

_PCM_FORMATS = {np.dtype(np.int16): "s16", np.dtype(np.float32): "flt"}


class Resampler:
    """Converts audio of any rate, layout and sample format to 16 kHz mono float32.

    One instance serves one stream: the filter keeps its state between chunks, so chunk
    boundaries leave no clicks or lost samples. Call `flush()` once at the end of the stream
    to get the samples the filter still holds; the instance cannot be used after that.
    """

    def __init__(self) -> None:
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLING_RATE)

    def push_frame(self, frame: av.AudioFrame) -> np.ndarray:
        """Resamples one decoded frame; returns the 16 kHz samples ready so far."""
        return _samples(self._resampler.resample(frame))

    def push_pcm(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Resamples a chunk of mono int16 or float32 PCM at `sample_rate` Hz."""
        pcm = np.ascontiguousarray(samples)
        pcm_format = _PCM_FORMATS.get(pcm.dtype)
        if pcm.ndim != 1 or pcm_format is None:
            raise ValueError(f"expected 1-D int16 or float32 PCM, got {pcm.ndim}-D {pcm.dtype}")
        if pcm.size == 0:
            return np.zeros(0, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format=pcm_format, layout="mono")
        frame.sample_rate = sample_rate
        return self.push_frame(frame)

    def flush(self) -> np.ndarray:
        """Returns the samples still inside the filter at the end of the stream."""
        return _samples(self._resampler.resample(None))


def _samples(frames: list[av.AudioFrame]) -> np.ndarray:
    if not frames:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])


def load_audio(path: str | PathLike[str]) -> np.ndarray:
    """Decodes the first audio stream of any file FFmpeg reads into 16 kHz mono float32.

    Raises `AudioDecodeError` with a one-line reason when the file is missing, is not audio
    or is corrupt, so callers can report it without a traceback.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError(f"audio file not found: {path}")
    resampler = Resampler()
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioDecodeError(f"no audio stream in {path}")
            parts = [resampler.push_frame(frame) for frame in container.decode(audio=0)]
        parts.append(resampler.flush())
    except av.FFmpegError as error:
        raise AudioDecodeError(f"cannot decode audio {path}: {error.strerror}") from error
    return np.concatenate(parts)


def audio_duration(audio: np.ndarray) -> float:
    """Length in seconds of a 16 kHz signal."""
    return len(audio) / SAMPLING_RATE
