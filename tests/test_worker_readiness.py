"""An orchestrator asks the worker's health endpoint whether LiveKit can send it conversations."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.processes import wait_until
from tests.support.worker import REGISTERED_LOG_LINE, AgentWorker

pytestmark = pytest.mark.slow


def health(worker: AgentWorker) -> httpx.Response | None:
    """The health endpoint's answer, or None while nothing listens yet."""
    try:
        return httpx.get(worker.health_url, timeout=5)
    except httpx.TransportError:
        return None


def test_the_worker_says_ready_only_after_it_registered_with_livekit(
    own_livekit_server: LiveKitServer, inference_service: InferenceService, tmp_path: Path
) -> None:
    own_livekit_server.stop()  # LiveKit is not there yet, as when both start at once
    database = SimpleNamespace(database_url=f"sqlite:///{tmp_path / 'app.db'}")
    worker = AgentWorker(tmp_path, own_livekit_server, database, inference_service).launch()
    try:
        wait_until(lambda: health(worker) is not None, timeout=90, what="the health endpoint answering")
        early = health(worker)
        assert early is not None
        assert early.status_code == 503, "the worker said it was ready before LiveKit knew it"
        assert "not registered" in early.text

        own_livekit_server.start()
        wait_until(lambda: REGISTERED_LOG_LINE in worker.log(), timeout=60, what="the worker registering")
        wait_until(
            lambda: (answer := health(worker)) is not None and answer.status_code == 200,
            timeout=10,
            what="the health endpoint answering 200 once registered",
        )
    finally:
        worker.stop()
