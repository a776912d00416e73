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


def _mulaw_table() -> npt.NDArray[np.int16]:
    """The 16-bit value of each G.711 mu-law byte (ITU-T G.711, as in telephony)."""
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    magnitude = ((((code & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> npt.NDArray[np.int16]:
    """The 16-bit value of each G.711 A-law byte."""
    code = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (code >> 4) & 0x07
    mantissa = (code & 0x0F) << 4
    magnitude = np.where(exponent == 0, mantissa + 8, (mantissa + 0x108) << (exponent - 1))
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


_G711_TABLES = {"pcm_mulaw": _mulaw_table(), "pcm_alaw": _alaw_table()}
"""Telephony's one-byte codes, decoded by table to int16 and then treated as `pcm_s16le`."""


class PcmDecoder:
    """Decodes one stream's frames; a sample split across two frames is joined again."""

    def __init__(self, encoding: str = "pcm_s16le", sample_rate: int = SAMPLING_RATE) -> None:
        self.encoding = encoding
        self.sample_rate = sample_rate
        self._g711 = _G711_TABLES.get(encoding)
        self._dtype = _DTYPES["pcm_s16le" if self._g711 is not None else encoding]
        self._carry = b""
        self._resampler = Resampler() if sample_rate != SAMPLING_RATE else None

    @property
    def bytes_per_second(self) -> int:
        """Bytes of one second of audio in this format."""
        return self.sample_rate * (1 if self._g711 is not None else self._dtype.itemsize)

    @property
    def unfinished_bytes(self) -> int:
        """Bytes of a sample begun and not finished: they wait for the next frame."""
        return len(self._carry)

    def seconds_of(self, size: int) -> float:
        """Seconds of audio `size` more bytes complete, known before they are decoded."""
        if self._g711 is not None:
            return size / self.sample_rate
        return (len(self._carry) + size) // self._dtype.itemsize / self.sample_rate

    def check(self, frame: bytes) -> None:
        """Raises `invalid_audio` when a sample `frame` completes is NaN, infinite or out
        of range (only float samples can be)."""
        if self._dtype.kind != "f":
            return
        data = self._carry + frame
        samples = np.frombuffer(data, dtype=self._dtype, count=len(data) // self._dtype.itemsize)
        # `not <=` also catches NaN, which compares false.
        if not (np.abs(samples) <= MAX_FLOAT_SAMPLE).all():
            index = int(np.flatnonzero(~(np.abs(samples) <= MAX_FLOAT_SAMPLE))[0])
            raise ProtocolError(
                ErrorCode.INVALID_AUDIO,
                f"sample {index} of the frame is {samples[index]}: samples must be finite "
                f"and within +-{MAX_FLOAT_SAMPLE:g}; the frame was dropped",
            )

    def decode(self, frame: bytes) -> npt.NDArray[np.float32]:
        """The frame's samples at 16 kHz; a frame with a NaN, infinite or out-of-range
        sample is refused whole (`check`)."""
        self.check(frame)
        if self._g711 is not None:
            frame = self._g711[np.frombuffer(frame, dtype=np.uint8)].astype("<i2").tobytes()
        data = self._carry + frame
        usable = len(data) - len(data) % self._dtype.itemsize
        samples = np.frombuffer(data, dtype=self._dtype, count=usable // self._dtype.itemsize)
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
