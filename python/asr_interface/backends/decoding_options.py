"""How the faster-whisper backend decodes a window, made from `ASRConfig` in one place.

The option types (and so their validation) are `ASRConfig`'s own, so an option accepted by the
configuration is accepted here and the other way round. The defaults are whisper_streaming's
decoding, which the drop-in `FasterWhisperASR` keeps; `ASRConfig`'s defaults are the cheaper
ones the server and the command line use (docs/batching.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass

from asr_interface.core.config import BeamSize, EncoderSeconds, TailSeconds, Task, TokensPerSecond

if TYPE_CHECKING:
    from asr_interface.core.config import ASRConfig


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class DecodingOptions:
    """Settings that must be equal for windows to share one batched model call (hashable)."""

    task: Task = "transcribe"
    """"transcribe", or "translate" into English (multilingual models only)."""
    beam_size: BeamSize = 5
    """1 decodes greedily."""
    encoder_seconds: EncoderSeconds = None
    """None feeds the encoder Whisper's full 30 s input (the features padded to 3000 frames).
    A number feeds it only the longest window of the batch and a second of headroom, rounded
    up to a multiple of this many seconds (at most 30 s), and keeps timestamps inside that
    shorter input."""
    force_committed: bool = False
    """Forces each request's `committed` text as the decoder's prefix instead of decoding it
    again."""
    max_tokens_per_second: TokensPerSecond = None
    """Stops an output longer than this many tokens per second of audio (plus a small
    allowance): speech never needs more, and a run-on, Whisper repeating itself up to its
    length limit at every fallback temperature, costs many times a normal window. None keeps
    Whisper's limit of 448 tokens."""
    tail_seconds: TailSeconds = 0.0
    """When a pass's output stops before the window's end, audio after its last word shorter
    than this is left to the next window, which holds it with more context, instead of being
    decoded in another pass now; never for a `final` request. 0 decodes every tail."""

    @classmethod
    def from_config(cls, config: ASRConfig) -> DecodingOptions:
        """The decoding `config` asks for: the one place options become decoder settings."""
        return cls(
            task=config.task,
            beam_size=config.beam_size,
            encoder_seconds=config.encoder_seconds,
            force_committed=config.force_committed,
            max_tokens_per_second=config.max_tokens_per_second,
            tail_seconds=config.tail_seconds,
        )
