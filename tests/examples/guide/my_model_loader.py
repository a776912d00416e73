# The guide's path 1, step 2 (`my_model_loader.py`), as written.
import sys
from asr_interface.core.protocols import ModelLoader, ASRProcessor
from asr_interface.core.config import ASRConfig
from asr_interface.backends.whisper_loader import OnlineASRProcessor
from .my_custom_asr import MyCustomASR

class MyCustomASRLoader(ModelLoader):
    """
    Loads the custom ASR model and wraps it in the OnlineASRProcessor.
    """
    def load(self, config: ASRConfig) -> tuple[ASRProcessor, dict]:
        """
        Contains the specific logic to initialize and return our custom ASR processor.
        """
        print("Using MyCustomASRLoader...")

        # 1. Instantiate your custom ASRBase-compliant model
        my_asr_model = MyCustomASR(
            model_size=config.model,
            language=config.lan,
            # Pass any other relevant config args here
        )

        # 2. Wrap it with the standard OnlineASRProcessor
        online_processor = OnlineASRProcessor(
            asr=my_asr_model,
            buffer_trimming=(config.buffer_trimming, int(config.buffer_trimming_sec)),
            min_chunk_sec=config.min_chunk_size,
            logfile=sys.stderr
        )

        # 3. Define any specific metadata for your model
        metadata = {
            "separator": getattr(my_asr_model, "sep", " "),
            "model_type": "custom",
            "model_size": config.model,
            "language": config.lan,
        }

        # 4. Return the processor and metadata
        return online_processor, metadata
