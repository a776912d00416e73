"""How the faster-whisper backend decodes a window, made from `ASRConfig` in one place.

The option types (and so their validation) are `ASRConfig`'s own, so an option accepted by the
configuration is accepted here and the other way round. The options have no defaults here:
`ASRConfig`'s are the cheaper ones the server and the command line use (docs/batching.md), and
`WHISPER_STREAMING` is whisper_streaming's decoding, which the drop-in `FasterWhisperASR` keeps.
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

    task: Task
    """"transcribe", or "translate" into English (multilingual models only)."""
    beam_size: BeamSize
    """1 decodes greedily."""
    encoder_seconds: EncoderSeconds
    """None feeds the encoder Whisper's full 30 s input (the features padded to 3000 frames).
    A number feeds it only the longest window of the batch and a second of headroom, rounded
    up to a multiple of this many seconds (at most 30 s), and keeps timestamps inside that
    shorter input."""
    force_committed: bool
    """Forces each request's `committed` text as the decoder's prefix instead of decoding it
    again."""
    max_tokens_per_second: TokensPerSecond
    """Stops an output longer than this many tokens per second of audio (plus a small
    allowance): speech never needs more, and a run-on, Whisper repeating itself up to its
    length limit at every fallback temperature, costs many times a normal window. None keeps
    Whisper's limit of 448 tokens."""
    tail_seconds: TailSeconds
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


WHISPER_STREAMING = DecodingOptions(
    task="transcribe",
    beam_size=5,
    encoder_seconds=None,
    force_committed=False,
    max_tokens_per_second=None,
    tail_seconds=0.0,
)
"""How whisper_streaming decodes each window: beam 5, Whisper's full 30 s encoder input, every
tail decoded, no token budget beyond Whisper's own."""
