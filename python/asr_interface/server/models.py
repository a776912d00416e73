"""The model pool: each configuration is loaded once, and every session gets its own engine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

from pydantic import ValidationError

from asr_interface.backends.model_resolution import redact_paths
from asr_interface.backends.registry import get_loader
from asr_interface.core.config import ASRConfig
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.core.vac import VACOnlineASRProcessor
from asr_interface.errors import UnknownBackendError
from asr_interface.protocol import ErrorCode, ProtocolError
from asr_interface.server.engine import StreamEngine, engine_for

logger = logging.getLogger(__name__)

_PATH_FIELDS = ("model_dir", "model_cache_dir")


class ModelPool:
    """Loads configurations off the event loop, at most once each, and hands out engines.

    A loader's `OnlineASRProcessor` or `VACOnlineASRProcessor` is a template: sessions get
    fresh copies sharing its model. Any other processor cannot be copied, so its loader runs
    again for every session and is expected to share the heavy parts itself.
    """

    def __init__(
        self,
        default: ASRConfig,
        *,
        executor: Executor,
        allowed_models: Iterable[str] | None = None,
    ) -> None:
        self.default = default
        self._executor = executor
        self._allowed = None if allowed_models is None else frozenset(allowed_models)
        self._loaded: dict[ASRConfig, tuple[object, dict[str, Any]]] = {}
        self._loading: dict[ASRConfig, asyncio.Future[tuple[object, dict[str, Any]]]] = {}

    def validate(self, fields: dict[str, Any]) -> ASRConfig:
        """The configuration a client asked for, on top of the server default.

        Clients name models; they never point the server at a path of their choosing.
        """
        for name in _PATH_FIELDS:
            if name in fields and fields[name] != getattr(self.default, name):
                raise ProtocolError(
                    ErrorCode.MODEL_NOT_ALLOWED, f"clients may not set {name}; name a model"
                )
        try:
            # Only the options the server was given: the rest keep their defaults, which
            # may depend on the client's fields (translation's encoder input).
            given = self.default.model_dump(exclude_unset=True)
            config = type(self.default).model_validate({**given, **fields})
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in error.errors()
            )
            raise ProtocolError(ErrorCode.INVALID_CONFIG, problems) from None
        if config.model != self.default.model and not self.model_allowed(config.model):
            raise ProtocolError(
                ErrorCode.MODEL_NOT_ALLOWED,
                f"model {config.model!r} is not allowed on this server; "
                f"allowed: {', '.join(sorted(self.allowed_models()))}",
            )
        try:
            get_loader(config.backend)
        except UnknownBackendError as error:
            raise ProtocolError(ErrorCode.UNKNOWN_BACKEND, str(error)) from None
        return config

    def model_allowed(self, model: str) -> bool:
        if self._allowed is not None:
            return model in self._allowed
        return "/" not in model and "\\" not in model and not model.startswith((".", "~"))

    def allowed_models(self) -> set[str]:
        return set(self._allowed or ()) | {self.default.model}

    async def engine(self, config: ASRConfig) -> tuple[StreamEngine, dict[str, Any]]:
        """An engine of its own for one session, loading the configuration if needed."""
        template, metadata = await self._load(config)
        if isinstance(template, OnlineASRProcessor | VACOnlineASRProcessor):
            return engine_for(template.fresh_copy()), metadata
        processor, _ = await self._run_loader(config)
        return engine_for(processor), metadata

    async def _load(self, config: ASRConfig) -> tuple[object, dict[str, Any]]:
        if config in self._loaded:
            return self._loaded[config]
        pending = self._loading.get(config)
        if pending is None:
            pending = asyncio.ensure_future(self._run_loader(config))
            self._loading[config] = pending
            try:
                self._loaded[config] = await pending
            finally:
                del self._loading[config]
            return self._loaded[config]
        return await asyncio.shield(pending)

    async def _run_loader(self, config: ASRConfig) -> tuple[object, dict[str, Any]]:
        loader = get_loader(config.backend)
        loop = asyncio.get_running_loop()
        try:
            processor, metadata = await loop.run_in_executor(self._executor, loader.load, config)
        except Exception as error:
            logger.warning("loading %s failed: %s", config.model, error)
            raise ProtocolError(
                ErrorCode.MODEL_LOAD_FAILED,
                f"model {config.model!r} failed to load: {redact_paths(str(error))}",
            ) from error
        logger.info("loaded model %s (backend %s)", config.model, config.backend)
        return processor, dict(metadata)

    def loaded(self) -> list[dict[str, Any]]:
        """What is loaded, for /health and /backends."""
        return [
            {"config": config.model_dump(), "metadata": metadata}
            for config, (_, metadata) in self._loaded.items()
        ]
