"""Binary audio frames to 16 kHz float32, in the format the client declared."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE, Resampler
from asr_interface.protocol import ErrorCode, ProtocolError

_DTYPES: dict[str, np.dtype[Any]] = {"pcm_s16le": np.dtype("<i2"), "pcm_f32le": np.dtype("<f4")}

MAX_FLOAT_SAMPLE = 16.0
"""Largest magnitude of a float sample: audio is in [-1, 1]; overshoot from resampling or
gain passes, while numbers like 3e38 (whose squares overflow in the model's features) are
not audio."""


class PcmDecoder:
    """Decodes one stream's frames; a sample split across two frames is joined again."""

    def __init__(self, encoding: str = "pcm_s16le", sample_rate: int = SAMPLING_RATE) -> None:
        self.encoding = encoding
        self.sample_rate = sample_rate
        self._dtype = _DTYPES[encoding]
        self._carry = b""
        self._resampler = Resampler() if sample_rate != SAMPLING_RATE else None

    def decode(self, frame: bytes) -> npt.NDArray[np.float32]:
        """The frame's samples at 16 kHz; a frame with a NaN, infinite or out-of-range
        sample is refused whole."""
        data = self._carry + frame
        usable = len(data) - len(data) % self._dtype.itemsize
        samples = np.frombuffer(data, dtype=self._dtype, count=usable // self._dtype.itemsize)
        # `not <=` also catches NaN, which compares false.
        if samples.dtype.kind == "f" and not (np.abs(samples) <= MAX_FLOAT_SAMPLE).all():
            index = int(np.flatnonzero(~(np.abs(samples) <= MAX_FLOAT_SAMPLE))[0])
            raise ProtocolError(
                ErrorCode.INVALID_AUDIO,
                f"sample {index} of the frame is {samples[index]}: samples must be finite "
                f"and within +-{MAX_FLOAT_SAMPLE:g}; the frame was dropped",
            )
        self._carry = data[usable:]
        native = samples.astype(samples.dtype.newbyteorder("="))
        if self._resampler is not None:
            resampled: npt.NDArray[np.float32] = self._resampler.push_pcm(native, self.sample_rate)
            return resampled
        if native.dtype.kind == "i":
            return (native / np.float32(32768)).astype(np.float32)
        return native.astype(np.float32, copy=False)

    def flush(self) -> npt.NDArray[np.float32]:
        """The samples the resampler still holds at the end of the stream."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return self._resampler.flush()
