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
from asr_interface.evaluation import normalize


@dataclass(frozen=True)
class Sentence:
    """Text to speak in a language, words its English translation holds most of, and words
    of the language itself that a translation never keeps."""

    text: str
    english_words: tuple[str, ...]
    own_words: tuple[str, ...]

    def translated(self, text: str) -> bool:
        """Whether `text` reads as this sentence in English: most of the English words
        (translations of synthetic speech differ a word or two from one CPU to the next)
        and none of the sentence's own."""
        words = set(normalize(text).split())
        found = sum(word in words for word in self.english_words)
        return 2 * found > len(self.english_words) and not words & set(self.own_words)


SENTENCES = {
    "de": Sentence(
        "Guten Morgen. Ich trinke jeden Tag Kaffee und Wasser. "
        "Ich wohne in Berlin und arbeite in einer großen Stadt.",
        ("coffee", "water", "berlin"),
        ("kaffee", "wasser", "trinke", "wohne", "stadt"),
    ),
    "es": Sentence(
        "Buenos días. Bebo café y agua todos los días. Mi casa es muy grande y tiene un jardín.",
        ("coffee", "water", "garden"),
        ("café", "agua", "bebo", "casa", "jardín"),
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
