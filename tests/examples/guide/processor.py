# The guide's path 2, step 1 (`processor.py`). Filled in: `_load_model`, with a model whose
# `transcribe(audio)` returns text, as the guide's engine uses it.
import numpy as np
from typing import Optional, Tuple
from asr_interface.core.protocols import ASRProcessor

from faster_whisper import WhisperModel


class TextModel:
    """The user's own model: `transcribe(audio)` returns the text heard."""

    def __init__(self, model_path):
        self.whisper = WhisperModel(model_path, device="cpu", compute_type="int8")

    def transcribe(self, audio):
        segments, _info = self.whisper.transcribe(audio, beam_size=1)
        return "".join(segment.text for segment in segments)


class MyCustomRealTimeEngine(ASRProcessor):
    """
    A complete replacement for OnlineASRProcessor with custom logic.
    """
    def __init__(self, model_path: str, language: str):
        # 1. Load your own model, tokenizer, etc.
        print(f"Initializing MyCustomRealTimeEngine with model: {model_path}")
        self.model = self._load_model(model_path)
        self.language = language
        self._internal_buffer = np.array([], dtype=np.float32)
        self.sampling_rate = 16000
        self.offset = 0.0
        
    def init(self, offset: float = 0.0):
        # 2. Reset the internal state for a new stream
        print("Resetting custom engine state.")
        self._internal_buffer = np.array([], dtype=np.float32)
        self.offset = offset
        # Reset any other stateful variables (e.g., VAD state, conversation history)

    def insert_audio_chunk(self, audio: np.ndarray):
        # 3. Add incoming audio to your buffer
        self._internal_buffer = np.append(self._internal_buffer, audio)

    def process_iter(self) -> Optional[Tuple[float, float, str]]:
        # 4. Implement your core real-time logic
        # This is the most complex part. You need to decide when and how
        # to process the self._internal_buffer.
        
        # Example logic:
        if self._should_process_buffer():
            transcript = self.model.transcribe(self._internal_buffer)
            start_time = self.offset
            end_time = start_time + len(self._internal_buffer) / self.sampling_rate
            self._internal_buffer = np.array([], dtype=np.float32)  # Clear buffer
            self.offset = end_time
            return (start_time, end_time, transcript)

        # If no new segment is finalized in this iteration, return None
        return None

    def finish(self) -> Optional[Tuple[float, float, str]]:
        # 5. Process any leftover audio in the buffer at the end of the stream
        print("Finishing up...")
        if len(self._internal_buffer) > 0:
            transcript = self.model.transcribe(self._internal_buffer)
            start_time = self.offset
            end_time = start_time + len(self._internal_buffer) / self.sampling_rate
            return (start_time, end_time, transcript)
        return None
    
    def _load_model(self, model_path: str):
        # Implement your model loading logic
        return TextModel(model_path)
    
    def _should_process_buffer(self) -> bool:
        # Implement your logic to decide when to process the buffer
        # This could be based on VAD, buffer size, silence detection, etc.
        return len(self._internal_buffer) > self.sampling_rate * 2  # Example: 2 seconds
