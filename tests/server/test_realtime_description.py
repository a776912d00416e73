"""The session object of `session.created`: what the server runs, driven by method calls."""

from __future__ import annotations

from asr_interface.realtime_protocol import (
    SessionCreated,
)
from asr_interface.server.models import ModelPool
from tests.server.realtime_events import (
    new_session,
    sent,
)


def test_connection_announces_a_transcription_session(pool: ModelPool) -> None:
    """`session.created` describes what the server runs: 24 kHz PCM, its model and
    language, and no turn detection unless the server runs voice activity control."""
    (created,) = sent(new_session(pool).connected())
    assert isinstance(created, SessionCreated)
    audio_input = created.session["audio"]["input"]
    assert created.session["type"] == "transcription"
    assert audio_input["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio_input["transcription"]["model"] == "tiny.en"
    assert audio_input["transcription"]["language"] == "en"
    assert audio_input["turn_detection"] is None
    (created,) = sent(new_session(pool, vac=True).connected())
    assert isinstance(created, SessionCreated)
    assert created.session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
