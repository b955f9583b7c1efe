"""One OpenAI API client per server for a job process, made while the process warms up.

Left to itself, each stage of ``livekit-plugins-openai`` makes its own HTTP client, and each loads
the CA store: 40 ms apiece on an idle core, 0.3 to 0.5 s for the three stages on a busy 2-core
machine, spent on the conversation's event loop between the job arriving and the agent joining.
Made in ``prewarm`` and shared, they cost nothing then, and stages on one server share connections.
"""

from __future__ import annotations

import httpx2
import openai as openai_sdk


class ApiClients:
    """The clients of one job process, by server and key."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str | None, str], openai_sdk.AsyncClient] = {}

    def get(self, base_url: str | None, api_key: str) -> openai_sdk.AsyncClient:
        """The client for ``base_url`` (None: OpenAI's), made on first use."""
        key = (base_url, api_key)
        if (client := self._clients.get(key)) is None:
            client = self._clients[key] = _new_client(base_url, api_key)
        return client


def _new_client(base_url: str | None, api_key: str) -> openai_sdk.AsyncClient:
    # what livekit-plugins-openai 1.8.9 makes for each of its stages when given no client
    return openai_sdk.AsyncClient(
        api_key=api_key,
        base_url=base_url,
        max_retries=0,
        http_client=httpx2.AsyncClient(
            timeout=httpx2.Timeout(connect=15.0, read=5.0, write=5.0, pool=5.0),
            follow_redirects=True,
            limits=httpx2.Limits(max_connections=50, max_keepalive_connections=50, keepalive_expiry=120),
        ),
    )
