"""The model pool: each configuration is loaded once, and every session gets its own engine."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError

from asr_interface.backends import registry
from asr_interface.backends.loaded import LoadedModel, load_model
from asr_interface.backends.model_resolution import redact_paths
from asr_interface.core.config import ASRConfig, problem_message
from asr_interface.core.engine import StreamEngine
from asr_interface.errors import UnknownBackendError
from asr_interface.protocol import ErrorCode, ProtocolError
from asr_interface.server.settings import ServerSettings

logger = logging.getLogger(__name__)

_OPERATOR_FIELDS = (
    "model_dir",
    "model_cache_dir",
    "device",
    "compute_type",
    "cpu_threads",
    "num_workers",
)
"""What only the server's operator sets: paths, and what makes another copy of the weights."""

T = TypeVar("T")


class ModelPool:
    """Loads configurations off the event loop, at most once each, and hands out engines:
    each session's engine is opened from the loaded model (`LoadedModel.open_stream`).

    At most `max_loaded` configurations stay loaded besides the server's default; the least
    recently used goes first (its weights are freed once no session uses them). The default
    is kept as its backend's configuration class reads it (`UnknownBackendError` for an
    unregistered backend)."""

    def __init__(
        self,
        default: ASRConfig,
        *,
        executor: Executor,
        allowed_models: Iterable[str] | None = None,
        max_loaded: int = ServerSettings.max_loaded_models,
    ) -> None:
        self.default = registry.as_read_by_backend(default)
        self._executor = executor
        self._allowed = None if allowed_models is None else frozenset(allowed_models)
        self._max_loaded = max_loaded
        self._loaded: OrderedDict[ASRConfig, LoadedModel] = OrderedDict()
        self._loading: dict[ASRConfig, asyncio.Future[LoadedModel]] = {}

    def validate(self, fields: dict[str, Any]) -> ASRConfig:
        """The configuration a client asked for, on top of the server default.

        Clients name models; they never point the server at a path of their choosing, nor make
        it load another copy of weights (device, compute type, threads are the operator's).
        """
        for name in _OPERATOR_FIELDS:
            if name in fields and fields[name] != getattr(self.default, name):
                raise ProtocolError(
                    ErrorCode.MODEL_NOT_ALLOWED,
                    f"clients may not set {name}; the server's operator does",
                )
        backend = fields.get("backend", self.default.backend)
        try:
            config_class = registry.config_class(backend) if isinstance(backend, str) else None
        except UnknownBackendError as error:
            raise ProtocolError(ErrorCode.UNKNOWN_BACKEND, f"backend: {error}") from None
        if config_class is None:
            raise ProtocolError(ErrorCode.INVALID_CONFIG, "backend: must be a string")
        # Only the options the server was given, and only those the backend's configuration
        # has: the rest keep their defaults, which may depend on the client's fields
        # (translation's encoder input).
        given = self.default.model_dump(exclude_unset=True)
        values = {
            **{name: value for name, value in given.items() if name in config_class.model_fields},
            **fields,
        }
        if "policy" not in fields:
            values.pop("policy", None)  # the server's, unless the options need LocalAgreement
        config = self._config(config_class, values)
        if config.model != self.default.model and not self.model_allowed(config.model):
            raise ProtocolError(
                ErrorCode.MODEL_NOT_ALLOWED,
                f"model {config.model!r} is not allowed on this server; "
                f"allowed: {', '.join(sorted(self.allowed_models()))}",
            )
        return config

    def _config(self, config_class: type[ASRConfig], values: dict[str, Any]) -> ASRConfig:
        try:
            return config_class.for_policy(values, self.default.policy)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'config'}: {problem_message(config_class, e)}"
                for e in error.errors()
            )
            raise ProtocolError(ErrorCode.INVALID_CONFIG, problems) from None

    async def load_default(self, fields: dict[str, Any]) -> LoadedModel:
        """Validates and loads a configuration as a session's `load_model` does, then makes
        it the default that new sessions start with; sessions already open keep theirs."""
        config = self.validate(fields)
        model = await self.load(config)
        self.default = config
        logger.info("new sessions start with this model", extra=_model_fields(config))
        return model

    def model_allowed(self, model: str) -> bool:
        if self._allowed is not None:
            return model in self._allowed
        return "/" not in model and "\\" not in model and not model.startswith((".", "~"))

    def allowed_models(self) -> set[str]:
        return set(self._allowed or ()) | {self.default.model}

    async def engine(self, config: ASRConfig) -> tuple[StreamEngine, dict[str, Any]]:
        """An engine of its own for one session, loading the configuration if needed."""
        model = await self.load(config)
        engine = await self._off_loop(model.open_stream, config)
        return engine, model.metadata

    async def load(self, config: ASRConfig) -> LoadedModel:
        """The loaded model of a validated configuration: loaded once, on the load worker,
        however many sessions or requests ask for it at the same time."""
        if config in self._loaded:
            self._loaded.move_to_end(config)
            return self._loaded[config]
        pending = self._loading.get(config)
        if pending is None:
            pending = asyncio.ensure_future(self._off_loop(partial(load_model, config), config))
            self._loading[config] = pending
            try:
                model = await pending
            finally:
                del self._loading[config]
            logger.info("loaded a model", extra=_model_fields(config))
            self._keep(config, model)
            return model
        return await asyncio.shield(pending)

    def _keep(self, config: ASRConfig, model: LoadedModel) -> None:
        """Caches `model`, forgetting the least recently used beyond `max_loaded`."""
        self._loaded[config] = model
        evictable = [key for key in self._loaded if key != self.default]
        for key in evictable[: max(0, len(evictable) - self._max_loaded)]:
            del self._loaded[key]
            logger.info("unloaded the least recently used model", extra=_model_fields(key))

    async def _off_loop(self, load: Callable[[], T], config: ASRConfig) -> T:
        """Runs `load` on the load workers; its failure becomes `model_load_failed`."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, load)
        except Exception as error:
            fields = _model_fields(config) | {"code": ErrorCode.MODEL_LOAD_FAILED.value}
            logger.warning("loading a model failed: %s", error, extra=fields)
            raise ProtocolError(
                ErrorCode.MODEL_LOAD_FAILED,
                f"model {config.model!r} failed to load: {redact_paths(str(error))}",
            ) from error

    def loaded(self) -> list[dict[str, Any]]:
        """What is loaded, for /health and /backends."""
        return [
            {"config": config.model_dump(), "metadata": model.metadata}
            for config, model in self._loaded.items()
        ]


def _model_fields(config: ASRConfig) -> dict[str, Any]:
    """What identifies a configuration in a log record (`extra=`); the model name may be a
    client's."""
    return {"model": config.model, "backend": config.backend}
