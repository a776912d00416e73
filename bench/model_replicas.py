"""Two model calls at once on a CPU: one replica with every core, one model with two workers,
or two replicas, for two streams decoding windows at the same time.

Each of two threads (the streams) decodes the same windows of real speech one after another:
8 s stretches of the long LJ Speech recording, each call one AlignAtt step (encoder input of
10 s, a greedy decode, an alignment; `AlignAttDecoder.decode`). Configurations of tiny.en:

- `one_model_2_threads`: one `WhisperModel(cpu_threads=2, num_workers=1)` shared by both
  threads: CTranslate2 runs one call at a time, the other waits in its queue;
- `one_model_2_workers`: one `WhisperModel(cpu_threads=1, num_workers=2)`: two calls run at
  once, one core each, on one copy of the weights;
- `two_replicas`: two `WhisperModel(cpu_threads=1)`, one per thread;
- `alone_2_threads`: one stream alone on `cpu_threads=2`, the latency of a call on an idle
  model, for reference.

Prints one JSON line: per configuration the calls per second over both streams, and the wall
latency per call (mean, p50, p90); the calls' output is checked to be the same words in every
configuration (`same_words`). `load_average` (1-minute, before and after) says how quiet the
machine was: the figures move with other work on it. `--quick` decodes fewer windows.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from speech_sets import LONG

from asr_interface.audio import SAMPLING_RATE, load_audio
from asr_interface.backends.align_att import AlignAttDecoder, AlignAttOptions
from asr_interface.backends.model_resolution import resolve_model_path

WINDOW_SECONDS = 8.0
OPTIONS = AlignAttOptions.default()


def windows(count: int) -> list[npt.NDArray[np.float32]]:
    """`count` windows of `WINDOW_SECONDS`, spread over the long recording."""
    audio = load_audio(LONG)
    size = round(WINDOW_SECONDS * SAMPLING_RATE)
    starts = np.linspace(0, len(audio) - size, count).astype(int)
    return [audio[start : start + size] for start in starts]


def decoder(cpu_threads: int, num_workers: int) -> AlignAttDecoder:
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(resolve_model_path("tiny.en")),
        device="cpu",
        compute_type="int8",
        cpu_threads=cpu_threads,
        num_workers=num_workers,
    )
    return AlignAttDecoder(model)


def run_streams(
    decoders: Sequence[AlignAttDecoder], audio: Sequence[npt.NDArray[np.float32]]
) -> dict[str, object]:
    """One thread per decoder, each decoding every window in turn; returns throughput,
    latencies and the words of the first stream."""
    latencies: list[float] = []
    words: list[list[str]] = [[] for _ in decoders]
    lock = threading.Lock()

    def stream(index: int) -> None:
        for window in audio:
            began = time.perf_counter()
            decoded = decoders[index].decode(window, [], [], OPTIONS)
            elapsed = time.perf_counter() - began
            with lock:
                latencies.append(elapsed)
            words[index].append("".join(word[2] for word in decoded))

    threads = [threading.Thread(target=stream, args=(index,)) for index in range(len(decoders))]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {
        "streams": len(decoders),
        "calls": len(latencies),
        "wall_seconds": round(wall, 2),
        "calls_per_second": round(len(latencies) / wall, 3),
        "latency_mean_s": round(float(np.mean(latencies)), 3),
        "latency_p50_s": round(float(np.percentile(latencies, 50)), 3),
        "latency_p90_s": round(float(np.percentile(latencies, 90)), 3),
        "words": words[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 windows per stream instead of 12")
    arguments = parser.parse_args()
    audio = windows(4 if arguments.quick else 12)

    configurations: dict[str, Callable[[], list[AlignAttDecoder]]] = {
        "alone_2_threads": lambda: [decoder(2, 1)],
        "one_model_2_threads": lambda: [decoder(2, 1)] * 2,
        "one_model_2_workers": lambda: [decoder(1, 2)] * 2,
        "two_replicas": lambda: [decoder(1, 1), decoder(1, 1)],
    }
    load_before = os.getloadavg()[0]
    results = {}
    for name, make in configurations.items():
        decoders = make()
        decoders[0].decode(audio[0], [], [], OPTIONS)  # one-time set-up outside the figures
        results[name] = run_streams(decoders, audio)
    reference = results["alone_2_threads"]["words"]
    for result in results.values():
        result["same_words"] = result.pop("words") == reference
    print(
        json.dumps(
            {
                "model": "tiny.en",
                "compute_type": "int8",
                "window_seconds": WINDOW_SECONDS,
                "windows_per_stream": len(audio),
                "configurations": results,
                "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "cpu_count": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
