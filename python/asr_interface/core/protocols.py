"""The extension points: what a speech model, a streaming engine and a backend loader provide.

`ASRBase` is the model side of whisper_streaming's design, so a model written for it plugs
into the standard `OnlineASRProcessor`. `ASRProcessor` is the streaming engine the server
drives; `ModelLoader` turns an `ASRConfig` into such an engine and is registered by name in
`asr_interface.backends.registry`.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

import numpy as np
import numpy.typing as npt

from asr_interface.core.decoding import TimedWord

if TYPE_CHECKING:
    from asr_interface.core.config import ASRConfig

__all__ = ["ASRBase", "ASRProcessor", "ModelLoader", "TimedText", "TimedWord"]

TimedText = tuple[float | None, float | None, str]
"""Text with the start of its first word and the end of its last, or `(None, None, "")`."""


class ASRBase(ABC):
    """A speech model that transcribes a whole window of audio with word times.

    The constructor stores the arguments and calls `load_model`, so a subclass only says how
    to load its weights and how to read its results; a subclass that sets `self.model` itself
    before calling it (as the integration guide's does) needs no `load_model`. `lan="auto"`
    asks the model to detect the language, which `original_language` records as `None`.
    """

    sep = " "
    """Joins the texts from `ts_words`: a space, or "" when the words carry their own spaces."""

    def __init__(
        self,
        lan: str,
        modelsize: str | None = None,
        cache_dir: str | None = None,
        model_dir: str | None = None,
        logfile: TextIO = sys.stderr,
        **kwargs: Any,
    ) -> None:
        self.lan = lan
        self.original_language: str | None = None if lan == "auto" else lan
        self.modelsize = modelsize
        self.cache_dir = cache_dir
        self.model_dir = model_dir
        self.logfile = logfile
        # Engine-specific options, stored before `load_model` runs so that it can read them.
        self.options: dict[str, Any] = dict(kwargs)
        self.task = "transcribe"
        if "model" not in vars(self):
            self.model = self.load_model(modelsize, cache_dir, model_dir)

    def load_model(
        self,
        modelsize: str | None = None,
        cache_dir: str | None = None,
        model_dir: str | None = None,
    ) -> Any:
        """Returns the loaded model; `model_dir` (a local directory) wins over `modelsize`.

        Called by the constructor unless the subclass set `self.model` before it."""
        raise NotImplementedError(
            f"{type(self).__name__} must set self.model before calling ASRBase.__init__, "
            "or override load_model"
        )

    @abstractmethod
    def transcribe(self, audio: npt.NDArray[np.float32], init_prompt: str = "") -> Any:
        """Transcribes 16 kHz mono audio; `init_prompt` is the committed text before it."""

    @abstractmethod
    def ts_words(self, result: Any) -> list[TimedWord]:
        """The words of a `transcribe` result, with times relative to the start of its audio."""

    @abstractmethod
    def segments_end_ts(self, result: Any) -> list[float]:
        """The end times of the result's segments, where the processor may trim its window."""

    @abstractmethod
    def use_vad(self) -> None:
        """Makes `transcribe` skip non-speech with the model's voice activity detection."""

    def set_translate_task(self) -> None:
        """Makes `transcribe` translate into English instead of transcribing."""
        self.task = "translate"


@runtime_checkable
class ASRProcessor(Protocol):
    """A streaming engine: fed audio chunks, it returns text as soon as it is confident.

    Call `init()` before a stream, `insert_audio_chunk()` as audio arrives, `process_iter()`
    whenever there is new audio to look at, and `finish()` at the end of an utterance.
    """

    def init(self, offset: float | None = None) -> None:
        """Starts a new stream whose first sample is at `offset` seconds (default 0)."""
        ...

    def insert_audio_chunk(self, audio: npt.NDArray[Any]) -> None:
        """Appends 16 kHz mono samples to the stream."""
        ...

    def process_iter(self) -> TimedText | None:
        """Returns the text that became final since the last call; `(None, None, "")` or
        None when there is none."""
        ...

    def finish(self) -> TimedText | None:
        """Returns the text not yet final at the end of an utterance, or None."""
        ...


@runtime_checkable
class ModelLoader(Protocol):
    """Builds a streaming engine for a configuration; registered under a backend name."""

    def load(self, config: ASRConfig) -> tuple[ASRProcessor, dict[str, Any]]:
        """Returns a new engine for one stream and metadata describing the model it uses."""
        ...
