"""How many real-time streams one server holds, batched against unbatched, on the real model.

A stream is held when the p90 of its words' commit latency (from the moment a word was
spoken to its commit reaching the client, bench/load.py) stays within the target, and
every stream finishes; the targets are 3 s (the issue's) and 5 s (for machines on which
not even one stream meets 3 s). For each mode the script runs bench/load.py with 1, 2, 3... streams
of the same speech (the first `--clips` LJ Speech clips of the long recording, about 60 s,
scored for WER), each run against a fresh server, until a run misses the target or
`--max-streams` is reached (the loosest target decides when to stop). The modes differ
only in `--max-batch`: 8 (batched) or 1 (each step decoded alone, one at a time, as an
unbatched server does; the default).
Admission control is off (`--latency-target 0`) so that overloaded runs show their latency
instead of refusing streams. Prints one JSON line:

- per mode, `runs` (streams, p50/p90 commit latency, server CPU seconds per audio second,
  WER, failures) and `streams_held` per target, the most streams (runs from one up all
  meeting it);
- `batched_over_unbatched`: per target the ratio of streams held (issue target >= 1.5;
  null when either holds none) and the CPU and WER of both modes at the largest stream
  count that both ran.

    python bench/batching.py [--clips 9] [--max-streams 6] [recognition flags, e.g. --beam-size 1]
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from load import argument_parser, held, run

from asr_interface.cli.options import add_config_arguments, config_flags, config_from_arguments

MODES = {"batched": 8, "unbatched": 1}
"""Each mode's `--max-batch`."""
TARGETS_P90_SECONDS = (3.0, 5.0)
"""The issue's latency target, and a looser one for machines where no stream meets it."""
TARGET_RATIO = 1.5


def server_flags(arguments: argparse.Namespace) -> list[str]:
    """The recognition flags given to this script, for the server it starts."""
    return config_flags(config_from_arguments(arguments))


def load_run(streams: int, max_batch: int, arguments: argparse.Namespace) -> dict[str, Any]:
    flags = [f"--max-batch={max_batch}", "--latency-target=0", *server_flags(arguments)]
    load_arguments = argument_parser().parse_args(
        [
            f"--streams={streams}",
            f"--clips={arguments.clips}",
            f"--stagger={arguments.stagger}",
            *(f"--server-arg={flag}" for flag in flags),
        ]
    )
    return run(load_arguments)


def measure_mode(max_batch: int, arguments: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for streams in range(1, arguments.max_streams + 1):
        result = load_run(streams, max_batch, arguments)
        runs.append(
            {
                "streams": streams,
                "commit_latency_p50": result["commit_latency_p50"],
                "commit_latency_p90": result["commit_latency_p90"],
                "server_cpu_per_audio_second": result["server_cpu_per_audio_second"],
                "wer": result["wer"],
                "failures": result["failures"],
            }
        )
        if not held(result, max(TARGETS_P90_SECONDS)):
            break
    return {
        "max_batch": max_batch,
        "runs": runs,
        "streams_held": {str(target): streams_held(runs, target) for target in TARGETS_P90_SECONDS},
    }


def streams_held(runs: list[dict[str, Any]], target: float) -> int:
    """The most streams of the runs, from one up, that all met `target`."""
    held_so_far = 0
    for result in runs:
        p90 = result["commit_latency_p90"]
        if result["failures"] or p90 is None or p90 > target:
            break
        held_so_far = result["streams"]
    return held_so_far


def comparison(modes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    batched, unbatched = modes["batched"], modes["unbatched"]
    ratio = {
        target: (round(held / unbatched["streams_held"][target], 2) if held else None)
        if unbatched["streams_held"][target]
        else None
        for target, held in batched["streams_held"].items()
    }
    common = min(len(batched["runs"]), len(unbatched["runs"]))
    at_common = {
        name: {key: mode["runs"][common - 1][key] for key in ("wer", "server_cpu_per_audio_second")}
        for name, mode in modes.items()
    }
    return {"streams_held_ratio": ratio, "at_streams": common, **at_common}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=9, help="LJ Speech clips per stream (9: 60 s)")
    parser.add_argument("--max-streams", type=int, default=6, help="most streams tried")
    parser.add_argument("--stagger", type=float, default=1.0, help="spread of stream starts")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="which modes to run, comma-separated"
    )
    add_config_arguments(parser)
    arguments = parser.parse_args()
    load_before = os.getloadavg()[0]
    modes = {name: measure_mode(MODES[name], arguments) for name in arguments.modes.split(",")}
    report: dict[str, Any] = {
        "targets_p90_commit_latency_s": TARGETS_P90_SECONDS,
        "server_flags": server_flags(arguments),
        "clips": arguments.clips,
        "modes": modes,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    if set(modes) == set(MODES):
        report["batched_over_unbatched"] = comparison(modes)
        report["target_ratio"] = TARGET_RATIO
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
