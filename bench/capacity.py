"""The capacity table: how many real-time streams of continuous speech one server holds, per
speech set and decoding, and the WER they keep against one whole-file pass of the same model.

Each set is one continuous recording (`speech_sets.continuous_sets`: the long LJ Speech
recording, and each other set's clips joined by short silences), cut after the clip that
reaches `--seconds`, so the cut keeps its own transcript. Decodings:

- `align-att`: `--policy align-att`, the rest the server's defaults;
- `local-agreement`: `--policy local-agreement`, the rest the server's defaults;
- `whisper_streaming`: LocalAgreement with whisper_streaming's decoding
  (`policies.WHISPER_STREAMING` as server flags: beam 5, the encoder fed 30 s, every tail
  decoded, no token budget).

For each set and decoding one server is started (bench/load.py's, admission control off with
`--latency-target=0` so that an overloaded run shows its latency instead of refusing streams),
and N = 1, 2, ... `--max-streams` concurrent real-time streams of the recording run against it,
their starts spread over `--stagger` seconds, until the first N not held: p90 commit latency
over `--target`, or a stream that failed or was refused. `--server-arg` flags go to every
started server after these, so they win.

Prints one JSON line: per set its audio seconds and the whole-file WER (`policies.whole_file`:
one `transcribe`, beam 5, in this process before any server starts), and per decoding its
server flags, `streams_held` (the most N held, every smaller N held too) and its WER over the
whole-file WER, and per N the WER over all streams, commit latency p50/p90, server CPU seconds
per audio second, failures, finished streams, error messages, and the 1-minute load average
before and after. On stderr, a line per run as it ends, then the same as markdown tables: a
row per decoding, a column per N, cells "p90 / WER".

    python bench/capacity.py                                 # every set and decoding
    python bench/capacity.py --sets long --configs align-att --max-streams 2 --seconds 20
    python bench/capacity.py --server-arg=--cpu-threads=1   # a flag for every server
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from load import add_server_arg, argument_parser, held, measure, spawned_server
from policies import WHISPER_STREAMING, baseline, whole_file
from speech_sets import SETS, Recording, continuous_sets

from asr_interface.cli.options import config_flags
from asr_interface.core.config import ASRConfig

CONFIGS = {
    "align-att": ASRConfig(policy="align-att"),
    "local-agreement": ASRConfig(),
    "whisper_streaming": WHISPER_STREAMING,
}
ADMIT_EVERY_STREAM = "--latency-target=0"
RUN_FIGURES = (
    "streams",
    "finished_streams",
    "failures",
    "errors",
    "audio_seconds",
    "duration_seconds",
    "commit_latency_p50",
    "commit_latency_p90",
    "wer",
    "server_cpu_per_audio_second",
    "server_peak_rss_mb",
)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def whole_files(recordings: list[Recording]) -> dict[str, dict[str, float]]:
    """The whole-file figures of every recording; the model is gone before a server starts."""
    _, asr = baseline()
    return {recording.part: whole_file(asr, recording) for recording in recordings}


def over_whole_file(wer: float | None, whole_wer: float) -> float | None:
    return round(wer / whole_wer, 2) if wer is not None and whole_wer else None


def measure_config(
    recording: Recording, config: str, whole_wer: float, arguments: argparse.Namespace
) -> dict[str, Any]:
    """1, 2, ... concurrent streams of `recording` against one server, until one is not held."""
    flags = [ADMIT_EVERY_STREAM, *config_flags(CONFIGS[config]), *arguments.server_args]
    launcher = argument_parser().parse_args(
        [
            f"--streams={arguments.max_streams}",  # the server's --max-sessions
            f"--stagger={arguments.stagger}",
            *(f"--server-arg={flag}" for flag in flags),
        ]
    )
    runs: list[dict[str, Any]] = []
    with spawned_server(launcher) as server:
        for streams in range(1, arguments.max_streams + 1):
            before = load_average()
            result = measure(
                server, recording, argparse.Namespace(**{**vars(launcher), "streams": streams})
            )
            run = {key: result[key] for key in RUN_FIGURES}
            run.update(
                wer_over_whole_file=over_whole_file(result["wer"], whole_wer),
                held=held(result, arguments.target),
                load_average=[before, load_average()],
            )
            runs.append(run)
            print(f"{recording.part} {config}: {cell(run)}", file=sys.stderr, flush=True)
            if not run["held"]:
                break
    streams_held = sum(run["held"] for run in runs)  # runs stop at the first one not held
    return {
        "server_flags": flags,
        "streams_held": streams_held,
        "wer_over_whole_file": runs[streams_held - 1]["wer_over_whole_file"]
        if streams_held
        else None,
        "runs": runs,
    }


def cell(run: dict[str, Any]) -> str:
    """One run as "p90 / WER", and what went wrong if anything did."""
    p90, wer = run["commit_latency_p90"], run["wer"]
    text = f"{'-' if p90 is None else f'{p90:.1f} s'} / {'-' if wer is None else f'{wer:.1%}'}"
    unfinished = run["streams"] - run["finished_streams"]
    if unfinished:
        text += f" ({unfinished} not finished)"
    if run["errors"]:
        text += f" ({run['errors']} errors)"
    return text


def table(report: dict[str, Any], max_streams: int, target: float) -> str:
    """The report as one markdown table per set: a row per decoding, a column per N."""
    columns = [str(n) for n in range(1, max_streams + 1)]
    columns += [f"streams held (p90 <= {target:g} s)", "WER / whole-file, at streams held"]
    lines = []
    for name, entry in report["sets"].items():
        lines += [
            f"**{name}**: {entry['audio_seconds']} s, whole-file WER {entry['whole_file_wer']:.1%}",
            "",
            "| p90 commit latency / WER | " + " | ".join(columns) + " |",
            "| --- |" + " --- |" * len(columns),
        ]
        for config, figures in entry["configs"].items():
            cells = [cell(run) for run in figures["runs"]]
            cells += [""] * (max_streams - len(cells))
            ratio = figures["wer_over_whole_file"]
            cells += [str(figures["streams_held"]), "-" if ratio is None else f"{ratio:.2f}"]
            lines.append(f"| {config} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(
        f"1-minute load average: {report['load_average'][0]} before, "
        f"{report['load_average'][1]} after"
    )
    return "\n".join(lines)


def names(text: str, known: tuple[str, ...]) -> list[str]:
    chosen = text.split(",")
    if unknown := set(chosen) - set(known):
        raise argparse.ArgumentTypeError(
            f"unknown: {', '.join(sorted(unknown))}; known: {', '.join(known)}"
        )
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", type=lambda text: names(text, SETS), default=list(SETS), help="comma-separated"
    )
    parser.add_argument(
        "--configs",
        type=lambda text: names(text, tuple(CONFIGS)),
        default=list(CONFIGS),
        help="comma-separated decodings",
    )
    parser.add_argument("--max-streams", type=int, default=6, help="most concurrent streams")
    parser.add_argument(
        "--target", type=float, default=3.0, help="p90 commit latency a held run stays within"
    )
    parser.add_argument(
        "--seconds", type=float, default=90.0, help="each set cut after the clip reaching this"
    )
    parser.add_argument("--stagger", type=float, default=1.0, help="spread of the stream starts")
    add_server_arg(parser, "every started server")
    arguments = parser.parse_args()
    load_before = load_average()
    recordings = continuous_sets(arguments.seconds, arguments.sets)
    whole = whole_files(recordings)
    sets = {}
    for recording in recordings:
        whole_wer = whole[recording.part]["whole_file_wer"]
        sets[recording.part] = {
            "audio_seconds": round(recording.seconds, 1),
            **whole[recording.part],
            "configs": {
                config: measure_config(recording, config, whole_wer, arguments)
                for config in arguments.configs
            },
        }
    report = {
        "model": "tiny.en",
        "target_p90_commit_latency_s": arguments.target,
        "max_streams": arguments.max_streams,
        "seconds": arguments.seconds,
        "stagger": arguments.stagger,
        "server_args": arguments.server_args,
        "sets": sets,
        "load_average": [load_before, load_average()],
    }
    print(json.dumps(report), flush=True)
    print(table(report, arguments.max_streams, arguments.target), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
