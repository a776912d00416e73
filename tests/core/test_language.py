"""Language detection and translation with the multilingual base model, on German and
Spanish spoken by espeak-ng."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.registry import get_loader
from asr_interface.backends.replay import RecordingASR
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import engine_of
from asr_interface.core.language import StreamLanguage
from asr_interface.core.processor import OnlineASRProcessor
from tests.espeak import SENTENCES, speak_all
from tests.wording import heard

RATE = SAMPLING_RATE
LANGUAGES = list(SENTENCES)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Where the base model is assembled, once for the module."""
    return str(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, npt.NDArray[np.float32]]:
    """Each test sentence as 16 kHz audio, synthesised into a temporary folder."""
    return speak_all(tmp_path_factory.mktemp("espeak"))


def base_asr(
    cache_dir: str, lan: str, task: Literal["transcribe", "translate"] = "transcribe"
) -> FasterWhisperASR:
    """The base model's ASR object as the loader configures it."""
    config = ASRConfig(model="base", model_cache_dir=cache_dir, lan=lan, task=task)
    processor, _ = get_loader(config.backend).load(config)
    assert isinstance(processor, OnlineASRProcessor)
    assert isinstance(processor.asr, FasterWhisperASR)
    return processor.asr


@pytest.mark.model
@pytest.mark.parametrize("language", LANGUAGES)
def test_result_carries_the_detected_language(
    language: str, spoken: dict[str, npt.NDArray[np.float32]], cache_dir: str
) -> None:
    """With lan=auto, a transcription says which language it heard and how sure it is."""
    asr = base_asr(cache_dir, lan="auto")
    result = asr.transcribe(spoken[language])
    detected = asr.detected_language(result)
    assert detected.language == result.language == language
    assert 0.5 <= detected.probability == result.language_probability <= 1


@pytest.mark.model
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.usefixtures("beam_search_only")
def test_stream_is_translated_in_its_detected_language(
    language: str, spoken: dict[str, npt.NDArray[np.float32]], cache_dir: str
) -> None:
    """A translated stream announces its language once, decodes every later window in it,
    and comes out in English."""
    asr = RecordingASR(base_asr(cache_dir, lan="auto", task="translate"))
    engine = engine_of(OnlineASRProcessor(asr))
    audio = spoken[language]
    words, announced, calls_at_announcement = [], [], 0
    for start in range(0, len(audio), RATE):
        step = engine.step(audio[start : start + RATE], final=start + RATE >= len(audio))
        words += [word for _, _, word in step.committed]
        if step.language is not None:
            announced.append(step.language)
            calls_at_announcement = len(asr.calls)
    assert [found.language for found in announced] == [language]
    assert announced[0].probability >= 0.8
    assert all(call.options == {} for call in asr.calls[:calls_at_announcement])
    assert all(call.options == {"language": language} for call in asr.calls[calls_at_announcement:])
    assert len(asr.calls) > calls_at_announcement
    assert SENTENCES[language].translated("".join(words))


@pytest.mark.model
def test_given_language_is_never_detected(
    spoken: dict[str, npt.NDArray[np.float32]], cache_dir: str
) -> None:
    """With a language configured, the model is told it and nothing is announced."""
    asr = RecordingASR(base_asr(cache_dir, lan="de"))
    processor = OnlineASRProcessor(asr)
    processor.insert_audio_chunk(spoken["de"])
    request = processor.window_request(final=True)
    (result,) = processor.decoder.decode([request])
    assert [call.options for call in asr.calls] == [{"language": "de"}]
    assert (result.language, result.language_probability) == ("de", 1)
    assert heard(
        "in berlin und arbeite in einer großen stadt",
        "".join(word for _, _, word in result.words),
    )
    processor.take_result(result)
    assert processor.language.announcement(final=True) is None


@pytest.mark.model
def test_unsure_stream_announces_its_latest_guess_at_the_end(
    spoken: dict[str, npt.NDArray[np.float32]], cache_dir: str
) -> None:
    """When no window is confident enough, each is detected afresh and the end of the stream
    announces the guess of the last window, which heard the most."""
    asr = RecordingASR(base_asr(cache_dir, lan="auto"))
    processor = OnlineASRProcessor(asr)
    processor.language = StreamLanguage(asr, min_probability=1.01)  # a bar no detection reaches
    stream = processor.language
    audio = spoken["es"]
    cut = 2 * RATE
    for piece in (audio[:cut], audio[cut:]):
        processor.insert_audio_chunk(piece)
        processor.step(final=True)
        assert stream.announcement() is None
    assert [call.options for call in asr.calls] == [{}, {}]
    assert stream.language is None
    latest = stream.announcement(final=True)
    assert latest is not None and latest.language == "es"
    assert stream.announcement(final=True) is None
