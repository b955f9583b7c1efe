"""OpenAI speech-to-text, LLM and text-to-speech (``livekit-plugins-openai``), models from settings."""

from __future__ import annotations

from livekit.agents import llm, stt, tts
from livekit.plugins import openai

from agent_worker.settings import WorkerSettings


def openai_stt(settings: WorkerSettings) -> stt.STT:
    """OpenAI transcription with ``OPENAI_STT_MODEL``."""
    return openai.STT(model=settings.OPENAI_STT_MODEL, api_key=_key(settings))


def openai_llm(settings: WorkerSettings) -> llm.LLM:
    """OpenAI chat completions with ``OPENAI_LLM_MODEL``."""
    return openai.LLM(model=settings.OPENAI_LLM_MODEL, api_key=_key(settings))


def openai_tts(settings: WorkerSettings) -> tts.TTS:
    """OpenAI speech with ``OPENAI_TTS_MODEL`` and ``OPENAI_TTS_VOICE``."""
    return openai.TTS(
        model=settings.OPENAI_TTS_MODEL, voice=settings.OPENAI_TTS_VOICE, api_key=_key(settings)
    )


def _key(settings: WorkerSettings) -> str:
    if not settings.OPENAI_API_KEY:
        raise ValueError("OPENAI_API_KEY is not set")
    return settings.OPENAI_API_KEY
