"""Failed-login throttling per account (email) and per client address, with growing waits.

Each key may fail a few times freely; after that every further attempt must wait
``base * 2 ** (failures - free)`` seconds after the last failure, up to a cap. The account cap
is short (a minute by default) so an attacker guessing a real user's password can only make
them wait briefly; the address cap is longer because it punishes the guesser, not the user.
Failures are forgotten after a quiet period.

Attempts are counted as failures *before* the password is checked and un-counted on success,
so a burst of concurrent guesses cannot slip past the limit while the hashes are running.

The counts live in a :class:`FailureStore`. :class:`InMemoryFailureStore` serves one backend
process. With ``REDIS_URL`` set, Reflex's production backend runs several worker processes, so
the counts move to :class:`RedisFailureStore`, which every worker shares.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, TypeVar, cast

import anyio
import redis

from voice_app.settings import Settings, get_settings

T = TypeVar("T")
REDIS_TIMEOUT_SECONDS = 2
"""Connecting, answering, and waiting for a free pooled connection: a login never hangs on Redis."""


@dataclass(frozen=True)
class FailureRecord:
    """Consecutive failures of one key and when the last one happened (epoch seconds)."""

    failures: int
    last_failure_at: float


class FailureStore(Protocol):
    """Where failure counts live. Records not touched for the store's forget period vanish."""

    def get(self, key: str, now: float) -> FailureRecord | None:
        """The key's record, or None when it has none or it was forgotten."""
        ...

    def add_failure(self, key: str, now: float) -> FailureRecord:
        """Count one more failure at ``now``."""
        ...

    def remove_failure(self, key: str) -> None:
        """Take back one failure (an attempt counted in advance that succeeded)."""
        ...

    def clear(self, key: str) -> None:
        """Forget the key."""
        ...


class InMemoryFailureStore:
    """A :class:`FailureStore` in this process's memory; forgotten records are pruned as it grows."""

    PRUNE_ABOVE = 10_000

    def __init__(self, forget_after_seconds: float) -> None:
        self._forget_after = forget_after_seconds
        self._records: dict[str, FailureRecord] = {}
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> FailureRecord | None:
        record = self._records.get(key)
        if record is not None and now - record.last_failure_at > self._forget_after:
            del self._records[key]
            return None
        return record

    def get(self, key: str, now: float) -> FailureRecord | None:
        """See :meth:`FailureStore.get`."""
        with self._lock:
            return self._live(key, now)

    def add_failure(self, key: str, now: float) -> FailureRecord:
        """See :meth:`FailureStore.add_failure`."""
        with self._lock:
            record = self._live(key, now)
            record = FailureRecord(failures=(record.failures if record else 0) + 1, last_failure_at=now)
            self._records[key] = record
            if len(self._records) > self.PRUNE_ABOVE:
                self._prune(now)
            return record

    def remove_failure(self, key: str) -> None:
        """See :meth:`FailureStore.remove_failure`."""
        with self._lock:
            record = self._records.get(key)
            if record is None:
                return
            if record.failures <= 1:
                del self._records[key]
            else:
                self._records[key] = FailureRecord(record.failures - 1, record.last_failure_at)

    def clear(self, key: str) -> None:
        """See :meth:`FailureStore.clear`."""
        with self._lock:
            self._records.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, r in self._records.items() if now - r.last_failure_at > self._forget_after]:
            del self._records[key]


class RedisFailureStore:
    """A :class:`FailureStore` in Redis, shared by every backend worker; Redis expires old keys.

    A check and the count that follows it are two round trips, so workers racing on one key
    may let a few more concurrent attempts through than one process would; later attempts
    still wait.
    """

    PREFIX = "voice_app:login_failures:"

    def __init__(self, client: redis.Redis, forget_after_seconds: float) -> None:
        self._redis = client
        self._ttl = max(1, math.ceil(forget_after_seconds))

    def get(self, key: str, now: float) -> FailureRecord | None:
        """See :meth:`FailureStore.get`."""
        # redis-py types its sync client's answers as possibly awaitable; this client is sync
        failures, last = cast(
            "list[bytes | None]", self._redis.hmget(self.PREFIX + key, ["failures", "last"])
        )
        if failures is None or last is None or int(failures) <= 0:
            return None
        return FailureRecord(failures=int(failures), last_failure_at=float(last))

    def add_failure(self, key: str, now: float) -> FailureRecord:
        """See :meth:`FailureStore.add_failure`."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.hincrby(self.PREFIX + key, "failures", 1)
        pipe.hset(self.PREFIX + key, "last", repr(now))
        pipe.expire(self.PREFIX + key, self._ttl)
        failures, _, _ = pipe.execute()
        return FailureRecord(failures=int(failures), last_failure_at=now)

    def remove_failure(self, key: str) -> None:
        """See :meth:`FailureStore.remove_failure`."""
        if cast("int", self._redis.hincrby(self.PREFIX + key, "failures", -1)) <= 0:
            self._redis.delete(self.PREFIX + key)

    def clear(self, key: str) -> None:
        """See :meth:`FailureStore.clear`."""
        self._redis.delete(self.PREFIX + key)


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free and how the wait grows after them."""

    free_failures: int
    base_seconds: float
    max_seconds: float

    def wait_after(self, failures: int) -> float:
        """Seconds to wait after the last of ``failures`` consecutive failures."""
        if failures < self.free_failures:
            return 0.0
        return min(self.max_seconds, self.base_seconds * 2 ** (failures - self.free_failures))


class LoginThrottle:
    """Decides whether a login attempt may go ahead, per account and per client address."""

    def __init__(
        self,
        store: FailureStore,
        *,
        account_policy: ThrottlePolicy,
        address_policy: ThrottlePolicy,
        clock: Callable[[], float] = time.time,
        io_limiter: anyio.CapacityLimiter | None = None,
    ) -> None:
        self._store = store
        self._io_limiter = io_limiter
        """Set when the store does network I/O (Redis): its calls then run on worker threads."""
        self._policies = {"account": account_policy, "address": address_policy}
        self._clock = clock

    def start_attempt(self, *, account: str, address: str) -> float:
        """Return 0 and count the attempt as a failure, or the seconds to wait (nothing counted)."""
        now = self._clock()
        keys = {"account": f"account:{account}", "address": f"address:{address}"}
        wait = 0.0
        for kind, key in keys.items():
            record = self._store.get(key, now)
            if record is not None:
                unlock_at = record.last_failure_at + self._policies[kind].wait_after(record.failures)
                wait = max(wait, unlock_at - now)
        if wait > 0:
            return wait
        for key in keys.values():
            self._store.add_failure(key, now)
        return 0.0

    def attempt_succeeded(self, *, account: str, address: str) -> None:
        """The password was right: the account starts afresh, the address gets its attempt back."""
        self._store.clear(f"account:{account}")
        self._store.remove_failure(f"address:{address}")

    async def start_attempt_off_loop(self, *, account: str, address: str) -> float:
        """:meth:`start_attempt` from async code: on a worker thread when the store does I/O."""
        return await self._off_loop(functools.partial(self.start_attempt, account=account, address=address))

    async def attempt_succeeded_off_loop(self, *, account: str, address: str) -> None:
        """:meth:`attempt_succeeded` from async code: on a worker thread when the store does I/O."""
        await self._off_loop(functools.partial(self.attempt_succeeded, account=account, address=address))

    async def _off_loop(self, call: Callable[[], T]) -> T:
        # Redis answers in well under a millisecond, until it is slow or unreachable: then a call
        # on the event loop would stall every request of this backend worker. At most as many
        # threads as the Redis pool has connections, so none of them waits for a connection.
        if self._io_limiter is None:
            return call()
        return await anyio.to_thread.run_sync(call, limiter=self._io_limiter)


def make_login_throttle(settings: Settings) -> LoginThrottle:
    """A throttle configured by the LOGIN_THROTTLE_* settings; in Redis when ``REDIS_URL`` is set."""
    forget_after = settings.LOGIN_THROTTLE_FORGET_MINUTES * 60
    store: FailureStore
    io_limiter = None
    if settings.REDIS_URL:
        pool = redis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        store = RedisFailureStore(redis.Redis(connection_pool=pool), forget_after_seconds=forget_after)
        io_limiter = anyio.CapacityLimiter(settings.REDIS_MAX_CONNECTIONS)
    else:
        store = InMemoryFailureStore(forget_after_seconds=forget_after)
    return LoginThrottle(
        store,
        io_limiter=io_limiter,
        account_policy=ThrottlePolicy(
            free_failures=settings.LOGIN_THROTTLE_ACCOUNT_FREE_FAILURES,
            base_seconds=settings.LOGIN_THROTTLE_BASE_SECONDS,
            max_seconds=settings.LOGIN_THROTTLE_ACCOUNT_MAX_SECONDS,
        ),
        address_policy=ThrottlePolicy(
            free_failures=settings.LOGIN_THROTTLE_ADDRESS_FREE_FAILURES,
            base_seconds=settings.LOGIN_THROTTLE_BASE_SECONDS,
            max_seconds=settings.LOGIN_THROTTLE_ADDRESS_MAX_SECONDS,
        ),
    )


@lru_cache
def get_login_throttle() -> LoginThrottle:
    """The process's throttle (the API and the Reflex pages share it)."""
    return make_login_throttle(get_settings())
