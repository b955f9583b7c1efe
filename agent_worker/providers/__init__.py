"""Which models answer a conversation: speech-to-text, LLM and text-to-speech, chosen by settings.

Per stage: its OpenAI-compatible server when ``<STAGE>_BASE_URL`` is set, else OpenAI when
``OPENAI_API_KEY`` is set, else the local inference service (always with ``PIPELINE=local``).
All three speak the OpenAI API through ``livekit-plugins-openai``. A remote stage is wrapped in
livekit-agents' ``FallbackAdapter`` with the local service behind it when ``FALLBACK_TO_LOCAL``
is on, so a provider that fails mid-conversation is replaced instead of ending the session.

Every stage is made to start early: a whole-utterance STT gets interim passes
(:mod:`.live_transcription`), a whole-text TTS speaks from the first clause (:mod:`.spoken_chunks`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from livekit.agents import inference, llm, stt, tts, vad

from agent_worker.providers.api_clients import ApiClients
from agent_worker.providers.compatible import (
    compatible_llm,
    compatible_stt,
    compatible_tts,
    local_llm,
    local_stt,
    local_tts,
)
from agent_worker.providers.live_transcription import UTTERANCE_SILENCE_SECONDS, LiveTranscriptionSTT
from agent_worker.providers.openai import openai_llm, openai_stt, openai_tts
from agent_worker.providers.spoken_chunks import SpokenChunkTokenizer
from agent_worker.providers.voice_activity import load_vad
from agent_worker.settings import RemoteProvider, Stage, WorkerSettings

STAGES: tuple[Stage, ...] = ("stt", "llm", "tts")
Provider = Literal["local"] | RemoteProvider
FallbackStage = stt.FallbackAdapter | llm.FallbackAdapter | tts.FallbackAdapter

VAD_MIN_SILENCE_SECONDS = 0.25
"""The VAD's end of speech; the turn detector and the endpointing delay decide the turn after it."""
TURN_DETECTOR_VERSION = "v1-mini"
"""LiveKit's local audio end-of-turn model. Pinned: unpinned, ``dev`` mode tries the cloud one first."""


@dataclass(frozen=True)
class ProcessModels:
    """What each job process loads once (in prewarm): the VAD and the end-of-turn detector."""

    vad: vad.VAD
    utterance_vad: vad.VAD
    """The same detector with a longer silence, cutting the speech-to-text's utterances."""
    turn_detector: inference.TurnDetector | None = None
    """LiveKit's end-of-turn model when ``TURN_DETECTION=livekit``; None: silence decides."""
    api_clients: ApiClients = field(default_factory=ApiClients)
    """The HTTP clients of the model servers (see :mod:`.api_clients`)."""


@dataclass(frozen=True)
class Fallback:
    """A stage whose remote provider has the local service behind it."""

    adapter: FallbackStage
    remote: object
    """The remote provider's model (only compared by identity)."""

    def is_remote(self, instance: object) -> bool:
        """True when ``instance`` (as the adapter reports it) is the remote provider."""
        return instance is self.remote or getattr(instance, "wrapped_stt", None) is self.remote


@dataclass(frozen=True)
class Pipeline:
    """The three stages of one conversation and a name for logs (``local``, ``openai``, ...).

    livekit-agents' models are generic in the names of the events they add to ``metrics_collected``
    and ``error`` (a fallback adapter's ``*_availability_changed``): any will do here, hence ``[Any]``.
    """

    stt: stt.STT[Any]
    llm: llm.LLM[Any]
    tts: tts.TTS[Any]
    name: str
    providers: dict[Stage, Provider] = field(default_factory=dict[Stage, Provider])
    """Which provider runs each stage."""
    fallbacks: dict[Stage, Fallback] = field(default_factory=dict[Stage, Fallback])


def load_process_models(settings: WorkerSettings) -> ProcessModels:
    """Load the VAD and the end-of-turn detector (blocking; the native models load once per process)."""
    detector = None
    if settings.TURN_DETECTION == "livekit":
        detector = inference.TurnDetector(version=TURN_DETECTOR_VERSION)
    return ProcessModels(
        vad=load_vad(settings, VAD_MIN_SILENCE_SECONDS),
        utterance_vad=load_vad(settings, UTTERANCE_SILENCE_SECONDS),
        turn_detector=detector,
    )


def build_pipeline(settings: WorkerSettings, models: ProcessModels, *, conversation: str = "") -> Pipeline:
    """The stages for a new conversation, as the settings choose them.

    ``conversation`` (the room's name) lets an LLM server keep this conversation's prompt cached.
    """
    remote = settings.remote_stages
    providers: dict[Stage, Provider] = {stage: remote.get(stage, "local") for stage in STAGES}
    stages: dict[Stage, Any] = {}
    fallbacks: dict[Stage, Fallback] = {}
    for stage in STAGES:
        primary = _streaming(
            stage, _build(providers[stage], stage, settings, models, conversation), settings, models
        )
        if providers[stage] == "local" or not settings.FALLBACK_TO_LOCAL:
            stages[stage] = primary
            continue
        local = _streaming(stage, _build("local", stage, settings, models, conversation), settings, models)
        adapter = _with_local_fallback(stage, primary, local, models)
        stages[stage] = adapter
        fallbacks[stage] = Fallback(adapter=adapter, remote=primary)
    kinds = set(providers.values())
    name = providers["stt"] if len(kinds) == 1 else " ".join(f"{s}={p}" for s, p in providers.items())
    return Pipeline(
        stt=stages["stt"],
        llm=stages["llm"],
        tts=stages["tts"],
        name=name,
        providers=providers,
        fallbacks=fallbacks,
    )


def _build(
    provider: Provider, stage: Stage, settings: WorkerSettings, models: ProcessModels, conversation: str
) -> Any:
    build = _BUILDERS[provider][stage]
    clients = models.api_clients
    return build(settings, clients, conversation=conversation) if stage == "llm" else build(settings, clients)


def _streaming(stage: Stage, model: Any, settings: WorkerSettings, models: ProcessModels) -> Any:
    """The stage in a form that starts early: interim transcripts, speech from the first clause."""
    if stage == "stt" and not model.capabilities.streaming:
        return LiveTranscriptionSTT(
            recognizer=model,
            voice_activity=models.utterance_vad,
            interval=settings.STT_INTERIM_INTERVAL_SECONDS,
        )
    if stage == "tts" and not model.capabilities.streaming:
        return tts.StreamAdapter(tts=model, sentence_tokenizer=SpokenChunkTokenizer())
    return model


def _with_local_fallback(stage: Stage, primary: Any, local: Any, models: ProcessModels) -> FallbackStage:
    if stage == "stt":
        return stt.FallbackAdapter([primary, local], vad=models.vad)
    if stage == "llm":
        # the local model may need a few seconds for its first token on a busy CPU
        return llm.FallbackAdapter([primary, local], attempt_timeout=15.0)
    return tts.FallbackAdapter([primary, local])


_BUILDERS: dict[Provider, dict[Stage, Callable[..., Any]]] = {
    "local": {"stt": local_stt, "llm": local_llm, "tts": local_tts},
    "openai": {"stt": openai_stt, "llm": openai_llm, "tts": openai_tts},
    "compatible": {"stt": compatible_stt, "llm": compatible_llm, "tts": compatible_tts},
}
