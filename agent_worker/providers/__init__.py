"""Which models answer a conversation: speech-to-text, LLM and text-to-speech, chosen by settings.

Per stage: its OpenAI-compatible server when ``<STAGE>_BASE_URL`` is set, else OpenAI when
``OPENAI_API_KEY`` is set, else the offline models of ``providers.local`` (always with
``PIPELINE=local``). A remote stage is wrapped in livekit-agents' ``FallbackAdapter`` with the
offline model behind it when ``FALLBACK_TO_LOCAL`` is on, so a provider that fails
mid-conversation is replaced instead of ending the session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from livekit.agents import llm, stt, tts, vad
from livekit.plugins import silero

from agent_worker.providers.compatible import compatible_llm, compatible_stt, compatible_tts
from agent_worker.providers.openai import openai_llm, openai_stt, openai_tts
from agent_worker.settings import WorkerSettings

if TYPE_CHECKING:
    from agent_worker.providers.local import LocalModels

logger = logging.getLogger(__name__)

Stage = Literal["stt", "llm", "tts"]
STAGES: tuple[Stage, ...] = ("stt", "llm", "tts")
FallbackStage = stt.FallbackAdapter | llm.FallbackAdapter | tts.FallbackAdapter


@dataclass(frozen=True)
class ProcessModels:
    """Models loaded once per job process (in prewarm) and shared by its conversations."""

    vad: vad.VAD
    local: LocalModels | None


@dataclass(frozen=True)
class Fallback:
    """A stage whose remote provider has the offline model behind it."""

    adapter: FallbackStage
    remote: Any

    def is_remote(self, instance: object) -> bool:
        """True when ``instance`` (as the adapter reports it) is the remote provider."""
        # the STT adapter wraps a non-streaming provider in a StreamAdapter
        return instance is self.remote or getattr(instance, "wrapped_stt", None) is self.remote


@dataclass(frozen=True)
class Pipeline:
    """The three stages of one conversation and a name for logs (``local``, ``openai``, ...)."""

    stt: stt.STT
    llm: llm.LLM
    tts: tts.TTS
    name: str
    providers: dict[Stage, str] = field(default_factory=dict)
    """Which provider runs each stage (``local``, ``openai``, ``compatible``)."""
    fallbacks: dict[Stage, Fallback] = field(default_factory=dict)


def load_process_models(settings: WorkerSettings) -> ProcessModels:
    """Load Silero VAD and, when some stage may run offline, the offline models (blocking)."""
    local = None
    if settings.needs_local_models:
        from agent_worker.providers.local import LocalModels

        local = LocalModels.load(settings)
    return ProcessModels(vad=silero.VAD.load(), local=local)


def build_pipeline(settings: WorkerSettings, models: ProcessModels) -> Pipeline:
    """The stages for a new conversation, as the settings choose them."""
    remote = settings.remote_stages
    stages: dict[Stage, Any] = {}
    fallbacks: dict[Stage, Fallback] = {}
    for stage in STAGES:
        provider = remote.get(stage)
        if provider is None:
            stages[stage] = _local_stage(stage, models)
            continue
        primary = _REMOTE_BUILDERS[provider][stage](settings)
        if settings.FALLBACK_TO_LOCAL and models.local is not None:
            adapter = _with_local_fallback(stage, primary, _local_stage(stage, models), models)
            stages[stage] = adapter
            fallbacks[stage] = Fallback(adapter=adapter, remote=primary)
        else:
            stages[stage] = primary
    providers = {stage: remote.get(stage, "local") for stage in STAGES}
    if len(set(providers.values())) == 1:
        name = providers["stt"]
    else:
        name = " ".join(f"{stage}={provider}" for stage, provider in providers.items())
    return Pipeline(
        stt=stages["stt"],
        llm=stages["llm"],
        tts=stages["tts"],
        name=name,
        providers=providers,
        fallbacks=fallbacks,
    )


def _local_stage(stage: Stage, models: ProcessModels) -> Any:
    from agent_worker.providers.local import LocalLLM, LocalSTT, LocalTTS

    if models.local is None:
        raise RuntimeError("the offline models were not loaded in this process")
    return {"stt": LocalSTT, "llm": LocalLLM, "tts": LocalTTS}[stage](models.local)


def _with_local_fallback(stage: Stage, primary: Any, local: Any, models: ProcessModels) -> FallbackStage:
    if stage == "stt":
        return stt.FallbackAdapter([primary, local], vad=models.vad)
    if stage == "llm":
        # the offline model may need a few seconds for its first token on a busy CPU
        return llm.FallbackAdapter([primary, local], attempt_timeout=15.0)
    return tts.FallbackAdapter([primary, local])


_REMOTE_BUILDERS: dict[str, dict[Stage, Callable[[WorkerSettings], Any]]] = {
    "openai": {"stt": openai_stt, "llm": openai_llm, "tts": openai_tts},
    "compatible": {"stt": compatible_stt, "llm": compatible_llm, "tts": compatible_tts},
}
