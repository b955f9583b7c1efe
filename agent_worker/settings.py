"""Typed settings for the agent worker process, read once from the environment.

The worker is its own process (and container), so it has its own settings object; the
names it shares with the web app (LIVEKIT_*, AGENT_NAME, DATABASE_URL) mean the same thing.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voice_app.settings import DEV_LIVEKIT_API_KEY, DEV_LIVEKIT_API_SECRET, livekit_key_problems


class WorkerSettings(BaseSettings):
    """Settings of the agent worker. Read through :func:`get_worker_settings`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    ENVIRONMENT: Literal["development", "production"] = "development"
    LIVEKIT_URL: str = "http://127.0.0.1:7880"
    LIVEKIT_API_KEY: str = DEV_LIVEKIT_API_KEY
    LIVEKIT_API_SECRET: str = DEV_LIVEKIT_API_SECRET
    AGENT_NAME: str = "voice-agent"
    DATABASE_URL: str = "sqlite:///voice_app.db"

    OPENAI_API_KEY: str | None = Field(default=None, repr=False)

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
