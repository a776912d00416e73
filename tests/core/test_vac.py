"""Voice activity control: the VAC processor in front of the real Whisper model (the
detector alone: tests/backends/test_silero_vad.py)."""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.backends.registry import get_loader
from asr_interface.backends.replay import RecordingASR
from asr_interface.backends.silero_vad import VoiceActivityDetector
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.cli.options import add_config_arguments, config_from_arguments
from asr_interface.core.config import ASRConfig
from asr_interface.core.decoding import TimedWord
from asr_interface.core.engine import SpeechEvent, StreamEngine
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.core.vac import VACOnlineASRProcessor
from asr_interface.evaluation import normalize, word_error_rate
from asr_interface.simulation import SimulationResult, simulate
from tests.paused_speech import (
    CLIPS,
    FEED_SECONDS,
    PAD_SECONDS,
    RATE,
    non_speech,
    paused_speech,
    silence,
)
from tests.speech import JFK, speech_audio
from tests.wording import ends_with, heard


def vac_processor(**options: Any) -> tuple[VACOnlineASRProcessor, RecordingASR]:
    """A VAC processor over tiny.en whose model calls are recorded."""
    asr = RecordingASR(FasterWhisperASR("en", "tiny.en"))
    return VACOnlineASRProcessor(1.0, asr, detector=VoiceActivityDetector(**options)), asr


@dataclass(frozen=True)
class PausedRun:
    result: SimulationResult
    calls: list[Any]
    events: list[SpeechEvent]


@pytest.fixture(scope="module")
def paused_run() -> PausedRun:
    """The paused speech streamed through VAC in simulated real time (audio clock only)."""
    processor, asr = vac_processor()
    result = simulate(
        processor, paused_speech().audio, min_chunk_sec=FEED_SECONDS, compute_aware=False
    )
    return PausedRun(result, asr.calls, list(result.speech_events))


@pytest.mark.model
def test_paused_speech_keeps_its_wer(paused_run: PausedRun) -> None:
    """Pauses between the clips cost no accuracy: tiny.en's usual WER on LJ Speech."""
    assert word_error_rate(paused_speech().reference, paused_run.result.text) <= 0.1
    assert heard("printing in the only sense with which we are", paused_run.result.text)


@pytest.mark.model
def test_each_utterance_is_committed_within_a_second_of_its_end(paused_run: PausedRun) -> None:
    """Every word of a clip is committed no later than one second after the clip ends."""
    commits = paused_run.result.commits
    for start, end in paused_speech().spans:
        own = [commit for commit in commits if start - 1 <= commit.start < end]
        assert own, f"nothing committed for the clip at {start:.1f} s"
        assert own[-1].end >= end - 0.5  # the clip's last word is among them
        assert max(commit.emission for commit in own) <= end + 1.0


@pytest.mark.model
def test_model_never_hears_the_pauses(paused_run: PausedRun) -> None:
    """Every window holds one utterance at most: no call spans a pause."""
    longest_clip = max(end - start for start, end in paused_speech().spans)
    assert paused_run.calls
    assert max(call.window_seconds for call in paused_run.calls) <= longest_clip + 2 * PAD_SECONDS
    speech_seconds = sum(end - start for start, end in paused_speech().spans)
    # About one call per second of speech plus one per utterance end, not one per second.
    assert len(paused_run.calls) <= speech_seconds + 2 * len(CLIPS)


@pytest.mark.model
def test_next_utterance_is_prompted_with_the_text_before_it(paused_run: PausedRun) -> None:
    """After a pause the window starts afresh, prompted with the committed words before it."""
    calls = paused_run.calls
    fresh = [
        now
        for before, now in itertools.pairwise(calls)
        if now.window_seconds < before.window_seconds
    ]
    assert len(fresh) == len(CLIPS) - 1
    spans = paused_speech().spans
    for clip, call in enumerate(fresh, start=1):
        pause_middle = (spans[clip - 1][1] + spans[clip][0]) / 2
        before = [c.text for c in paused_run.result.commits if c.start < pause_middle]
        committed, prompt = normalize("".join(before)).split(), normalize(call.prompt).split()
        # As in whisper_streaming, the newest committed word stays out of the prompt.
        assert prompt and committed[:-1][-len(prompt) :] == prompt


@pytest.mark.model
def test_speech_events_mark_each_utterance(paused_run: PausedRun) -> None:
    """A start and an end are reported for each clip, in stream time."""
    events = paused_run.events
    assert [event.kind for event in events] == ["speech_start", "speech_end"] * len(CLIPS)
    for (start, end), began, ended in zip(
        paused_speech().spans, events[::2], events[1::2], strict=True
    ):
        assert start - PAD_SECONDS - 0.05 <= began.time <= start
        assert end - 0.2 <= ended.time <= end + PAD_SECONDS + 0.05


@pytest.mark.model
@pytest.mark.parametrize("kind", ["silence", "low noise", "hum"])
def test_non_speech_never_reaches_the_model(kind: str) -> None:
    """A minute without speech commits nothing and calls the model not once."""
    processor, asr = vac_processor()
    result = simulate(processor, non_speech(kind), min_chunk_sec=FEED_SECONDS, compute_aware=False)
    assert result.commits == ()
    assert asr.calls == []
    assert processor.take_events() == []


@pytest.mark.model
def test_finish_mid_speech_commits_the_tail() -> None:
    """Ending a stream while someone speaks transcribes what was held back and commits it."""
    processor, asr = vac_processor()
    clip = speech_audio(CLIPS[2])
    texts = []
    for start in range(0, len(clip), round(FEED_SECONDS * RATE)):
        processor.insert_audio_chunk(clip[start : start + round(FEED_SECONDS * RATE)])
        texts.append(processor.process_iter()[2])
    calls_before = len(asr.calls)
    texts.append(processor.finish()[2])
    assert len(asr.calls) == calls_before + 1
    assert ends_with("".join(texts), "the immediate predecessors of the true printed book")
    assert processor.unconfirmed() == []
    assert [event.kind for event in processor.take_events()] == ["speech_start", "speech_end"]


@pytest.mark.model
def test_int16_input_matches_float_input() -> None:
    """int16 PCM is scaled as the plain processor scales it, so both give the same text."""
    clip = speech_audio(CLIPS[1])
    pcm = np.round(clip * 32767).astype(np.int16)
    texts = []
    for audio in (pcm.astype(np.float32) / 32768, pcm):
        processor, _ = vac_processor()
        processor.insert_audio_chunk(audio)
        texts.append(processor.finish()[2])
    assert texts[0] == texts[1]
    assert heard("comparatively modern", texts[0])


@pytest.mark.model
@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 100), np.float32), np.array([0.0, np.nan]), np.zeros(10, np.int32)],
    ids=["2-D", "NaN", "int32"],
)
def test_bad_audio_is_refused_and_changes_nothing(bad: npt.NDArray[Any]) -> None:
    """Audio of the wrong shape, type or content raises ValueError before any state moves."""
    processor, _ = vac_processor()
    processor.insert_audio_chunk(silence(0.5))
    with pytest.raises(ValueError, match="audio"):
        processor.insert_audio_chunk(bad)
    assert processor.detector.samples_fed == round(0.5 * RATE)


@pytest.mark.model
def test_fresh_copy_shares_the_model_but_not_the_stream() -> None:
    """A copy has the same ASR object and settings and starts with nothing heard."""
    processor, asr = vac_processor(threshold=0.6, min_silence_ms=300, speech_pad_ms=50)
    processor.insert_audio_chunk(speech_audio(CLIPS[1]))
    copy = processor.fresh_copy()
    assert copy.asr is asr
    assert copy.online is not processor.online
    assert (copy.detector.threshold, copy.detector.min_silence_ms, copy.detector.speech_pad_ms) == (
        0.6,
        300,
        50,
    )
    assert copy.take_events() == []
    assert processor.take_events()[0].kind == "speech_start"


@pytest.mark.model
def test_init_starts_a_new_stream_at_the_offset() -> None:
    """After `init(offset)` nothing of the old stream is left and times start at the offset."""
    processor, _ = vac_processor()
    processor.insert_audio_chunk(speech_audio(CLIPS[1])[:RATE])
    processor.init(100.0)
    assert processor.take_events() == []
    assert not processor.in_speech
    processor.insert_audio_chunk(np.concatenate([silence(1), speech_audio(CLIPS[1])]))
    start, end, text = processor.finish()
    assert start is not None and end is not None
    assert 100.5 <= start < end <= 100 + 1 + len(speech_audio(CLIPS[1])) / RATE + PAD_SECONDS
    assert heard("comparatively modern", text)


@pytest.mark.model
def test_vac_config_builds_the_vac_processor() -> None:
    """`--vac` on the command line reaches the loader, which puts VAC in front of the model."""
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    config = config_from_arguments(parser.parse_args(["--vac", "--min-chunk-size", "0.5"]))
    processor, _ = get_loader(config.backend).load(config)
    assert isinstance(processor, VACOnlineASRProcessor)
    assert processor.min_chunk_size == 0.5
    assert processor.online.min_chunk_size == 0.5
    assert isinstance(processor.asr, FasterWhisperASR)
    plain, _ = get_loader(config.backend).load(ASRConfig())
    assert not isinstance(plain, VACOnlineASRProcessor)


# A resumed stream.


def resumed_words(
    engine: StreamEngine,
    audio: npt.NDArray[np.float32],
    offset: float = 0.0,
    context: tuple[str, ...] = (),
    settled: float | None = None,
) -> list[TimedWord]:
    """The words `engine` commits over `audio`, a stream starting at `offset` that was
    committed elsewhere up to `settled` with the words `context`, fed as a microphone
    feeds it."""
    engine.reset(offset, context, settled)
    step = round(FEED_SECONDS * RATE)
    words: list[TimedWord] = []
    for start in range(0, len(audio), step):
        words += engine.step(audio[start : start + step], final=False).committed
    return words + engine.step(silence(0), final=True).committed


@pytest.fixture(scope="module")
def uninterrupted_jfk() -> list[TimedWord]:
    """The words VAC commits over the JFK recording streamed whole."""
    processor, _ = vac_processor()
    return resumed_words(processor.engine(), speech_audio(JFK))


@pytest.mark.model
def test_resumed_stream_goes_on_after_its_context(uninterrupted_jfk: list[TimedWord]) -> None:
    """Resumed a second before a settled word, as a client resumes it, VAC commits the
    next word first, none of the context again, and primes its first call with the
    context exactly as the plain processor does."""
    index = next(i for i, (_, _, word) in enumerate(uninterrupted_jfk) if normalize(word) == "ask")
    settled = uninterrupted_jfk[index][1]
    offset = settled - 1.0
    context = tuple(word for _, _, word in uninterrupted_jfk[: index + 1])
    processor, asr = vac_processor()
    tail = speech_audio(JFK)[round(offset * RATE) :]
    resumed = resumed_words(processor.engine(), tail, offset, context, settled)
    assert normalize(resumed[0][2]) == normalize(uninterrupted_jfk[index + 1][2])
    assert resumed[0][0] >= settled - 0.5
    plain = OnlineASRProcessor(asr)
    plain.resume(offset, context, settled)
    assert asr.calls[0].prompt == plain.prompt()[0]
    assert normalize(asr.calls[0].prompt).startswith("and so")


@pytest.mark.model
def test_silent_lead_in_leaves_the_first_words_to_commit() -> None:
    """A resumed stream whose lead-in before the settled time is silence commits its
    first words: VAC's clock skips the silence, and the settled time is moved with it."""
    processor, _ = vac_processor()
    audio = np.concatenate([silence(1.0), speech_audio(JFK)])
    words = resumed_words(processor.engine(), audio, 10.0, (" We", " choose", " to", " go"), 11.0)
    text = normalize("".join(word for _, _, word in words))
    assert text.startswith("and so")
    assert words[0][0] >= 11.0


@pytest.mark.model
def test_prompt_primes_the_first_utterance() -> None:
    """A stream's prompt reaches the first model call, after the silence before the speech,
    as it reaches the plain processor's."""
    processor, asr = vac_processor()
    engine = processor.engine()
    engine.reset(prompt=(" President", " Kennedy"))
    audio = np.concatenate([silence(2.0), speech_audio(JFK)[: 3 * RATE]])
    for start in range(0, len(audio), round(FEED_SECONDS * RATE)):
        engine.step(audio[start : start + round(FEED_SECONDS * RATE)], final=False)
    plain = OnlineASRProcessor(asr)
    plain.prime((" President", " Kennedy"))
    assert asr.calls
    assert asr.calls[0].prompt == plain.prompt()[0] == " President"
