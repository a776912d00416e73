"""What streaming costs in accuracy and delay: streamed versus whole-file WER on a manifest.

Every file is streamed through the simulation (compute-aware by default, so latency includes
this machine's processing time) and also transcribed in one model call with the same model.
Prints one JSON line: streaming and offline WER (pooled over all words), mean and p90 commit
latency, ASR calls and the real-time factor of both.

    python bench/simulate_manifest.py [--manifest TSV] [--subset NAME ...] [--limit N]
                                      [--comp-unaware] [recognition flags, e.g. --model base]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from asr_interface.audio import load_audio
from asr_interface.backends.registry import get_loader
from asr_interface.cli.options import add_config_arguments, config_from_arguments
from asr_interface.cli.progress import ProgressBar
from asr_interface.evaluation import ErrorCount, read_manifest, word_errors
from asr_interface.simulation import simulate, summarize
from asr_interface.transcript import transcribe_whole, transcript_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MANIFEST = REPO / ".." / "shared" / "speech" / "manifest.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, metavar="TSV")
    parser.add_argument(
        "--subset", action="append", metavar="NAME", help="only rows of this subset (repeatable)"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N selected rows")
    parser.add_argument(
        "--comp-unaware", action="store_true", help="ignore processing time in the stream clock"
    )
    add_config_arguments(parser)
    arguments = parser.parse_args()
    config = config_from_arguments(arguments)

    entries = [
        entry
        for entry in read_manifest(arguments.manifest)
        if arguments.subset is None or entry.subset in arguments.subset
    ][: arguments.limit]
    if not entries:
        parser.error("no manifest rows selected")
    processor, metadata = get_loader(config.backend).load(config)
    asr = processor.asr  # type: ignore[attr-defined]

    streamed = []
    streaming_errors = offline_errors = ErrorCount(0, 0)
    offline_seconds = 0.0
    with ProgressBar(len(entries), "files", long=True) as progress:
        for done, entry in enumerate(entries, start=1):
            audio = load_audio(entry.audio_path)
            result = simulate(
                processor,
                audio,
                min_chunk_sec=config.min_chunk_size,
                compute_aware=not arguments.comp_unaware,
            )
            streamed.append(result)
            streaming_errors += word_errors(entry.transcript, result.text)
            began = time.perf_counter()
            offline = transcribe_whole(asr, audio)
            offline_seconds += time.perf_counter() - began
            offline_errors += word_errors(entry.transcript, transcript_text(offline))
            progress.update(done)

    pooled = summarize(streamed)
    report = {
        "files": len(entries),
        "subsets": sorted({entry.subset or "" for entry in entries}),
        "audio_seconds": round(pooled.audio_seconds, 1),
        "model": metadata.get("model"),
        "compute_type": metadata.get("compute_type"),
        "min_chunk_size": config.min_chunk_size,
        "compute_aware": not arguments.comp_unaware,
        "reference_words": streaming_errors.reference_length,
        "streaming_wer": round(streaming_errors.rate, 4),
        "offline_wer": round(offline_errors.rate, 4),
        "commits": len(pooled.commits),
        "mean_commit_latency_s": _rounded(pooled.mean_latency),
        "p90_commit_latency_s": _rounded(pooled.p90_latency),
        "asr_calls": pooled.asr_calls,
        "streaming_real_time_factor": round(pooled.real_time_factor, 3),
        "offline_real_time_factor": round(offline_seconds / pooled.audio_seconds, 3),
    }
    print(json.dumps(report))


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


if __name__ == "__main__":
    main()
