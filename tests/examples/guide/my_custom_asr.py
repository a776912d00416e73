# The guide's path 1, step 1 (`my_custom_asr.py`). Filled in: `_load_model`,
# `_adapt_result_to_standard_format`, `_extract_word_timestamps` and `_extract_segment_times`
# (which the guide calls but leaves to its user), with a faster-whisper model.
from faster_whisper import WhisperModel

from asr_interface.backends.model_resolution import resolve_model_path
from asr_interface.core.protocols import ASRBase

BUNDLED_NAMES = {"tiny": "tiny.en"}
"""This machine has no network: the guide's "tiny" is served by the bundled tiny.en."""


class FasterWhisperModel:
    """The user's own model: `process(audio, prompt)` returns faster-whisper segments."""

    def __init__(self, path, language):
        self.whisper = WhisperModel(str(path), device="cpu", compute_type="int8")
        self.language = language

    def process(self, audio, prompt=""):
        segments, _info = self.whisper.transcribe(
            audio,
            language=self.language,
            initial_prompt=prompt or None,
            beam_size=1,
            word_timestamps=True,
        )
        return list(segments)


class MyCustomASR(ASRBase):
    def __init__(self, model_size: str, language: str, **kwargs):
        # Your custom model loading logic
        print(f"Loading MY custom model: {model_size}")
        self.model = self._load_model(model_size, language)
        super().__init__(language, model_size, **kwargs)

    def transcribe(self, audio, init_prompt=""):
        # Your custom transcription logic
        # Must return a dictionary with a "segments" key
        raw_result = self.model.process(audio, prompt=init_prompt)
        return self._adapt_result_to_standard_format(raw_result)
    
    def ts_words(self, transcription_result):
        # Extract word-level timestamps from the result
        return self._extract_word_timestamps(transcription_result)
    
    def segments_end_ts(self, transcription_result):
        # Extract segment end times
        return self._extract_segment_times(transcription_result)
    
    def use_vad(self):
        # Enable Voice Activity Detection
        return True
    
    def _load_model(self, model_size: str, language: str):
        # Implement your model loading logic
        # This could load from Hugging Face, local files, etc.
        path = resolve_model_path(BUNDLED_NAMES.get(model_size, model_size))
        return FasterWhisperModel(path, language)
    
    def _adapt_result_to_standard_format(self, raw_result):
        # Convert your model's output to the expected format
        # Should return a dict with "segments" key
        return {
            "segments": [
                {
                    "start": segment.start,
                    "end": segment.end,
                    "words": [(w.start, w.end, w.word.strip()) for w in segment.words or []],
                }
                for segment in raw_result
                if segment.no_speech_prob < 0.9
            ]
        }

    def _extract_word_timestamps(self, transcription_result):
        return [word for segment in transcription_result["segments"] for word in segment["words"]]

    def _extract_segment_times(self, transcription_result):
        return [segment["end"] for segment in transcription_result["segments"]]
