"""The `asr-interface` command line."""
