"""What a Realtime `session.update` may set, and the refusal of what it cannot.

`updated_settings` turns the API's session object into the settings of this server's
session (audio format, model, language, voice activity control, prompt), refusing by name,
with `unsupported_feature`, every field the server knows but cannot honour.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from asr_interface.core.config import ASRConfig
from asr_interface.realtime_protocol import SessionSettings, TurnDetection
from asr_interface.wire import ErrorCode, ProtocolError, excerpt

OPENAI_TRANSCRIPTION_MODELS = frozenset(
    {
        "whisper-1",
        "gpt-4o-transcribe",
        "gpt-4o-mini-transcribe",
        "gpt-4o-mini-transcribe-2025-12-15",
        "gpt-transcribe",
        "gpt-live-transcribe",
        "gpt-realtime-whisper",
    }
)
"""The API's transcription model names; each means the server's default model here."""

# Our voice activity control's settings (`VoiceActivityDetector`'s defaults), which happen
# to be the API's `server_vad` defaults too.
VAD_THRESHOLD = 0.5
VAD_PREFIX_PADDING_MS = 300
VAD_SILENCE_DURATION_MS = 500


@dataclass(frozen=True)
class InputFormat:
    """A Realtime input format and the `/asr` `start` fields that declare it."""

    name: str
    encoding: str
    sample_rate: int
    bytes_per_second: int

    def describe(self) -> dict[str, Any]:
        if self.name == "audio/pcm":
            return {"type": self.name, "rate": self.sample_rate}
        return {"type": self.name}


FORMATS = {
    "audio/pcm": InputFormat("audio/pcm", "pcm_s16le", 24000, 48000),
    "audio/pcmu": InputFormat("audio/pcmu", "pcm_mulaw", 8000, 8000),
    "audio/pcma": InputFormat("audio/pcma", "pcm_alaw", 8000, 8000),
}


@dataclass(frozen=True)
class RealtimeSettings:
    """What `session.update` controls."""

    format: InputFormat
    model: str
    lan: str
    vad: bool
    prompt: str = ""
    """Text the model reads as what came before the audio (vocabulary, spelling)."""

    @classmethod
    def of(cls, config: ASRConfig, audio_format: InputFormat) -> RealtimeSettings:
        """The settings a session running `config` has, with `audio_format` and no prompt."""
        return cls(audio_format, config.model, config.lan, config.vac)

    def config_fields(self) -> dict[str, Any]:
        """The `load_model` fields that give a session these settings."""
        return {"model": self.model, "lan": self.lan, "vac": self.vad}


def updated_settings(
    settings: RealtimeSettings, update: SessionSettings, model: str | None, default_model: str
) -> RealtimeSettings:
    """`settings` after `update` (and a `model` named outside it, in the URL), or
    `unsupported_feature` naming what cannot be; the API's model names mean
    `default_model`."""
    if update.type != "transcription":
        raise _unsupported(
            f"session.type {excerpt(update.type)}: this server runs transcription sessions "
            'only (session.type "transcription")'
        )
    if update.model_extra:
        raise _unsupported(
            f"session field(s) {excerpt(sorted(update.model_extra))}: a transcription "
            "session has audio and include only"
        )
    if update.include:
        raise _unsupported(f"include {excerpt(update.include)}: log probabilities are not reported")
    audio = update.audio
    if audio is not None and audio.output is not None:
        raise _unsupported("audio.output: a transcription session produces no audio")
    source = audio.input if audio is not None else None
    if source is None:
        if model is None:
            return settings
        return replace(settings, model=_model(model, default_model))
    if source.noise_reduction is not None:
        raise _unsupported("audio.input.noise_reduction: audio is transcribed as it comes")
    if source.format is not None:
        settings = replace(settings, format=_format(source.format.type, source.format.rate))
    transcription = source.transcription
    if transcription is not None:
        for name in ("delay", "keywords", "languages"):
            if getattr(transcription, name) is not None:
                raise _unsupported(f"audio.input.transcription.{name}")
        if "prompt" in transcription.model_fields_set:
            settings = replace(settings, prompt=transcription.prompt or "")
        model = transcription.model or model
        if "language" in transcription.model_fields_set:
            settings = replace(settings, lan=transcription.language or "auto")
    if model is not None:
        settings = replace(settings, model=_model(model, default_model))
    if "turn_detection" in source.model_fields_set:
        settings = replace(settings, vad=_server_vad(source.turn_detection))
    return settings


def _model(name: str, default_model: str) -> str:
    if name == "gpt-4o-transcribe-diarize":
        raise _unsupported(f"transcription.model {name!r}: speakers are not told apart")
    return default_model if name in OPENAI_TRANSCRIPTION_MODELS else name


def _unsupported(what: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.UNSUPPORTED_FEATURE, f"not supported by this transcription server: {what}"
    )


def _format(name: str, rate: int | None) -> InputFormat:
    audio_format = FORMATS[name]
    if rate is not None and rate != audio_format.sample_rate:
        raise _unsupported(
            f"audio.input.format.rate {rate}: {name} is taken at {audio_format.sample_rate} Hz"
        )
    return audio_format


def _server_vad(detection: TurnDetection | None) -> bool:
    """Whether turn detection is on; only `server_vad` with our detector's settings is."""
    if detection is None:
        return False
    if detection.type != "server_vad":
        raise _unsupported(f"turn_detection.type {excerpt(detection.type)}; use server_vad or null")
    fixed = {
        "threshold": VAD_THRESHOLD,
        "prefix_padding_ms": VAD_PREFIX_PADDING_MS,
        "silence_duration_ms": VAD_SILENCE_DURATION_MS,
    }
    for name, value in fixed.items():
        given = getattr(detection, name)
        if given is not None and given != value:
            raise _unsupported(f"turn_detection.{name} {given}: it is fixed at {value}")
    for name in ("create_response", "interrupt_response"):
        if getattr(detection, name):
            raise _unsupported(f"turn_detection.{name}: a transcription session has no responses")
    if detection.idle_timeout_ms is not None or detection.eagerness is not None:
        raise _unsupported("turn_detection.idle_timeout_ms and eagerness")
    return True
