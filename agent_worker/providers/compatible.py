"""Any OpenAI-compatible server, one per stage, and the project's own local inference service.

Ollama or vLLM for the LLM, a self-hosted speech server (faster-whisper-server,
Kokoro-FastAPI, ...) for speech-to-text and voice. The OpenAI plugin speaks their protocol; only
the base URL, model and key differ. The offline pipeline is one more such server
(``python -m agent_worker.inference``), so it runs through the same code. A server that needs
no key still gets a placeholder, because the OpenAI client refuses to start without one.
"""

from __future__ import annotations

from typing import Any

from livekit.agents import llm, stt, tts
from livekit.agents.types import NOT_GIVEN
from livekit.plugins import openai

from agent_worker.providers.api_clients import ApiClients
from agent_worker.settings import WorkerSettings

NO_KEY = "not-needed"
LOCAL_MODELS = {"stt": "whisper", "llm": "local-llm", "tts": "espeak-ng"}
"""Model names sent to the local inference service (it serves one model per stage)."""


def compatible_stt(settings: WorkerSettings, clients: ApiClients) -> stt.STT[Any]:
    """Transcription from ``STT_BASE_URL`` with ``STT_MODEL``."""
    return _stt(
        clients,
        _required(settings.STT_BASE_URL, "STT_BASE_URL"),
        _required(settings.STT_MODEL, "STT_MODEL"),
        settings.STT_API_KEY,
    )


def compatible_llm(settings: WorkerSettings, clients: ApiClients, *, conversation: str = "") -> llm.LLM[Any]:
    """Chat completions from ``LLM_BASE_URL`` with ``LLM_MODEL``.

    ``conversation`` is not sent: not every compatible server accepts OpenAI's ``prompt_cache_key``.
    """
    return _llm(
        clients,
        _required(settings.LLM_BASE_URL, "LLM_BASE_URL"),
        _required(settings.LLM_MODEL, "LLM_MODEL"),
        settings.LLM_API_KEY,
    )


def compatible_tts(settings: WorkerSettings, clients: ApiClients) -> tts.TTS[Any]:
    """Speech from ``TTS_BASE_URL`` with ``TTS_MODEL`` and ``TTS_VOICE``."""
    return _tts(
        clients,
        _required(settings.TTS_BASE_URL, "TTS_BASE_URL"),
        _required(settings.TTS_MODEL, "TTS_MODEL"),
        settings.TTS_API_KEY,
        voice=settings.TTS_VOICE or settings.OPENAI_TTS_VOICE,
    )


def local_stt(settings: WorkerSettings, clients: ApiClients) -> stt.STT[Any]:
    """Whisper on the local inference service."""
    return _stt(clients, settings.LOCAL_INFERENCE_URL, LOCAL_MODELS["stt"], None)


def local_llm(settings: WorkerSettings, clients: ApiClients, *, conversation: str = "") -> llm.LLM[Any]:
    """The offline LLM (llama-server) behind the local inference service.

    ``conversation`` keeps each conversation on its own llama-server slot, which holds its prompt.
    """
    return _llm(clients, settings.LOCAL_INFERENCE_URL, LOCAL_MODELS["llm"], None, cache_key=conversation)


def local_tts(settings: WorkerSettings, clients: ApiClients) -> tts.TTS[Any]:
    """espeak-ng on the local inference service (its voice is the service's setting)."""
    return _tts(clients, settings.LOCAL_INFERENCE_URL, LOCAL_MODELS["tts"], None, voice="default")


def _stt(clients: ApiClients, base_url: str, model: str, api_key: str | None) -> stt.STT[Any]:
    return openai.STT(model=model, client=clients.get(base_url, api_key or NO_KEY), use_realtime=False)


def _llm(
    clients: ApiClients, base_url: str, model: str, api_key: str | None, *, cache_key: str = ""
) -> llm.LLM[Any]:
    return openai.LLM(
        model=model, client=clients.get(base_url, api_key or NO_KEY), prompt_cache_key=cache_key or NOT_GIVEN
    )


def _tts(clients: ApiClients, base_url: str, model: str, api_key: str | None, *, voice: str) -> tts.TTS[Any]:
    # raw PCM: nothing to decode, and the first bytes are playable at once
    return openai.TTS(
        model=model, voice=voice, client=clients.get(base_url, api_key or NO_KEY), response_format="pcm"
    )


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(f"{name} is not set")
    return value
