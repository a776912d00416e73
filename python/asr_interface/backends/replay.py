"""Recorded model output, replayed at no model cost.

A trace is what an ASR returned to the processor, call by call: the timed words and the
segment end times, both relative to the start of the window it was given. Replaying a trace
through the same audio schedule reproduces the original stream exactly, which makes it a
backend for benchmarks and tests that must measure or check everything except the model.

`RecordingASR` wraps any ASR of the whisper_streaming shape and records a trace and the
cost of each call;
`ReplayASR` plays one back; `Trace.save` / `Trace.load` keep it as compact JSON:

    {"format": "asr-interface-trace", "version": 1, "sep": "", "meta": {...},
     "calls": [[[[start, end, text], ...], [segment_end, ...]], ...]}
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.core.decoding import TimedWord

TRACE_FORMAT = "asr-interface-trace"
TRACE_VERSION = 1


@dataclass(frozen=True)
class TraceCall:
    """One transcription: its words and segment ends, relative to the window start."""

    words: tuple[TimedWord, ...]
    segment_ends: tuple[float, ...]


@dataclass
class Trace:
    """The calls of one stream, in order, with the word separator the ASR used."""

    sep: str
    calls: list[TraceCall] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Compact JSON, one call per line so that a changed trace diffs call by call."""
        calls = ",\n".join(
            _compact([[list(w) for w in call.words], list(call.segment_ends)])
            for call in self.calls
        )
        return (
            f'{{"format":{_compact(TRACE_FORMAT)},"version":{TRACE_VERSION},'
            f'"sep":{_compact(self.sep)},"meta":{_compact(self.meta)},"calls":[\n{calls}\n]}}\n'
        )

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Parse `to_json` output; ValueError if it is not a trace this version can read."""
        data = json.loads(text)
        if data.get("format") != TRACE_FORMAT or data.get("version") != TRACE_VERSION:
            raise ValueError(f"not an {TRACE_FORMAT} version {TRACE_VERSION} document")
        calls = [
            TraceCall(
                words=tuple((float(s), float(e), str(t)) for s, e, t in words),
                segment_ends=tuple(float(x) for x in ends),
            )
            for words, ends in data["calls"]
        ]
        return cls(sep=str(data["sep"]), calls=calls, meta=dict(data.get("meta", {})))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


class ReplayASR:
    """Returns the calls of a trace in order, ignoring the audio and the prompt.

    The replay is faithful only when the processor receives the same audio schedule as when
    the trace was recorded (the words are relative to the window each call was given).
    With `loop=True` the trace starts over after its last call (`rounds` counts the restarts);
    otherwise transcribing past the end raises IndexError. Calls appended to `trace.calls`
    during a replay are played in turn.
    """

    def __init__(self, trace: Trace, *, loop: bool = False) -> None:
        self.trace = trace
        self.sep = trace.sep
        self.loop = loop
        self.position = 0
        self.rounds = 0

    def transcribe(self, audio: npt.NDArray[np.float32], init_prompt: str = "") -> TraceCall:
        if self.position == len(self.trace.calls) and self.loop and self.trace.calls:
            self.position = 0
            self.rounds += 1
        if self.position >= len(self.trace.calls):
            raise IndexError(f"the trace has only {len(self.trace.calls)} calls")
        call = self.trace.calls[self.position]
        self.position += 1
        return call

    def ts_words(self, result: TraceCall) -> list[TimedWord]:
        return list(result.words)

    def segments_end_ts(self, result: TraceCall) -> list[float]:
        return list(result.segment_ends)

    def use_vad(self) -> None:
        """Nothing to switch: a trace already holds whatever the recorded model produced."""

    def set_translate_task(self) -> None:
        """Nothing to switch: a trace already holds whatever the recorded model produced."""


@dataclass(frozen=True)
class ModelCall:
    """One `transcribe` call: the window's length, its prompt, the options and the cost."""

    window_seconds: float
    prompt: str
    options: dict[str, Any]
    cpu_seconds: float


class RecordingASR:
    """Forwards every call to `asr`, appends what it returned to `trace` and how each call
    went to `calls`; changes no result.

    Every window goes through `transcribe`, so that each is recorded: the wrapped model's
    own `window_decoder` is hidden. Other attributes are the wrapped ASR's.
    """

    window_decoder = None

    def __init__(self, asr: Any, meta: dict[str, Any] | None = None) -> None:
        self.asr = asr
        self.sep = asr.sep
        self.trace = Trace(sep=asr.sep, meta=dict(meta or {}))
        self.calls: list[ModelCall] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.asr, name)

    def transcribe(
        self, audio: npt.NDArray[np.float32], init_prompt: str = "", language: str | None = None
    ) -> Any:
        options = {} if language is None else {"language": language}
        began = time.process_time()
        result = self.asr.transcribe(audio, init_prompt=init_prompt, **options)
        cpu_seconds = time.process_time() - began
        words = self.asr.ts_words(result)
        ends = self.asr.segments_end_ts(result)
        self.trace.calls.append(
            TraceCall(
                words=tuple((float(s), float(e), str(t)) for s, e, t in words),
                segment_ends=tuple(float(x) for x in ends),
            )
        )
        self.calls.append(ModelCall(len(audio) / SAMPLING_RATE, init_prompt, options, cpu_seconds))
        return result

    def ts_words(self, result: Any) -> list[TimedWord]:
        return list(self.asr.ts_words(result))

    def segments_end_ts(self, result: Any) -> list[float]:
        return list(self.asr.segments_end_ts(result))

    @property
    def cpu_seconds(self) -> float:
        """CPU time of every call together, across all the model's threads."""
        return sum(call.cpu_seconds for call in self.calls)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
