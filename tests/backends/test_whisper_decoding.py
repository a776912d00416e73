"""The decoding helper both policies share, on the real tiny.en model: a prompt is always text,
its layout is `WhisperModel.get_prompt`'s, and its limit and the token budget come from the
model."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asr_interface.backends.align_att import AlignAttDecoder, AlignAttOptions
from asr_interface.backends.faster_whisper_internals import WhisperInternals
from asr_interface.backends.registry import get_loader
from asr_interface.backends.whisper_decoding import (
    PREFIX_RESUME_SECONDS,
    TOKEN_ALLOWANCE,
    TranscribeDefaults,
    WhisperDecoding,
)
from asr_interface.core.config import ASRConfig
from asr_interface.evaluation import normalize, word_error_rate
from tests.speech import JFK, speech_audio, transcript

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

pytestmark = pytest.mark.model

CONTROL_SPELLINGS = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|startofprev|>",
    "<|notimestamps|>",
    "<|nospeech|>",
    "<|en|>",
    "<|transcribe|>",
    "<|0.00|>",
    "<|30.00|>",
    "<|",
    "|>",
]
"""Whisper's control tokens written out, and pieces of them."""

prompt_texts = st.lists(
    st.one_of(st.sampled_from(CONTROL_SPELLINGS), st.text(max_size=20)), max_size=30
).map("".join)
"""Texts a client may send: control tokens written out among any characters."""


@pytest.fixture(scope="module")
def model() -> WhisperModel:
    """The shared tiny.en model."""
    processor: Any = get_loader("faster-whisper").load(ASRConfig())[0]
    loaded: WhisperModel = processor.asr.model
    return loaded


@pytest.fixture(scope="module")
def decoding(model: WhisperModel) -> WhisperDecoding:
    return WhisperDecoding(WhisperInternals(model), TranscribeDefaults.read())


@given(text=prompt_texts)
def test_a_prompt_never_holds_a_control_token(decoding: WhisperDecoding, text: str) -> None:
    """Whatever a text spells, its tokens are text tokens (below <|endoftext|>, the first
    special id) that decode back to it, and in the decoder prompt built from it every
    special id is one the layout puts there."""
    tokenizer = decoding.whisper.tokenizer("transcribe", "en")
    tokens = decoding.text_tokens(text)
    assert all(token < tokenizer.eot for token in tokens)
    assert tokenizer.decode(tokens) == (" " + text.strip() if text.strip() else "")
    prompt, forced = decoding.prompt(tokenizer, tokens, tokens, timestamps=False)
    special = [token for token in prompt if token >= tokenizer.eot]
    layout = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    assert special == ([tokenizer.sot_prev, *layout] if tokens else layout)
    assert forced == tokens[: decoding.prompt_limit]


def test_added_tokens_that_are_not_special_stay_text(model: WhisperModel) -> None:
    """Tokenizers that list the timestamps as added tokens, not special ones, still read
    `<|0.00|>` in a prompt as its characters."""
    from tokenizers import Tokenizer

    hf_tokenizer = Tokenizer.from_str(model.hf_tokenizer.to_str())
    hf_tokenizer.add_tokens(["<|0.00|>"])
    timestamp = hf_tokenizer.token_to_id("<|0.00|>")
    assert hf_tokenizer.encode(" <|0.00|>", add_special_tokens=False).ids[-1] == timestamp
    whisper = WhisperInternals(SimpleNamespace(hf_tokenizer=hf_tokenizer))
    tokens = WhisperDecoding(whisper, TranscribeDefaults.read()).text_tokens("at <|0.00|>")
    assert timestamp not in tokens
    assert hf_tokenizer.decode(tokens) == " at <|0.00|>"


@pytest.mark.parametrize("timestamps", [True, False])
@pytest.mark.parametrize("words", [0, 3, 400])
def test_the_prompt_is_laid_out_as_faster_whisper_lays_it_out(
    model: WhisperModel, decoding: WhisperDecoding, timestamps: bool, words: int
) -> None:
    """For plain text, previous words and a forced prefix, short or past the limit, give
    the prompt `WhisperModel.get_prompt` gives, which `transcribe` decodes with."""
    tokenizer = decoding.whisper.tokenizer("transcribe", "en")
    previous = decoding.text_tokens(" earlier" * words)
    prefix = " and so" * words
    expected = model.get_prompt(
        tokenizer, previous, without_timestamps=not timestamps, prefix=prefix or None
    )
    prompt, forced = decoding.prompt(
        tokenizer, previous, decoding.text_tokens(prefix), timestamps=timestamps
    )
    assert prompt == expected
    assert prompt[len(prompt) - len(forced) :] == forced
    assert decoding.prompt_limit == model.max_length // 2 - 1


def test_the_token_budget_is_the_model_s_limit_at_most(decoding: WhisperDecoding) -> None:
    """An output may take its share per second of audio and an allowance, never past the
    model's context; without a rate, the model's context."""
    limit = decoding.whisper.max_length
    assert decoding.max_length(10, 2.0, 12.0) == 10 + TOKEN_ALLOWANCE + 24
    assert decoding.max_length(10, 2.01, 12.0) == 10 + TOKEN_ALLOWANCE + math.ceil(24.12)
    assert decoding.max_length(400, 30.0, 12.0) == limit
    assert decoding.max_length(10, 2.0, None) == limit


def test_the_rest_after_a_forced_prefix_is_retried_past_a_second() -> None:
    """Output after a forced prefix leaving more than a second unheard is decoded again;
    without a prefix, or with less left, it is not."""
    retries = WhisperDecoding.retries_after_prefix
    assert retries(True, PREFIX_RESUME_SECONDS + 0.01)
    assert not retries(True, PREFIX_RESUME_SECONDS)
    assert not retries(False, 10.0)


def test_align_att_reads_a_prompt_of_control_tokens_as_text(model: WhisperModel) -> None:
    """An AlignAtt decode with the longest prompt, Whisper's control tokens written out,
    hears the Kennedy clip: the prompt is text, and within the model's context."""
    decoder = AlignAttDecoder(model)
    prompt = decoder.decoding.text_tokens("".join(CONTROL_SPELLINGS) * 40)
    assert len(prompt) > decoder.decoding.prompt_limit
    words = decoder.decode(speech_audio(JFK), prompt, [], AlignAttOptions.default())
    text = "".join(word[2] for word in words)
    assert "<|" not in text
    assert word_error_rate(transcript(JFK), text) < 0.3, normalize(text)
