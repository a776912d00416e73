"""The `asr-interface` command: transcribe, simulate live streaming, score it, describe the setup.

Every subcommand that runs a model takes the recognition flags built from `ASRConfig`
(`asr_interface.cli.options`). Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import asr_interface
from asr_interface.audio import audio_duration, load_audio
from asr_interface.backends.loaded import LoadedModel, load_model
from asr_interface.backends.model_resolution import BUNDLED_MODELS, cache_root
from asr_interface.backends.plugins import load_backends
from asr_interface.backends.registry import list_loaders
from asr_interface.cli.options import (
    add_config_arguments,
    add_plugin_argument,
    config_from_arguments,
)
from asr_interface.cli.progress import ProgressBar
from asr_interface.cli.serve import add_serve_arguments, run_serve, serving_config
from asr_interface.cli.stream import add_stream_arguments, run_stream
from asr_interface.core.pacing import Pacing
from asr_interface.core.protocols import ASRBase
from asr_interface.errors import ASRInterfaceError, ConfigError
from asr_interface.evaluation import (
    ErrorCount,
    ManifestEntry,
    char_errors,
    read_manifest,
    word_errors,
)
from asr_interface.simulation import EmittedCommit, SimulationResult, simulate
from asr_interface.transcript import FORMATTERS, transcribe_whole

PROG = "asr-interface"
EXIT_BAD_INPUT = 2
LONG_RUN_SECONDS = 60.0
"""Audio longer than this gets a progress bar even when stderr is not a terminal."""
MAX_MANIFEST_ROWS = 1_000_000
"""Most rows `evaluate --limit` names: more than any speech set holds."""

_VERSIONED_PACKAGES = ("faster-whisper", "ctranslate2", "numpy")


class _OneLineParser(argparse.ArgumentParser):
    """Reports usage errors in one line (status 2) instead of the usage text plus the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _whole_file_asr(model: LoadedModel) -> ASRBase:
    asr: ASRBase | None = getattr(model.template, "asr", None)
    if asr is None:
        raise ConfigError(
            f"backend {model.config.backend!r} has no model that transcribes a whole file"
        )
    return asr


def _transcribe(arguments: argparse.Namespace) -> int:
    """One model call per file over the whole recording; the offline result."""
    config = config_from_arguments(arguments)
    recordings = [(path, load_audio(path)) for path in arguments.files]
    asr = _whole_file_asr(load_model(config))
    write = FORMATTERS[arguments.format]
    long_run = sum(audio_duration(audio) for _, audio in recordings) > LONG_RUN_SECONDS
    with ProgressBar(len(recordings), "files", long=long_run) as progress:
        for done, (path, audio) in enumerate(recordings, start=1):
            segments = transcribe_whole(asr, audio)
            progress.clear()
            if len(recordings) > 1:
                print(f"==> {path} <==")
            sys.stdout.write(write(segments))
            sys.stdout.flush()
            progress.update(done)
    return 0


def _stream(
    model: LoadedModel,
    audio: Any,
    *,
    compute_aware: bool,
    on_commit: Callable[[EmittedCommit], None] | None = None,
) -> SimulationResult:
    """Simulates one stream, paced as the server paces it, with a progress bar for long
    recordings."""
    duration = audio_duration(audio)
    with ProgressBar(duration, "s", long=duration > LONG_RUN_SECONDS) as progress:

        def show(commit: EmittedCommit) -> None:
            progress.clear()
            if on_commit is not None:
                on_commit(commit)

        return simulate(
            model.open_stream(),
            audio,
            pacing=Pacing.from_config(model.config),
            compute_aware=compute_aware,
            on_commit=show,
            on_progress=progress.update,
        )


def _print_commit(commit: EmittedCommit) -> None:
    print(
        f"{commit.emission * 1000:.0f} {commit.start * 1000:.0f} {commit.end * 1000:.0f} "
        f"{commit.text.strip()}",
        flush=True,
    )


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _simulate(arguments: argparse.Namespace) -> int:
    """Streams a file in simulated real time, as the server would, printing each commit as
    it happens."""
    config = serving_config(arguments)
    audio = load_audio(arguments.file)
    model = load_model(config)
    compute_aware = arguments.compute_aware
    result = _stream(model, audio, compute_aware=compute_aware, on_commit=_print_commit)
    mode = "compute-aware" if compute_aware else "compute-unaware"
    print(
        f"# {mode}: {result.audio_seconds:.2f} s of audio, {len(result.commits)} commits, "
        f"{result.asr_calls} ASR calls, real-time factor {result.real_time_factor:.2f}"
    )
    print(
        f"# commit latency: mean {_seconds(result.mean_latency)}, "
        f"p90 {_seconds(result.p90_latency)}"
    )
    return 0


def _evaluation_entries(arguments: argparse.Namespace) -> list[ManifestEntry]:
    """The files to score: the manifest's rows, or FILE with its reference."""
    has_reference = arguments.reference is not None or arguments.reference_file is not None
    if arguments.manifest is not None:
        if arguments.file is not None or has_reference:
            raise ConfigError("give either FILE with a reference or --manifest, not both")
        return read_manifest(arguments.manifest)[: arguments.limit]
    if arguments.file is None or not has_reference:
        raise ConfigError("give FILE with --reference TEXT or --reference-file F, or --manifest")
    reference = arguments.reference
    if reference is None:
        try:
            reference = arguments.reference_file.read_text(encoding="utf-8")
        except OSError as error:
            reason = error.strerror or error
            raise ConfigError(f"cannot read {arguments.reference_file}: {reason}") from error
    return [ManifestEntry(Path(arguments.file), reference)]


def _evaluate(arguments: argparse.Namespace) -> int:
    """Streams files as the server would and scores the streamed transcripts against their
    references."""
    config = serving_config(arguments)
    entries = _evaluation_entries(arguments)
    model = load_model(config)
    total_words = total_chars = ErrorCount(0, 0)
    print("file\twords\twer\tcer")
    with ProgressBar(len(entries), "files", long=len(entries) > 1) as progress:
        for done, entry in enumerate(entries, start=1):
            audio = load_audio(entry.audio_path)
            result = _stream(model, audio, compute_aware=arguments.compute_aware)
            words = word_errors(entry.transcript, result.text)
            chars = char_errors(entry.transcript, result.text)
            total_words += words
            total_chars += chars
            progress.clear()
            print(
                f"{entry.audio_path}\t{words.reference_length}\t{words.rate:.2%}\t{chars.rate:.2%}"
            )
            progress.update(done)
    print(
        f"overall\t{total_words.reference_length}\t{total_words.rate:.2%}\t{total_chars.rate:.2%}"
    )
    return 0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _info(arguments: argparse.Namespace) -> int:
    """Versions, backends and the models available without a network."""
    print(f"asr-interface {asr_interface.__version__}")
    for package in _VERSIONED_PACKAGES:
        print(f"{package} {_version(package)}")
    print(f"backends: {', '.join(list_loaders())}")
    print("local models:")
    for name, bundled in BUNDLED_MODELS.items():
        try:
            located = bundled.locate(cache_root(arguments.model_cache_dir))
        except ASRInterfaceError as error:
            located, problem = None, f"unusable ({error})"
        else:
            problem = f"not installed ({bundled.install_hint})"
        print(f"  {name}: {located if located is not None else problem}")
    return 0


def _row_count(text: str) -> int:
    """`--limit`: 1 to `MAX_MANIFEST_ROWS` rows."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_MANIFEST_ROWS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_MANIFEST_ROWS}, got {text!r}")
    return value


def _add_compute_aware(parser: argparse.ArgumentParser, *, default: bool) -> None:
    """The one choice of how simulated time runs, spelled alike for `simulate` (aware by
    default, as whisper_streaming's simulation) and `evaluate` (unaware: reproducible
    scores); `--comp-unaware` is whisper_streaming's spelling of `--no-compute-aware`."""
    parser.add_argument(
        "--compute-aware",
        action=argparse.BooleanOptionalAction,
        default=default,
        help="let processing time delay the stream; --no-compute-aware advances time by the "
        "audio only (deterministic)",
    )
    parser.add_argument(
        "--comp-unaware", dest="compute_aware", action="store_false", help=argparse.SUPPRESS
    )


def build_parser() -> argparse.ArgumentParser:
    """The full command line; `add_config_arguments` gives each model command its flags."""
    parser = _OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=asr_interface.__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    transcribe = commands.add_parser("transcribe", help="transcribe whole files (offline)")
    transcribe.add_argument("files", nargs="+", metavar="FILE", help="audio file(s)")
    transcribe.add_argument(
        "--format", choices=sorted(FORMATTERS), default="text", help="output format"
    )
    add_config_arguments(transcribe)
    transcribe.set_defaults(run=_transcribe)

    simulate_command = commands.add_parser(
        "simulate",
        help="stream a file in simulated real time",
        description="Prints 'emission_ms beg_ms end_ms text' per commit, then '#' summary lines.",
    )
    simulate_command.add_argument("file", metavar="FILE", help="audio file")
    _add_compute_aware(simulate_command, default=True)
    add_config_arguments(simulate_command)
    simulate_command.set_defaults(run=_simulate)

    evaluate = commands.add_parser(
        "evaluate",
        help="stream files and score WER and CER",
        description="Streams compute-unaware by default, so scores are reproducible.",
    )
    evaluate.add_argument("file", nargs="?", metavar="FILE", help="audio file")
    reference = evaluate.add_mutually_exclusive_group()
    reference.add_argument("--reference", metavar="TEXT", help="what is said in FILE")
    reference.add_argument(
        "--reference-file", type=Path, metavar="F", help="text file with what is said in FILE"
    )
    evaluate.add_argument(
        "--manifest", type=Path, metavar="TSV", help="TSV with columns file and transcript"
    )
    evaluate.add_argument(
        "--limit", type=_row_count, metavar="N", help="score only the first N manifest rows"
    )
    _add_compute_aware(evaluate, default=False)
    add_config_arguments(evaluate)
    evaluate.set_defaults(run=_evaluate)

    serve = commands.add_parser("serve", help="run the streaming server")
    add_serve_arguments(serve)
    serve.set_defaults(run=run_serve)
    add_plugin_argument(serve)

    stream = commands.add_parser("stream", help="stream a file to a running server")
    add_stream_arguments(stream)
    stream.set_defaults(run=run_stream)

    info = commands.add_parser("info", help="versions, backends and local models")
    info.add_argument("--model-cache-dir", default=None, help="where assembled models are kept")
    info.set_defaults(run=_info)
    for command in (transcribe, simulate_command, evaluate, info):
        add_plugin_argument(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (2 for bad input)."""
    arguments = build_parser().parse_args(argv)
    try:
        arguments.entry_points = load_backends(getattr(arguments, "plugin", ()))
        status: int = arguments.run(arguments)
    except ASRInterfaceError as error:
        # Messages may span lines (model hints); the contract is one line.
        print(f"{PROG}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
