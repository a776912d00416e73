"""The extension examples register real backends that transcribe real speech."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.registry import get_loader, list_loaders
from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import engine_of
from asr_interface.core.protocols import ASRProcessor
from asr_interface.evaluation import normalize, word_error_rate
from asr_interface.simulation import simulate
from tests.speech import JFK, SHORT, speech_audio, speech_path, transcript
from tests.wording import close_to, heard

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

# Per example: the phrase it must get right and its word error rate bound on JFK. Streaming
# with rough word times commits a little less than whole-utterance decoding.
EXAMPLES = [
    ("custom_asr_model", "ask what you can do for your country", 0.25),
    ("custom_processor_engine", "ask not what your country can do for you", 0.1),
]


@cache
def example(name: str) -> ModuleType:
    """Imports an example once, which registers its backend."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.model
@pytest.mark.parametrize(("name", "phrase", "max_wer"), EXAMPLES)
def test_example_backend_streams_jfk(name: str, phrase: str, max_wer: float) -> None:
    """Loaded through the registry by its name, the example's engine transcribes JFK."""
    backend = example(name).BACKEND_NAME
    assert backend in list_loaders()
    config = ASRConfig(backend=backend)
    processor, metadata = get_loader(config.backend).load(config)
    assert isinstance(processor, ASRProcessor)
    assert metadata["backend"] == backend
    text = simulate(
        processor, speech_audio(JFK), min_chunk_sec=config.min_chunk_size, compute_aware=False
    ).text
    assert heard(phrase, text)
    assert word_error_rate(transcript(JFK), text) <= max_wer


@pytest.mark.model
@pytest.mark.parametrize("name", [name for name, _, _ in EXAMPLES])
def test_example_runs_as_a_script(name: str) -> None:
    """`python examples/<name>.py AUDIO` prints the transcript of the file."""
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / f"{name}.py"), str(speech_path(SHORT))],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert close_to(transcript(SHORT), completed.stdout, wer=0.25)


@pytest.mark.model
def test_custom_engine_resumes_at_the_settled_time() -> None:
    """A custom processor cannot take a resumed stream's context, so its engine drops the
    lead-in before the settled time: the words committed there before are not committed
    again, and the stream goes on with the next one."""
    config = ASRConfig(backend=example("custom_processor_engine").BACKEND_NAME)
    processor, _ = get_loader(config.backend).load(config)
    engine = engine_of(processor)
    settled = 2.1  # the end of "And so my fellow Americans", a pause before "ask"
    offset = settled - 1.0
    engine.reset(offset, ("And", "so", "my", "fellow", "Americans,"), settled)
    audio = speech_audio(JFK)[round(offset * SAMPLING_RATE) :]
    committed = engine.step(audio, final=False).committed
    committed += engine.step(audio[:0], final=True).committed
    text = normalize(" ".join(text for _, _, text in committed))
    assert text.startswith("ask not what your country")
    assert committed[0][0] >= settled
