"""The conversation items of one Realtime session, and the events that tell of them.

An item (a *turn*) is the audio of one manual commit, or one utterance of our voice
activity control. `RealtimeItems` keeps the session's audio timeline (streams follow each
other; item times are in session seconds) and writes the item events: committed, deltas
of the words each item got, speech started and stopped, completed, failed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import count

from asr_interface.protocol import Commit, ErrorCode, ProtocolError, Vad
from asr_interface.realtime_protocol import (
    AudioCommitted,
    DurationUsage,
    SpeechStarted,
    SpeechStopped,
    TranscriptionCompleted,
    TranscriptionDelta,
    TranscriptionFailed,
    error_detail,
)
from asr_interface.server.session_types import Send


@dataclass
class Turn:
    """One conversation item: the audio of one manual commit or one utterance."""

    item_id: str
    start: float = 0.0  # seconds of session audio
    end: float | None = None  # where its utterance ended, once known
    transcript: str = ""


class RealtimeItems:
    """Items and the ids of every event of one session."""

    def __init__(self, session_id: str) -> None:
        self._session_id = session_id
        self._event_ids = count(1)
        self._item_ids = count(1)
        self.turn: Turn | None = None  # the item receiving words
        self.committing: Turn | None = None  # committed by hand; waits for the stream's end
        self._ended: deque[Turn] = deque()  # utterances ended in the step being read
        self.has_audio = False  # audio since the last commit or clear
        self._stream_start = 0.0  # session seconds before the current stream
        self.stream_seconds = 0.0  # seconds appended to the current stream
        self._last_item_id: str | None = None

    def event_id(self) -> str:
        return f"event_{self._session_id}_{next(self._event_ids)}"

    def session_time(self, stream_time: float) -> float:
        return self._stream_start + stream_time

    def appended(self, seconds: float, start: float, *, manual: bool) -> None:
        """`seconds` of audio, starting at session time `start`, joined the stream; with
        `manual` commits, it opens an item if none is open."""
        self.has_audio = True
        self.stream_seconds += seconds
        if self.turn is None and manual:
            self.turn = self._new_turn(start)

    def commit(self) -> Send:
        """The client commits the audio since the last commit or clear: its item waits for
        the end of the stream, and is announced at once."""
        if not self.has_audio:
            raise ProtocolError(
                ErrorCode.EMPTY_COMMIT,
                "the input audio buffer holds no audio since the last commit or clear",
            )
        self.has_audio = False
        turn = self.turn or self._new_turn(self.session_time(0.0))
        self.turn = None
        self.committing = turn
        return self._committed(turn)

    def clear(self) -> None:
        """The client drops the audio it has not committed."""
        self.has_audio = False
        self.turn = None

    def next_stream(self) -> None:
        """The stream is over; the next starts where it ended, in session time."""
        self._stream_start += self.stream_seconds
        self.stream_seconds = 0.0

    def deltas(self, commit: Commit, sep: str) -> list[Send]:
        """One delta per item the committed words belong to, in order."""
        groups: list[tuple[Turn, list[str]]] = []
        for word in commit.words:
            turn = self._turn_of(word.start)
            if groups and groups[-1][0] is turn:
                groups[-1][1].append(word.word)
            else:
                groups.append((turn, [word.word]))
        actions: list[Send] = []
        for turn, words in groups:
            text = sep.join(words)
            text = text.lstrip() if not turn.transcript else sep + text
            turn.transcript += text
            if text:
                delta = TranscriptionDelta(
                    event_id=self.event_id(), item_id=turn.item_id, delta=text
                )
                actions.append(Send(delta))
        return actions

    def speech(self, vad: Vad) -> list[Send]:
        """Speech started or stopped: an utterance's item opens, or ends and is committed."""
        if self.committing is not None:
            return []  # in audio the client already committed: it is all that item's
        time = self.session_time(vad.time)
        if vad.event == "speech_start":
            if self.turn is None:
                self.turn = self._new_turn(time)
            started = SpeechStarted(
                event_id=self.event_id(),
                audio_start_ms=round(time * 1000),
                item_id=self.turn.item_id,
            )
            return [Send(started)]
        turn = self.turn or self._new_turn(time)
        self.turn = None
        turn.end = time
        self._ended.append(turn)
        self.has_audio = False
        stopped = SpeechStopped(
            event_id=self.event_id(), audio_end_ms=round(time * 1000), item_id=turn.item_id
        )
        return [Send(stopped), self._committed(turn)]

    def completions(self) -> list[Send]:
        """`completed` for the utterances whose words all came (every word of an ended
        utterance comes in the step that ended it)."""
        completed = [self._completed(turn) for turn in self._ended]
        self._ended.clear()
        return completed

    def fail_open(self, reason: str) -> list[Send]:
        """The model failed on the stream: every open item fails, and a new stream follows."""
        turns = [*self._ended, self.committing, self.turn]
        failed = [
            Send(
                TranscriptionFailed(
                    event_id=self.event_id(),
                    item_id=turn.item_id,
                    error=error_detail(ErrorCode.BACKEND_ERROR.value, reason),
                )
            )
            for turn in turns
            if turn is not None
        ]
        self._ended.clear()
        self.committing = self.turn = None
        self.has_audio = False
        self.next_stream()
        return failed

    def stream_done(self) -> list[Send]:
        """The stream ended (a manual commit, or shutdown): its open items are complete."""
        actions = self.completions()
        if self.turn is not None:  # the stream ended without a commit (shutdown)
            actions.append(self._committed(self.turn))
        for turn in (self.committing, self.turn):
            if turn is not None:
                turn.end = self.session_time(self.stream_seconds)
                actions.append(self._completed(turn))
        self.committing = self.turn = None
        self.next_stream()
        return actions

    def _turn_of(self, word_start: float) -> Turn:
        """The item a word starting at `word_start` (stream time) belongs to."""
        time = self.session_time(word_start)
        for turn in self._ended:
            if turn.end is not None and time < turn.end:
                return turn
        if self.committing is not None:
            return self.committing
        if self.turn is None:
            self.turn = self._new_turn(time)
        return self.turn

    def _committed(self, turn: Turn) -> Send:
        previous, self._last_item_id = self._last_item_id, turn.item_id
        return Send(
            AudioCommitted(
                event_id=self.event_id(), item_id=turn.item_id, previous_item_id=previous
            )
        )

    def _completed(self, turn: Turn) -> Send:
        seconds = max(0.0, (turn.end or turn.start) - turn.start)
        return Send(
            TranscriptionCompleted(
                event_id=self.event_id(),
                item_id=turn.item_id,
                transcript=turn.transcript,
                usage=DurationUsage(seconds=round(seconds, 3)),
            )
        )

    def _new_turn(self, start: float) -> Turn:
        return Turn(f"item_{self._session_id}_{next(self._item_ids)}", start=start)
