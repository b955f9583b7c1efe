"""The backend's one connection to the LiveKit server's API, and what "unreachable" means.

`LiveKitAPI` owns an aiohttp session, which must be created inside the running event loop,
so the client is built on first use and closed by the app's lifespan task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

import aiohttp
from livekit import api

from voice_app.settings import Settings, get_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

_client: api.LiveKitAPI | None = None


class LiveKitUnavailable(Exception):
    """The LiveKit server did not answer in time or refused the connection (API maps it to 503)."""


def get_livekit_api(settings: Settings | None = None) -> api.LiveKitAPI:
    """The process-wide LiveKit API client (created lazily inside the event loop)."""
    global _client
    if _client is None:
        settings = settings or get_settings()
        _client = api.LiveKitAPI(
            url=settings.LIVEKIT_URL,
            api_key=settings.LIVEKIT_API_KEY,
            api_secret=settings.LIVEKIT_API_SECRET,
            timeout=aiohttp.ClientTimeout(total=settings.LIVEKIT_TIMEOUT_SECONDS),
            failover=False,
        )
    return _client


async def call_livekit(operation: Awaitable[T], *, settings: Settings | None = None) -> T:
    """Await one LiveKit API call, turning timeouts and connection errors into `LiveKitUnavailable`."""
    timeout = (settings or get_settings()).LIVEKIT_TIMEOUT_SECONDS
    try:
        return await asyncio.wait_for(operation, timeout=timeout)
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        logger.warning("LiveKit server unreachable", extra={"error_type": type(error).__name__})
        raise LiveKitUnavailable("The LiveKit server is unreachable.") from error
    except api.TwirpError as error:
        if error.status >= 500:
            raise LiveKitUnavailable("The LiveKit server failed to answer.") from error
        raise


@asynccontextmanager
async def livekit_client_lifespan() -> AsyncGenerator[None, None]:
    """Close the shared client's HTTP session when the backend stops."""
    global _client
    try:
        yield
    finally:
        if _client is not None:
            await _client.aclose()
            _client = None
