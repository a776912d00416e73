"""What a client keeps to carry a stream over to another server.

Every `commit` says up to which stream time the stream is settled. A client keeps its
audio after that time and the end of the text committed so far; when the connection
drops (or a server refuses it), it starts the stream again on any server with
`resume_from` = the settled time and that text as `context`, replays the kept audio, and
goes on live. The new server commits only what the old one had not.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.protocol import MAX_CONTEXT_CHARS, ErrorCode

RETRIED_REFUSALS = frozenset(
    {ErrorCode.OVERLOADED, ErrorCode.TOO_MANY_SESSIONS, ErrorCode.SHUTTING_DOWN}
)
"""Refusals another server (or the same one a little later) may not give."""


@dataclass(frozen=True, kw_only=True)
class Reconnect:
    """How a client carries a stream over a dropped connection or a refused one."""

    attempts: int = 8
    """Connection attempts in a row, refused or failed, before the stream gives up."""
    first_delay: float = 0.2
    """Wait before the second attempt; each further wait doubles, up to `max_delay`."""
    max_delay: float = 4.0
    kept_seconds: float = 30.0
    """Most audio kept: the server's window holds no more, so a stream that committed
    nothing for longer loses only audio its server had dropped."""
    lead_in_seconds: float = 1.0
    """Audio kept before the settled time too, replayed so that the model hears the word
    after it from its beginning and in context rather than cut at its very first sound;
    the words heard again in it are not committed twice."""

    def delays(self) -> list[float]:
        """The wait before each attempt: none before the first."""
        return [0.0] + [
            min(self.max_delay, self.first_delay * 2**attempt)
            for attempt in range(self.attempts - 1)
        ]


class KeptAudio:
    """The stream's audio after its settled time (and `lead_in_seconds` before it), at
    most `limit_seconds` of it."""

    def __init__(self, limit_seconds: float, lead_in_seconds: float = 0.0) -> None:
        self.limit = round(limit_seconds * SAMPLING_RATE)
        self.lead_in = round(lead_in_seconds * SAMPLING_RATE)
        self._chunks: deque[npt.NDArray[np.float32]] = deque()
        self._samples = 0
        self.start = 0  # stream sample of the first kept sample
        self.settled = 0.0  # the latest settled time

    @property
    def start_time(self) -> float:
        """Stream time of the first kept sample: where a resumed stream starts."""
        return self.start / SAMPLING_RATE

    @property
    def full(self) -> bool:
        return self._samples >= self.limit

    def append(self, samples: npt.NDArray[np.float32]) -> None:
        """Keeps `samples`, the stream's next, dropping the oldest beyond the limit."""
        self._chunks.append(samples)
        self._samples += samples.size
        self._drop(self._samples - self.limit)

    def settle(self, time: float) -> None:
        """The server settled the stream up to `time`: forgets the audio before it, but
        for the lead-in."""
        self.settled = max(self.settled, time)
        self._drop(round(time * SAMPLING_RATE) - self.lead_in - self.start)

    def samples(self) -> npt.NDArray[np.float32]:
        """Every kept sample, oldest first."""
        if not self._chunks:
            return np.zeros(0, np.float32)
        return np.concatenate(self._chunks)

    def _drop(self, count: int) -> None:
        while count > 0 and self._chunks:
            head = self._chunks[0]
            if head.size <= count:
                self._chunks.popleft()
                dropped = head.size
            else:
                self._chunks[0] = head[count:]
                dropped = count
            count -= dropped
            self._samples -= dropped
            self.start += dropped


class CommittedText:
    """The end of the text committed so far, as much as a resumed stream's context takes."""

    def __init__(self) -> None:
        self._text = ""

    def add(self, text: str) -> None:
        self._text = (self._text + text)[-2 * MAX_CONTEXT_CHARS :]

    def context(self) -> str:
        """At most `MAX_CONTEXT_CHARS` of the end, starting at a word."""
        if len(self._text) <= MAX_CONTEXT_CHARS:
            return self._text
        tail = self._text[-MAX_CONTEXT_CHARS:]
        space = tail.find(" ", 1)
        return tail[space:] if space > 0 else tail
