"""What voice activity control saves: model CPU time, utterance-end latency and WER, with
VAC and without, on speech that is half silence.

LJ Speech clips from ../shared/speech are each followed by as much silence as they last.
Both processors stream the same audio through the same model in simulated real time: the
plain processor in steps of `min_chunk_size`, as the command line feeds it, and VAC in 0.1 s
steps, as audio arrives from a microphone. The clock follows the audio alone by default, so
each processor makes every model call its policy asks for, as on a machine that keeps up
with real time. (With `--compute-aware`, a machine slower than real time makes the plain
processor take longer steps, which saves model time by falling behind, not by skipping
silence.) By default, latency is the policy's own: how long after the speech the text
is final.
Prints one JSON line:

- `model_cpu_seconds` (CPU time inside `transcribe`, all threads) and `model_calls` for
  each, and `model_cpu_saved` = 1 - vac / plain (target >= 0.4);
- `stream_cpu_seconds`: all CPU time of each stream, VAD and buffer work included;
- `utterance_end_latency_s`: mean and max of how long after each clip ended its last words
  were committed;
- `wer` of each against the published transcripts.

    python bench/vac.py [--clips N] [--compute-aware] [recognition flags, e.g. --model base]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE, load_audio
from asr_interface.backends.registry import get_loader
from asr_interface.backends.replay import RecordingASR
from asr_interface.backends.silero_vad import VoiceActivityDetector
from asr_interface.cli.options import add_config_arguments, config_from_arguments
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.core.protocols import ASRProcessor
from asr_interface.core.vac import VACOnlineASRProcessor
from asr_interface.evaluation import read_manifest, word_error_rate
from asr_interface.simulation import SimulationResult, simulate

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / ".." / "shared" / "speech"
VAC_FEED_SECONDS = 0.1


@dataclass(frozen=True)
class HalfSilence:
    """Clips each followed by silence as long as the clip, and where each clip ends."""

    audio: npt.NDArray[np.float32]
    spans: list[tuple[float, float]]
    reference: str


def half_silence(clip_count: int) -> HalfSilence:
    """The first `clip_count` LJ Speech clips of the manifest, each followed by silence."""
    entries = [e for e in read_manifest(SPEECH / "manifest.tsv") if e.subset == "ljspeech"]
    parts, spans, start = [], [], 0.0
    for entry in entries[:clip_count]:
        clip = load_audio(entry.audio_path)
        parts += [clip, np.zeros_like(clip)]
        duration = len(clip) / SAMPLING_RATE
        spans.append((start, start + duration))
        start += 2 * duration
    reference = " ".join(entry.transcript for entry in entries[:clip_count])
    return HalfSilence(np.concatenate(parts), spans, reference)


def utterance_end_latencies(
    result: SimulationResult, spans: list[tuple[float, float]]
) -> list[float]:
    """For each clip, when the last commit holding its words came, after the clip ended."""
    latencies = []
    for start, end in spans:
        own = [c.emission for c in result.commits if start - 0.5 <= c.start < end]
        if own:
            latencies.append(max(own) - end)
    return latencies


def run(
    processor: ASRProcessor, recorder: Any, speech: HalfSilence, feed: float, compute_aware: bool
) -> dict[str, Any]:
    """Streams `speech` in steps of `feed` seconds; the figures of one side of the report."""
    began = time.process_time()
    result = simulate(processor, speech.audio, min_chunk_sec=feed, compute_aware=compute_aware)
    stream_cpu = time.process_time() - began
    latencies = utterance_end_latencies(result, speech.spans)
    return {
        "feed_seconds": feed,
        "model_calls": len(recorder.calls),
        "model_cpu_seconds": round(recorder.cpu_seconds, 2),
        "stream_cpu_seconds": round(stream_cpu, 2),
        "utterance_end_latency_s": {
            "mean": round(float(np.mean(latencies)), 3) if latencies else None,
            "max": round(max(latencies), 3) if latencies else None,
            "utterances_committed": len(latencies),
        },
        "wer": round(word_error_rate(speech.reference, result.text), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8, metavar="N", help="LJ Speech clips to use")
    parser.add_argument(
        "--compute-aware", action="store_true", help="let processing time delay the stream"
    )
    add_config_arguments(parser)
    arguments = parser.parse_args()
    config = config_from_arguments(arguments)
    loaded, metadata = get_loader(config.backend).load(config.model_copy(update={"vac": False}))
    asr = loaded.asr  # type: ignore[attr-defined]
    trimming = (config.buffer_trimming, config.buffer_trimming_sec)
    speech = half_silence(arguments.clips)
    compute_aware = arguments.compute_aware

    plain_recorder = RecordingASR(asr)
    plain = OnlineASRProcessor(
        plain_recorder, buffer_trimming=trimming, min_chunk_sec=config.min_chunk_size
    )
    vac_recorder = RecordingASR(asr)
    vac = VACOnlineASRProcessor(
        config.min_chunk_size,
        vac_recorder,
        buffer_trimming=trimming,
        detector=VoiceActivityDetector(),
    )

    without = run(plain, plain_recorder, speech, config.min_chunk_size, compute_aware)
    with_vac = run(vac, vac_recorder, speech, VAC_FEED_SECONDS, compute_aware)
    audio_seconds = len(speech.audio) / SAMPLING_RATE
    speech_seconds = sum(end - start for start, end in speech.spans)
    saved = 1 - with_vac["model_cpu_seconds"] / without["model_cpu_seconds"]
    report = {
        "model": metadata.get("model"),
        "compute_type": metadata.get("compute_type"),
        "clips": len(speech.spans),
        "audio_seconds": round(audio_seconds, 1),
        "speech_fraction": round(speech_seconds / audio_seconds, 3),
        "min_chunk_size": config.min_chunk_size,
        "compute_aware": compute_aware,
        "without_vac": without,
        "with_vac": with_vac,
        "model_cpu_saved": round(saved, 3),
        "target_met": saved >= 0.4,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
