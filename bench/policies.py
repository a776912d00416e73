"""The commit policies side by side on continuous speech, streamed in real time: AlignAtt,
LocalAgreement with the server's decoding, and LocalAgreement with whisper_streaming's.

Each set of ../shared/speech becomes continuous minutes: the long LJ Speech recording as it
is, and the clips of each other set joined by 0.25 s silences (short clips alone hide the
cost of a long window). Each recording is streamed through `simulate` in its default
compute-aware mode (1 s steps; the clock advances by the audio and by the time each step
really takes, so a slow policy sees more audio per step, as a live stream would). Policies:

- `align-att`: `AlignAttProcessor` with its defaults (greedy, 10 s encoder input);
- `local-agreement`: `OnlineASRProcessor` with `ASRConfig`'s defaults (the server's decoding);
- `whisper_streaming`: `OnlineASRProcessor` with beam 5, the encoder fed 30 s, every tail
  decoded and no token budget (`--encoder-seconds none --tail-seconds 0
  --max-tokens-per-second none`).

Prints one JSON line: per set its audio seconds, the whole-file WER and CPU seconds per
audio second of the same model (one `transcribe` of the recording, beam 5), and per policy:
WER, commit latency p50/p90 (from the end of a committed stretch's last word to its
emission, processing included), CPU seconds (process time, all threads) per audio second,
and the WER over the whole-file WER.
`load_average` (1-minute, before and after) says how busy the shared machine was.
`--quick` streams at most 40 s of each set.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

import numpy as np
from speech_sets import Recording, continuous_sets

from asr_interface.backends.align_att import AlignAttDecoder, AlignAttProcessor
from asr_interface.backends.registry import get_loader
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.core.config import ASRConfig
from asr_interface.core.protocols import ASRProcessor
from asr_interface.evaluation import word_error_rate
from asr_interface.simulation import simulate

MAX_SET_SECONDS = 240.0
"""Longer sets (the IVR prompts run 16 minutes) are cut after the clip that passes this; the
long recording (3.8 minutes) is streamed whole."""
QUICK_SET_SECONDS = 40.0
WHISPER_STREAMING = ASRConfig(
    beam_size=5, encoder_seconds=None, tail_seconds=0.0, max_tokens_per_second=None
)


def baseline() -> tuple[ASRProcessor, FasterWhisperASR]:
    """whisper_streaming's decoding, and its model (beam 5), which also makes the whole-file
    pass."""
    processor, _ = get_loader("faster-whisper").load(WHISPER_STREAMING)
    asr = processor.asr  # type: ignore[attr-defined]
    assert isinstance(asr, FasterWhisperASR)
    return processor, asr


def whole_file(asr: FasterWhisperASR, recording: Recording) -> dict[str, float]:
    """One `transcribe` of the whole recording: the WER that streaming the same model is held
    against, and its CPU seconds (process time) per audio second."""
    cpu = time.process_time()
    text = "".join(segment.text for segment in asr.transcribe_recording(recording.audio, "", "en"))
    cpu = time.process_time() - cpu
    return {
        "whole_file_wer": round(word_error_rate(recording.reference, text), 4),
        "whole_file_cpu_per_audio_second": round(cpu / recording.seconds, 3),
    }


def measure(make: Callable[[], ASRProcessor], recording: Recording) -> dict[str, float]:
    """Streams `recording` in real time through a fresh processor."""
    processor = make()
    cpu = time.process_time()
    result = simulate(processor, recording.audio, min_chunk_sec=1.0)
    cpu = time.process_time() - cpu
    latencies = result.latencies or [float("nan")]
    return {
        "wer": round(word_error_rate(recording.reference, result.text), 4),
        "latency_p50_s": round(float(np.percentile(latencies, 50)), 2),
        "latency_p90_s": round(float(np.percentile(latencies, 90)), 2),
        "cpu_per_audio_second": round(cpu / recording.seconds, 3),
        "model_calls": result.asr_calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="at most 40 s of each set")
    arguments = parser.parse_args()
    recordings = continuous_sets(QUICK_SET_SECONDS if arguments.quick else MAX_SET_SECONDS)

    default_processor, _ = get_loader("faster-whisper").load(ASRConfig())
    baseline_processor, whole_asr = baseline()
    decoder = AlignAttDecoder(whole_asr.model)
    policies: dict[str, Callable[[], ASRProcessor]] = {
        "align-att": lambda: AlignAttProcessor(decoder),
        "local-agreement": default_processor.fresh_copy,  # type: ignore[attr-defined]
        "whisper_streaming": baseline_processor.fresh_copy,  # type: ignore[attr-defined]
    }
    load_before = os.getloadavg()[0]
    report: dict[str, object] = {}
    for recording in recordings:
        whole = whole_file(whole_asr, recording)
        whole_wer = whole["whole_file_wer"]
        entry: dict[str, object] = {"audio_seconds": round(recording.seconds, 1), **whole}
        for name, make in policies.items():
            figures = measure(make, recording)
            figures["wer_over_whole_file"] = (
                round(figures["wer"] / whole_wer, 2) if whole_wer else 0
            )
            entry[name] = figures
        report[recording.part] = entry
    print(
        json.dumps(
            {
                "model": "tiny.en",
                "quick": arguments.quick,
                "sets": report,
                "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
        )
    )


if __name__ == "__main__":
    main()
