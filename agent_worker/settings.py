"""Typed settings for the agent worker process, read once from the environment.

The worker is its own process (and container), so it has its own settings object; the
names it shares with the web app (LIVEKIT_*, AGENT_NAME, DATABASE_URL) mean the same thing.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voice_app.logs import LogLevel
from voice_app.settings import (
    DEV_DATABASE_URL,
    DEV_LIVEKIT_API_KEY,
    DEV_LIVEKIT_API_SECRET,
    livekit_key_problems,
)

Stage = Literal["stt", "llm", "tts"]
"""A model of the pipeline: speech-to-text, LLM, text-to-speech."""
RemoteProvider = Literal["openai", "compatible"]
"""Where a stage runs when not on the local inference service."""


class WorkerSettings(BaseSettings):
    """Settings of the agent worker. Read through :func:`get_worker_settings`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True)

    ENVIRONMENT: Literal["development", "production"] = "development"
    LOG_LEVEL: LogLevel = "INFO"
    """The worker's log lines from this level; ``DEBUG`` also shows livekit-agents' and the libraries'."""
    LIVEKIT_URL: str = "http://127.0.0.1:7880"
    LIVEKIT_API_KEY: str = DEV_LIVEKIT_API_KEY
    LIVEKIT_API_SECRET: str = DEV_LIVEKIT_API_SECRET
    AGENT_NAME: str = "voice-agent"
    DATABASE_URL: str = DEV_DATABASE_URL

    OPENAI_API_KEY: str | None = Field(default=None, repr=False)
    """When set (and PIPELINE is auto or openai), STT, LLM and TTS run on OpenAI."""
    OPENAI_STT_MODEL: str = "gpt-4o-mini-transcribe"
    OPENAI_LLM_MODEL: str = "gpt-4.1-mini"
    OPENAI_TTS_MODEL: str = "gpt-4o-mini-tts"
    OPENAI_TTS_VOICE: str = "ash"
    OPENAI_BASE_URL: str | None = None
    """Another endpoint for the OpenAI stages (a gateway or proxy); unset: OpenAI's own API."""
    OPENAI_STT_REALTIME: bool = True
    """Stream the microphone to OpenAI's realtime transcription (interim results, billed once);
    off: whole utterances over ``/audio/transcriptions`` with interim passes in between."""

    PIPELINE: Literal["auto", "openai", "local"] = "auto"
    """Which models answer. ``auto``: per stage, its ``*_BASE_URL`` server if set, else OpenAI
    when ``OPENAI_API_KEY`` is set, else the offline pipeline. ``openai``: like auto, but refuse to
    start without a key or base URLs. ``local``: always the offline pipeline."""

    STT_BASE_URL: str | None = None
    """An OpenAI-compatible speech-to-text server (e.g. a self-hosted faster-whisper server)."""
    STT_MODEL: str | None = None
    """Model name on ``STT_BASE_URL``; required when it is set."""
    STT_API_KEY: str | None = Field(default=None, repr=False)
    """Key for ``STT_BASE_URL`` if it wants one (never falls back to ``OPENAI_API_KEY``)."""
    LLM_BASE_URL: str | None = None
    """An OpenAI-compatible chat server, e.g. Ollama ``http://localhost:11434/v1`` or vLLM."""
    LLM_MODEL: str | None = None
    """Model name on ``LLM_BASE_URL``; required when it is set."""
    LLM_API_KEY: str | None = Field(default=None, repr=False)
    TTS_BASE_URL: str | None = None
    """An OpenAI-compatible text-to-speech server (``/audio/speech``)."""
    TTS_MODEL: str | None = None
    """Model name on ``TTS_BASE_URL``; required when it is set."""
    TTS_VOICE: str | None = None
    """Voice on ``TTS_BASE_URL``; defaults to ``OPENAI_TTS_VOICE``."""
    TTS_API_KEY: str | None = Field(default=None, repr=False)

    LOCAL_INFERENCE_URL: str = "http://127.0.0.1:8090/v1"
    """The shared local inference service (``python -m agent_worker.inference``): Whisper, the
    offline LLM (llama-server) and espeak-ng behind one OpenAI-compatible API. Every stage that
    runs offline, and every fallback, goes there, so conversations hold no model weights."""

    LOCAL_LLM_TOOLS: bool = False
    """Give the agent's tools (date and time, recall of past conversations) to the offline LLM too.
    Off by default: the tiny offline model rarely calls them right, and their descriptions take a
    good part of its context. Remote LLMs always get them."""

    FALLBACK_TO_LOCAL: bool = True
    """When a remote stage fails mid-conversation, switch that stage to the local inference service."""

    TURN_DETECTION: Literal["vad", "livekit"] = "vad"
    """How the end of the user's turn is decided. ``vad``: ``ENDPOINTING_MIN_DELAY`` of silence.
    ``livekit``: LiveKit's audio end-of-turn model (``turn-detector-v1-mini``, runs locally, LiveKit
    Model License) also listens to how the sentence ends and waits up to ``ENDPOINTING_MAX_DELAY``
    when it sounds unfinished. Not the default: on the synthetic speech we can measure with, it
    judged most finished questions unfinished (see the README's benchmarks)."""
    VAD_MODEL: Literal["livekit", "silero"] = "livekit"
    """Voice activity detection: ``livekit`` (livekit-local-inference's native streaming VAD) or
    ``silero`` (livekit-plugins-silero's ONNX model)."""
    ENDPOINTING_MIN_DELAY: float = Field(default=0.5, ge=0, le=5)
    """Seconds of silence after which a turn is committed, once its final transcript exists. The
    final transcript needs 0.5 s of silence itself (a shorter pause does not split a sentence),
    and the reply is prepared meanwhile (preemptive generation)."""
    ENDPOINTING_MAX_DELAY: float = Field(default=2.5, ge=0.5, le=10)
    """Seconds of silence after which a turn is committed even when it sounds unfinished."""
    PREEMPTIVE_GENERATION: bool = True
    """Start the LLM and the voice on the transcript before the turn is committed; the reply is
    dropped if the user goes on speaking."""
    STT_INTERIM_INTERVAL_SECONDS: float = Field(default=0.6, ge=0.2, le=5)
    """While the user speaks, the utterance is transcribed again at most this often (live captions
    and a final transcript that is ready when the silence ends), one pass at a time."""

    MAX_CONVERSATIONS: int = Field(default=20, ge=1)
    """Hard limit of concurrent conversations per worker: at the limit the worker reports itself
    full and LiveKit sends new rooms to another worker."""
    DRAIN_TIMEOUT_SECONDS: int = Field(default=300, gt=0)
    """On SIGTERM (``start`` mode) running conversations may go on this long before the worker
    exits; the orchestrator's grace period (compose ``stop_grace_period``) must be longer."""
    USER_JOIN_TIMEOUT_SECONDS: float = Field(default=60, gt=0)
    """A dispatched agent waits this long for its user to join the room. If nobody comes (a room
    made through the API and never used), it deletes the empty room and ends the job, freeing its
    process; the user's next join re-creates the room and brings a fresh agent."""
    WORKER_IDLE_PROCESSES: int = Field(default_factory=lambda: min(os.cpu_count() or 1, 4), ge=0)
    """Job processes kept warm for the next conversations: one per core, at most 4. They hold no
    model weights (those live in the inference service), so each costs ~30 MB and ~2 % of a core."""
    WARM_UP_DELAY_SECONDS: float = Field(default=3.0, ge=0)
    """A conversation that takes a warm job process has it replaced this much later, so that
    starting the replacement (~1.2 s of CPU) does not slow that conversation's start; 0 replaces
    at once. Not held when the last warm process was taken (see ``agent_worker/warm_up.py``)."""
    WORKER_LOAD_THRESHOLD: float = Field(default=0.7, gt=0)
    """In ``start`` mode the worker takes no new conversations while its load (0-1, see
    ``agent_worker/load.py``: the worker's and the inference service's CPU, conversations against
    ``MAX_CONVERSATIONS``, memory) is at or above this. ``dev`` counts conversations only."""
    WORKER_HTTP_PORT: int | None = None
    """Port of the worker's health endpoint (``GET /``); unset: 8081 in ``start``, random in
    ``dev``."""

    @property
    def remote_stages(self) -> dict[Stage, RemoteProvider]:
        """Stage name -> provider (``openai`` or ``compatible``) for stages that run remotely."""
        stages: dict[Stage, RemoteProvider] = {}
        if self.PIPELINE == "local":
            return stages
        base_urls: tuple[tuple[Stage, str | None], ...] = (
            ("stt", self.STT_BASE_URL),
            ("llm", self.LLM_BASE_URL),
            ("tts", self.TTS_BASE_URL),
        )
        for stage, base_url in base_urls:
            if base_url:
                stages[stage] = "compatible"
            elif self.OPENAI_API_KEY:
                stages[stage] = "openai"
        return stages

    @property
    def runs_locally(self) -> bool:
        """True when some stage runs on the local inference service (not only as a fallback)."""
        return len(self.remote_stages) < 3

    @property
    def uses_local_inference(self) -> bool:
        """True when some stage runs on the local inference service, or may fall back to it."""
        return len(self.remote_stages) < 3 or self.FALLBACK_TO_LOCAL

    @model_validator(mode="after")
    def _check_pipeline(self) -> WorkerSettings:
        for stage in ("STT", "LLM", "TTS"):
            if getattr(self, f"{stage}_BASE_URL") and not getattr(self, f"{stage}_MODEL"):
                raise ValueError(f"{stage}_BASE_URL is set but {stage}_MODEL is not: name the model to use")
        if self.PIPELINE == "openai" and len(self.remote_stages) < 3:
            raise ValueError(
                "PIPELINE=openai needs OPENAI_API_KEY (or STT/LLM/TTS_BASE_URL for every stage); "
                "use PIPELINE=auto to run the missing stages offline"
            )
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> WorkerSettings:
        if self.ENVIRONMENT != "production":
            return self
        problems = livekit_key_problems(self.LIVEKIT_API_KEY, self.LIVEKIT_API_SECRET)
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


@lru_cache
def get_worker_settings() -> WorkerSettings:
    """The worker's settings, read from the environment (and `.env`) on first use."""
    return WorkerSettings()
