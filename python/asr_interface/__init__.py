"""asr-interface: real-time streaming speech recognition with a Rust buffer core."""

from asr_interface.core.processor import OnlineASRProcessor

__all__ = ["OnlineASRProcessor", "__version__"]

__version__ = "0.1.0"
