"""One exception hierarchy for the whole package, rooted at `ASRInterfaceError`."""


class ASRInterfaceError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(ASRInterfaceError, ValueError):
    """A configuration value is invalid; the message names the field and what it accepts."""


class UnknownBackendError(ASRInterfaceError, LookupError):
    """No loader is registered under the requested backend name."""


class ModelLoadError(ASRInterfaceError):
    """A model could not be found or loaded; the message says how to supply it."""


class AudioDecodeError(ASRInterfaceError):
    """An audio file is missing or cannot be decoded."""
