"""Compressed audio streams (`encoding: "auto"`) decoded with PyAV as their bytes arrive.

FFmpeg's demuxers pull their input through a read callback, so a stream whose end has not
arrived yet is decoded on a thread of its own that FFmpeg blocks in when it wants more
bytes. `CompressedDecoder.decode` hands the thread a frame's bytes and waits until it is
blocked again (everything those bytes make decodable is decoded) or has finished: to the
session it is as synchronous as PCM, and no decoding ever waits for the end of the
stream. Containers must be streamable (WebM, Ogg, ADTS, MP3, FLAC, WAV); an MP4 whose
index comes last is not.
"""

from __future__ import annotations

import threading
import weakref

import av
import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE, Resampler
from asr_interface.protocol import ErrorCode, ProtocolError

# Probing reads little before the first packet, so the first words are not held back
# for seconds of a low-bitrate stream; every streamable format names itself in its first
# 16 KiB, and bytes that do not are refused then rather than after a megabyte.
_OPEN_OPTIONS = {"probesize": "4096", "analyzeduration": "1", "formatprobesize": "16384"}
STALL_SECONDS = 10.0
"""Longest a frame's decoding may take before the stream is given up as broken."""
SECONDS_PER_BYTE = 1 / 100
"""Audio a byte may decode to, besides `FREE_SECONDS`: eight times what Opus gives at its
lowest bitrate (6 kbit/s) and twice what FLAC makes of digital silence, so that a crafted
stream cannot turn a few bytes into hours of audio."""
FREE_SECONDS = 60.0


class UndecodableStream(ProtocolError):
    """The compressed stream is corrupt or unsupported: nothing more of it can be decoded.
    `samples` holds what was decoded before, not yet returned."""

    def __init__(self, reason: str, samples: npt.NDArray[np.float32]) -> None:
        super().__init__(
            ErrorCode.INVALID_AUDIO,
            f"the compressed stream cannot be decoded ({reason}); it ends here",
        )
        self.samples = samples


class _Pipeline:
    """What the decoding thread shares with its `CompressedDecoder`: the bytes waiting,
    the samples decoded, and where the thread is. Guarded by `condition`."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.pending = bytearray()
        self.closed = False  # no more bytes will come
        self.starved = False  # the thread waits for bytes
        self.finished = False  # the thread has ended
        self.error: str | None = None
        self.decoded: list[npt.NDArray[np.float32]] = []
        self.bytes_in = 0
        self.samples_out = 0

    def read(self, size: int) -> bytes:
        """FFmpeg's read callback: blocks until bytes arrive; b"" at the end."""
        with self.condition:
            while not self.pending and not self.closed:
                self.starved = True
                self.condition.notify_all()
                self.condition.wait()
            self.starved = False
            chunk = bytes(self.pending[:size])
            del self.pending[:size]
            return chunk

    def close(self) -> None:
        with self.condition:
            self.closed = True
            self.condition.notify_all()

    def run(self) -> None:
        resampler = Resampler()
        try:
            with av.open(self, mode="r", options=_OPEN_OPTIONS) as container:
                if not container.streams.audio:
                    raise ValueError("no audio stream")
                for frame in container.decode(audio=0):
                    self._put(resampler.push_frame(frame))
            self._put(resampler.flush())
        except (av.FFmpegError, ValueError, UnicodeDecodeError) as error:
            with self.condition:
                self.error = str(error) or type(error).__name__
        finally:
            with self.condition:
                self.finished = True
                self.condition.notify_all()

    def _put(self, samples: npt.NDArray[np.float32]) -> None:
        with self.condition:
            self.samples_out += samples.size
            allowed = (FREE_SECONDS + self.bytes_in * SECONDS_PER_BYTE) * SAMPLING_RATE
            if self.samples_out > allowed:
                raise ValueError(
                    f"{self.bytes_in} bytes decode to over {self.samples_out / SAMPLING_RATE:.0f} s"
                )
            self.decoded.append(samples)


class CompressedDecoder:
    """Decodes one compressed stream, of any format FFmpeg detects, to 16 kHz float32.

    Same calls as `PcmDecoder`. The first `decode` or `flush` after the stream turns out
    corrupt or unsupported raises `UndecodableStream`, once; `flush` after that returns
    what is left.
    """

    def __init__(self) -> None:
        self._pipeline = _Pipeline()
        self._thread: threading.Thread | None = None
        self._reported = False
        # A stream dropped without its end (reset, a closed connection) still ends its
        # thread: the thread holds the pipeline, never this object.
        weakref.finalize(self, self._pipeline.close)

    def decode(self, frame: bytes) -> npt.NDArray[np.float32]:
        """The samples that the bytes so far, `frame` included, make decodable."""
        pipeline = self._pipeline
        with pipeline.condition:
            if pipeline.error is None and not pipeline.finished:
                pipeline.pending += frame
                pipeline.bytes_in += len(frame)
                pipeline.starved = False
                pipeline.condition.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(
                target=pipeline.run, name="asr-audio-decoder", daemon=True
            )
            self._thread.start()
        with pipeline.condition:
            settled = pipeline.condition.wait_for(
                lambda: pipeline.starved or pipeline.finished, STALL_SECONDS
            )
            if not settled:
                pipeline.error = f"no progress in {STALL_SECONDS:g} s"
        return self._take()

    def flush(self) -> npt.NDArray[np.float32]:
        """Ends the input and returns the rest of the stream's samples, also after
        `decode` raised."""
        self._pipeline.close()
        if self._thread is not None:
            self._thread.join(STALL_SECONDS)
        return self._take()

    def _take(self) -> npt.NDArray[np.float32]:
        """The samples decoded since the last call; `UndecodableStream` with them the
        first time after a failure."""
        pipeline = self._pipeline
        with pipeline.condition:
            parts, pipeline.decoded = pipeline.decoded, []
            error = pipeline.error
        samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        if error is not None and not self._reported:
            self._reported = True
            pipeline.close()
            raise UndecodableStream(error, samples)
        return samples
