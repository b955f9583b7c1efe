"""The backend serves a burst of concurrent requests instead of stalling on its own limits.

A burst wider than FastAPI's worker threads (40) and the database pool once deadlocked: threads
waited for pooled connections that could only come back through a thread, until the pool's 30 s
timeout turned every waiting request into a 500. Requests here are bounded by a timeout well
under that stall, so a regression shows as failed requests, not as a slow test.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.factories import sign_in
from tests.support.backend import Backend

CONCURRENCY = 64
ROUNDS = 4
REQUEST_TIMEOUT_SECONDS = 20


async def _burst(base_url: str, requests: list[tuple[str, str, dict | None]], headers: dict) -> Counter:
    """Send every request at once (one connection each) and count the answers by status."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:

        async def send(method: str, path: str, body: dict | None) -> int | str:
            try:
                response = await client.request(method, path, json=body)
            except httpx.HTTPError as error:
                return type(error).__name__
            return response.status_code

        results = await asyncio.gather(*(send(method, path, body) for method, path, body in requests))
    return Counter(results)


def test_64_concurrent_requests_from_a_signed_in_user_all_succeed(
    backend: Backend, api: httpx.Client
) -> None:
    user = sign_in(api, display_name="Burst")
    room = api.post("/api/generate-token", json={}, headers=user.headers).json()["room"]
    # Half on the plain session lookup (a sync route, run on a worker thread), half on the
    # token route (async, with its own database reads).
    requests = [("GET", "/api/me", None), ("POST", "/api/generate-token", {"room": room})] * (
        CONCURRENCY // 2
    )

    for _ in range(ROUNDS):
        answers = asyncio.run(_burst(backend.base_url, requests, user.headers))

        assert answers == Counter({200: CONCURRENCY}), f"answers by status: {dict(answers)}"
