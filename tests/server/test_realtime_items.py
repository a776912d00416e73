"""The conversation items of a Realtime session and the events that tell of them, driven by
method calls: no socket, no model."""

from __future__ import annotations

import pytest

from asr_interface.core.engine import SpeechEvent
from asr_interface.realtime_protocol import (
    AudioCommitted,
    SpeechStarted,
    SpeechStopped,
    TranscriptionCompleted,
    TranscriptionDelta,
)
from asr_interface.server.models import ModelPool
from asr_interface.server.realtime import RealtimeSession
from tests.server.realtime_events import (
    append,
    event,
    new_session,
    of_type,
    result,
    sent,
    steps,
    words,
)


def test_manual_turn_sends_deltas_then_committed_then_completed(
    realtime: RealtimeSession,
) -> None:
    """Words are sent as deltas while audio arrives; a commit answers `committed` with the
    item, and the final step's words and `completed` (the joined deltas) follow."""
    (step,) = steps(realtime.receive_text(append(1.1), 0.0))
    assert abs(step.audio.size - 1.1 * 16000) < 100
    actions = realtime.step_finished(result(words((0.0, 0.4, " Hello"))), 1.0)
    (first,) = of_type(actions, TranscriptionDelta)
    assert first.delta == "Hello"
    realtime.receive_text(append(1.1), 1.0)
    actions = realtime.receive_text(event("input_audio_buffer.commit"), 1.1)
    (committed,) = of_type(actions, AudioCommitted)
    assert committed.item_id == first.item_id
    assert committed.previous_item_id is None
    actions = realtime.step_finished(result(words((1.1, 1.5, " world"))), 2.0)
    (second,) = of_type(actions, TranscriptionDelta)
    assert second.delta == " world"
    (final,) = steps(actions)
    assert final.final
    actions = realtime.step_finished(result(words((1.6, 2.0, " again."))), 2.5)
    (completed,) = of_type(actions, TranscriptionCompleted)
    assert completed.item_id == first.item_id
    assert completed.transcript == "Hello world again."
    assert completed.usage.seconds == pytest.approx(2.2)


def test_server_vad_turns_follow_the_utterances(pool: ModelPool) -> None:
    """With `server_vad`, speech starts and ends become `speech_started`/`speech_stopped`
    and `committed`; words are split between the utterances by time, and an ended
    utterance is completed after its step's words."""
    realtime = new_session(pool, vac=True)
    realtime.connected()
    realtime.receive_text(append(1.1), 0.0)
    speech = (SpeechEvent("speech_start", 0.2),)
    actions = realtime.step_finished(result(words((0.3, 0.6, " Yes")), speech), 1.0)
    (started,) = of_type(actions, SpeechStarted)
    assert started.audio_start_ms == 200
    realtime.receive_text(append(1.1), 1.0)
    boundary = (SpeechEvent("speech_end", 1.2), SpeechEvent("speech_start", 1.5))
    spoken = words((0.7, 1.0, " we"), (1.6, 1.9, " can."))
    actions = realtime.step_finished(result(spoken, boundary), 2.0)
    messages = sent(actions)
    kinds = [type(message).__name__ for message in messages]
    assert kinds == [
        "SpeechStopped",
        "AudioCommitted",
        "SpeechStarted",
        "TranscriptionDelta",
        "TranscriptionDelta",
        "TranscriptionCompleted",
    ]
    stopped, committed, restarted, ours, theirs, completed = messages
    assert isinstance(stopped, SpeechStopped) and stopped.audio_end_ms == 1200
    assert isinstance(committed, AudioCommitted) and committed.item_id == started.item_id
    assert isinstance(restarted, SpeechStarted) and restarted.item_id != started.item_id
    assert isinstance(ours, TranscriptionDelta) and ours.item_id == started.item_id
    assert isinstance(theirs, TranscriptionDelta) and theirs.item_id == restarted.item_id
    assert theirs.delta == "can."
    assert isinstance(completed, TranscriptionCompleted)
    assert completed.transcript == "Yes we"
    assert completed.usage.seconds == pytest.approx(1.0)
