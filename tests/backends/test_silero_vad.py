"""The Silero voice activity detector on real speech and non-speech."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.backends.silero_vad import FRAME_SAMPLES, VoiceActivityDetector
from asr_interface.core.vac import SpeechBoundary
from tests.paused_speech import (
    CLIPS,
    PAD_SECONDS,
    RATE,
    non_speech,
    paused_speech,
    silence,
)
from tests.speech import speech_audio


def detect(audio: npt.NDArray[np.float32], chunk: int, **options: Any) -> list[SpeechBoundary]:
    """Feeds `audio` to a new detector `chunk` samples at a time."""
    detector = VoiceActivityDetector(**options)
    found: list[SpeechBoundary] = []
    for start in range(0, len(audio), chunk):
        found += detector.feed(audio[start : start + chunk])
    return found


def seconds(boundaries: list[SpeechBoundary]) -> list[tuple[str, float]]:
    return [(kind, sample / RATE) for kind, sample in boundaries]


@pytest.mark.parametrize("chunk", [160, FRAME_SAMPLES, 1600, RATE])
def test_detector_finds_each_clip(chunk: int) -> None:
    """Each clip becomes one start and one end, padded, whatever size the chunks have."""
    speech = paused_speech()
    found = seconds(detect(speech.audio, chunk))
    assert [kind for kind, _ in found] == ["speech_start", "speech_end"] * len(CLIPS)
    for (start, end), ((_, found_start), (_, found_end)) in zip(
        speech.spans, zip(found[::2], found[1::2], strict=True), strict=True
    ):
        # Unvoiced onsets are heard up to a quarter second late, before padding.
        assert start - PAD_SECONDS - 0.05 <= found_start <= start
        assert end - 0.2 <= found_end <= end + PAD_SECONDS + 0.05


def test_detector_is_independent_of_chunking() -> None:
    """Feeding sample by sample chunks or all at once finds the very same boundaries."""
    audio = paused_speech().audio
    assert detect(audio, 37) == detect(audio, len(audio))


@pytest.mark.parametrize("kind", ["silence", "low noise", "hum"])
def test_detector_hears_no_speech_in_non_speech(kind: str) -> None:
    """A minute of silence, of low noise or of mains hum holds no speech."""
    assert detect(non_speech(kind), RATE) == []


@pytest.mark.parametrize(("min_silence_ms", "utterances"), [(500, 2), (1500, 1)])
def test_min_silence_decides_what_ends_an_utterance(min_silence_ms: int, utterances: int) -> None:
    """A one-second pause ends an utterance only when the minimum silence is shorter."""
    first, second = speech_audio(CLIPS[1]), speech_audio(CLIPS[2])
    audio = np.concatenate([silence(1), first, silence(1), second, silence(2)])
    found = detect(audio, FRAME_SAMPLES, min_silence_ms=min_silence_ms)
    assert [kind for kind, _ in found] == ["speech_start", "speech_end"] * utterances


def test_padding_widens_speech() -> None:
    """Padding moves a start earlier and an end later by exactly the padding."""
    audio = np.concatenate([silence(1), speech_audio(CLIPS[1]), silence(1)])
    tight = detect(audio, RATE, speech_pad_ms=0)
    padded = detect(audio, RATE, speech_pad_ms=200)
    assert padded[0].sample == tight[0].sample - round(0.2 * RATE)
    assert padded[1].sample == tight[1].sample + round(0.2 * RATE)


def test_lower_threshold_hears_speech_sooner() -> None:
    """A lower threshold starts speech no later than a higher one."""
    audio = np.concatenate([silence(1), speech_audio(CLIPS[0]), silence(1)])
    eager = detect(audio, RATE, threshold=0.2, speech_pad_ms=0)
    strict = detect(audio, RATE, threshold=0.8, speech_pad_ms=0)
    assert eager[0].sample <= strict[0].sample
    assert eager[0].kind == strict[0].kind == "speech_start"


def test_close_ends_speech_at_the_last_sample() -> None:
    """Closing mid-speech ends it at the audio fed so far; closing in silence ends nothing."""
    detector = VoiceActivityDetector()
    clip = speech_audio(CLIPS[0])
    detector.feed(clip[: 3 * RATE + 100])
    assert detector.close() == SpeechBoundary("speech_end", 3 * RATE + 100)
    assert detector.close() is None


@pytest.mark.parametrize(
    "options",
    [{"threshold": 0.0}, {"threshold": 1.0}, {"min_silence_ms": 0}, {"speech_pad_ms": -1}],
)
def test_detector_rejects_bad_settings(options: dict[str, float]) -> None:
    """Settings that cannot work are refused when the detector is built."""
    with pytest.raises(ValueError, match=next(iter(options))):
        VoiceActivityDetector(**options)
