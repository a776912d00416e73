"""The Silero voice activity detector: the ONNX network that faster-whisper ships, run on
onnxruntime over a 16 kHz stream, 32 ms at a time, reporting where speech starts and ends
(core/vac.py's `SpeechDetector`)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.faster_whisper_internals import assets_path
from asr_interface.core.vac import SpeechBoundary

if TYPE_CHECKING:
    import onnxruntime

FRAME_SAMPLES = 512
"""Samples the network judges at once (32 ms); Silero VAD takes 512 at 16 kHz."""
CONTEXT_SAMPLES = 64
"""The end of the previous frame, which the network sees in front of each frame."""
STATE_SHAPE = (1, 1, 128)
"""The network's recurrent state (`h` and `c`), carried from frame to frame."""
HYSTERESIS = 0.15
"""Once speech has started, only probabilities this far below the threshold count as
silence, so a soft syllable does not end an utterance (Silero VAD's own rule)."""


@cache
def silero_session() -> onnxruntime.InferenceSession:
    """The Silero VAD network from faster-whisper's assets, loaded once per process.

    Sessions are safe to run from many threads, and each stream keeps its own state, so all
    streams share one. One thread per run: a 32 ms frame is too small to split.
    """
    # Imported here: onnxruntime is heavy, and only voice activity control needs it.
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    path = assets_path() / "silero_vad_v6.onnx"
    return onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )


class VoiceActivityDetector:
    """Finds speech in a 16 kHz stream fed in chunks of any size.

    Speech starts at the first frame whose speech probability reaches `threshold` and ends
    once the probability has stayed below `threshold - 0.15` for `min_silence_ms`. Both
    boundaries are moved outwards by `speech_pad_ms` (never before the previous end), so the
    quiet onset and decay of the words stay with them. An end is reported `min_silence_ms`
    after the speech stopped: that is the delay before an utterance can be closed.
    """

    def __init__(
        self, threshold: float = 0.5, min_silence_ms: float = 500, speech_pad_ms: float = 300
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if min_silence_ms <= 0 or speech_pad_ms < 0:
            raise ValueError(
                "min_silence_ms must be positive and speech_pad_ms not negative, "
                f"got {min_silence_ms} and {speech_pad_ms}"
            )
        self.threshold = threshold
        self.min_silence_ms = min_silence_ms
        self.speech_pad_ms = speech_pad_ms
        self.frame_samples = FRAME_SAMPLES
        self._silence_threshold = max(threshold - HYSTERESIS, 0.01)
        self._min_silence = round(min_silence_ms * SAMPLING_RATE / 1000)
        self.pad_samples = round(speech_pad_ms * SAMPLING_RATE / 1000)
        self._session = silero_session()
        self.reset()

    def fresh_copy(self) -> VoiceActivityDetector:
        """A detector with the same settings at the start of a new stream."""
        return VoiceActivityDetector(self.threshold, self.min_silence_ms, self.speech_pad_ms)

    def reset(self) -> None:
        """Starts a new stream at sample 0."""
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._unjudged = np.zeros(0, dtype=np.float32)
        self._judged = 0  # samples of whole frames judged so far
        self.in_speech = False
        self._silence_since: int | None = None
        self._last_end = 0

    @property
    def samples_fed(self) -> int:
        """Samples fed since the stream started, judged or not."""
        return self._judged + self._unjudged.size

    def feed(self, audio: npt.NDArray[np.float32]) -> list[SpeechBoundary]:
        """Judges the whole frames that `audio` completes; returns the boundaries found."""
        samples = np.concatenate((self._unjudged, np.asarray(audio, dtype=np.float32)))
        count = samples.size // FRAME_SAMPLES
        self._unjudged = samples[count * FRAME_SAMPLES :]
        if count == 0:
            return []
        frames = samples[: count * FRAME_SAMPLES].reshape(count, FRAME_SAMPLES)
        boundaries = []
        for probability in self._speech_probabilities(frames):
            boundary = self._judge(float(probability))
            if boundary is not None:
                boundaries.append(boundary)
        return boundaries

    def close(self) -> SpeechBoundary | None:
        """Ends the current speech at the last sample fed (the stream ends); None if quiet."""
        if not self.in_speech:
            return None
        self.in_speech = False
        self._silence_since = None
        self._last_end = self.samples_fed
        return SpeechBoundary("speech_end", self._last_end)

    def _speech_probabilities(self, frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        # Each row is the previous frame's last 64 samples followed by the frame itself.
        contexts = np.vstack((self._context, frames[:-1, -CONTEXT_SAMPLES:]))
        rows = np.hstack((contexts, frames))
        probabilities, self._h, self._c = self._session.run(
            None, {"input": rows, "h": self._h, "c": self._c}
        )
        self._context = frames[-1, -CONTEXT_SAMPLES:].copy()
        return np.asarray(probabilities).reshape(-1)

    def _judge(self, probability: float) -> SpeechBoundary | None:
        """Advances by one frame with its speech probability."""
        start = self._judged
        self._judged += FRAME_SAMPLES
        if probability >= self.threshold:
            self._silence_since = None
            if not self.in_speech:
                self.in_speech = True
                return SpeechBoundary("speech_start", max(start - self.pad_samples, self._last_end))
        elif self.in_speech and probability < self._silence_threshold:
            if self._silence_since is None:
                self._silence_since = start
            if self._judged - self._silence_since >= self._min_silence:
                self.in_speech = False
                self._last_end = min(self._silence_since + self.pad_samples, self._judged)
                self._silence_since = None
                return SpeechBoundary("speech_end", self._last_end)
        return None
