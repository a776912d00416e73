# The guide's "Unit Testing" tests, as written. Not in the guide: the import of ASRConfig,
# which its second test uses.
import pytest
import numpy as np
from .my_custom_asr import MyCustomASR
from .my_model_loader import MyCustomASRLoader

from asr_interface.core.config import ASRConfig

pytestmark = pytest.mark.model


def test_my_custom_asr():
    asr = MyCustomASR("tiny", "en")
    audio = np.random.randn(16000)  # 1 second of audio
    result = asr.transcribe(audio)
    assert "segments" in result

def test_my_model_loader():
    loader = MyCustomASRLoader()
    config = ASRConfig(model="tiny", lan="en", backend="my_custom_backend")
    processor, metadata = loader.load(config)
    assert processor is not None
    assert "separator" in metadata
