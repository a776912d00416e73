"""The `asr-interface` command, run as a user runs it: in a subprocess, on the real model."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

from asr_interface.evaluation import normalize
from asr_interface.transcript import PARSERS
from tests.speech import JFK, SHORT, SPEECH_DIR, speech_path, transcript
from tests.wording import close_to, heard

JFK_SECONDS = 11.0
JFK_LINE = "ask not what your country can do for you"
SIMULATE_LINE = re.compile(r"^(\d+) (\d+) (\d+) (.+)$")


def run(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """Runs the command line with `arguments` and captures its output."""
    return subprocess.run(
        [sys.executable, "-m", "asr_interface.cli.main", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def succeed(*arguments: str | Path) -> str:
    """Runs the command line, checks that it succeeded cleanly, and returns its stdout."""
    completed = run(*arguments)
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    return completed.stdout


@cache
def jfk_text() -> str:
    """The plain-text transcription of JFK, shared by the tests that compare formats."""
    return succeed("transcribe", speech_path(JFK))


@pytest.mark.model
def test_transcribe_prints_the_sentence() -> None:
    """Whole-file transcription of JFK prints his line."""
    assert heard(JFK_LINE, jfk_text())


@pytest.mark.model
def test_transcribe_labels_each_of_several_files() -> None:
    """With several files, each transcript follows a header naming its file."""
    output = succeed("transcribe", speech_path(SHORT), speech_path(JFK))
    first, second = re.split(r"^==> .* <==$", output, flags=re.MULTILINE)[1:]
    assert output.startswith(f"==> {speech_path(SHORT)} <==\n")
    assert close_to(transcript(SHORT), first, wer=0.25)
    assert heard(JFK_LINE, second)


@pytest.mark.model
@pytest.mark.parametrize("output_format", sorted(PARSERS))
def test_timed_formats_parse_back_to_the_text(output_format: str) -> None:
    """SRT, WebVTT and JSON output parse into ordered segments inside the audio whose texts
    are the plain-text lines."""
    output = succeed("transcribe", speech_path(JFK), "--format", output_format)
    segments = PARSERS[output_format](output)
    assert [segment.text for segment in segments] == jfk_text().splitlines()
    assert all(0 <= segment.start <= segment.end <= JFK_SECONDS for segment in segments)
    assert [segment.start for segment in segments] == sorted(s.start for s in segments)


@pytest.mark.model
@pytest.mark.parametrize(
    "mode",
    [[], ["--no-compute-aware"], ["--comp-unaware"]],
    ids=["compute-aware", "unaware", "whisper_streaming-spelling"],
)
def test_simulate_prints_timed_commits_then_a_summary(mode: list[str]) -> None:
    """Each commit line is `emission_ms beg_ms end_ms text`, in time order within the audio,
    emitted after it was spoken; '#' lines summarise latency."""
    output = succeed("simulate", speech_path(JFK), *mode)
    lines = output.splitlines()
    commits = [SIMULATE_LINE.match(line) for line in lines if not line.startswith("#")]
    assert commits
    assert all(commits)
    times = [tuple(int(match.group(i)) for i in (1, 2, 3)) for match in commits if match]
    for emission, beginning, end in times:
        assert 0 <= beginning <= end <= JFK_SECONDS * 1000
        assert emission >= end
    assert [beginning for _, beginning, _ in times] == sorted(b for _, b, _ in times)
    assert [emission for emission, _, _ in times] == sorted(e for e, _, _ in times)
    text = " ".join(match.group(4) for match in commits if match)
    assert "your country" in normalize(text)
    summary = [line for line in lines if line.startswith("#")]
    assert any("commit latency: mean" in line and "p90" in line for line in summary)
    assert any("real-time factor" in line for line in summary)


def parse_scores(output: str) -> dict[str, tuple[int, float, float]]:
    """The evaluate table: file -> (reference words, WER, CER), plus the 'overall' row."""
    lines = output.splitlines()
    assert lines[0] == "file\twords\twer\tcer"
    rows = {}
    for line in lines[1:]:
        name, words, wer, cer = line.split("\t")
        rows[name] = (int(words), float(wer.rstrip("%")) / 100, float(cer.rstrip("%")) / 100)
    return rows


@pytest.mark.model
def test_evaluate_scores_a_file_against_a_reference_file(tmp_path: Path) -> None:
    """A file scored against its reference gets a low WER and CER."""
    reference = tmp_path / "reference.txt"
    reference.write_text(transcript(JFK), encoding="utf-8")
    rows = parse_scores(succeed("evaluate", speech_path(JFK), "--reference-file", reference))
    assert set(rows) == {str(speech_path(JFK)), "overall"}
    words, wer, cer = rows["overall"]
    assert words == len(normalize(transcript(JFK)).split())
    assert wer < 0.25
    assert cer < 0.15


@pytest.mark.model
def test_evaluate_a_manifest_prefix() -> None:
    """`--limit 2` scores the first two manifest rows and pools them by word count."""
    rows = parse_scores(
        succeed("evaluate", "--manifest", SPEECH_DIR / "manifest.tsv", "--limit", "2")
    )
    names = [name for name in rows if name != "overall"]
    assert [Path(name).name for name in names] == ["LJ001-0001.wav", "LJ001-0002.wav"]
    total_words = sum(rows[name][0] for name in names)
    assert rows["overall"][0] == total_words
    pooled = sum(rows[name][0] * rows[name][1] for name in names) / total_words
    assert rows["overall"][1] == pytest.approx(pooled, abs=0.0001)
    assert rows["overall"][1] < 0.2


def test_info_lists_versions_backends_and_local_models(tmp_path: Path) -> None:
    """`info` names the package versions, the registered backends and the bundled models."""
    output = succeed("info", "--model-cache-dir", tmp_path)
    for package in ("asr-interface", "faster-whisper", "ctranslate2", "numpy"):
        assert re.search(rf"^{package} \d+\.\d+", output, flags=re.MULTILINE)
    assert re.search(r"^backends: .*faster-whisper", output, flags=re.MULTILINE)
    tiny = re.search(r"^  tiny.en: (.+)$", output, flags=re.MULTILINE)
    assert tiny
    assert (Path(tiny.group(1)) / "model.bin").is_file()
    assert re.search(r"^  base: ", output, flags=re.MULTILINE)


def test_version_is_the_cargo_workspace_version() -> None:
    """`--version` prints the version written once, in the Cargo workspace, that the build gave
    the installed package."""
    cargo = tomllib.loads((Path(__file__).parents[2] / "Cargo.toml").read_text(encoding="utf-8"))
    version = cargo["workspace"]["package"]["version"]
    assert succeed("--version") == f"{version}\n"
    assert re.search(rf"^asr-interface {re.escape(version)}$", succeed("info"), flags=re.M)


def test_every_model_command_takes_plugins() -> None:
    """`--plugin` registers a backend for `info`, `transcribe`, `simulate` and `evaluate` as
    for `serve`: the integration guide's engine is listed once its module is imported."""
    plugin = ["--plugin", "tests.examples.guide.my_engine"]
    assert "my_engine" not in succeed("info")
    assert re.search(r"^backends: .*\bmy_engine\b", succeed("info", *plugin), re.MULTILINE)
    for command in ("transcribe", "simulate", "evaluate"):
        assert "--plugin MODULE" in succeed(command, "--help")


@pytest.mark.model
def test_simulate_streams_through_a_plugin_backend() -> None:
    """The integration guide's path 1, named by `--plugin` and `--backend`, streams a file
    offline as the server would stream it."""
    guide = ["--plugin", "tests.examples.guide.my_backend", "--backend", "my_custom_backend"]
    lines = succeed("simulate", JFK_PATH, *guide).splitlines()  # the guide's loader prints
    commits = [match.group(4) for line in lines if (match := SIMULATE_LINE.match(line))]
    assert heard(JFK_LINE, " ".join(commits))


def text_file(tmp_path: Path) -> Path:
    """A file that is not audio."""
    path = tmp_path / "notes.wav"
    path.write_text("not audio\n" * 100, encoding="utf-8")
    return path


JFK_PATH = speech_path(JFK)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["transcribe", "missing.wav"], "audio file not found: missing.wav"),
        (["transcribe", "{text_file}"], "cannot decode audio"),
        (["simulate", "missing.wav"], "audio file not found"),
        (["transcribe", JFK_PATH, "--model", "no-such-model"], "cannot load Whisper model"),
        (["transcribe", JFK_PATH, "--model-dir", "{tmp}"], "not a CTranslate2 Whisper model"),
        (["simulate", JFK_PATH, "--min-chunk-size", "soon"], "invalid --min-chunk-size value"),
        (["simulate", JFK_PATH, "--min-chunk-size", "-1"], "invalid --min-chunk-size value"),
        (["simulate", JFK_PATH, "--lan", "xx"], "invalid --lan value"),
        pytest.param(
            ["simulate", JFK_PATH, "--lan", "de"], "English-only", marks=pytest.mark.model
        ),
        (["transcribe", JFK_PATH, "--backend", "nope"], "unknown backend 'nope'"),
        (["transcribe", JFK_PATH, "--format", "doc"], "invalid choice: 'doc'"),
        (["evaluate", JFK_PATH], "--reference"),
        (["evaluate", JFK_PATH, "--reference-file", "{tmp}/none.txt"], "cannot read"),
        (["evaluate", "--manifest", "missing.tsv"], "cannot read manifest"),
        (["evaluate", "--manifest", "m.tsv", "--limit", "0"], "--limit: must be 1 to 1000000"),
        (["simulate", JFK_PATH, "--plugin", "tests.server.failing_plugin"], "ZeroDivisionError"),
        (["simulate"], "required: FILE"),
        (["dance"], "invalid choice: 'dance'"),
        ([], "required: COMMAND"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, arguments: list[str | Path], message: str
) -> None:
    """Missing or unreadable files, unknown models or backends and invalid flag values end
    with status 2 and a single error line naming the problem, never a traceback."""
    substitutions = {"{tmp}": str(tmp_path), "{text_file}": str(text_file(tmp_path))}
    resolved = []
    for argument in arguments:
        text = str(argument)
        for placeholder, value in substitutions.items():
            text = text.replace(placeholder, value)
        resolved.append(text)
    completed = run(*resolved)
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("asr-interface")
    assert "error:" in lines[0]
    assert message in lines[0]
