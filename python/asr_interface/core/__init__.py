"""The streaming core: the processor, the extension protocols and the configuration."""
