"""Failover at every word boundary, offline: what a resumed stream loses or repeats.

Streams two stretches of the long LJ Speech recording through one engine (tiny.en,
1-second steps) and, at every `--stride`-th committed word, resumes the stream there as a
new server would (`resume_from` = its settled time less `--lead-in`, `settled`, the words
committed so far as context), with a first step of 1 to 4 seconds as a lagging resumed
session takes it, then 1-second steps. It compares the first words the resumed stream
commits with the words the uninterrupted stream committed after that boundary, and prints
one JSON line: `boundaries` tried, `lost` (the next word missing from the first two
resumed words) and `duplicated` (the first resumed word repeating one of the last three
committed).

    python bench/resume_boundaries.py --lead-in 1.0
    python bench/resume_boundaries.py --lead-in 0 --policy local-agreement
"""

from __future__ import annotations

import argparse
import json
import math
import random

import numpy as np
import numpy.typing as npt
from speech_sets import long_stretch

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.loaded import load_model
from asr_interface.core.config import SERVING_POLICY, ASRConfig
from asr_interface.core.decoding import TimedWord
from asr_interface.core.engine import StreamEngine
from asr_interface.evaluation import normalize

STEPS_AFTER_RESUME = 4


def transcribe(
    engine: StreamEngine, audio: npt.NDArray[np.float32], start: float, steps: list[float]
) -> list[TimedWord]:
    """The words `engine` commits over `audio` from stream time `start`, one step of each
    length in `steps`."""
    committed: list[TimedWord] = []
    begin = round(start * SAMPLING_RATE)
    for seconds in steps:
        end = begin + round(seconds * SAMPLING_RATE)
        committed += engine.step(audio[begin:end], final=False).committed
        begin = end
    return committed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lead-in", type=float, default=1.0, help="seconds before settled")
    parser.add_argument("--stride", type=int, default=3, help="try every STRIDE-th word")
    parser.add_argument("--stretches", type=int, default=2, help="6-clip stretches to use")
    parser.add_argument(
        "--policy", choices=["align-att", "local-agreement"], default=SERVING_POLICY
    )
    arguments = parser.parse_args()
    engine = load_model(ASRConfig(policy=arguments.policy)).open_stream()
    choose = random.Random(1)
    tried = lost = duplicated = 0
    for stretch in range(arguments.stretches):
        audio = long_stretch(stretch * 6, 6).audio
        engine.reset()
        words = transcribe(engine, audio, 0.0, [1.0] * math.ceil(len(audio) / SAMPLING_RATE))
        for k in range(3, len(words) - 8, arguments.stride):
            settled = words[k][1]
            context = [text for _, _, text in words[: k + 1]][-30:]
            start = max(0.0, settled - arguments.lead_in)
            engine.reset(start, context, settled)
            first = choose.choice([1.0, 2.0, 3.0, 4.0])
            steps = [first] + [1.0] * STEPS_AFTER_RESUME
            resumed = [normalize(text) for _, _, text in transcribe(engine, audio, start, steps)]
            if not resumed:
                continue
            expected = normalize(words[k + 1][2])
            recent = {normalize(text) for _, _, text in words[k - 2 : k + 1]}
            tried += 1
            lost += expected not in resumed[:2]
            duplicated += resumed[0] != expected and resumed[0] in recent
    print(
        json.dumps(
            {
                "policy": arguments.policy,
                "lead_in_seconds": arguments.lead_in,
                "boundaries": tried,
                "lost": lost,
                "duplicated": duplicated,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
