# The guide's path 2, step 2 (`my_engine_loader.py`), as written.
from asr_interface.core.protocols import ModelLoader, ASRProcessor
from asr_interface.core.config import ASRConfig
from .processor import MyCustomRealTimeEngine

class MyEngineLoader(ModelLoader):
    """
    Factory for creating instances of MyCustomRealTimeEngine.
    """
    def load(self, config: ASRConfig) -> tuple[ASRProcessor, dict]:
        """
        Initializes and returns the custom real-time engine.
        """
        print("Using MyEngineLoader...")

        # 1. Instantiate your custom engine using parameters from the config
        my_engine_instance = MyCustomRealTimeEngine(
            model_path=config.model,  # 'model' field from the user's JSON
            language=config.lan
        )

        # 2. Define any metadata your system might need.
        # The separator is used by the server to join transcript segments.
        metadata = {
            "separator": "\n",  # Or " ", whatever your engine prefers
            "model_type": "custom_engine",
            "model_path": config.model,
            "language": config.lan,
        }

        # 3. Return the fully initialized processor and its metadata
        return my_engine_instance, metadata
