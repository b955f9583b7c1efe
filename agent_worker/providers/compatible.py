"""Any OpenAI-compatible server, one per stage.

Ollama or vLLM for the LLM, a self-hosted speech server (faster-whisper-server,
Kokoro-FastAPI, ...) for speech-to-text and voice. The OpenAI plugin speaks their protocol; only
the base URL, model and key differ. A server that needs no key still gets a placeholder, because
the OpenAI client refuses to start without one.
"""

from __future__ import annotations

from livekit.agents import llm, stt, tts
from livekit.plugins import openai

from agent_worker.settings import WorkerSettings

NO_KEY = "not-needed"


def compatible_stt(settings: WorkerSettings) -> stt.STT:
    """Transcription from ``STT_BASE_URL`` with ``STT_MODEL``."""
    return openai.STT(
        base_url=_required(settings.STT_BASE_URL, "STT_BASE_URL"),
        model=_required(settings.STT_MODEL, "STT_MODEL"),
        api_key=settings.STT_API_KEY or NO_KEY,
    )


def compatible_llm(settings: WorkerSettings) -> llm.LLM:
    """Chat completions from ``LLM_BASE_URL`` with ``LLM_MODEL``."""
    return openai.LLM(
        base_url=_required(settings.LLM_BASE_URL, "LLM_BASE_URL"),
        model=_required(settings.LLM_MODEL, "LLM_MODEL"),
        api_key=settings.LLM_API_KEY or NO_KEY,
    )


def compatible_tts(settings: WorkerSettings) -> tts.TTS:
    """Speech from ``TTS_BASE_URL`` with ``TTS_MODEL`` and ``TTS_VOICE``."""
    return openai.TTS(
        base_url=_required(settings.TTS_BASE_URL, "TTS_BASE_URL"),
        model=_required(settings.TTS_MODEL, "TTS_MODEL"),
        voice=settings.TTS_VOICE or settings.OPENAI_TTS_VOICE,
        api_key=settings.TTS_API_KEY or NO_KEY,
    )


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(f"{name} is not set")
    return value
