"""`asr-interface serve` flags, checked before any model loads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--max-batch", "0"], "invalid --max-batch value: must be 1 to 64, got 0"),
        (["--max-batch", "two"], "--max-batch: invalid"),
        (["--batch-window-ms", "soon"], "--batch-window-ms: invalid float value"),
        (
            ["--batch-window-ms", "-5"],
            "invalid --batch-window-ms value: must be 0 to 1000, got -5.0",
        ),
        (["--latency-target", "fast"], "--latency-target: invalid float value"),
        (["--latency-target", "nan"], "invalid --latency-target value: must be 0 to 60, got nan"),
    ],
)
def test_bad_batching_flags_are_refused_in_one_line(flags: list[str], complaint: str) -> None:
    """A batching or admission flag with an impossible value exits with status 2 and names
    the flag, before the server loads anything."""
    completed = subprocess.run(
        [sys.executable, "-m", "asr_interface", "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert complaint in completed.stderr
    assert "listening" not in completed.stderr


def test_help_documents_the_batching_flags() -> None:
    """`serve --help` explains batching, its window and the latency target."""
    completed = subprocess.run(
        [sys.executable, "-m", "asr_interface", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for flag in ("--max-batch", "--batch-window-ms", "--latency-target"):
        assert flag in completed.stdout
    assert "overloaded" in completed.stdout


@pytest.mark.parametrize(
    ("flags", "environment", "complaint"),
    [
        (["--token", ""], {}, "the token is empty"),
        ([], {"ASR_INTERFACE_TOKEN": ""}, "the token is empty"),
        (["--ssl-keyfile", "key.pem"], {}, "a key file needs its certificate"),
        (["--max-sessions", "-1"], {}, "invalid --max-sessions value: must be 1 to 10000, got -1"),
        (
            ["--max-backlog-seconds", "1e9"],
            {},
            "invalid --max-backlog-seconds value: must be 0.1 to 3600, got 1000000000.0",
        ),
        (
            ["--max-frame-bytes", "0"],
            {},
            "invalid --max-frame-bytes value: must be 1024 to 16777216",
        ),
        (["--workers", "0"], {}, "invalid --workers value: must be 1 to 1024, got 0"),
        (
            ["--idle-timeout", "-5"],
            {},
            "invalid --idle-timeout value: must be 1 to 86400, got -5.0",
        ),
        (["--idle-timeout", "0"], {}, "invalid --idle-timeout value: must be 1 to 86400, got 0.0"),
        (
            ["--max-session-seconds", "inf"],
            {},
            "--max-session-seconds value: must be 1 to 604800, got inf",
        ),
        (
            ["--max-frames-per-second", "nan"],
            {},
            "--max-frames-per-second value: must be 1 to 100000, got nan",
        ),
        (
            ["--max-reply-bytes", "-1"],
            {},
            "invalid --max-reply-bytes value: must be 16384 to 67108864",
        ),
        (
            ["--max-request-bytes", "0"],
            {},
            "invalid --max-request-bytes value: must be 1024 to 1048576",
        ),
        (["--port", "70000"], {}, "invalid --port value: must be 0 to 65535, got 70000"),
        (["--allowed-origins", "evil.example"], {}, "an allowed origin is scheme://host"),
        (
            ["--drain-seconds", "-1"],
            {},
            "invalid --drain-seconds value: must be 0 to 3600, got -1.0",
        ),
    ],
)
def test_nonsensical_limits_and_access_are_refused_at_start_up(
    flags: list[str], environment: dict[str, str], complaint: str
) -> None:
    """An empty token (flag or environment), a key without its certificate and limits outside
    their range exit with status 2 and one line naming the problem, before any model
    loads: none of them silently turns a protection off or lets clients ask for hours of
    audio."""
    completed = subprocess.run(
        [sys.executable, "-m", "asr_interface", "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **environment},
    )
    assert completed.returncode == 2
    assert complaint in completed.stderr
    assert "listening" not in completed.stderr


@pytest.mark.parametrize(
    ("flags", "policy"),
    [
        ([], "align-att"),
        (["--policy", "local-agreement"], "local-agreement"),
        (["--vac"], "local-agreement"),
        (["--vad"], "local-agreement"),
        (["--lan", "auto", "--model", "base"], "local-agreement"),
        (["--lan", "de", "--model", "base"], "align-att"),
    ],
)
def test_the_server_streams_with_align_att_unless_the_options_need_local_agreement(
    flags: list[str], policy: str
) -> None:
    """`serve` defaults to the policy that held the most streams, and to LocalAgreement for
    what only it offers; a named policy wins."""
    from asr_interface.cli.main import build_parser
    from asr_interface.cli.serve import serving_config

    arguments = build_parser().parse_args(["serve", *flags])
    assert serving_config(arguments).policy == policy


def test_the_log_format_is_text_json_or_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """`--log-format` is text unless json is asked for; any other value exits with status 2
    naming the choices, before anything is logged."""
    from asr_interface.cli.main import build_parser

    assert build_parser().parse_args(["serve"]).log_format == "text"
    assert build_parser().parse_args(["serve", "--log-format", "json"]).log_format == "json"
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(["serve", "--log-format", "yaml"])
    assert refused.value.code == 2
    assert (
        "--log-format: invalid choice: 'yaml' (choose from 'text', 'json')"
        in capsys.readouterr().err
    )
