"""Whisper on many windows at once: one encoder forward, one beam search and one alignment
pass for every window of a batch, each window decoded as `WhisperModel.transcribe` decodes it
alone.

Streams that become ready together share each model call, which costs far less than the same
calls one after another. A batch of one reproduces `FasterWhisperASR.transcribe` followed by
`ts_words` and `segments_end_ts` exactly: the same log-mel features, language detection, prompt,
temperature fallback, no-speech skip, seek loop when the output stops short of the window's end,
and word timing with faster-whisper's punctuation merging and duration clamps. faster-whisper's
own helpers do the per-window work; this module only batches the model calls around them.

faster-whisper and CTranslate2 are imported where they are used, because the server imports
these types whatever its backend, and loading them takes a third of a second.
"""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.decoding_options import DecodingOptions
from asr_interface.core.config import MAX_WINDOW_SECONDS
from asr_interface.core.decoding import WindowRequest, WindowResult

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import Segment

__all__ = [
    "NO_SPEECH_SKIP_PROBABILITY",
    "BoundDecoder",
    "WhisperBatchDecoder",
    "speech_words",
]


ENCODER_HEADROOM_SECONDS = 1.0
"""Audio-free input a shortened encoder input keeps after the speech. Whisper learned to end
its transcript before the end of its 30 s input: speech that fills a shorter input to its
last frame makes it run on to the length limit and through every fallback temperature
(measured with 10 s inputs: 224-token loops, 25x the compute of the whole window)."""

MAX_WINDOW_SAMPLES = round(MAX_WINDOW_SECONDS * SAMPLING_RATE)
"""The longest window one decoding takes."""

TOKEN_ALLOWANCE = 16
"""Tokens an output may take besides its share per second: timestamps and the end token."""

PREFIX_RESUME_SECONDS = 1.0
"""Audio left after the last word of a pass with a forced prefix that is decoded again."""

NO_SPEECH_SKIP_PROBABILITY = 0.9
"""Segments Whisper itself deems this likely to be silence yield no words (whisper_streaming)."""


def speech_words(segments: Iterable[Segment]) -> list[tuple[float, float, str]]:
    """Every word of the segments that are likely speech, with its start and end time."""
    return [
        (float(word.start), float(word.end), word.word)
        for segment in segments
        if segment.no_speech_prob <= NO_SPEECH_SKIP_PROBABILITY
        for word in segment.words or ()
    ]


@dataclass(frozen=True)
class _TranscribeDefaults:
    """The settings `FasterWhisperASR` leaves at `WhisperModel.transcribe`'s defaults, read
    from its signature so that the batched and the unbatched path cannot drift apart."""

    temperature: tuple[float, ...]
    best_of: int
    patience: float
    length_penalty: float
    repetition_penalty: float
    no_repeat_ngram_size: int
    compression_ratio_threshold: float
    log_prob_threshold: float
    no_speech_threshold: float
    prompt_reset_on_temperature: float
    max_initial_timestamp: float
    suppress_blank: bool
    suppress_tokens: tuple[int, ...]
    prepend_punctuations: str
    append_punctuations: str

    @classmethod
    def read(cls) -> _TranscribeDefaults:
        from faster_whisper import WhisperModel

        parameters = inspect.signature(WhisperModel.transcribe).parameters
        values = {item.name: parameters[item.name].default for item in fields(cls)}
        values["temperature"] = tuple(values["temperature"])
        values["suppress_tokens"] = tuple(values["suppress_tokens"])
        return cls(**values)


@dataclass(frozen=True)
class _Attempt:
    """One decoding of a window at one temperature, with the scores the fallback judges."""

    result: Any  # ctranslate2.models.WhisperGenerationResult
    tokens: list[int]
    avg_logprob: float
    temperature: float
    compression_ratio: float


@dataclass
class _Window:
    """One request's progress through faster-whisper's seek loop."""

    features: npt.NDArray[np.float32]
    """The log-mel features of the whole window, one frame more than its content, as
    faster-whisper computes them."""
    tokenizer: Tokenizer
    prefix: str | None
    language: str
    language_probability: float
    more_audio: bool
    left_tail: bool = False
    """Whether audio after the last word was left undecoded for the next window."""
    history: list[int] = field(default_factory=list)
    """Prompt tokens then every decoded segment's tokens: the text the next round continues."""
    prompt_reset_since: int = 0
    seek: int = 0
    last_speech_timestamp: float = 0.0
    segments: list[Segment] = field(default_factory=list)

    @property
    def content_frames(self) -> int:
        return int(self.features.shape[-1]) - 1

    @property
    def done(self) -> bool:
        return self.seek >= self.content_frames

    def result(self) -> WindowResult:
        return WindowResult(
            words=speech_words(self.segments),
            segment_ends=[float(segment.end) for segment in self.segments],
            language=self.language,
            language_probability=self.language_probability,
            segments=self.segments,
            left_tail=self.left_tail,
        )


@dataclass
class _Round:
    """The windows decoded together in one pass of the seek loop, and what the pass found."""

    windows: list[_Window]
    encoded: Any  # ctranslate2.StorageView, one row per window
    sizes: list[int]
    """Content frames of each window's slice in this pass."""
    starts: list[int]
    """The frame each window's slice starts at."""
    attempts: list[_Attempt] = field(default_factory=list)
    splits: dict[int, tuple[list[dict[str, Any]], bool]] = field(default_factory=dict)
    """For each window with speech: its new segments and whether they end on a lone timestamp."""


class _Prealigned:
    """Stands in for the model in `WhisperModel.add_word_timestamps`, handing it an alignment
    computed in a batch.

    That method can time a whole batch, but it carries the last speech time from one item to
    the next, while each window must start from its own; so each window runs it alone on its
    share of one batched alignment.
    """

    def __init__(self, alignment: list[dict[str, Any]], frames_per_second: int) -> None:
        self.alignment = alignment
        self.frames_per_second = frames_per_second

    def find_alignment(self, *_args: Any) -> list[list[dict[str, Any]]]:
        return [self.alignment]


class WhisperBatchDecoder:
    """Decodes windows of several streams with shared model calls.

    One decoder serves every stream of a loaded model (`FasterWhisperASR.batch_decoder()`);
    `decode` keeps no state between calls and may run from several threads at once.
    """

    def __init__(self, model: WhisperModel) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self.model = model
        self.multilingual = bool(model.model.is_multilingual)
        self._defaults = _TranscribeDefaults.read()
        # A CPU copy of the encoder output lets a subset of the batch be decoded again.
        self._encode_to_cpu = model.model.device != "cpu"
        self._tokenizer_class = Tokenizer
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}
        self._tokenizers_lock = threading.Lock()

    def decode(
        self, requests: Sequence[WindowRequest], options: DecodingOptions
    ) -> list[WindowResult]:
        """Decodes every request with one batched model call per step; results in request order.

        Raises `ValueError` for a window that is not 1-D floating-point audio or is longer
        than 30 s, a language the model does not know, and translation on an English-only model.
        """
        for index, request in enumerate(requests):
            self._check(index, request, options)
        if not requests:
            return []
        features = [self._features(request.audio) for request in requests]
        languages = self._languages(requests, features, options)
        windows = [
            self._window(request, window_features, language, options)
            for request, window_features, language in zip(
                requests, features, languages, strict=True
            )
        ]
        while active := [window for window in windows if not window.done]:
            for group in self._by_encoder_input(active, options):
                self._decode_round(group, options)
        return [window.result() for window in windows]

    def _by_encoder_input(
        self, windows: list[_Window], options: DecodingOptions
    ) -> list[list[_Window]]:
        """The windows grouped by the encoder input length their next slice gets alone, so
        that a window decodes in a batch exactly as it decodes alone (with the full 30 s
        input, one group)."""
        max_frames: int = self.model.feature_extractor.nb_max_frames
        groups: dict[int, list[_Window]] = {}
        for window in windows:
            size = min(max_frames, window.content_frames - window.seek)
            groups.setdefault(self._encoder_frames(size, options), []).append(window)
        return list(groups.values())

    def _check(self, index: int, request: WindowRequest, options: DecodingOptions) -> None:
        audio = request.audio
        if not isinstance(audio, np.ndarray) or audio.ndim != 1:
            shape = getattr(audio, "shape", type(audio).__name__)
            raise ValueError(f"window {index}: audio must be a 1-D mono array, got shape {shape}")
        if not np.issubdtype(audio.dtype, np.floating):
            raise ValueError(
                f"window {index}: audio must be float samples in [-1, 1], got dtype {audio.dtype}"
            )
        if len(audio) > MAX_WINDOW_SAMPLES:
            raise ValueError(
                f"window {index}: at most {MAX_WINDOW_SECONDS:g} s of 16 kHz audio "
                f"({MAX_WINDOW_SAMPLES} samples) fit in one decoding, "
                f"got {len(audio) / SAMPLING_RATE:.2f} s"
            )
        supported = self.model.supported_languages
        if request.language is not None and request.language not in supported:
            raise ValueError(
                f"window {index}: the model does not know language {request.language!r}; "
                f"it knows {', '.join(supported)}"
            )
        if options.task == "translate" and not self.multilingual:
            raise ValueError("an English-only model cannot translate; use task='transcribe'")

    def _features(self, audio: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        features: npt.NDArray[np.float32] = self.model.feature_extractor(audio)
        return features

    def _languages(
        self,
        requests: Sequence[WindowRequest],
        features: list[npt.NDArray[np.float32]],
        options: DecodingOptions,
    ) -> list[tuple[str, float]]:
        """Each request's language and its probability, detecting the missing ones in a batch.

        Like `transcribe`, detection encodes the features with their extra last frame, a
        separate encoder pass from decoding; streams fix their language after a few windows,
        so this pass is rare, and it keeps the detected probabilities exactly faster-whisper's.
        """
        languages = [
            (request.language or "en", 1.0)
            if request.language is not None or not self.multilingual
            else ("", 0.0)
            for request in requests
        ]
        unknown = [index for index, (language, _) in enumerate(languages) if not language]
        if unknown:
            max_frames = self.model.feature_extractor.nb_max_frames
            slices = [features[index][:, :max_frames] for index in unknown]
            encoded = self._encode(slices, options)
            for index, ranked in zip(
                unknown, self.model.model.detect_language(encoded), strict=True
            ):
                token, probability = ranked[0]
                languages[index] = (token[2:-2], float(probability))
        return languages

    def _window(
        self,
        request: WindowRequest,
        features: npt.NDArray[np.float32],
        language: tuple[str, float],
        options: DecodingOptions,
    ) -> _Window:
        tokenizer = self._tokenizer(options.task, language[0])
        window = _Window(
            features=features,
            tokenizer=tokenizer,
            prefix=request.committed if options.force_committed else None,
            language=language[0],
            language_probability=language[1],
            more_audio=request.more_audio,
        )
        # As `transcribe` does with `initial_prompt` (FasterWhisperASR passes None for "").
        if request.prompt:
            window.history.extend(tokenizer.encode(" " + request.prompt.strip()))
        return window

    def _tokenizer(self, task: str, language: str) -> Tokenizer:
        key = (task, language)
        with self._tokenizers_lock:
            if key not in self._tokenizers:
                self._tokenizers[key] = self._tokenizer_class(
                    self.model.hf_tokenizer, self.multilingual, task=task, language=language
                )
            return self._tokenizers[key]

    def _encoder_frames(self, content_frames: int, options: DecodingOptions) -> int:
        """How many feature frames the encoder gets for slices of at most `content_frames`:
        30 s, or the content and its headroom rounded up to a multiple of `encoder_seconds`."""
        max_frames: int = self.model.feature_extractor.nb_max_frames
        if options.encoder_seconds is None:
            return max_frames
        frames_per_second: int = self.model.frames_per_second
        step = round(options.encoder_seconds * frames_per_second)
        needed = content_frames + round(ENCODER_HEADROOM_SECONDS * frames_per_second)
        return min(max_frames, math.ceil(needed / step) * step)

    def _encode(self, slices: list[npt.NDArray[np.float32]], options: DecodingOptions) -> Any:
        """One encoder forward over feature slices, each padded to the encoder input length."""
        import ctranslate2
        from faster_whisper.audio import pad_or_trim

        frames = self._encoder_frames(max(item.shape[-1] for item in slices), options)
        batch = np.stack([pad_or_trim(item, frames) for item in slices])
        return self.model.model.encode(
            ctranslate2.StorageView.from_array(batch), to_cpu=self._encode_to_cpu
        )

    def _decode_round(self, windows: list[_Window], options: DecodingOptions) -> None:
        """One pass of the seek loop over every window that has audio left to decode."""
        max_frames = self.model.feature_extractor.nb_max_frames
        sizes = [min(max_frames, window.content_frames - window.seek) for window in windows]
        slices = [
            window.features[:, window.seek : window.seek + size]
            for window, size in zip(windows, sizes, strict=True)
        ]
        batch = _Round(
            windows, self._encode(slices, options), sizes, [window.seek for window in windows]
        )
        batch.attempts = self._generate_with_fallback(batch, options)
        for index, (window, size, attempt) in enumerate(
            zip(windows, sizes, batch.attempts, strict=True)
        ):
            if self._is_silence(attempt):
                window.seek += size
                continue
            segments, window.seek, single_timestamp_ending = (
                self.model._split_segments_by_timestamps(
                    tokenizer=window.tokenizer,
                    tokens=attempt.tokens,
                    time_offset=window.seek * self.model.feature_extractor.time_per_frame,
                    segment_size=size,
                    segment_duration=size * self.model.feature_extractor.time_per_frame,
                    seek=window.seek,
                )
            )
            batch.splits[index] = (segments, single_timestamp_ending)
        self._time_words(batch, options)
        for index, (segments, _) in batch.splits.items():
            self._keep_segments(
                batch.windows[index], batch.starts[index], segments, batch.attempts[index]
            )

    def _prompts(self, batch: _Round) -> tuple[list[list[int]], list[list[int]]]:
        """Each window's decoder prompt, and the forced prefix at its end (empty without one)."""
        prompts, forced = [], []
        for window in batch.windows:
            previous = window.history[window.prompt_reset_since :]
            prefix = window.prefix if window.seek == 0 else None
            prompt = self.model.get_prompt(window.tokenizer, previous, prefix=prefix)
            unforced = self.model.get_prompt(window.tokenizer, previous)
            prompts.append(prompt)
            forced.append(prompt[len(unforced) :])
        return prompts, forced

    def _generate_with_fallback(self, batch: _Round, options: DecodingOptions) -> list[_Attempt]:
        """Beam search for every window, then sampling at rising temperatures for only those
        whose output looks like a failure (too repetitive or too improbable), as `transcribe`
        does for one window."""
        defaults = self._defaults
        prompts, forced = self._prompts(batch)
        tried: list[list[_Attempt]] = [[] for _ in batch.windows]
        chosen: dict[int, _Attempt] = {}
        pending = list(range(len(batch.windows)))
        suppressed = self._suppressed_tokens(batch, options)
        for temperature in defaults.temperature:
            if not pending:
                break
            search: dict[str, Any] = (
                {
                    "beam_size": 1,
                    "num_hypotheses": defaults.best_of,
                    "sampling_topk": 0,
                    "sampling_temperature": temperature,
                }
                if temperature > 0
                else {"beam_size": options.beam_size, "patience": defaults.patience}
            )
            results = self._generate(
                batch,
                pending,
                [prompts[index] for index in pending],
                options,
                length_penalty=defaults.length_penalty,
                repetition_penalty=defaults.repetition_penalty,
                no_repeat_ngram_size=defaults.no_repeat_ngram_size,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=defaults.suppress_blank,
                suppress_tokens=suppressed,
                max_initial_timestamp_index=round(
                    defaults.max_initial_timestamp / self.model.time_precision
                ),
                **search,
            )
            failing = []
            for index, result in zip(pending, results, strict=True):
                attempt = self._attempt(result, forced[index], temperature, batch.windows[index])
                tried[index].append(attempt)
                if self._needs_fallback(attempt):
                    failing.append(index)
                else:
                    chosen[index] = attempt
            pending = failing
        for index in pending:
            # Every temperature failed: keep the likeliest attempt that is not repetitive.
            candidates = [
                attempt
                for attempt in tried[index]
                if attempt.compression_ratio <= defaults.compression_ratio_threshold
            ]
            best = max(candidates or tried[index], key=lambda attempt: attempt.avg_logprob)
            chosen[index] = replace(best, temperature=defaults.temperature[-1])
        return [chosen[index] for index in range(len(batch.windows))]

    def _generate(
        self,
        batch: _Round,
        indices: list[int],
        prompts: list[list[int]],
        options: DecodingOptions,
        **settings: Any,
    ) -> list[Any]:
        """`generate` for the windows at `indices`, one call per length of prompt text.

        CTranslate2 decodes a batch only when <|startoftranscript|> sits at the same position
        in every prompt, that is with equally many tokens of previous text. Padding the
        shorter prompts to line them up changes what the model reads (measured: even
        whitespace or <|endoftext|> padding changed up to half the words), while windows
        with equal prompt lengths decode in one call exactly as they decode alone.
        """
        sot = batch.windows[0].tokenizer.sot
        groups: dict[int, list[int]] = {}
        for position, prompt in enumerate(prompts):
            groups.setdefault(prompt.index(sot), []).append(position)
        results: list[Any] = [None] * len(indices)
        for positions in groups.values():
            rows = [indices[position] for position in positions]
            group_prompts = [prompts[position] for position in positions]
            outputs = self.model.model.generate(
                self._rows(batch.encoded, rows, len(batch.windows)),
                group_prompts,
                max_length=self._max_length(batch, rows, group_prompts, options),
                **settings,
            )
            for position, output in zip(positions, outputs, strict=True):
                results[position] = output
        return results

    def _max_length(
        self,
        batch: _Round,
        rows: list[int],
        prompts: list[list[int]],
        options: DecodingOptions,
    ) -> int:
        """The longest sequence, prompt included, that windows `rows` may generate: Whisper's
        limit, or the prompt and what `options.max_tokens_per_second` allows for the audio."""
        limit: int = self.model.max_length
        rate = options.max_tokens_per_second
        if rate is None:
            return limit
        seconds_per_frame: float = self.model.feature_extractor.time_per_frame
        allowed = (
            len(prompt) + TOKEN_ALLOWANCE + math.ceil(rate * batch.sizes[row] * seconds_per_frame)
            for row, prompt in zip(rows, prompts, strict=True)
        )
        return min(limit, max(allowed))

    def _suppressed_tokens(self, batch: _Round, options: DecodingOptions) -> list[int]:
        """faster-whisper's suppressed tokens, plus, with a shortened encoder input, every
        timestamp past its end, which the audio cannot support."""
        from faster_whisper.transcribe import get_suppressed_tokens

        tokenizer = batch.windows[0].tokenizer
        suppressed = list(get_suppressed_tokens(tokenizer, list(self._defaults.suppress_tokens)))
        positions = int(batch.encoded.shape[1])
        max_positions = self.model.feature_extractor.nb_max_frames // self.model.input_stride
        if options.encoder_seconds is not None and positions < max_positions:
            first_late = tokenizer.timestamp_begin + positions + 1
            suppressed.extend(range(first_late, tokenizer.timestamp_begin + max_positions + 1))
        return suppressed

    def _attempt(
        self, result: Any, forced: list[int], temperature: float, window: _Window
    ) -> _Attempt:
        from faster_whisper.transcribe import get_compression_ratio

        tokens = list(result.sequences_ids[0])
        # The returned sequence holds the forced prefix; should a CTranslate2 version return
        # only the new tokens, the prefix is put back so that it is timed with the rest.
        if forced and tokens[: len(forced)] != forced:
            tokens = forced + tokens
        # The score is length-normalised; recover the average log probability per token.
        length_penalty = self._defaults.length_penalty
        avg_logprob = result.scores[0] * len(tokens) ** length_penalty / (len(tokens) + 1)
        text = window.tokenizer.decode(tokens).strip()
        return _Attempt(result, tokens, avg_logprob, temperature, get_compression_ratio(text))

    def _needs_fallback(self, attempt: _Attempt) -> bool:
        defaults = self._defaults
        improbable = attempt.avg_logprob < defaults.log_prob_threshold
        if improbable and attempt.result.no_speech_prob > defaults.no_speech_threshold:
            return False  # silence: sampling would only invent words
        return improbable or attempt.compression_ratio > defaults.compression_ratio_threshold

    def _is_silence(self, attempt: _Attempt) -> bool:
        defaults = self._defaults
        return bool(
            attempt.result.no_speech_prob > defaults.no_speech_threshold
            and attempt.avg_logprob <= defaults.log_prob_threshold
        )

    def _rows(self, encoded: Any, indices: list[int], batch_size: int) -> Any:
        """The encoder output of the windows at `indices` (all of it without a copy)."""
        import ctranslate2

        if len(indices) == batch_size:
            return encoded
        return ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.asarray(encoded)[indices])
        )

    def _time_words(self, batch: _Round, options: DecodingOptions) -> None:
        """Word times for every window with speech: one alignment call per language, then
        faster-whisper's word timing per window."""
        from faster_whisper import WhisperModel
        from faster_whisper.utils import get_end

        by_language: dict[str, list[int]] = {}
        for index in batch.splits:
            by_language.setdefault(batch.windows[index].language, []).append(index)
        defaults = self._defaults
        for indices in by_language.values():
            tokenizer = batch.windows[indices[0]].tokenizer
            text_tokens = [
                [
                    token
                    for segment in batch.splits[index][0]
                    for token in segment["tokens"]
                    if token < tokenizer.eot
                ]
                for index in indices
            ]
            alignments = self.model.find_alignment(
                tokenizer,
                text_tokens,
                self._rows(batch.encoded, indices, len(batch.windows)),
                [batch.sizes[index] for index in indices],
            )
            for index, alignment in zip(indices, alignments, strict=True):
                window = batch.windows[index]
                segments, single_timestamp_ending = batch.splits[index]
                WhisperModel.add_word_timestamps(
                    _Prealigned(alignment, self.model.frames_per_second),
                    [segments],
                    tokenizer,
                    None,
                    batch.sizes[index],
                    defaults.prepend_punctuations,
                    defaults.append_punctuations,
                    last_speech_timestamp=window.last_speech_timestamp,
                )
                last_word_end = get_end(segments)
                if last_word_end is None:
                    continue
                # Output that stops before the window's end resumes after its last word.
                time_offset = batch.starts[index] * self.model.feature_extractor.time_per_frame
                resume = not single_timestamp_ending or self._stopped_after_prefix(
                    window, batch.starts[index], last_word_end
                )
                if resume and last_word_end > time_offset:
                    window.seek = self._resume_frame(window, last_word_end, options)
                window.last_speech_timestamp = last_word_end

    def _resume_frame(self, window: _Window, last_word_end: float, options: DecodingOptions) -> int:
        """Where the next pass over the window starts: after the last word, or past the end
        when less than `options.tail_seconds` of audio follows it and more audio will come."""
        if window.more_audio and self._tail(window, last_word_end) < options.tail_seconds:
            window.left_tail = True
            return window.content_frames
        frames_per_second: int = self.model.frames_per_second
        return round(last_word_end * frames_per_second)

    def _tail(self, window: _Window, last_word_end: float) -> float:
        """Seconds of the window's audio after `last_word_end`."""
        frames_per_second: int = self.model.frames_per_second
        return window.content_frames / frames_per_second - last_word_end

    def _stopped_after_prefix(self, window: _Window, start: int, last_word_end: float) -> bool:
        """Whether a pass with a forced prefix ended its output well before the audio did.

        A prefix ending a sentence often makes Whisper close the transcript right after it,
        as though nothing followed; the audio after the last word is then decoded again
        without the prefix instead of being dropped."""
        if not window.prefix or start != 0:
            return False
        return self._tail(window, last_word_end) > PREFIX_RESUME_SECONDS

    def _keep_segments(
        self, window: _Window, start: int, segments: list[dict[str, Any]], attempt: _Attempt
    ) -> None:
        """Keeps the segments with text, which the next pass reads as its prompt."""
        from faster_whisper.transcribe import Segment, Word

        for segment in segments:
            text = window.tokenizer.decode(segment["tokens"])
            if segment["start"] == segment["end"] or not text.strip():
                continue
            window.history.extend(segment["tokens"])
            window.segments.append(
                Segment(
                    id=len(window.segments) + 1,
                    seek=start,
                    start=segment["start"],
                    end=segment["end"],
                    text=text,
                    tokens=segment["tokens"],
                    avg_logprob=attempt.avg_logprob,
                    compression_ratio=attempt.compression_ratio,
                    no_speech_prob=attempt.result.no_speech_prob,
                    words=[Word(**word) for word in segment["words"]],
                    temperature=attempt.temperature,
                )
            )
        # Text sampled at a high temperature is too unreliable to prompt the next pass.
        if attempt.temperature > self._defaults.prompt_reset_on_temperature:
            window.prompt_reset_since = len(window.history)


@dataclass(frozen=True)
class BoundDecoder:
    """A model's batched decoder with one set of options: the `WindowDecoder` a stream on
    that model steps with. Equal bound decoders (same model, same options) batch together."""

    decoder: WhisperBatchDecoder
    options: DecodingOptions

    def decode(self, requests: Sequence[WindowRequest]) -> list[WindowResult]:
        return self.decoder.decode(requests, self.options)

    @property
    def batch_key(self) -> BoundDecoder:
        return self
