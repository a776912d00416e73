# The guide's "Configuration Extensions", as written, and a loader that reads the extended
# configuration: the guide leaves that loader to its user, who names the class by the
# annotation of `load`'s parameter.
from asr_interface.core.config import ASRConfig
from pydantic import Field

from asr_interface.backends.registry import register_loader
from .my_engine_loader import MyEngineLoader


class ExtendedASRConfig(ASRConfig):
    """Extended configuration for custom backends."""
    
    device: str = Field(default="cpu", description="Device to run model on")
    custom_param: str = Field(default="", description="Custom parameter for your backend")
    model_path: str = Field(default="", description="Path to model files")
    batch_size: int = Field(default=1, description="Batch size for processing")
    precision: str = Field(default="float32", description="Model precision")


class ExtendedEngineLoader(MyEngineLoader):
    """The guide's engine, loaded with the extended configuration's own fields."""

    def load(self, config: ExtendedASRConfig):
        engine, metadata = super().load(config)
        metadata["custom_param"] = config.custom_param
        metadata["batch_size"] = config.batch_size
        return engine, metadata


register_loader("my_engine_extended", ExtendedEngineLoader())
