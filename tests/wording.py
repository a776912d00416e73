"""Checks of recognised text that hold for any correct decoding, on any CPU.

CTranslate2's int8 kernels differ slightly by instruction set, so the same model can hear a
word or a punctuation mark differently on another machine. Tests that run the real model
compare normalised words with a tolerance: a phrase is heard when some run of the text's
words is within a few word edits of it (one per four words, none for phrases shorter than
four), and a transcript is close when its word error rate is under a bound.
"""

from __future__ import annotations

from asr_interface.evaluation import normalize, word_error_rate


def allowed_edits(phrase: str) -> int:
    """How many word edits a phrase of this length may show and still count as heard."""
    return len(normalize(phrase).split()) // 4


def phrase_distance(phrase: str, text: str, *, at_end: bool = False) -> int:
    """The fewest word edits that turn `phrase` into a run of consecutive words of `text`
    (a run ending at the text's last word when `at_end`), after normalisation.

    Sellers' approximate matching: the edit-distance table with a free start anywhere in
    the text.
    """
    wanted = normalize(phrase).split()
    words = normalize(text).split()
    # previous[j]: edits to match wanted[:i] against a run of words ending just before j.
    previous = [0] * (len(words) + 1)
    for i, expected in enumerate(wanted, start=1):
        current = [i] + [0] * len(words)
        for j, heard in enumerate(words, start=1):
            current[j] = min(
                previous[j - 1] + (heard != expected), previous[j] + 1, current[j - 1] + 1
            )
        previous = current
    return previous[-1] if at_end else min(previous)


def heard(phrase: str, text: str) -> bool:
    """Whether `text` holds `phrase`, allowing `allowed_edits(phrase)` word edits."""
    return phrase_distance(phrase, text) <= allowed_edits(phrase)


def ends_with(text: str, phrase: str) -> bool:
    """Whether `text` ends with `phrase`, allowing `allowed_edits(phrase)` word edits."""
    return phrase_distance(phrase, text, at_end=True) <= allowed_edits(phrase)


def close_to(reference: str, text: str, *, wer: float) -> bool:
    """Whether `text` transcribes `reference` with a word error rate of at most `wer`."""
    return word_error_rate(reference, text) <= wer
