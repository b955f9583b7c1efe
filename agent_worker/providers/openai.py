"""OpenAI speech-to-text, LLM and text-to-speech (``livekit-plugins-openai``), models from settings."""

from __future__ import annotations

from typing import Any

import openai as openai_sdk
from livekit.agents import llm, stt, tts
from livekit.agents.types import NOT_GIVEN
from livekit.plugins import openai

from agent_worker.providers.api_clients import ApiClients
from agent_worker.settings import WorkerSettings


def openai_stt(settings: WorkerSettings, clients: ApiClients) -> stt.STT[Any]:
    """OpenAI transcription with ``OPENAI_STT_MODEL``, streamed over the realtime API by default."""
    return openai.STT(
        model=settings.OPENAI_STT_MODEL,
        client=_client(settings, clients),
        use_realtime=settings.OPENAI_STT_REALTIME,
    )


def openai_llm(settings: WorkerSettings, clients: ApiClients, *, conversation: str = "") -> llm.LLM[Any]:
    """OpenAI chat completions with ``OPENAI_LLM_MODEL``.

    ``conversation`` is sent as ``prompt_cache_key``: OpenAI then routes the conversation's
    requests to the same prompt cache (and so does the local inference service).
    """
    return openai.LLM(
        model=settings.OPENAI_LLM_MODEL,
        client=_client(settings, clients),
        prompt_cache_key=conversation or NOT_GIVEN,
    )


def openai_tts(settings: WorkerSettings, clients: ApiClients) -> tts.TTS[Any]:
    """OpenAI speech with ``OPENAI_TTS_MODEL`` and ``OPENAI_TTS_VOICE``, as raw PCM (no decoding)."""
    return openai.TTS(
        model=settings.OPENAI_TTS_MODEL,
        voice=settings.OPENAI_TTS_VOICE,
        client=_client(settings, clients),
        response_format="pcm",
    )


def _client(settings: WorkerSettings, clients: ApiClients) -> openai_sdk.AsyncClient:
    """OpenAI's API (or ``OPENAI_BASE_URL``) with the key; the plugin then uses only this client."""
    return clients.get(settings.OPENAI_BASE_URL or None, _key(settings))


def _key(settings: WorkerSettings) -> str:
    if not settings.OPENAI_API_KEY:
        raise ValueError("OPENAI_API_KEY is not set")
    return settings.OPENAI_API_KEY
