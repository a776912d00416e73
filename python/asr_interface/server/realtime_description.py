"""The session object of `session.created` and `session.updated`: what the server runs.

Every string in it is either the server's own or one the client set within the wire bounds
(`wire.MAX_STRING_CHARS`): a prompt, a model or language name.
"""

from __future__ import annotations

from typing import Any

from asr_interface.server.realtime_settings import (
    VAD_PREFIX_PADDING_MS,
    VAD_SILENCE_DURATION_MS,
    VAD_THRESHOLD,
    RealtimeSettings,
)


def describe_session(settings: RealtimeSettings, session_id: str) -> dict[str, Any]:
    """The API's transcription session object for a session with `settings`."""
    turn_detection = (
        {
            "type": "server_vad",
            "threshold": VAD_THRESHOLD,
            "prefix_padding_ms": VAD_PREFIX_PADDING_MS,
            "silence_duration_ms": VAD_SILENCE_DURATION_MS,
        }
        if settings.vad
        else None
    )
    return {
        "type": "transcription",
        "object": "realtime.transcription_session",
        "id": f"sess_{session_id}",
        "audio": {
            "input": {
                "format": settings.format.describe(),
                "noise_reduction": None,
                "transcription": {
                    "model": settings.model,
                    "language": None if settings.lan == "auto" else settings.lan,
                    "prompt": settings.prompt,
                },
                "turn_detection": turn_detection,
            }
        },
        "include": None,
    }
