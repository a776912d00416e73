"""Commits of this package's `OnlineASRProcessor` beside whisper_streaming's own, on the same
model outputs over long speech.

whisper_streaming is not a package on PyPI (`whisper-streaming` there is a rework with other
trimming and prompting), so this script loads its `whisper_online.py` from a path you give:
a checkout of whisper_streaming. Both processors get the same tiny.en ASR object, whose answers
are remembered by window and prompt, so they see identical model outputs; the script prints
per trimming mode the steps, the windows decoded, the longest window, the commits and words
compared, and whether the two commit sequences are identical (with the first difference).

    python bench/whisper_streaming_parity.py --whisper-online ../whisper_streaming/whisper_online.py
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import types
from pathlib import Path
from types import ModuleType
from typing import Any

from asr_interface import OnlineASRProcessor
from asr_interface.backends.whisper_loader import FasterWhisperASR

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from asr_interface.audio import load_audio  # noqa: E402
from bench.speech_sets import LONG  # noqa: E402
from tests.memoized_asr import CHUNK, MemoizedASR, stream_commits  # noqa: E402


class PunctuationSplitter:
    """A sentence splitter with MosesTokenizer's `split`: a sentence ends with a word ending
    in '.', '!' or '?' (whisper_streaming needs a tokenizer for `sentence` trimming; this one
    reads punctuation as this package does without one)."""

    def split(self, text: str) -> list[str]:
        return [piece for piece in re.split(r"(?<=[.!?])\s+", text.strip()) if piece]


def load_whisper_online(path: Path) -> ModuleType:
    """whisper_streaming's module; librosa and soundfile, which only its file loading uses,
    are stood in for when they are not installed."""
    for name in ("librosa", "soundfile"):
        if importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    spec = importlib.util.spec_from_file_location("whisper_online", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compare(
    whisper_online: ModuleType, asr: MemoizedASR, mode: str, seconds: float
) -> dict[str, Any]:
    audio = load_audio(LONG)[: round(seconds * CHUNK)]
    trimming = (mode, 15)
    tokenizer = PunctuationSplitter() if mode == "sentence" else None
    theirs = stream_commits(whisper_online.OnlineASRProcessor(asr, tokenizer, trimming), audio)
    longest_theirs = asr.longest_window
    asr.longest_window = 0
    ours = stream_commits(OnlineASRProcessor(asr, buffer_trimming=trimming), audio)
    first_difference = next(
        ([a.__dict__, b.__dict__] for a, b in zip(theirs, ours, strict=False) if a != b), None
    )
    return {
        "trimming": mode,
        "seconds": seconds,
        "chunks": -(-len(audio) // CHUNK),
        "windows_decoded": len(asr.answers),
        "longest_window_s": {
            "whisper_streaming": longest_theirs / CHUNK,
            "ours": asr.longest_window / CHUNK,
        },
        "commits": [len(theirs), len(ours)],
        "words": [sum(len(c.text.split()) for c in theirs), sum(len(c.text.split()) for c in ours)],
        "identical": theirs == ours,
        "first_difference": first_difference,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whisper-online", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=100.0)
    parser.add_argument("--trimming", nargs="+", default=["segment", "sentence"])
    args = parser.parse_args()
    whisper_online = load_whisper_online(args.whisper_online)
    asr = MemoizedASR(FasterWhisperASR("en", "tiny.en"))
    for mode in args.trimming:
        print(json.dumps(compare(whisper_online, asr, mode, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
