"""Typed settings for the web app (frontend + backend), read once from the environment.

Every field is documented in the README's configuration table and in `.env.example`.
Development defaults exist only so that `make dev` works on a fresh machine; in
production (``ENVIRONMENT=production``) the validator refuses to start with them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voice_app.logs import LogLevel

DEV_LIVEKIT_API_KEY = "devkey"
DEV_LIVEKIT_API_SECRET = "secret"  # noqa: S105 - the public key pair of `livekit-server --dev`
DEV_DATABASE_URL = "sqlite:///.data/voice_app.db"


def livekit_key_problems(api_key: str, api_secret: str) -> list[str]:
    """Why these LiveKit credentials must not be used in production (empty when they may)."""
    problems: list[str] = []
    if api_key in ("", DEV_LIVEKIT_API_KEY):
        problems.append("LIVEKIT_API_KEY is the development key 'devkey' or empty")
    if api_secret in ("", DEV_LIVEKIT_API_SECRET) or len(api_secret) < 32:
        problems.append("LIVEKIT_API_SECRET is the development secret, empty, or shorter than 32 characters")
    return problems


def origin_of(url: str) -> str:
    """The origin (scheme://host[:port]) of ``url``, as browsers send it in an Origin header."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Settings(BaseSettings):
    """Settings of the Reflex app process. Read through :func:`get_settings`."""

    # env_ignore_empty: docker-compose.yml passes every setting as `${NAME:-}`, so an unset one
    # arrives as "" and must mean "use the default", as in the worker's settings.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True)

    ENVIRONMENT: Literal["development", "production"] = "development"
    LOG_LEVEL: LogLevel = "INFO"
    """Log lines from this level on stderr, secrets masked; ``DEBUG`` also the libraries' debug output."""

    DATABASE_URL: str = DEV_DATABASE_URL
    """SQLAlchemy URL. The default keeps SQLite and its ``-wal``/``-shm`` files in the hidden
    ``.data/`` folder, which Reflex's dev reloader does not watch: in the repository root every
    stored message restarted the backend."""
    DB_POOL_SIZE: int = Field(default=10, ge=1)
    """Database connections one backend worker process may hold; as many queries run at once.
    PostgreSQL's ``max_connections`` must cover this times the backend workers, plus the agents'."""
    DB_WAIT_SECONDS: float = Field(default=10.0, gt=0)
    """How long a request waits for a free connection before it is answered 503."""

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

    TOKEN_TTL_SECONDS: int = Field(default=900, ge=60, le=86_400)
    """How long a participant token can be used to join its room (LiveKit refreshes it after joining)."""
    ROOM_EMPTY_TIMEOUT_SECONDS: int = Field(default=300, ge=1)
    """How long LiveKit keeps a created room open while nobody has joined it."""
    ROOM_MAX_PARTICIPANTS: int = Field(default=4, ge=2)
    """Participants a room admits: the user and the agent, plus room for a second tab or a reconnect."""

    SESSION_IDLE_MINUTES: float = Field(default=30, gt=0)
    """A login session ends after this long without a request."""
    SESSION_ABSOLUTE_HOURS: float = Field(default=12, gt=0)
    """A login session ends this long after sign-in, however active it is."""
    ARGON2_MEMORY_KIB: int = Field(default=19_456, ge=19_456)
    """Argon2id memory cost in KiB (OWASP minimum 19 MiB). Changing it re-hashes on next login."""
    ARGON2_TIME_COST: int = Field(default=2, ge=2)
    """Argon2id passes over memory (OWASP minimum 2). Changing it re-hashes on next login."""
    ARGON2_PARALLELISM: int = Field(default=1, ge=1)
    """Argon2id lanes (OWASP: 1). Changing it re-hashes on next login."""
    LOGIN_THROTTLE_ACCOUNT_FREE_FAILURES: int = Field(default=5, ge=1)
    """Failed logins for one email before each further attempt must wait."""
    LOGIN_THROTTLE_ADDRESS_FREE_FAILURES: int = Field(default=20, ge=1)
    """Failed logins from one client address (any email) before each further attempt must wait."""
    LOGIN_THROTTLE_BASE_SECONDS: float = Field(default=1.0, gt=0)
    """The first wait; it doubles with every further failure."""
    LOGIN_THROTTLE_ACCOUNT_MAX_SECONDS: float = Field(default=60.0, gt=0)
    """Longest wait for one email, so an attacker cannot lock a real user out for long."""
    LOGIN_THROTTLE_ADDRESS_MAX_SECONDS: float = Field(default=900.0, gt=0)
    """Longest wait for one client address."""
    LOGIN_THROTTLE_FORGET_MINUTES: float = Field(default=15.0, gt=0)
    """Failures older than this (with none since) are forgotten."""
    TRUSTED_PROXY_HOPS: int = Field(default=0, ge=0)
    """Reverse proxies in front of the backend; the client address is read from X-Forwarded-For
    only when this is above 0 (the same rule as Reflex's `trusted_proxy_hops`)."""

    FRONTEND_PORT: int = 3000
    BACKEND_PORT: int = 8080
    API_URL: str = "http://localhost:8080"
    """Where the browser reaches this backend (Reflex's `api_url`)."""
    DEPLOY_URL: str = "http://localhost:3000"
    CORS_ALLOWED_ORIGINS: str = ""
    """Comma-separated origins (besides the app's own, DEPLOY_URL) whose pages may call the backend
    with credentials. Empty: the app's own origin only (plus localhost in development)."""
    REDIS_URL: str | None = None
    """When set, Reflex keeps UI state in Redis so several backend workers can share it."""
    REDIS_MAX_CONNECTIONS: int = Field(default=16, ge=1)
    """Connections to Redis the login throttle may open per backend worker (its calls run on as
    many threads, off the event loop)."""

    CONVERSATIONS_PER_USER: int = Field(default=2, ge=1)
    """Rooms one user may have open on LiveKit at once (each holds an agent job process)."""
    ROOM_CREATIONS_PER_MINUTE: int = Field(default=5, ge=1)
    """Rooms one user may create (or re-open) per minute, however many are open."""
    TOKEN_REQUESTS_PER_MINUTE: int = Field(default=30, ge=1)
    """LiveKit tokens one user may request per minute."""
    MAX_REQUEST_BODY_BYTES: int = Field(default=65_536, ge=1024)
    """Request bodies above this are refused with 413 before anything reads them."""
    CSP_EXTRA_CONNECT_SRC: str = ""
    """Space-separated extra `connect-src` sources for the pages' Content-Security-Policy."""

    @property
    def is_production(self) -> bool:
        """True when running with `ENVIRONMENT=production`."""
        return self.ENVIRONMENT == "production"

    @property
    def app_origins(self) -> tuple[str, ...]:
        """The origins (``scheme://host[:port]``) of the app's own pages and backend.

        Browsers on these origins may use the session cookie besides same-origin requests;
        in development the pages (`DEPLOY_URL`) and the backend (`API_URL`) are on two ports.
        """
        origins: list[str] = []
        for url in (self.DEPLOY_URL, self.API_URL):
            parts = urlsplit(url)
            origins.append(f"{parts.scheme}://{parts.netloc}".lower())
        return tuple(dict.fromkeys(origins))

    @property
    def cors_origins(self) -> list[str]:
        """Origins whose pages may call the backend with credentials (Reflex's `cors_allowed_origins`).

        The app's own origin and the configured ones; in development also the frontend on
        localhost and 127.0.0.1, so `make dev` works whichever name the browser uses.
        """
        origins = [origin_of(self.DEPLOY_URL)]
        origins += [
            origin.strip().rstrip("/") for origin in self.CORS_ALLOWED_ORIGINS.split(",") if origin.strip()
        ]
        if not self.is_production:
            origins += [f"http://{host}:{self.FRONTEND_PORT}" for host in ("localhost", "127.0.0.1")]
        return list(dict.fromkeys(origins))

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if not self.is_production:
            return self
        problems = livekit_key_problems(self.LIVEKIT_API_KEY, self.LIVEKIT_API_SECRET)
        if self.DATABASE_URL.startswith("sqlite"):
            problems.append("DATABASE_URL points at SQLite; production needs PostgreSQL")
        if "*" in self.CORS_ALLOWED_ORIGINS:
            problems.append("CORS_ALLOWED_ORIGINS contains '*'; list the origins that may call the backend")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment (and `.env`) on first use."""
    return Settings()
