"""German and Spanish speech for the language tests, spoken by espeak-ng at test time.

The corpus is English only, so the other languages are synthesised: espeak-ng writes a WAV
at its own rate, which `load_audio` resamples to 16 kHz. The sentences use everyday words,
and the English words checked are those Whisper base's beam search translates right from
this synthetic voice however the stream is cut into windows (the tests that check them turn
the sampled fallback off with the `beam_search_only` fixture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.audio import load_audio


@dataclass(frozen=True)
class Sentence:
    """Text to speak in a language, and words its English translation must contain."""

    text: str
    english_words: tuple[str, ...]


SENTENCES = {
    "de": Sentence(
        "Guten Morgen. Ich trinke jeden Tag Kaffee und Wasser. "
        "Ich wohne in Berlin und arbeite in einer großen Stadt.",
        ("coffee", "water", "berlin"),
    ),
    "es": Sentence(
        "Buenos días. Bebo café y agua todos los días. Mi casa es muy grande y tiene un jardín.",
        ("coffee", "garden"),
    ),
}


def espeak_or_skip() -> str:
    """The espeak-ng program; without it the test is skipped, except in CI, where it fails."""
    program = shutil.which("espeak-ng")
    if program is None:
        reason = "espeak-ng is not installed (apt-get install espeak-ng); it speaks the "
        reason += "German and Spanish test sentences"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return program


def speak_all(folder: Path) -> dict[str, npt.NDArray[np.float32]]:
    """Every test sentence, by language."""
    return {language: speak(language, folder) for language in SENTENCES}


def speak(language: str, folder: Path) -> npt.NDArray[np.float32]:
    """`SENTENCES[language]` spoken by espeak-ng, as 16 kHz samples."""
    program = espeak_or_skip()
    path = folder / f"{language}.wav"
    subprocess.run(
        [program, "-v", language, "-w", str(path), SENTENCES[language].text],
        check=True,
        capture_output=True,
    )
    return load_audio(path)
