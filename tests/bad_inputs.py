"""Every bad-input table of the test suite, in one module: the tests check that each case
gets its typed refusal, and bench/soak.py plays them all against a live server in a loop
while clean streams run, so that a case added here is soaked too.

Each table is a list of (frame, expected code) pairs:

- `BAD_INPUTS`: `/asr` on a live server, in order on one connection (the cases build on
  each other: a stream starts, gets audio, ends); an empty code expects no reply, and a
  reply that is no `error` is named by its type;
- `BAD_MESSAGES`: `/asr`, each refused alone without changing the session;
- `SHARED_REFUSALS`: both endpoints, each refused alone with the same code by both parsers;
  a live server closes a frame over the frame limit with 1009 before parsing it;
- `HOSTILE_FRAMES`: `/v1/realtime` on a live server, each refused alone.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from asr_interface.server.session_types import SessionLimits
from asr_interface.wire import MAX_JSON_DEPTH, MAX_NUMBER_CHARS, MAX_STRING_CHARS, ErrorCode
from tests.server.asr_session import text

LIMITS = SessionLimits().wire
"""The default wire limits, which a server started without limit flags applies."""

SERVER_FLAGS = ("--allowed-models", "tiny.en,no-such-model")
"""What a live server needs for the tables' codes: a model that may be named but does not
load (`model_load_failed`), and others that may not be named (`model_not_allowed`)."""


def nested(depth: int) -> str:
    """A `start` message whose `context` nests `depth` levels of arrays below the top."""
    return '{"type": "start", "context": ' + "[" * depth + "]" * depth + "}"


def update_event(transcription: dict[str, Any], event_id: str | None = None) -> str:
    """A Realtime `session.update` setting these transcription fields."""
    session = {"type": "transcription", "audio": {"input": {"transcription": transcription}}}
    event: dict[str, Any] = {"type": "session.update", "session": session}
    if event_id is not None:
        event["event_id"] = event_id
    return json.dumps(event)


BAD_INPUTS: list[tuple[str | bytes, str]] = [
    ("{", "invalid_json"),
    (json.dumps({"type": "pause"}), "unknown_type"),
    (json.dumps({"type": "start", "sample_rate": "fast"}), "invalid_message"),
    (json.dumps({"type": "start", "encoding": 16}), "invalid_message"),
    (json.dumps({"type": "load_model", "beam_size": "wide"}), "invalid_config"),
    (json.dumps({"type": "load_model", "backend": "no-such-backend"}), "unknown_backend"),
    (json.dumps({"type": "load_model", "model": "base.en"}), "model_not_allowed"),
    (json.dumps({"type": "load_model", "model_dir": "/"}), "model_not_allowed"),
    (json.dumps({"type": "load_model", "model": "no-such-model"}), "model_load_failed"),
    (json.dumps({"type": "start", "encoding": "mp3"}), "unsupported_encoding"),
    (json.dumps({"type": "start", "sample_rate": 96000}), "unsupported_sample_rate"),
    (json.dumps({"type": "start", "encoding": "pcm_f32le"}), ""),
    (bytes((1 << 20) + 4), "frame_too_large"),
    (np.array([0.0, math.nan, 0.0], dtype="<f4").tobytes(), "invalid_audio"),
    (np.zeros(1600, dtype="<f4").tobytes(), ""),
    (json.dumps({"type": "start"}), "stream_in_progress"),
    (json.dumps({"type": "end"}), "done"),
    (np.zeros(1600, dtype="<i2").tobytes(), "audio_after_end"),
]

BAD_MESSAGES = [
    ("{", "invalid_json"),
    ("start", "invalid_json"),
    ("[1, 2]", "invalid_message"),
    ('"start"', "invalid_message"),
    (text("stop"), "unknown_type"),
    (json.dumps({"sample_rate": 16000}), "unknown_type"),
    (json.dumps({"type": ["start"]}), "unknown_type"),
    (text("start", sample_rate="fast"), "invalid_message"),
    (text("start", sample_rate="16000"), "invalid_message"),
    (text("start", sample_rate=True), "invalid_message"),
    (text("start", sample_rate=16000.5), "invalid_message"),
    (text("start", sample_rate=None), "invalid_message"),
    (text("start", encoding=5), "invalid_message"),
    (text("start", channels=2), "invalid_message"),
    (text("end", now=True), "invalid_message"),
    (text("reset", hard=1), "invalid_message"),
    (text("start", encoding="opus"), "unsupported_encoding"),
    (text("start", encoding="PCM_S16LE"), "unsupported_encoding"),
    (text("start", sample_rate=7999), "unsupported_sample_rate"),
    (text("start", sample_rate=48001), "unsupported_sample_rate"),
    (text("start", sample_rate=0), "unsupported_sample_rate"),
    (text("load_model", beam_size=0), "invalid_config"),
    (text("load_model", beam_size="wide"), "invalid_config"),
    (text("load_model", encoder_seconds=0), "invalid_config"),
    (text("load_model", encoder_seconds=45), "invalid_config"),
    (text("load_model", force_committed="maybe"), "invalid_config"),
    (text("load_model", lan="xx"), "invalid_config"),
    (text("load_model", temperature=0.5), "invalid_config"),
    (text("load_model", backend="no-such-backend"), "unknown_backend"),
    (text("load_model", model="large-v3"), "model_not_allowed"),
    (text("load_model", model_dir="/etc"), "model_not_allowed"),
    (text("load_model", model_cache_dir="/tmp"), "model_not_allowed"),
]

SHARED_REFUSALS = [
    ("x" * (LIMITS.max_text_chars + 1), ErrorCode.FRAME_TOO_LARGE),
    ("{", ErrorCode.INVALID_JSON),
    ("[" * 100_000, ErrorCode.INVALID_JSON),
    (nested(MAX_JSON_DEPTH), ErrorCode.INVALID_JSON),
    ('{"type": "start", "sample_rate": ' + "9" * 5000 + "}", ErrorCode.INVALID_JSON),
    ('{"type": "end", "x": 1.' + "5" * MAX_NUMBER_CHARS + "}", ErrorCode.INVALID_JSON),
    ("[1]", ErrorCode.INVALID_MESSAGE),
    (json.dumps({"type": "t" * 100_000}), ErrorCode.INVALID_MESSAGE),
    (json.dumps({"type": "end", "k" * (MAX_STRING_CHARS + 1): 1}), ErrorCode.INVALID_MESSAGE),
    (json.dumps({"type": "end", "x": [{"y": "z" * 1_500_000}]}), ErrorCode.INVALID_MESSAGE),
]

LONG_ID = "e" * 1_500_000
HOSTILE_FRAMES = [
    ("[" * 100_000, "invalid_json"),
    ('{"type": "session.update", "session": ' + "9" * 5000 + "}", "invalid_json"),
    (json.dumps({"type": "t" * 100_000}), "invalid_message"),
    (json.dumps({"type": "input_audio_buffer.clear", "event_id": LONG_ID}), "invalid_message"),
    (update_event({"prompt": "p" * 1_500_000}), "invalid_message"),
]
