"""The worker's health endpoint says "ready" only when LiveKit can send it conversations.

livekit-agents answers ``GET /`` on ``WORKER_HTTP_PORT`` with 200 as soon as the process is up,
before the worker has registered with LiveKit and while it drains after SIGTERM. An orchestrator
that trusts that answer sends rooms to a worker that cannot take them (a room created in the gap
gets no agent) and keeps a draining one in rotation. ``ReadyAgentServer`` puts a check in front of
that route: 503 until registered, 503 while (re)connecting, 503 while draining.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from livekit.agents.utils import http_server

from agent_worker.load import ConversationServer

HEALTH_PATH = "/"
NOT_REGISTERED = "not registered with LiveKit yet"
RECONNECTING = "reconnecting to LiveKit"
DRAINING = "draining: finishing its conversations, taking no new ones"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ReadyAgentServer(ConversationServer):
    """An ``AgentServer`` whose health endpoint answers 200 only while it can take jobs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._registered = False
        super().__init__(*args, **kwargs)
        self.on("worker_registered", self._on_registered)

    def _on_registered(self, *_: object) -> None:
        self._registered = True

    def not_ready_reason(self) -> str | None:
        """Why LiveKit cannot send this worker a conversation now, or None when it can."""
        if self.draining:
            return DRAINING
        if not self._registered:
            return NOT_REGISTERED
        # livekit-agents' own flag (1.8.9): set while its connection task dials and registers again
        if getattr(self, "_connecting", False):
            return RECONNECTING
        return None

    # livekit-agents builds its HTTP server inside ``run()`` and starts it a few lines later; this
    # attribute hook is the one moment its aiohttp app still accepts a middleware.
    @property
    def _http_server(self) -> http_server.HttpServer | None:
        return self.__dict__.get("_ready_http_server")

    @_http_server.setter
    def _http_server(self, server: http_server.HttpServer | None) -> None:  # pyright: ignore[reportIncompatibleVariableOverride]
        if server is not None:
            server.app.middlewares.append(self._readiness_middleware)
        self.__dict__["_ready_http_server"] = server

    @web.middleware
    async def _readiness_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == HEALTH_PATH:
            reason = self.not_ready_reason()
            if reason is not None:
                return web.Response(status=503, text=reason)
        return await handler(request)
