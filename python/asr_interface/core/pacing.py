"""When a stream's next model step runs and how much audio it takes: one rule for the server's
sessions and for `simulate`.

`AudioInbox` holds the audio a stream received and the model has not yet taken; `Pacing`
decides from it and the clock whether a step starts and what it takes. Both are plain code
over numbers (no sockets, threads or clocks of their own), so the server and the simulation
of a live stream step through a recording in exactly the same sizes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.core.config import MAX_WINDOW_SECONDS, ASRConfig

MAX_STEP_SECONDS = 3.0
"""Most audio one step takes while the stream keeps up. Longer steps make consecutive
hypotheses disagree more, and delay the first transcript of their audio."""


@dataclass(frozen=True)
class Pacing:
    """The pacing rule of one stream's configuration.

    A step starts when no step runs and at least `min_step_seconds` of audio waits, or no
    more audio follows. It takes everything that arrived while the model was busy, up to
    `max_step_seconds` while the stream keeps up. A stream that lags (the model is slower
    than its audio) takes its whole lag in one step, up to `lagging_step_seconds`, what the
    window holds besides its trimmed part: fewer, longer calls, which cost less per second
    of audio, instead of falling further behind with every step, and the window never drops
    audio the model has not heard. Audio sent ahead of real time is no lag: a client sending
    a file at once still has it taken a few seconds at a time.
    """

    min_step_seconds: float
    max_step_seconds: float = MAX_STEP_SECONDS
    lagging_step_seconds: float = MAX_WINDOW_SECONDS - 15.0

    @classmethod
    def from_config(cls, config: ASRConfig) -> Pacing:
        """The pacing `config` asks for: its step size, and the window its trimming leaves."""
        return cls(
            min_step_seconds=config.min_chunk_size,
            lagging_step_seconds=MAX_WINDOW_SECONDS - config.buffer_trimming_sec,
        )

    def step_seconds(self, lag: float) -> float:
        """The most audio a step takes when the stream lags by `lag` seconds."""
        lagging = min(lag, self.lagging_step_seconds)
        return max(self.min_step_seconds, self.max_step_seconds, lagging)


@dataclass(frozen=True)
class Step:
    """The audio of one step; `final` when no audio follows it in the stream. `lag` is how
    many seconds of the stream's audio, `audio` included, waited for the model."""

    audio: npt.NDArray[np.float32]
    final: bool
    lag: float


@dataclass
class AudioInbox:
    """A stream's received audio that no step has taken yet, and when it arrived."""

    chunks: deque[npt.NDArray[np.float32]] = field(default_factory=deque)
    waiting_samples: int = 0
    received_samples: int = 0
    started_at: float | None = None
    """Arrival time of the first audio: a live source's clock starts there."""

    @property
    def received_seconds(self) -> float:
        return self.received_samples / SAMPLING_RATE

    @property
    def waiting_seconds(self) -> float:
        return self.waiting_samples / SAMPLING_RATE

    def add(self, samples: npt.NDArray[np.float32], now: float) -> None:
        """Audio that arrived at `now`."""
        if samples.size == 0:
            return
        self.chunks.append(samples)
        self.waiting_samples += samples.size
        self.received_samples += samples.size
        if self.started_at is None:
            self.started_at = now

    def clear(self) -> None:
        """Drops the waiting audio (a failed stream, a closed connection)."""
        self.chunks.clear()
        self.waiting_samples = 0

    def lag(self, now: float) -> float:
        """Seconds of waiting audio that a live source would have sent by `now`: for a live
        stream, how far the model is behind its speaker."""
        if self.started_at is None:
            return 0.0
        given = self.received_seconds - self.waiting_seconds
        return max(0.0, min(self.waiting_seconds, now - self.started_at - given))

    def take_step(self, pacing: Pacing, now: float, *, final: bool) -> Step | None:
        """The next step's audio, taken out of the inbox, or None when no step is due; call
        it only while no step of the stream runs. `final`: no audio follows what the inbox
        holds, so a step is due however little waits, and the step that empties it is final."""
        ready = self.waiting_samples >= pacing.min_step_seconds * SAMPLING_RATE
        if not (final or ready):
            return None
        lag = self.lag(now)
        audio = self._take(round(pacing.step_seconds(lag) * SAMPLING_RATE))
        return Step(audio, final=final and self.waiting_samples == 0, lag=lag)

    def _take(self, limit: int) -> npt.NDArray[np.float32]:
        """Up to `limit` samples from the front; copies only what the step takes."""
        parts: list[npt.NDArray[np.float32]] = []
        taken = 0
        while self.chunks and taken < limit:
            chunk = self.chunks.popleft()
            room = limit - taken
            if chunk.size > room:
                self.chunks.appendleft(chunk[room:])
                chunk = chunk[:room]
            parts.append(chunk)
            taken += chunk.size
        self.waiting_samples -= taken
        if not parts:
            return np.zeros(0, np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
