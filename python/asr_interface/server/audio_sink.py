"""Where every stream's audio ends, whatever its encoding: one sink that decodes frames to
16 kHz float32, counts the decoded seconds against the backlog, and refuses past the
limits with the documented errors (docs/protocol.md#limits).

PCM of any rate and G.711 decode on the caller's thread, and their seconds are known before
decoding, so a PCM frame that would pass the backlog is dropped whole and the stream goes
on. Frames shorter than `BATCH_SECONDS` are gathered and decoded together once that much
has come (or at the end): a frame costs a copy of its bytes, and the decoding, resampling
and bookkeeping that cost the same for a byte as for a batch are paid per batch, so tiny
frames cannot make a second of audio cost thousands of times its work. A
compressed stream decodes on a thread of its own (`CompressedDecoder`): a frame is handed
over at once, the thread wakes the caller when its samples are ready, and it stops before
decoding one FFmpeg frame past the room the backlog has left; that stream then ends with
`backlog_full`, since compressed bytes cannot be sent again from the middle. The Realtime
API's base64 PCM enters here as the same PCM frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.protocol import ErrorCode, ProtocolError
from asr_interface.server.compressed import STALL_SECONDS, CompressedDecoder
from asr_interface.server.pcm import PcmDecoder
from asr_interface.server.session_types import SessionLimits

BATCH_SECONDS = 0.01
"""PCM frames holding less audio than this wait to be decoded with the frames after them:
at most this much audio (10 ms, a tenth of the shortest model step) reaches the model
later than it would one frame at a time."""


@dataclass(frozen=True)
class ClosedAudio:
    """What the end of a stream's input gives: the samples ready at once, and the bytes
    received that are no audio, each with the error that tells the client."""

    samples: npt.NDArray[np.float32]
    refusals: tuple[ProtocolError, ...] = ()


class AudioSink:
    """One stream's audio path: frames in, 16 kHz samples out, within the session's limits
    (`SessionLimits`: the frame size, which also bounds the compressed bytes waiting for
    their decoder, and the backlog of decoded seconds).

    `push` a frame as it arrives, with the seconds already waiting for the model; its
    samples come back at once (PCM) or later through `take` (compressed: `wake` is called,
    from the decoding thread, when there are some to take). `close` at the end of the
    stream; once `done`, no sample will come any more. `stop` a stream nobody will finish.
    """

    def __init__(
        self,
        encoding: str = "pcm_s16le",
        sample_rate: int = SAMPLING_RATE,
        *,
        limits: SessionLimits | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.limits = limits or SessionLimits()
        self._pcm: PcmDecoder | None = None
        self._compressed: CompressedDecoder | None = None
        if encoding == "auto":
            room = self.limits.max_backlog_seconds * SAMPLING_RATE
            self._compressed = CompressedDecoder(wake, room)
        else:
            self._pcm = PcmDecoder(encoding, sample_rate)
        self._gathered = bytearray()  # PCM frames shorter than a batch, not yet decoded
        self._batch_bytes = (
            0 if self._pcm is None else round(self._pcm.bytes_per_second * BATCH_SECONDS)
        )
        self._unsettled_since: float | None = None  # when bytes went to the thread

    @property
    def done(self) -> bool:
        """Whether no sample will come any more (true of PCM at any time)."""
        return self._compressed is None or self._compressed.done

    @property
    def decoding(self) -> bool:
        """Whether bytes received are still being decoded."""
        return self._compressed is not None and not self._compressed.settled

    def push(self, frame: bytes, waiting: float, now: float) -> npt.NDArray[np.float32]:
        """The samples ready after `frame`, with `waiting` seconds already waiting for the
        model. `ProtocolError` when the frame is refused (dropped: the stream goes on);
        `UndecodableStream` when the stream ends here."""
        limits = self.limits
        if len(frame) > limits.max_frame_bytes:
            raise ProtocolError(
                ErrorCode.FRAME_TOO_LARGE,
                f"binary frames may hold at most {limits.max_frame_bytes} bytes, "
                f"got {len(frame)}; the frame was dropped",
            )
        if self._pcm is not None:
            return self._push_pcm(frame, waiting)
        assert self._compressed is not None
        if self._compressed.pending_bytes + len(frame) > limits.max_frame_bytes:
            raise ProtocolError(
                ErrorCode.BACKLOG_FULL,
                f"more than {limits.max_frame_bytes} bytes would wait for the decoder; this "
                "frame was dropped: send it again later, at most in real time",
            )
        self._compressed.allow(self._room(waiting))
        self._compressed.feed(frame)
        if self._unsettled_since is None:
            self._unsettled_since = now
        return self.take(waiting, now)

    def take(self, waiting: float, now: float) -> npt.NDArray[np.float32]:
        """The samples decoded off the caller's thread since the last call, with `waiting`
        seconds already waiting for the model; `UndecodableStream`, once, when the stream
        ends here: it is corrupt, past a bound, or its decoding made no progress for
        `STALL_SECONDS`."""
        decoder = self._compressed
        if decoder is None:
            return np.zeros(0, dtype=np.float32)
        if decoder.settled:
            self._unsettled_since = None
        elif self._unsettled_since is not None and now - self._unsettled_since > STALL_SECONDS:
            decoder.give_up(f"no progress in {STALL_SECONDS:g} s")
        return decoder.take(self._room(waiting))

    def close(self, now: float) -> ClosedAudio:
        """Ends the input; the samples that are ready at once (a compressed stream's rest
        comes through `take`), and why bytes received were no audio: those of a sample the
        stream ended inside."""
        if self._pcm is None:
            assert self._compressed is not None
            self._compressed.close()
            if self._unsettled_since is None:
                self._unsettled_since = now
            return ClosedAudio(np.zeros(0, dtype=np.float32))
        last = self._decode_gathered()
        refusals: list[ProtocolError] = []
        unfinished = self._pcm.unfinished_bytes
        if unfinished:
            refusals.append(
                ProtocolError(
                    ErrorCode.INVALID_AUDIO,
                    f"the stream ended {unfinished} byte(s) into a sample: "
                    "those bytes were dropped; a stream holds whole samples",
                )
            )
        return ClosedAudio(np.concatenate([last, self._pcm.flush()]), tuple(refusals))

    def _push_pcm(self, frame: bytes, waiting: float) -> npt.NDArray[np.float32]:
        """A PCM frame's samples: decoded at once when it makes a batch with the frames
        gathered before it, else gathered (no samples yet)."""
        assert self._pcm is not None
        max_backlog = self.limits.max_backlog_seconds
        size = len(self._gathered) + len(frame)
        if waiting + self._pcm.seconds_of(size) > max_backlog:
            raise ProtocolError(
                ErrorCode.BACKLOG_FULL,
                f"more than {max_backlog:g} s of audio would wait for the model; this frame "
                "was dropped: send it again later, at most in real time",
            )
        if not self._gathered and len(frame) >= self._batch_bytes:
            return self._pcm.decode(frame)
        # Refused or taken on arrival: a gathered frame is never refused later.
        self._pcm.check(bytes(self._gathered) + frame)
        self._gathered += frame
        if size < self._batch_bytes:
            return np.zeros(0, dtype=np.float32)
        return self._decode_gathered()

    def _decode_gathered(self) -> npt.NDArray[np.float32]:
        """The samples of the gathered frames, each checked when it came."""
        assert self._pcm is not None
        gathered = bytes(self._gathered)
        self._gathered.clear()
        return self._pcm.decode(gathered)

    def stop(self) -> None:
        """Abandons the stream (its connection is gone): a compressed stream's decoding
        thread ends now, with the bytes and samples it held."""
        if self._compressed is not None:
            self._compressed.stop()

    def _room(self, waiting: float) -> float:
        """Samples that may still be decoded ahead of the model."""
        return (self.limits.max_backlog_seconds - waiting) * SAMPLING_RATE
