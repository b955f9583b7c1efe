"""Typed settings of the local inference service, read once from the environment.

The service is its own process (and may be its own container), so it has its own settings
object. The ``LOCAL_*`` names are the ones the worker used when it loaded the models itself.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InferenceSettings(BaseSettings):
    """Settings of ``python -m agent_worker.inference``. Read through :func:`get_inference_settings`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True)

    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """The service's log lines from this level; ``DEBUG`` also shows the libraries' (faster-whisper's)."""
    INFERENCE_HOST: str = "127.0.0.1"
    """Address the service listens on; loopback unless workers in other containers call it."""
    INFERENCE_PORT: int = Field(default=8090, ge=0, le=65535)
    """Port of the OpenAI-compatible API (``http://HOST:PORT/v1``) and of ``GET /health``."""

    LOCAL_STT_MODEL_DIR: Path | None = None
    """A faster-whisper model folder; unset uses the verified Whisper tiny.en."""
    LOCAL_STT_THREADS: int = Field(default=1, ge=1)
    """CPU threads one transcription uses."""
    LOCAL_STT_CONCURRENCY: int = Field(default=2, ge=1)
    """Transcriptions run at once (faster-whisper ``num_workers``); more requests wait their turn."""

    LOCAL_LLM_MODEL_PATH: Path | None = None
    """A chat GGUF file; unset uses the verified SmolLM2-135M-Instruct."""
    LOCAL_LLM_THREADS: int = Field(default=2, ge=1)
    """CPU threads llama-server computes with (for prompts and for generation). Its threads wait
    passively, so Whisper and the conversations still get the cores between its batches; on
    2 cores, 2 threads answered faster than 1 (first token 0.15 against 0.25 s)."""
    LOCAL_LLM_SLOTS: int = Field(default=8, ge=1)
    """Replies llama-server generates at once (``--parallel``), batched together."""
    LOCAL_LLM_CONTEXT_PER_SLOT: int = Field(default=1024, ge=256)
    """Prompt plus reply of one conversation, in tokens; llama-server gets SLOTS x this."""
    LOCAL_LLM_MAX_TOKENS: int = Field(default=96, ge=8, le=512)
    """Upper bound on the length of one reply, in tokens (replies are spoken)."""

    LOCAL_TTS_VOICE: str = "en-us"
    """The espeak-ng voice (`espeak-ng --voices` lists them); OpenAI voice names are ignored."""
    LOCAL_TTS_RATE: int = Field(default=175, ge=80, le=450)
    """Speaking rate in words per minute at ``speed`` 1.0."""

    LLAMA_SERVER_BIN: str = "llama-server"
    """The llama-server program: a path, or a name looked up on PATH, then in ``.tools/bin``."""


@lru_cache
def get_inference_settings() -> InferenceSettings:
    """The service's settings, read from the environment (and `.env`) on first use."""
    return InferenceSettings()
