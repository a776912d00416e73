"""asr-interface: real-time streaming speech recognition with a Rust buffer core."""

from importlib import metadata

from asr_interface.core.processor import OnlineASRProcessor

__all__ = ["OnlineASRProcessor", "__version__"]

__version__ = metadata.version("asr-interface")
"""The installed distribution's version; the build takes it from the Cargo workspace."""
