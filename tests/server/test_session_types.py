"""What a session is given: its limits, and the text frame bound they imply."""

from __future__ import annotations

import base64
import json

from asr_interface.server.session_types import NoObserver, SessionLimits, SessionObserver


def test_one_binary_frame_fits_a_text_frame_as_base64() -> None:
    """The text bound of a session follows its binary frame limit: a Realtime append event
    carrying one largest binary frame as base64 fits, and a smaller limit gives a smaller
    bound."""
    limits = SessionLimits(max_frame_bytes=2 << 20)
    frame = base64.b64encode(bytes(limits.max_frame_bytes)).decode()
    event = json.dumps({"type": "input_audio_buffer.append", "audio": frame})
    assert len(event) <= limits.wire.max_text_chars
    assert SessionLimits(max_frame_bytes=1 << 20).wire.max_text_chars < limits.wire.max_text_chars


def test_no_observer_takes_every_report() -> None:
    """A session without metrics reports to `NoObserver`, which takes what any observer
    takes."""
    observer: SessionObserver = NoObserver()
    observer.audio_received(1.0)
    observer.model_call(0.1)
    observer.commit_latency(0.2)
    observer.error("frame_too_large")
    assert {name for name in dir(SessionObserver) if not name.startswith("_")} <= set(dir(observer))
