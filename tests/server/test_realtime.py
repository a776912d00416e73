"""The Realtime translator driven by method calls: no socket, no model."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asr_interface.core.config import ASRConfig
from asr_interface.realtime_protocol import (
    AudioCleared,
    AudioCommitted,
    ErrorEvent,
    SessionCreated,
    SessionUpdated,
    TranscriptionCompleted,
    TranscriptionFailed,
)
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.models import ModelPool
from asr_interface.server.realtime import RealtimeSession
from asr_interface.server.session import Session
from asr_interface.server.session_types import (
    Close,
    LoadConfig,
    ResetStream,
    SessionLimits,
)
from tests.server.realtime_events import (
    append,
    error_codes,
    event,
    new_session,
    of_type,
    result,
    sent,
    steps,
    update,
    words,
)
from tests.server.session_driver import Driver, realtime_answer


def test_update_that_keeps_the_model_answers_at_once(realtime: RealtimeSession) -> None:
    """An API model name means the server's model: nothing loads, `session.updated` comes
    at once with the new format."""
    actions = realtime.receive_text(
        update(format={"type": "audio/pcmu"}, transcription={"model": "gpt-4o-transcribe"}), 0.0
    )
    (updated,) = sent(actions)
    assert isinstance(updated, SessionUpdated)
    assert updated.session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert updated.session["audio"]["input"]["transcription"]["model"] == "tiny.en"
    assert not any(isinstance(action, LoadConfig) for action in actions)


def test_update_that_changes_the_model_loads_it_and_holds_audio(
    realtime: RealtimeSession,
) -> None:
    """A new language or turn detection loads a configuration; audio sent meanwhile waits
    and is streamed, in order, once `session.updated` is sent."""
    actions = realtime.receive_text(
        update(transcription={"language": None}, turn_detection={"type": "server_vad"}), 0.0
    )
    (load,) = [action for action in actions if isinstance(action, LoadConfig)]
    assert load.config.lan == "auto"
    assert load.config.vac
    assert realtime.receive_text(append(1.5), 0.1) == []
    actions = realtime.model_loaded(load.config, {}, "")
    updated, *_ = sent(actions)
    assert isinstance(updated, SessionUpdated)
    assert updated.session["audio"]["input"]["transcription"]["language"] is None
    assert updated.session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    (step,) = steps(actions)
    assert abs(step.audio.size - 1.5 * 16000) < 100


REALTIME_BURST: list[str | bytes] = [
    append(1.5),
    event("input_audio_buffer.commit"),
    update(turn_detection={"type": "server_vad"}),
    event("input_audio_buffer.clear"),
    "{",
    b"\0\0",
    event("input_audio_buffer.commit"),
]
"""A turn, another model, a clear, a broken frame, a binary frame and an empty commit,
sent at once."""


@pytest.mark.parametrize("load_fails", [False, True])
def test_a_burst_during_a_load_is_answered_in_order(pool: ModelPool, load_fails: bool) -> None:
    """Events sent while a model loads are answered in the order they came: the update (or
    its failure), the turn on the model then in use, the next update, the clear, then the
    refusals, each only once the event before it is answered."""
    driver = Driver(
        new_session(pool),
        answer=realtime_answer,
        fails=lambda config: load_fails and config.lan == "auto",
    )
    driver.apply(driver.session.connected())
    driver.send(update(transcription={"language": None}))
    for frame in REALTIME_BURST:
        driver.send(frame)
    assert driver.answers == ["session.created"]
    driver.drain()
    assert driver.answers == [
        "session.created",
        "error model_load_failed" if load_fails else "session.updated",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
        "session.updated",
        "input_audio_buffer.cleared",
        "error invalid_json",
        "error invalid_message",
        "error empty_commit",
    ]


def test_events_after_a_clear_wait_for_the_running_step(pool: ModelPool) -> None:
    """A clear while a step runs is answered once the step returns; a change of model and
    audio sent meanwhile follow it, in order."""
    driver = Driver(new_session(pool), answer=realtime_answer)
    driver.apply(driver.session.connected())
    driver.send(append(1.1))
    driver.send(event("input_audio_buffer.clear"))
    driver.send(update(transcription={"language": None}))
    driver.send(append(1.1))
    driver.send(event("input_audio_buffer.commit"))
    assert driver.answers == ["session.created"]
    driver.drain()
    assert driver.answers == [
        "session.created",
        "input_audio_buffer.cleared",
        "session.updated",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
    ]


def test_audio_after_a_commit_waits_for_its_turn(realtime: RealtimeSession) -> None:
    """Audio and a second commit sent while the first turn finishes wait, then become the
    next item, with the first as its predecessor."""
    realtime.receive_text(append(1.1), 0.0)
    (first,) = of_type(
        realtime.receive_text(event("input_audio_buffer.commit"), 0.1), AudioCommitted
    )
    assert realtime.receive_text(append(1.1), 0.2) == []
    assert realtime.receive_text(event("input_audio_buffer.commit"), 0.3) == []
    (final,) = steps(realtime.step_finished(result(words((0.0, 0.5, " one"))), 1.0))
    assert final.final
    actions = realtime.step_finished(result(), 1.2)
    (completed,) = of_type(actions, TranscriptionCompleted)
    assert (completed.item_id, completed.transcript) == (first.item_id, "one")
    (second,) = of_type(actions, AudioCommitted)
    assert second.previous_item_id == first.item_id
    assert any(isinstance(action, ResetStream) for action in actions)
    (final,) = steps(realtime.step_finished(result(words((0.1, 0.6, " two"))), 2.0))
    assert final.final
    (completed,) = of_type(realtime.step_finished(result(), 2.2), TranscriptionCompleted)
    assert (completed.item_id, completed.transcript) == (second.item_id, "two")
    assert completed.usage.seconds == pytest.approx(1.1)


def test_clear_drops_the_buffer(realtime: RealtimeSession) -> None:
    """`clear` answers `cleared`: at once with nothing streamed, after the running step
    otherwise, and that step's words are not sent."""
    (cleared,) = sent(realtime.receive_text(event("input_audio_buffer.clear"), 0.0))
    assert isinstance(cleared, AudioCleared)
    realtime.receive_text(append(1.1), 0.0)
    assert sent(realtime.receive_text(event("input_audio_buffer.clear"), 0.1)) == []
    actions = realtime.step_finished(result(words((0.0, 0.4, " gone"))), 1.0)
    assert [type(message) for message in sent(actions)] == [AudioCleared]
    assert error_codes(realtime.receive_text(event("input_audio_buffer.commit"), 1.1)) == [
        "empty_commit"
    ]


def test_backend_failure_fails_the_item_and_streaming_goes_on(
    realtime: RealtimeSession,
) -> None:
    """A failing model gives `backend_error` and the item's `failed`; the next append
    starts a new stream without the client resetting anything."""
    realtime.receive_text(append(1.1), 0.0)
    actions = realtime.step_failed("RuntimeError: boom", 1.0)
    assert error_codes(actions) == ["backend_error"]
    (failed,) = of_type(actions, TranscriptionFailed)
    assert "boom" in failed.error.message
    assert not of_type(actions, AudioCleared)
    (step,) = steps(realtime.receive_text(append(1.1), 2.0))
    assert abs(step.audio.size - 1.1 * 16000) < 100


def test_held_events_are_bounded(pool: ModelPool) -> None:
    """Events sent while a turn finishes wait up to the limits, counted by their bytes
    whatever their type; beyond either limit, `buffer_full` naming the dropped event."""
    realtime = new_session(pool, limits=SessionLimits(max_held_bytes=100_000, max_held_events=3))
    realtime.connected()
    realtime.receive_text(append(1.1), 0.0)
    realtime.receive_text(event("input_audio_buffer.commit"), 0.1)
    assert realtime.receive_text(append(1.1), 0.2) == []
    assert error_codes(realtime.receive_text(append(1.1), 0.3)) == ["buffer_full"]
    keywords = ["k" * 1000] * 40  # no audio, but 41 kB held
    big = update(transcription={"keywords": keywords})
    actions = realtime.receive_text(json.dumps({**json.loads(big), "event_id": "evt_big"}), 0.35)
    assert error_codes(actions) == ["buffer_full"]
    assert of_type(actions, ErrorEvent)[0].error.event_id == "evt_big"
    assert realtime.receive_text(event("input_audio_buffer.clear"), 0.4) == []
    assert realtime.receive_text(event("input_audio_buffer.clear"), 0.5) == []
    codes = error_codes(realtime.receive_text(event("input_audio_buffer.clear"), 0.6))
    assert codes == ["buffer_full"]


BAD_EVENTS = [
    ("{", "invalid_json"),
    ("[1]", "invalid_message"),
    (event("input_audio_buffer.flush"), "unknown_type"),
    (json.dumps({"audio": ""}), "unknown_type"),
    (event("input_audio_buffer.append"), "invalid_message"),
    (event("input_audio_buffer.append", audio="not base64!"), "invalid_message"),
    (event("input_audio_buffer.commit", now=True), "invalid_message"),
    (event("input_audio_buffer.commit"), "empty_commit"),
    (event("session.update", session={"audio": {}}), "invalid_message"),
    (update(format={"type": "audio/opus"}), "invalid_message"),
    (event("response.create"), "unsupported_feature"),
    (event("conversation.item.create", item={}), "unsupported_feature"),
    (event("transcription_session.update", session={}), "unsupported_feature"),
    (event("session.update", session={"type": "realtime"}), "unsupported_feature"),
    (
        event("session.update", session={"type": "transcription", "voice": "x"}),
        "unsupported_feature",
    ),
    (
        event("session.update", session={"type": "transcription", "include": ["x"]}),
        "unsupported_feature",
    ),
    (
        event("session.update", session={"type": "transcription", "audio": {"output": {}}}),
        "unsupported_feature",
    ),
    (update(format={"type": "audio/pcm", "rate": 16000}), "unsupported_feature"),
    (update(noise_reduction={"type": "near_field"}), "unsupported_feature"),
    (update(transcription={"keywords": ["Kennedy"]}), "unsupported_feature"),
    (update(transcription={"model": "gpt-4o-transcribe-diarize"}), "unsupported_feature"),
    (update(turn_detection={"type": "semantic_vad"}), "unsupported_feature"),
    (update(turn_detection={"type": "server_vad", "threshold": 0.8}), "unsupported_feature"),
    (
        update(turn_detection={"type": "server_vad", "create_response": True}),
        "unsupported_feature",
    ),
    (update(transcription={"model": "base"}), "model_not_allowed"),
    (update(transcription={"language": "xx"}), "invalid_config"),
]


@pytest.mark.parametrize(("text", "code"), BAD_EVENTS)
def test_bad_events_get_typed_errors_and_change_nothing(
    realtime: RealtimeSession, text: str, code: str
) -> None:
    """Every refusal is an `error` event with our code, naming the client's event; the
    session then streams as before."""
    data = json.loads(text) if text.startswith('{"') else None
    if isinstance(data, dict):
        text = json.dumps({**data, "event_id": "evt_1"})
    actions = realtime.receive_text(text, 0.0)
    assert error_codes(actions) == [code]
    (error,) = of_type(actions, ErrorEvent)
    assert error.error.event_id == ("evt_1" if isinstance(data, dict) else None)
    assert error.error.message
    (step,) = steps(realtime.receive_text(append(1.1), 0.0))
    assert abs(step.audio.size - 1.1 * 16000) < 100


def test_binary_frames_and_changes_mid_stream_are_refused(realtime: RealtimeSession) -> None:
    """Audio comes as base64 only, and the format cannot change under a running stream."""
    assert error_codes(realtime.receive_bytes(b"\0\0", 0.0)) == ["invalid_message"]
    realtime.receive_text(append(1.1), 0.0)
    codes = error_codes(realtime.receive_text(update(format={"type": "audio/pcma"}), 0.1))
    assert codes == ["stream_in_progress"]


def test_telephony_formats_stream_at_8_khz(realtime: RealtimeSession) -> None:
    """After `audio/pcmu`, one byte is one 8 kHz sample: a second of it is a second."""
    realtime.receive_text(update(format={"type": "audio/pcmu"}), 0.0)
    mulaw = base64.b64encode(bytes([0xFF]) * 8800).decode()
    actions = realtime.receive_text(event("input_audio_buffer.append", audio=mulaw), 0.0)
    (step,) = steps(actions)
    assert abs(step.audio.size - 1.1 * 16000) < 100


def test_model_in_the_url_is_loaded_after_created(pool: ModelPool) -> None:
    """A `model` in the connection's query chooses the model: `session.created` comes
    first, then the load; an API model name keeps the server's model."""
    session = Session("s1", ASRConfig(), sep="", validate_config=pool.validate)
    actions = RealtimeSession(session, model="base.en").connected()
    assert isinstance(sent(actions)[0], SessionCreated)
    (load,) = [action for action in actions if isinstance(action, LoadConfig)]
    assert load.config.model == "base.en"
    session = Session("s2", ASRConfig(), sep="", validate_config=pool.validate)
    _, updated = sent(RealtimeSession(session, model="whisper-1").connected())
    assert isinstance(updated, SessionUpdated)


def test_errors_are_counted_once(pool: ModelPool) -> None:
    """The metrics count the translator's own refusals and the session's errors, each
    once."""
    metrics = ServerMetrics()
    session = Session("s1", ASRConfig(), sep="", validate_config=pool.validate, observer=metrics)
    realtime = RealtimeSession(session, observer=metrics)
    realtime.connected()
    realtime.receive_text(event("response.create"), 0.0)
    realtime.receive_text(update(transcription={"model": "base"}), 0.0)

    def count(code: str) -> float | None:
        return metrics.registry.get_sample_value("asr_errors_total", {"code": code})

    assert count("unsupported_feature") == 1
    assert count("model_not_allowed") == 1


def test_shutdown_commits_and_completes_the_open_turn(realtime: RealtimeSession) -> None:
    """A server stopping mid-turn finishes it as a commit would: `committed`, the last
    words and `completed`, then the close."""
    realtime.receive_text(append(1.1), 0.0)
    assert realtime.shutdown(0.5) == []  # the running step finishes first
    (final,) = steps(realtime.step_finished(result(words((0.0, 0.5, " Bye"))), 1.0))
    assert final.final
    actions = realtime.step_finished(result(), 1.5)
    kinds = [type(message).__name__ for message in sent(actions)]
    assert kinds == ["AudioCommitted", "TranscriptionCompleted"]
    assert isinstance(actions[-1], Close)


def test_prompt_primes_the_stream_of_each_turn(realtime: RealtimeSession) -> None:
    """`transcription.prompt` is accepted, echoed in `session.updated` and reaches the
    engine as the stream's prompt words, apart from any resumed context."""
    actions = realtime.receive_text(update(transcription={"prompt": "Kennedy said"}), 0.0)
    (updated,) = of_type(actions, SessionUpdated)
    assert updated.session["audio"]["input"]["transcription"]["prompt"] == "Kennedy said"
    actions = realtime.receive_text(append(0.5), 0.1)
    resets = [action for action in actions if isinstance(action, ResetStream)]
    assert [(reset.prompt, reset.context) for reset in resets] == [(("Kennedy", " said"), ())]


REALTIME_EVENTS: dict[str, str | bytes] = {
    "append 0.3 s": append(0.3),
    "append 1.1 s": append(1.1),
    "commit": event("input_audio_buffer.commit"),
    "clear": event("input_audio_buffer.clear"),
    "any language": update(transcription={"language": None}),
    "english": update(transcription={"language": "en"}),
    "failing model": update(transcription={"model": "base.en"}),
    "pcmu": update(format={"type": "audio/pcmu"}),
    "not json": "{",
    "binary": b"\0\0",
}
"""Client events of every kind and outcome, by name."""


@given(
    script=st.lists(st.sampled_from([*REALTIME_EVENTS, "work"]), max_size=40),
)
def test_events_get_the_answers_of_a_client_that_waits(pool: ModelPool, script: list[str]) -> None:
    """Whatever a client sends, whenever loads and model calls finish meanwhile, it gets
    the answers a client sending each event only after the answers to the one before would
    get, in the order of its events; every event but an append is answered."""

    def fails(config: ASRConfig) -> bool:
        return config.model == "base.en"

    bursting = Driver(new_session(pool), answer=realtime_answer, fails=fails)
    bursting.apply(bursting.session.connected())
    for item in script:
        if item == "work":
            bursting.work()
        else:
            bursting.send(REALTIME_EVENTS[item])
    bursting.drain()

    waiting = Driver(new_session(pool), answer=realtime_answer, fails=fails)
    waiting.apply(waiting.session.connected())
    for name in (item for item in script if item != "work"):
        before = len(waiting.answers)
        waiting.send(REALTIME_EVENTS[name])
        waiting.drain()
        assert len(waiting.answers) > before or name.startswith("append"), name
    assert bursting.answers == waiting.answers
