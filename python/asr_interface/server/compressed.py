"""Compressed audio streams (`encoding: "auto"`) decoded with PyAV as their bytes arrive,
on a thread of their own: never on the event loop.

FFmpeg's demuxers pull their input through a read callback, so each stream is decoded on a
thread that FFmpeg blocks in when it wants more bytes. `CompressedDecoder.feed` hands the
thread a frame's bytes and returns at once; the thread calls `on_settled` once it has
decoded everything those bytes make decodable (or has ended), and `take` collects the
samples. No decoding ever waits for the end of the stream. Containers must be streamable
(WebM, Ogg, ADTS, MP3, FLAC, WAV); an MP4 whose index comes last is not.

Two bounds keep a crafted stream from turning a few bytes into hours of audio, each
checked on every decoded FFmpeg frame before it is resampled, so that not even one
frame's samples exceed them: the audio per byte received, and the samples decoded and
not yet taken (`take`'s `room`, what the backlog has left).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

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
"""Longest the decoding of bytes received may take before the stream is given up as
broken."""
SECONDS_PER_BYTE = 1 / 100
"""Audio a byte may decode to, besides `FREE_SECONDS`: eight times what Opus gives at its
lowest bitrate (6 kbit/s) and twice what FLAC makes of digital silence, so that a crafted
stream cannot turn a few bytes into hours of audio."""
FREE_SECONDS = 60.0

_ENDINGS = {
    ErrorCode.INVALID_AUDIO: "the compressed stream cannot be decoded ({}); it ends here",
    ErrorCode.BACKLOG_FULL: (
        "the compressed stream decodes to more audio than may wait for the model ({}); it "
        "ends here: send compressed audio at most in real time"
    ),
}


class UndecodableStream(ProtocolError):
    """Nothing more of the compressed stream is decoded: it is corrupt or unsupported
    (`invalid_audio`), or it expands past the backlog (`backlog_full`). `samples` holds
    what was decoded before, not yet returned."""

    def __init__(self, code: ErrorCode, reason: str, samples: npt.NDArray[np.float32]) -> None:
        super().__init__(code, _ENDINGS[code].format(reason))
        self.samples = samples


class _Refused(Exception):
    """Raised on the decoding thread when a frame would pass a bound."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def _nothing() -> None:
    """The default `on_settled`: a caller that waits in `decode` needs no call."""


class _Pipeline:
    """What the decoding thread shares with its `CompressedDecoder`: the bytes waiting,
    the samples decoded, and where the thread is. Guarded by `condition`."""

    def __init__(self, on_settled: Callable[[], None], room: float) -> None:
        self.condition = threading.Condition()
        self.on_settled = on_settled
        self.pending = bytearray()
        self.closed = False  # no more bytes will come
        self.starved = False  # the thread waits for bytes
        self.finished = False  # the thread has ended
        self.error: tuple[ErrorCode, str] | None = None
        self.decoded: list[npt.NDArray[np.float32]] = []
        self.held = 0  # samples decoded and not taken
        self.room = room  # samples the thread may hold untaken
        self.bytes_in = 0
        self.samples_out = 0

    def read(self, size: int) -> bytes:
        """FFmpeg's read callback: blocks until bytes arrive; b"" at the end."""
        with self.condition:
            while not self.pending and not self.closed:
                if not self.starved:
                    self.starved = True
                    self.condition.notify_all()
                    self.on_settled()
                self.condition.wait()
            self.starved = False
            chunk = bytes(self.pending[:size])
            del self.pending[:size]
            return chunk

    def close(self) -> None:
        with self.condition:
            self.closed = True
            self.condition.notify_all()

    def stop(self) -> None:
        """Nobody will take what is decoded: the bytes waiting and the samples decoded are
        dropped, and the thread ends at its next read or decoded frame."""
        with self.condition:
            self.closed = True
            self.pending.clear()
            self.decoded.clear()
            self.held = 0
            if self.error is None:
                self.error = (ErrorCode.INVALID_AUDIO, "the stream was abandoned")
            self.condition.notify_all()

    def run(self) -> None:
        resampler = Resampler()
        try:
            with av.open(self, mode="r", options=_OPEN_OPTIONS) as container:
                if not container.streams.audio:
                    raise ValueError("no audio stream")
                for frame in container.decode(audio=0):
                    self._admit(frame.samples * SAMPLING_RATE / max(frame.sample_rate, 1))
                    self._put(resampler.push_frame(frame))
            self._put(resampler.flush())
        except _Refused as refused:
            self._fail(refused.code, str(refused))
        except (av.FFmpegError, ValueError, UnicodeDecodeError) as error:
            self._fail(ErrorCode.INVALID_AUDIO, str(error) or type(error).__name__)
        finally:
            with self.condition:
                self.finished = True
                self.condition.notify_all()
            self.on_settled()

    def _fail(self, code: ErrorCode, reason: str) -> None:
        with self.condition:
            if self.error is None:
                self.error = (code, reason)

    def _admit(self, samples: float) -> None:
        """Refuses a decoded frame, before it is resampled, that would pass a bound."""
        with self.condition:
            if self.error is not None:  # given up on (a stall, or stopped): decode no more
                raise _Refused(*self.error)
            allowed = (FREE_SECONDS + self.bytes_in * SECONDS_PER_BYTE) * SAMPLING_RATE
            if self.samples_out + samples > allowed:
                raise _Refused(
                    ErrorCode.INVALID_AUDIO,
                    f"{self.bytes_in} bytes decode to over {allowed / SAMPLING_RATE:.0f} s",
                )
            if self.held + samples > self.room:
                raise _Refused(
                    ErrorCode.BACKLOG_FULL,
                    f"over {max(self.room, 0.0) / SAMPLING_RATE:.0f} s",
                )

    def _put(self, samples: npt.NDArray[np.float32]) -> None:
        with self.condition:
            if self.error is not None:  # given up on: nobody takes these
                return
            self.samples_out += samples.size
            self.held += samples.size
            self.decoded.append(samples)


class CompressedDecoder:
    """Decodes one compressed stream, of any format FFmpeg detects, to 16 kHz float32, on
    a thread of its own.

    `feed` and `close` return at once; `on_settled` is called from the decoding thread
    when everything fed is decoded or the thread has ended, and `take` collects what was
    decoded. The first `take` after the stream turns out corrupt or past a bound raises
    `UndecodableStream`, once. `decode` and `flush` do the same but wait for the thread,
    for callers that may block (benchmarks, tests).
    """

    def __init__(
        self, on_settled: Callable[[], None] | None = None, room: float = float("inf")
    ) -> None:
        self._pipeline = _Pipeline(on_settled or _nothing, room)
        self._thread: threading.Thread | None = None
        self._reported = False
        # A stream dropped without its end or `stop` (a reset, a new stream) still ends
        # its thread: the thread holds the pipeline, never this object.
        weakref.finalize(self, self._pipeline.stop)

    @property
    def pending_bytes(self) -> int:
        """Bytes fed and not yet read by FFmpeg."""
        with self._pipeline.condition:
            return len(self._pipeline.pending)

    @property
    def settled(self) -> bool:
        """Whether everything fed so far is decoded (or nothing more will be)."""
        pipeline = self._pipeline
        with pipeline.condition:
            return pipeline.starved or pipeline.finished or pipeline.error is not None

    @property
    def done(self) -> bool:
        """Whether no sample will come any more: the thread ended, or a failure was
        reported."""
        with self._pipeline.condition:
            pipeline = self._pipeline
            idle = pipeline.finished and not pipeline.decoded and pipeline.error is None
            return self._reported or idle

    def feed(self, frame: bytes) -> None:
        """Hands `frame` to the decoding thread, which starts with the first bytes."""
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

    def close(self) -> None:
        """No more bytes come: the thread decodes what it has, then ends."""
        self._pipeline.close()

    def stop(self) -> None:
        """Abandons the stream (its connection is gone): nothing more is decoded or taken,
        and the thread ends at once rather than decoding the bytes still waiting."""
        self._pipeline.stop()

    def allow(self, room: float) -> None:
        """From now on the thread may hold `room` samples untaken."""
        with self._pipeline.condition:
            self._pipeline.room = room

    def give_up(self, reason: str) -> None:
        """Ends the stream as undecodable: the thread made no progress."""
        pipeline = self._pipeline
        with pipeline.condition:
            if pipeline.error is None:
                pipeline.error = (ErrorCode.INVALID_AUDIO, reason)

    def take(self, room: float = float("inf")) -> npt.NDArray[np.float32]:
        """The samples decoded since the last call; `UndecodableStream` with them the
        first time after a failure. `room` is how many samples may wait, those returned
        included: the thread may decode the rest of it ahead (set in the same breath, so
        that no sample slips between)."""
        pipeline = self._pipeline
        with pipeline.condition:
            parts, pipeline.decoded = pipeline.decoded, []
            pipeline.room = room - pipeline.held
            pipeline.held = 0
            error = pipeline.error
        samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        if error is not None and not self._reported:
            self._reported = True
            pipeline.close()
            raise UndecodableStream(*error, samples)
        return samples

    def decode(self, frame: bytes) -> npt.NDArray[np.float32]:
        """Feeds `frame` and waits (at most `STALL_SECONDS`) until it is decoded; the
        samples that the bytes so far make decodable."""
        self.feed(frame)
        pipeline = self._pipeline
        with pipeline.condition:
            settled = pipeline.condition.wait_for(
                lambda: pipeline.starved or pipeline.finished, STALL_SECONDS
            )
        if not settled:
            self.give_up(f"no progress in {STALL_SECONDS:g} s")
        return self.take()

    def flush(self) -> npt.NDArray[np.float32]:
        """Ends the input, waits for the thread, and returns the rest of the stream's
        samples, also after `decode` raised."""
        self.close()
        if self._thread is not None:
            self._thread.join(STALL_SECONDS)
        return self.take()
