"""How many rooms and tokens one user may ask for, and how many conversations they may hold open.

Rates are counted with the `limits` library's moving window, per user id: in this process's
memory, or in Redis when ``REDIS_URL`` is set, since the production backend then runs several
worker processes and a user's requests land on any of them (the login throttle does the same).

Open conversations are counted on LiveKit itself (see `voice_app.rooms.service`), which knows
which rooms are still open. Counting and creating must not interleave, or a burst of requests
would all see "none open" and all create a room; so a user's room creations run one at a time
under :meth:`UserLimits.room_creation_turn`: an asyncio lock per user, or a Redis lock shared by
every worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import weakref
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from functools import lru_cache

import redis.asyncio
import redis.exceptions
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from voice_app.settings import Settings, get_settings

CONVERSATION_RETRY_AFTER_SECONDS = 30
"""What a user over the conversation limit is told to wait: LiveKit closes a room about 20 s
after its last participant left, so a conversation ended a moment ago frees its place by then."""

LOCK_TIMEOUT_SECONDS = 15
"""A Redis lock left by a worker that died is released after this (longer than a LiveKit call)."""

REDIS_KEY_PREFIX = "voice_app:limits"


class LimitExceeded(Exception):
    """A user asked for more than a limit allows. ``str()`` is the sentence the user reads."""

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after_seconds = retry_after_seconds


class UserLimits:
    """The per-user limits of one backend process (the API and the talk page share them)."""

    def __init__(self, settings: Settings) -> None:
        self._conversations = settings.CONVERSATIONS_PER_USER
        self._room_creations = RateLimitItemPerMinute(settings.ROOM_CREATIONS_PER_MINUTE)
        self._token_requests = RateLimitItemPerMinute(settings.TOKEN_REQUESTS_PER_MINUTE)
        storage: Storage
        if settings.REDIS_URL:
            storage = RedisStorage(
                "async+" + settings.REDIS_URL, implementation="redispy", key_prefix=REDIS_KEY_PREFIX
            )
            self._redis: redis.asyncio.Redis | None = redis.asyncio.Redis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
        else:
            storage = MemoryStorage()
            self._redis = None
        self._limiter = MovingWindowRateLimiter(storage)
        self._local_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def _refusal(self, item: RateLimitItem, reset_time: float, what: str) -> LimitExceeded:
        wait = max(1, math.ceil(reset_time - time.time()))
        return LimitExceeded(
            f"You asked for {what} too often: at most {item.amount} a minute. Try again in {wait} seconds.",
            retry_after_seconds=wait,
        )

    async def count_token_request(self, user_id: int) -> None:
        """Count one token request; `LimitExceeded` when the user is over TOKEN_REQUESTS_PER_MINUTE."""
        item = self._token_requests
        if not await self._limiter.hit(item, "tokens", str(user_id)):
            stats = await self._limiter.get_window_stats(item, "tokens", str(user_id))
            raise self._refusal(item, stats.reset_time, "conversation passes")

    async def check_room_creation_rate(self, user_id: int) -> None:
        """`LimitExceeded` when the user created ROOM_CREATIONS_PER_MINUTE rooms in the last minute.

        Call it inside :meth:`room_creation_turn`, and :meth:`count_room_creation` once the room
        exists: only rooms really created count, and the turn keeps check and count together.
        """
        item = self._room_creations
        stats = await self._limiter.get_window_stats(item, "rooms", str(user_id))
        if stats.remaining <= 0:
            raise self._refusal(item, stats.reset_time, "new conversations")

    async def count_room_creation(self, user_id: int) -> None:
        """Count a room the user has just created (see :meth:`check_room_creation_rate`)."""
        await self._limiter.hit(self._room_creations, "rooms", str(user_id))

    def check_open_conversations(self, open_conversations: int) -> None:
        """`LimitExceeded` when a user with ``open_conversations`` may not open another one."""
        if open_conversations >= self._conversations:
            raise LimitExceeded(
                f"You already have {open_conversations} conversations open, the most one account "
                f"may have at once. End one (a closed tab's conversation ends by itself within "
                f"a minute), then try again.",
                retry_after_seconds=CONVERSATION_RETRY_AFTER_SECONDS,
            )

    @asynccontextmanager
    async def room_creation_turn(self, user_id: int) -> AsyncGenerator[None, None]:
        """Hold the user's turn to count their open rooms and create one, across every worker."""
        if self._redis is not None:
            lock = self._redis.lock(
                f"{REDIS_KEY_PREFIX}:room_creation:{user_id}",
                timeout=LOCK_TIMEOUT_SECONDS,
                blocking_timeout=LOCK_TIMEOUT_SECONDS,
            )
            if not await lock.acquire():
                raise LimitExceeded(
                    "Your other requests are still starting conversations. Try again in a few seconds.",
                    retry_after_seconds=5,
                )
            try:
                yield
            finally:
                with contextlib.suppress(redis.exceptions.LockError):
                    await lock.release()  # expired already if a LiveKit call outlasted the timeout
            return
        lock = self._local_locks.get(user_id)
        if lock is None:
            lock = self._local_locks[user_id] = asyncio.Lock()
        async with lock:
            yield


@lru_cache
def get_user_limits() -> UserLimits:
    """The process's limits, built on first use (inside the event loop that serves requests)."""
    return UserLimits(get_settings())
