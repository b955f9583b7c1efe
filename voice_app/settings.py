"""Typed settings for the web app (frontend + backend), read once from the environment.

Every field is documented in the README's configuration table and in `.env.example`.
Development defaults exist only so that `make dev` works on a fresh machine; in
production (``ENVIRONMENT=production``) the validator refuses to start with them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_LIVEKIT_API_KEY = "devkey"
DEV_LIVEKIT_API_SECRET = "secret"  # noqa: S105 - the public key pair of `livekit-server --dev`


def livekit_key_problems(api_key: str, api_secret: str) -> list[str]:
    """Why these LiveKit credentials must not be used in production (empty when they may)."""
    problems = []
    if api_key in ("", DEV_LIVEKIT_API_KEY):
        problems.append("LIVEKIT_API_KEY is the development key 'devkey' or empty")
    if api_secret in ("", DEV_LIVEKIT_API_SECRET) or len(api_secret) < 32:
        problems.append("LIVEKIT_API_SECRET is the development secret, empty, or shorter than 32 characters")
    return problems


class Settings(BaseSettings):
    """Settings of the Reflex app process. Read through :func:`get_settings`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    ENVIRONMENT: Literal["development", "production"] = "development"

    DATABASE_URL: str = "sqlite:///voice_app.db"

    LIVEKIT_URL: str = "http://127.0.0.1:7880"
    """How the backend reaches the LiveKit server (RoomService calls)."""
    LIVEKIT_PUBLIC_URL: str = "ws://localhost:7880"
    """How the browser reaches the LiveKit server; returned in every token response."""
    LIVEKIT_API_KEY: str = DEV_LIVEKIT_API_KEY
    LIVEKIT_API_SECRET: str = DEV_LIVEKIT_API_SECRET
    LIVEKIT_TIMEOUT_SECONDS: float = Field(default=2.0, gt=0)
    """Upper bound for one call to the LiveKit server before the API answers 503."""

    AGENT_NAME: str = "voice-agent"
    """The agent the token's room configuration dispatches (the worker registers this name)."""

    FRONTEND_PORT: int = 3000
    BACKEND_PORT: int = 8080
    API_URL: str = "http://localhost:8080"
    """Where the browser reaches this backend (Reflex's `api_url`)."""
    DEPLOY_URL: str = "http://localhost:3000"
    CORS_ALLOWED_ORIGINS: str = "*"
    REDIS_URL: str | None = None
    """When set, Reflex keeps UI state in Redis so several backend workers can share it."""

    @property
    def is_production(self) -> bool:
        """True when running with `ENVIRONMENT=production`."""
        return self.ENVIRONMENT == "production"

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if not self.is_production:
            return self
        problems = livekit_key_problems(self.LIVEKIT_API_KEY, self.LIVEKIT_API_SECRET)
        if self.DATABASE_URL.startswith("sqlite"):
            problems.append("DATABASE_URL points at SQLite; production needs PostgreSQL")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment (and `.env`) on first use."""
    return Settings()
