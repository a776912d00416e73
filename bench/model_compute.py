"""Model compute per audio second of streaming, against one whole-file transcription of the
same audio, for each way of decoding the streamed windows and for the AlignAtt policy.

Real speech from ../shared/speech is streamed in `min_chunk_size` steps (1 s) with a clock
that follows the audio alone, so every configuration makes every model call its policy asks
for and the transcripts depend only on the model. The audio (2 min): LJ Speech clips 1-8
and the J. F. Kennedy clip as separate streams ("clips"), and clips 17-24 as one continuous
stretch of the long LJ Speech recording ("long", where the window fills up with committed
words). `--quick` (26 s) streams the Kennedy clip and clips 17-18. Configurations:

- `whisper_streaming`: `OnlineASRProcessor.process_iter` over `FasterWhisperASR.transcribe`,
  whisper_streaming's way (beam 5, the encoder sees 30 s, committed words re-decoded);
- the others are streams opened from an `ASRConfig` with those decoding options, as the
  server opens them (`load_model(config).open_stream()`), stepping through the model's
  batched decoder with the committed text and whether more audio follows. Named by their
  decoding options:
  `greedy` or `beam5`, `encoder10s` (the encoder sees the window and a second of headroom
  rounded up to a multiple of 10 s rather than 30 s), `tail2s` (audio after a pass's last
  word shorter than 2 s is left to the next window rather than decoded in another pass) and
  `forced` (the committed words inside the window are forced as the decoder's prefix
  instead of being decoded again), `budget12` (an output stops at 12 tokens per second of
  audio). `greedy+encoder10s+tail2s+budget12` is `ASRConfig`'s default;
  `align-att+greedy+encoder10s+budget12` is the AlignAtt policy with its default decoding.

The model is loaded with whisper_streaming's decoding settings whatever the flags say, so
that both baselines decode as faster-whisper does; the other flags (model, trimming, chunk
size) apply.

Model compute is process CPU time (all threads, since CTranslate2 decodes on its own) around
the model calls for the baselines and around whole streams for the rest (the processor's own
work is microseconds per step). The whole-file baseline (`transcribe` of each recording in one call)
is measured before and after the configurations and averaged, so slow drift of the machine
shows as a difference between the two. Prints one JSON line:

- `whole_file`: its model CPU seconds (before, after), CPU seconds per audio second, WER;
- per configuration: `compute_over_whole_file` (model CPU per audio second of streaming over
  that of the whole-file transcription; target <= 2.5), the same per part of the audio
  (`by_part`), `model_cpu_seconds`, `model_calls`, `wer` (pooled over all words, against the
  manifest transcripts), `mean`/`p90_commit_latency_s` (how long after a word was spoken its
  commit came, the policy's own delay with no processing time) and
  `same_text_as_whisper_streaming`;
- `meets_target`: the configurations at or under 2.5x whose WER is no worse than
  `whisper_streaming`'s; `load_average` (1-minute, before and after) to judge how quiet the
  machine was.

    python bench/model_compute.py [--quick] [recognition flags, e.g. --model base]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from speech_sets import SPEECH, Recording, ljspeech_entries, long_stretch

from asr_interface.audio import load_audio
from asr_interface.backends.decoding_options import WHISPER_STREAMING, DecodingOptions
from asr_interface.backends.loaded import load_model
from asr_interface.backends.replay import RecordingASR
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.cli.options import add_config_arguments, config_from_arguments
from asr_interface.cli.progress import ProgressBar
from asr_interface.core.config import ASRConfig
from asr_interface.core.pacing import Pacing
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.evaluation import ErrorCount, read_manifest, word_errors
from asr_interface.simulation import SimulationResult, simulate, summarize
from asr_interface.transcript import transcribe_whole, transcript_text

TARGET_RATIO = 2.5
"""Model compute per audio second of one stream, at most this many times the whole file's."""
BASELINE = "whisper_streaming"

CLIPS = 8
"""The first LJ Speech clips, streamed one by one."""
LONG_FIRST, LONG_CLIPS = 16, 8
"""The long stretch: this many clips of the long recording from clip 17 (0-based 16) on."""
QUICK_CLIPS, QUICK_LONG_CLIPS = 0, 2


def speech_set(quick: bool) -> list[Recording]:
    """LJ Speech clips and the J. F. Kennedy clip, each on its own, and a continuous stretch
    of the long recording holding other LJ Speech clips."""
    entries = read_manifest(SPEECH / "manifest.tsv")
    ljspeech = ljspeech_entries()
    kennedy = next(entry for entry in entries if entry.subset == "misc")
    clips = ljspeech[: QUICK_CLIPS if quick else CLIPS]
    recordings = [Recording("clips", load_audio(e.audio_path), e.transcript) for e in clips]
    recordings.append(Recording("clips", load_audio(kennedy.audio_path), kennedy.transcript))
    recordings.append(long_stretch(LONG_FIRST, QUICK_LONG_CLIPS if quick else LONG_CLIPS, ljspeech))
    return recordings


@dataclass
class Measurement:
    """What one configuration cost and produced over the whole audio set."""

    cpu_by_part: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    errors: ErrorCount = field(default_factory=lambda: ErrorCount(0, 0))
    results: list[SimulationResult] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_part.values())

    def add(self, part: str, cpu_seconds: float, reference: str, text: str) -> None:
        self.cpu_by_part[part] = self.cpu_by_part.get(part, 0.0) + cpu_seconds
        self.errors += word_errors(reference, text)
        self.texts.append(text)


@dataclass(frozen=True)
class Bench:
    """The loaded model (with whisper_streaming's decoding) and the configuration measured."""

    asr: FasterWhisperASR
    config: ASRConfig

    def whole_file(self, recordings: Sequence[Recording]) -> Measurement:
        """Each recording transcribed in one call, as an offline transcriber would."""
        measurement = Measurement()
        for recording in recordings:
            began = time.process_time()
            segments = transcribe_whole(self.asr, recording.audio)
            cpu_seconds = time.process_time() - began
            measurement.calls += 1
            text = transcript_text(segments)
            measurement.add(recording.part, cpu_seconds, recording.reference, text)
        return measurement

    def whisper_streaming(self, recordings: Sequence[Recording]) -> Measurement:
        """`process_iter` over `FasterWhisperASR.transcribe`, timed call by call."""
        measurement = Measurement()
        trimming = (self.config.buffer_trimming, self.config.buffer_trimming_sec)
        for recording in recordings:
            recorder = RecordingASR(self.asr)
            processor = OnlineASRProcessor(recorder, buffer_trimming=trimming)
            self.stream(processor, recording, measurement)
            measurement.cpu_by_part[recording.part] += recorder.cpu_seconds
            measurement.calls += len(recorder.calls)
        return measurement

    def decoded(self, recordings: Sequence[Recording], changes: dict[str, Any]) -> Measurement:
        """Streams opened from the configuration with these decoding options, as the server
        opens them; the CPU time of a whole stream (the processor's own work is microseconds
        per step, the model's tenths of a second)."""
        measurement = Measurement()
        model = load_model(self.config.model_copy(update={**WHISPER_STREAMING_DECODING, **changes}))
        for recording in recordings:
            began = time.process_time()
            result = self.stream(model.open_stream(), recording, measurement, model.config)
            measurement.cpu_by_part[recording.part] += time.process_time() - began
            measurement.calls += result.asr_calls
        return measurement

    def stream(
        self,
        stream: Any,
        recording: Recording,
        measurement: Measurement,
        config: ASRConfig | None = None,
    ) -> SimulationResult:
        pacing = Pacing.from_config(config or self.config)
        result = simulate(stream, recording.audio, pacing=pacing, compute_aware=False)
        measurement.results.append(result)
        measurement.add(recording.part, 0.0, recording.reference, result.text)
        return result


WHISPER_STREAMING_DECODING = {
    name: value for name, value in asdict(WHISPER_STREAMING).items() if name != "task"
}
"""How whisper_streaming decodes each window; the model is loaded with these settings, so
the whole-file and `whisper_streaming` baselines decode as faster-whisper does."""

DECODER_CONFIGURATIONS: list[dict[str, Any]] = [
    {},  # the decoder doing what `whisper_streaming` does: the same words
    {"beam_size": 1},
    {"beam_size": 1, "encoder_seconds": 10.0},
    {"beam_size": 1, "encoder_seconds": 10.0, "tail_seconds": 2.0},
    {"beam_size": 1, "encoder_seconds": 10.0, "tail_seconds": 2.0, "max_tokens_per_second": 12.0},
    {"beam_size": 1, "encoder_seconds": 10.0, "tail_seconds": 2.0, "force_committed": True},
    {"policy": "align-att", "beam_size": 1, "encoder_seconds": 10.0, "max_tokens_per_second": 12.0},
]
"""Each lever added in turn on top of the last (greedy decoding, a 10 s encoder input, tails
left to the next window, a token budget: `ASRConfig`'s defaults), then the forced prefix
instead of the budget, then AlignAtt with its own defaults."""


def configuration_name(changes: dict[str, Any]) -> str:
    """E.g. `greedy+encoder10s+tail2s+budget12` or `beam5`."""
    decoding = {**WHISPER_STREAMING_DECODING, **changes}
    policy = decoding.pop("policy", "local-agreement")
    options = DecodingOptions(task=WHISPER_STREAMING.task, **decoding)
    name = "" if policy == "local-agreement" else f"{policy}+"
    name += "greedy" if options.beam_size == 1 else f"beam{options.beam_size}"
    if options.encoder_seconds is not None:
        name += f"+encoder{options.encoder_seconds:g}s"
    if options.tail_seconds:
        name += f"+tail{options.tail_seconds:g}s"
    if options.max_tokens_per_second is not None:
        name += f"+budget{options.max_tokens_per_second:g}"
    if options.force_committed:
        name += "+forced"
    return name


def report_entry(
    measurement: Measurement, whole: dict[str, float], baseline: Measurement | None
) -> dict[str, Any]:
    pooled = summarize(measurement.results)
    return {
        "compute_over_whole_file": round(measurement.cpu_seconds / sum(whole.values()), 2),
        "by_part": {
            part: round(cpu / whole[part], 2) for part, cpu in measurement.cpu_by_part.items()
        },
        "model_cpu_seconds": round(measurement.cpu_seconds, 1),
        "model_calls": measurement.calls,
        "wer": round(measurement.errors.rate, 4),
        "mean_commit_latency_s": _rounded(pooled.mean_latency),
        "p90_commit_latency_s": _rounded(pooled.p90_latency),
        "same_text_as_whisper_streaming": (
            None if baseline is None else measurement.texts == baseline.texts
        ),
    }


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller audio set (26 s)")
    add_config_arguments(parser)
    arguments = parser.parse_args()
    config = config_from_arguments(arguments)
    config = config.model_copy(update={"vac": False})
    baseline = load_model(config.model_copy(update=WHISPER_STREAMING_DECODING))
    metadata = baseline.metadata
    bench = Bench(baseline.template.asr, config)
    recordings = speech_set(arguments.quick)
    configurations = DECODER_CONFIGURATIONS

    load_before = os.getloadavg()[0]
    bench.whole_file(recordings[:1])  # the first calls pay one-time set-up
    with ProgressBar(len(configurations) + 3, "runs", long=True) as progress:
        whole_before = bench.whole_file(recordings)
        progress.update(1)
        measured = {BASELINE: bench.whisper_streaming(recordings)}
        progress.update(2)
        for done, changes in enumerate(configurations, start=3):
            measured[configuration_name(changes)] = bench.decoded(recordings, changes)
            progress.update(done)
        whole_after = bench.whole_file(recordings)
        progress.update(len(configurations) + 3)

    whole = {
        part: (cpu + whole_after.cpu_by_part[part]) / 2
        for part, cpu in whole_before.cpu_by_part.items()
    }
    audio_seconds = sum(recording.seconds for recording in recordings)
    baseline = measured[BASELINE]
    entries = {
        name: report_entry(measurement, whole, None if name == BASELINE else baseline)
        for name, measurement in measured.items()
    }
    report = {
        "model": metadata.get("model"),
        "compute_type": metadata.get("compute_type"),
        "quick": arguments.quick,
        "streams": len(recordings),
        "audio_seconds": round(audio_seconds, 1),
        "audio_seconds_by_part": {
            part: round(sum(r.seconds for r in recordings if r.part == part), 1) for part in whole
        },
        "min_chunk_size": config.min_chunk_size,
        "whole_file": {
            "model_cpu_seconds": [
                round(whole_before.cpu_seconds, 2),
                round(whole_after.cpu_seconds, 2),
            ],
            "cpu_per_audio_second": round(sum(whole.values()) / audio_seconds, 4),
            "wer": round(whole_before.errors.rate, 4),
        },
        "configurations": entries,
        "target_compute_over_whole_file": TARGET_RATIO,
        "meets_target": [
            name
            for name, entry in entries.items()
            if entry["compute_over_whole_file"] <= TARGET_RATIO
            and entry["wer"] <= entries[BASELINE]["wer"]
        ],
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
