"""One stream's bookkeeping: its audio path and inbox, when its audio arrived (to time
commits against arrivals), the text it committed and the partial it shows, and what a resumed
or prompted stream brought along."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from asr_interface.core.config import MAX_WINDOW_SECONDS
from asr_interface.core.decoding import TimedWord
from asr_interface.core.engine import StepResult
from asr_interface.core.pacing import AudioInbox
from asr_interface.protocol import Commit, Done, Language, Partial, Start, Vad, Word
from asr_interface.server.audio_sink import AudioSink
from asr_interface.server.session_types import ResetStream, Send


@dataclass
class Stream:
    """Per-stream bookkeeping, replaced by every new stream."""

    audio: AudioSink
    inbox: AudioInbox = field(default_factory=AudioInbox)
    # (stream seconds received so far, arrival time), to time commits against arrivals.
    arrivals: deque[tuple[float, float]] = field(default_factory=deque)
    model_seconds: float = 0.0
    committed_any: bool = False
    partial: str = ""
    origin: float = 0.0  # stream time of the first sample: a resumed stream's `resume_from`
    settled: float | None = None  # a resumed stream's `settled`
    context: tuple[str, ...] = ()  # the words a resumed stream committed before `settled`
    prompt: tuple[str, ...] = ()  # the client's prompt, as words
    resumable: bool = False  # its client resumes it elsewhere when this session ends

    @classmethod
    def started(cls, message: Start, audio: AudioSink, sep: str) -> Stream:
        """The stream a `start` begins: resumed from where it says, primed with its prompt."""
        context = context_words(message.context, sep)
        return cls(
            audio,
            committed_any=bool(context),
            origin=message.resume_from,
            settled=message.settled,
            context=context,
            prompt=context_words(message.prompt, sep),
            resumable=message.resumable,
        )

    def engine_reset(self) -> ResetStream:
        """The engine reset that begins this stream where it resumes, with its context."""
        return ResetStream(self.origin, self.context, self.settled, self.prompt)

    @property
    def audio_seconds(self) -> float:
        return self.inbox.received_seconds

    @property
    def end_time(self) -> float:
        """Stream time of the end of the audio received."""
        return self.origin + self.audio_seconds

    def add(self, samples: npt.NDArray[np.float32], now: float, backlog_seconds: float) -> None:
        """Queues decoded samples for the model and notes when they arrived."""
        self.inbox.add(samples, now)
        self.arrivals.append((self.audio_seconds, now))
        # A commit ends inside the model's window, so arrivals older than the window and the
        # backlog can never time one: a stream that commits nothing keeps no more than these.
        horizon = self.audio_seconds - MAX_WINDOW_SECONDS - backlog_seconds
        while self.arrivals[0][0] < horizon:
            self.arrivals.popleft()

    def arrival_of(self, stream_time: float, now: float) -> float:
        """When the audio up to `stream_time` had arrived; older arrivals are forgotten."""
        arrivals = self.arrivals  # keyed by the seconds this session received
        if not arrivals:
            return now
        received = stream_time - self.origin
        index = min(bisect_left(arrivals, (received,)), len(arrivals) - 1)
        arrived = arrivals[index][1]
        for _ in range(index):
            arrivals.popleft()
        return arrived

    def commit_message(self, words: list[TimedWord], settled: float, sep: str) -> Commit:
        """The commit of `words`, joined by `sep` to what the stream committed before."""
        text = sep.join(word for _, _, word in words)
        if self.committed_any and sep:
            text = sep + text
        self.committed_any = True
        return Commit(
            start=words[0][0],
            end=words[-1][1],
            text=text,
            words=[Word(start=b, end=e, word=w) for b, e, w in words],
            settled=settled,
        )

    def partial_text(self, words: list[TimedWord], sep: str) -> str:
        text = sep.join(word for _, _, word in words)
        if text and self.committed_any and sep:
            return sep + text
        return text

    def partial_message(self, words: list[TimedWord], sep: str) -> Partial:
        """The partial of `words`, remembered to send the next only when it differs."""
        text = self.partial_text(words, sep)
        self.partial = text
        if not words:
            return Partial(start=None, end=None, text="")
        return Partial(start=words[0][0], end=words[-1][1], text=text)

    def step_replies(self, result: StepResult, *, final: bool, sep: str) -> list[Send]:
        """What a returned step tells the client, in order: where speech started or ended
        and the language, the commit of its words (after the final step every sample
        received is settled) and the partial, when it changed (none after the final)."""
        replies = _announcements(result)
        if result.committed:
            settled = self.end_time if final else result.committed[-1][1]
            replies.append(Send(self.commit_message(result.committed, settled, sep)))
        partial = [] if final else result.unconfirmed
        if self.partial_text(partial, sep) != self.partial:
            replies.append(Send(self.partial_message(partial, sep)))
        return replies

    def done_message(self) -> Done:
        return Done(
            audio_seconds=round(self.audio_seconds, 3),
            processing_seconds=round(self.model_seconds, 3),
        )


def _announcements(result: StepResult) -> list[Send]:
    """Where speech started or ended, and the stream's language, ahead of the commits."""
    sends = [
        Send(Vad(event=event.kind, time=round(event.time, 3))) for event in result.speech_events
    ]
    if result.language is not None:
        language = result.language
        sends.append(Send(Language(language=language.language, probability=language.probability)))
    return sends


def context_words(context: str, sep: str) -> tuple[str, ...]:
    """A resumed stream's committed text as the model's words: joined by `sep`, or, with
    no separator, each carrying its leading space as faster-whisper's words do."""
    if sep:
        return tuple(word for word in context.split(sep) if word.strip())
    return tuple(re.findall(r"\s*\S+", context))
