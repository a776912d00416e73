"""The faster-whisper internals the package relies on (backends/faster_whisper_internals.py)
still exist and behave as used, checked with real calls on tiny.en: a faster-whisper release
that breaks one fails here, not as wrong words somewhere downstream."""

from __future__ import annotations

import zlib
from dataclasses import fields

import numpy as np
import pytest

from asr_interface.backends.decoding_options import WHISPER_STREAMING
from asr_interface.backends.faster_whisper_internals import (
    WhisperInternals,
    assets_path,
    compression_ratio,
    last_word_end,
    pad_or_trim,
    suppressed_tokens,
)
from asr_interface.backends.registry import get_loader
from asr_interface.backends.whisper_decoding import TranscribeDefaults
from asr_interface.backends.whisper_encoder import WhisperEncoder
from asr_interface.core.config import WHISPER_LANGUAGE_CODES, ASRConfig
from asr_interface.evaluation import normalize
from tests.speech import JFK, speech_audio, transcript

pytestmark = pytest.mark.model

RATE = 16000


@pytest.fixture(scope="module")
def whisper() -> WhisperInternals:
    """The internals of the shared tiny.en model."""
    processor, _ = get_loader("faster-whisper").load(ASRConfig())
    return WhisperInternals(processor.asr.model)  # type: ignore[attr-defined]


def test_configuration_knows_the_tokenizers_languages() -> None:
    """The configuration's list of Whisper languages is the tokenizer's, code for code."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert tuple(WHISPER_LANGUAGE_CODES) == tuple(_LANGUAGE_CODES)


def test_assets_hold_the_vad_network() -> None:
    """The assets directory holds the Silero VAD network that VAC loads."""
    assert (assets_path() / "silero_vad_v6.onnx").is_file()


def test_pad_or_trim_pads_with_zeros_and_cuts_along_time() -> None:
    """Features are zero-padded or cut on their last (time) axis only."""
    features = np.ones((80, 5), dtype=np.float32)
    padded = pad_or_trim(features, 8)
    assert padded.shape == (80, 8)
    assert (padded[:, :5] == 1).all() and (padded[:, 5:] == 0).all()
    assert pad_or_trim(features, 3).shape == (80, 3)


def test_compression_ratio_is_zlib_s() -> None:
    """The ratio is the text's UTF-8 length over its zlib-compressed length, so a
    repetitive output crosses `transcribe`'s 2.4 threshold and speech does not."""
    text = "And so my fellow Americans, ask not what your country can do for you."
    data = text.encode()
    assert compression_ratio(text) == pytest.approx(len(data) / len(zlib.compress(data)))
    threshold = TranscribeDefaults.read().compression_ratio_threshold
    assert compression_ratio(text) < threshold < compression_ratio("the the " * 40)


def test_transcribe_defaults_are_read_from_its_signature() -> None:
    """Every fallback setting is still a `transcribe` parameter with a usable default."""
    defaults = TranscribeDefaults.read()
    assert defaults.temperature[0] == 0.0 and len(defaults.temperature) > 1
    assert defaults.suppress_tokens == (-1,)
    assert defaults.best_of >= 1 and defaults.prepend_punctuations


def test_model_attributes(whisper: WhisperInternals) -> None:
    """The model's geometry: 30 s of 10 ms frames, two frames per encoder position,
    20 ms timestamps and Whisper's 448-token limit; and its CTranslate2 model."""
    assert whisper.max_frames == 3000
    assert whisper.seconds_per_frame == pytest.approx(0.01)
    assert whisper.frames_per_second == 100
    assert whisper.input_stride == 2
    assert whisper.time_precision == pytest.approx(0.02)
    assert whisper.max_length == 448
    converted = whisper.converted
    assert converted.is_multilingual is False
    assert converted.device == "cpu"
    assert isinstance(converted.compute_type, str)


def test_features_have_one_frame_more_than_the_audio(whisper: WhisperInternals) -> None:
    """Features are log-mel frames of 10 ms, plus one, as the seek loop counts them."""
    features = whisper.features(np.zeros(2 * RATE, dtype=np.float32))
    assert features.dtype == np.float32
    assert features.shape == (80, 201)


def test_tokenizer_and_suppressed_tokens(whisper: WhisperInternals) -> None:
    """The tokenizer round-trips text and names its special tokens; `-1` suppresses the
    non-speech symbols besides the special tokens."""
    tokenizer = whisper.tokenizer("transcribe", "en")
    assert tokenizer.decode(tokenizer.encode(" Hello world.")) == " Hello world."
    assert tokenizer.sot == tokenizer.sot_sequence[0]
    assert tokenizer.eot < tokenizer.timestamp_begin
    special = {tokenizer.sot, tokenizer.sot_prev, tokenizer.no_speech, tokenizer.transcribe}
    plain = suppressed_tokens(tokenizer, ())
    assert special <= set(plain)
    every = suppressed_tokens(tokenizer, (-1,))
    assert set(plain) < set(every)
    assert set(tokenizer.non_speech_tokens) <= set(every)


def test_text_tokens_are_encode_s_without_control_tokens(whisper: WhisperInternals) -> None:
    """The tokenizer's pipeline run as plain text gives `Tokenizer.encode`'s ids for any
    text, and for control tokens written out their characters, which decode back."""
    tokenizer = whisper.tokenizer("transcribe", "en")
    text = " And so, my fellow Americans: ask not! 1961, élan  \t naïve 日本語"
    assert whisper.text_tokens(text) == tokenizer.encode(text)
    spelled = " <|endoftext|><|startoftranscript|><|notimestamps|> <|0.00|>"
    assert tokenizer.eot in tokenizer.encode(spelled)
    tokens = whisper.text_tokens(spelled)
    assert max(tokens) < tokenizer.eot
    assert tokenizer.decode(tokens) == spelled


def test_split_segments_by_timestamps(whisper: WhisperInternals) -> None:
    """Output is cut into segments at paired timestamps, timed from the slice's start; a
    lone final timestamp means the slice was decoded to its end."""
    tokenizer = whisper.tokenizer("transcribe", "en")
    begin = tokenizer.timestamp_begin
    hello, world = tokenizer.encode(" Hello"), tokenizer.encode(" world")
    tokens = [begin, *hello, begin + 50, begin + 50, *world, begin + 100]
    segments, seek, single_ending = whisper.split_segments(tokenizer, tokens, 500, 1000)
    assert [(segment["start"], segment["end"]) for segment in segments] == [
        pytest.approx((5.0, 6.0)),
        pytest.approx((6.0, 7.0)),
    ]
    assert [segment["tokens"] for segment in segments] == [
        [begin, *hello, begin + 50],
        [begin + 50, *world, begin + 100],
    ]
    assert single_ending and seek == 1500
    _, seek, single_ending = whisper.split_segments(tokenizer, [*tokens, begin + 100], 0, 1000)
    assert not single_ending and seek == 200


def test_word_timing_from_a_batched_alignment(whisper: WhisperInternals) -> None:
    """An alignment found for a batch times one window's words through
    `add_word_timestamps` with a stand-in model, and the last word end is read back."""
    audio = speech_audio(JFK)
    encoder = WhisperEncoder(whisper)
    features = whisper.features(audio)
    frames = features.shape[-1] - 1
    encoded = encoder.encode([features[:, :frames]], WHISPER_STREAMING)
    tokenizer = whisper.tokenizer("transcribe", "en")
    text = " " + transcript(JFK).strip()
    tokens = tokenizer.encode(text)
    (alignment,) = whisper.find_alignment(tokenizer, [tokens], encoded, [frames])
    assert "".join(word["word"] for word in alignment) == text
    segments = [{"start": 0.0, "end": frames / 100, "tokens": tokens, "seek": 0}]
    defaults = TranscribeDefaults.read()
    whisper.add_word_timestamps(
        alignment,
        segments,
        tokenizer,
        frames,
        (defaults.prepend_punctuations, defaults.append_punctuations),
        last_speech_timestamp=0.0,
    )
    words = segments[0]["words"]
    assert normalize("".join(word["word"] for word in words)) == normalize(text)
    starts = [word["start"] for word in words]
    assert starts == sorted(starts) and 0.0 <= starts[0] < words[-1]["end"] <= frames / 100
    assert last_word_end(segments) == words[-1]["end"]
    assert last_word_end([{"end": 3.0, "words": []}]) == 3.0
    assert last_word_end([]) is None


def test_segment_and_word_take_the_fields_the_decoder_fills() -> None:
    """The batched decoder builds `Segment` and `Word` values by field name."""
    from faster_whisper.transcribe import Segment, Word

    assert {field.name for field in fields(Word)} == {"start", "end", "word", "probability"}
    assert {field.name for field in fields(Segment)} >= {
        "id",
        "seek",
        "start",
        "end",
        "text",
        "tokens",
        "avg_logprob",
        "compression_ratio",
        "no_speech_prob",
        "words",
        "temperature",
    }
