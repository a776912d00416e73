"""`ASRConfig`: every choice that decides how a stream is recognised, validated up front."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

ComputeType = Literal[
    "default",
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
]
"""The compute types CTranslate2 knows (its quantization documentation); the device decides
which of them run natively, and CTranslate2 converts the rest to the nearest supported one."""


MAX_WINDOW_SECONDS = 30.0
"""Whisper's encoder hears at most 30 s: the longest window a stream keeps."""
MAX_BEAM_SIZE = 10
"""Widest beam a stream may ask for: each step of every stream on the model pays for it."""
MAX_CPU_THREADS = 64
"""Most CPU threads one model may be loaded with."""
MAX_MODEL_WORKERS = 64
"""Most model calls one loaded model may run at once."""
MAX_STEP_SECONDS = 10.0
"""Longest `min_chunk_size`: more would delay every first transcript past usefulness."""
MIN_STEP_SECONDS = 0.1
"""Shortest `min_chunk_size`: each step pays a whole model call, so a shorter one would let a
stream ask for a model call per frame (1e-9 s was accepted)."""
MIN_TRIMMING_SECONDS = 1.0
"""Shortest `buffer_trimming_sec`: the window must hold a word before it is cut."""
MAX_TRIMMING_SECONDS = MAX_WINDOW_SECONDS - MIN_STEP_SECONDS
"""Longest `buffer_trimming_sec`: the window keeps room for the shortest step."""
MIN_TOKENS_PER_SECOND = 0.5
"""Smallest token budget per second of audio, already below what speech needs: a smaller
number can only be a mistake."""
WHISPER_MAX_TOKENS = 448
"""Whisper's whole output, the largest token budget per second of audio: no speech comes near
it, and None lifts the budget altogether."""
ENCODER_GRID_SECONDS = 0.02
"""The encoder halves its input of 10 ms frames, so its length moves in steps of 20 ms."""


def _on_encoder_grid(seconds: float | None) -> float | None:
    if seconds is not None:
        steps = seconds / ENCODER_GRID_SECONDS
        if abs(steps - round(steps)) > 1e-6:
            raise ValueError(f"must be a multiple of {ENCODER_GRID_SECONDS} s, got {seconds!r}")
    return seconds


_RANGE_ERRORS = frozenset({"greater_than_equal", "less_than_equal", "finite_number"})


def format_bound(value: float) -> str:
    """A bound as a person writes it: 16777216 rather than 1.67772e+07, 0.1 as 0.1."""
    return str(int(value)) if float(value).is_integer() else str(value)


def field_range(model: type[BaseModel], name: str) -> tuple[float, float] | None:
    """The inclusive range of a numeric field, from its `ge` and `le`; None without both."""
    field = model.model_fields.get(name)
    if field is None:
        return None
    low = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in field.metadata if hasattr(m, "le")), None)
    return None if low is None or high is None else (low, high)


def problem_message(model: type[BaseModel], problem: ErrorDetails) -> str:
    """A validation problem's message, with the field's whole range when its value fell
    outside it or was not finite: a client told only the bound it crossed might cross the
    other next."""
    message = problem["msg"].removeprefix("Value error, ")
    location = problem["loc"]
    bounds = field_range(model, str(location[0])) if location else None
    if problem["type"] in _RANGE_ERRORS and bounds is not None:
        message += f" (range {format_bound(bounds[0])} to {format_bound(bounds[1])})"
    return message


Task = Literal["transcribe", "translate"]
"""'translate' turns speech in any language into English text."""
BeamSize = Annotated[int, Field(ge=1, le=MAX_BEAM_SIZE, strict=False)]
"""Beam search width; 1 decodes greedily."""
EncoderSeconds = Annotated[
    float | None,
    Field(ge=ENCODER_GRID_SECONDS, le=MAX_WINDOW_SECONDS, allow_inf_nan=False),
    AfterValidator(_on_encoder_grid),
]
"""The encoder input is the window rounded up to a multiple of this; None keeps 30 s."""
TokensPerSecond = Annotated[
    float | None, Field(ge=MIN_TOKENS_PER_SECOND, le=WHISPER_MAX_TOKENS, allow_inf_nan=False)
]
"""The token budget of an output per second of audio; None keeps Whisper's 448 tokens."""
TailSeconds = Annotated[float, Field(ge=0, le=MAX_WINDOW_SECONDS, allow_inf_nan=False)]
"""Audio after a pass's last word shorter than this is left to the next step."""


WHISPER_LANGUAGE_CODES = tuple(
    """
    af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha
    haw he hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn
    mr ms mt my ne nl nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te
    tg th tk tl tr tt uk ur uz vi yi yo zh yue
    """.split()  # noqa: SIM905 (a table reads best as words)
)
"""Every language Whisper knows, in its tokenizer's order. A configuration is checked before
any model is loaded, so the list is data here; a backend test holds it to faster-whisper's."""


PolicyName = Literal["local-agreement", "align-att"]
SERVING_POLICY: PolicyName = "align-att"
"""The server's commit policy unless told otherwise (`ASRConfig`'s own default stays
whisper_streaming's, for the drop-in processor): on two cores it held more real-time streams
of continuous speech at p90 commit latency 3 s than LocalAgreement, with no more word errors
(docs/capacity.md has the figures per speech set)."""


class ASRConfig(BaseModel):
    """How to recognise a stream: model, language, streaming policy and decoding options.

    Frozen, so equal configurations hash equally; unknown keys are rejected. Backends that
    need more options subclass it and add fields. Which backend names exist is checked when
    the configuration is loaded, so backends registered later work too.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(
        default="tiny.en",
        min_length=1,
        description="Whisper model name (tiny.en, base, small, ...) or a model directory",
    )
    lan: str = Field(
        default="en", description="Whisper language code of the speech, or 'auto' to detect it"
    )
    task: Task = Field(
        default="transcribe",
        description="'translate' turns speech in any language into English text",
    )
    backend: str = Field(
        default="faster-whisper", min_length=1, description="name of a registered model loader"
    )
    min_chunk_size: float = Field(
        default=1.0,
        ge=MIN_STEP_SECONDS,
        le=MAX_STEP_SECONDS,
        allow_inf_nan=False,
        description="seconds of new audio per model call",
    )
    policy: PolicyName = Field(
        default="local-agreement",
        description="how text is committed: 'local-agreement' (whisper_streaming's: two "
        "consecutive decodes agree) or 'align-att' (one decode per step; a word is committed "
        "once the audio after it is heard, docs/align-att.md)",
    )
    buffer_trimming: Literal["segment", "sentence"] = Field(
        default="segment", description="where the audio window is cut once it is long enough"
    )
    buffer_trimming_sec: float = Field(
        default=15.0,
        ge=MIN_TRIMMING_SECONDS,
        le=MAX_TRIMMING_SECONDS,
        allow_inf_nan=False,
        description="window length in seconds that starts trimming",
    )
    model_dir: str | None = Field(
        default=None,
        min_length=1,
        description="directory of a CTranslate2 Whisper model; wins over model",
    )
    model_cache_dir: str | None = Field(
        default=None,
        min_length=1,
        description="directory where assembled or downloaded models are kept",
    )
    vac: bool = Field(
        default=False, description="voice activity controller in front of the processor"
    )
    vad: bool = Field(default=False, description="let the model skip non-speech inside each window")
    device: Literal["cpu", "cuda", "auto"] = Field(
        default="cpu", description="where the model runs"
    )
    compute_type: ComputeType = Field(default="int8", description="CTranslate2 compute type")
    beam_size: BeamSize = Field(
        default=1, description="beam search width; 1 decodes greedily (5 when translating)"
    )
    encoder_seconds: EncoderSeconds = Field(
        default=10.0,
        description="feed Whisper's encoder the window rounded up to a multiple of this many "
        "seconds instead of padding it to 30 s; None keeps 30 s, the default when translating",
    )
    force_committed: bool = Field(
        default=False,
        description="force the committed words inside the window as the decoder's prefix "
        "instead of decoding them again (batched decoding)",
    )
    max_tokens_per_second: TokensPerSecond = Field(
        default=12.0,
        description="stop an output longer than this many tokens per second of audio, a "
        "model repeating itself; None keeps Whisper's 448-token limit",
    )
    tail_seconds: TailSeconds = Field(
        default=2.0,
        description="audio after the last word of a pass shorter than this is left to the next "
        "step instead of being decoded in another pass; 0 decodes it at once",
    )
    cpu_threads: int = Field(
        default=0,
        ge=0,
        le=MAX_CPU_THREADS,
        description="CPU threads each model call uses; 0 = the CPU cores shared equally among "
        "the model's workers",
    )
    num_workers: int = Field(
        default=0,
        ge=0,
        le=MAX_MODEL_WORKERS,
        description="model calls that run at once on one copy of the weights; 0 = one per CPU "
        "core (one on a GPU)",
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        """Names every unknown key and lists the accepted ones, which catches typos early."""
        if not isinstance(data, dict) or cls.model_config.get("extra") != "forbid":
            return data
        unknown = sorted(str(key) for key in data if key not in cls.model_fields)
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(map(repr, unknown))}; "
                f"{cls.__name__} accepts: {', '.join(cls.model_fields)}"
            )
        return data

    @model_validator(mode="before")
    @classmethod
    def _careful_decoding_for_translation(cls, data: Any) -> Any:
        """Translation keeps beam 5 and Whisper's full 30 s encoder input unless told
        otherwise: greedy decoding and a shortened input each cost words of a translated
        test sentence that whisper_streaming's decoding kept (docs/batching.md)."""
        if isinstance(data, dict) and data.get("task") == "translate":
            return {"beam_size": 5, "encoder_seconds": None, **data}
        return data

    @field_validator("lan")
    @classmethod
    def _check_language(cls, lan: str) -> str:
        codes = WHISPER_LANGUAGE_CODES
        if lan != "auto" and lan not in codes:
            raise ValueError(
                f"lan must be 'auto' or a Whisper language code ({', '.join(codes)}), got {lan!r}"
            )
        return lan

    def local_agreement_options(self) -> list[str]:
        """The options asked for that only LocalAgreement serves: voice activity control, VAD
        filtering, language detection (AlignAtt decodes in one given language), sentence
        trimming, and the forced prefix and tail rules of its decoding."""
        asked = [name for name in ("vac", "vad") if getattr(self, name)]
        if self.lan == "auto":
            asked.append("lan 'auto'")
        if self.buffer_trimming == "sentence":
            asked.append("buffer_trimming 'sentence'")
        fields = type(self).model_fields
        asked += [
            name
            for name in ("force_committed", "tail_seconds")
            if getattr(self, name) != fields[name].default
        ]
        return asked

    def needs_local_agreement(self) -> bool:
        """Whether this asks for an option that only LocalAgreement serves."""
        return bool(self.local_agreement_options())

    @classmethod
    def for_policy(cls, values: Mapping[str, Any], preferred: PolicyName) -> Self:
        """The configuration of `values` under the policy they name, else under `preferred`
        unless they ask for an option only LocalAgreement serves: the one rule by which the
        server, `simulate` and `evaluate` choose a stream's policy."""
        if "policy" in values:
            return cls.model_validate(values)
        agreement = cls.model_validate({**values, "policy": "local-agreement"})
        if preferred == "local-agreement" or agreement.needs_local_agreement():
            return agreement
        return cls.model_validate({**values, "policy": preferred})

    @model_validator(mode="after")
    def _policy_serves_the_rest(self) -> ASRConfig:
        unserved = self.local_agreement_options()
        if self.policy == "align-att" and unserved:
            raise ValueError(
                f"policy 'align-att' does not serve {', '.join(unserved)}; "
                "use policy 'local-agreement' for them"
            )
        return self

    @model_validator(mode="after")
    def _steps_fit_the_window(self) -> ASRConfig:
        """A step must fit beside what trimming keeps, or audio would be cut unheard."""
        if self.min_chunk_size + self.buffer_trimming_sec > MAX_WINDOW_SECONDS:
            raise ValueError(
                f"min_chunk_size + buffer_trimming_sec must be at most {MAX_WINDOW_SECONDS:g} s "
                f"(the window), got {self.min_chunk_size:g} + {self.buffer_trimming_sec:g}"
            )
        return self
