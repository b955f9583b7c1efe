"""`GET /api/health` tells an operator whether the database and LiveKit answer."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.backend import Backend
from tests.support.livekit import LiveKitServer
from tests.support.processes import wait_until


def test_health_reports_every_part_ok(api: httpx.Client) -> None:
    response = api.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "livekit": "ok"}


def test_health_names_livekit_while_it_is_down_and_recovers_without_a_restart(
    tmp_path: Path, own_livekit_server: LiveKitServer
) -> None:
    backend = Backend(tmp_path, own_livekit_server).start()
    try:
        with httpx.Client(base_url=backend.base_url, timeout=10) as client:
            assert client.get("/api/health").status_code == 200

            own_livekit_server.stop()
            down = client.get("/api/health")
            assert down.status_code == 503
            assert down.json() == {"status": "degraded", "database": "ok", "livekit": "unreachable"}

            own_livekit_server.start()
            wait_until(
                lambda: client.get("/api/health").status_code == 200,
                timeout=15,
                what="health recovering after livekit-server restarted",
            )
            assert client.get("/api/health").json()["livekit"] == "ok"
    finally:
        backend.stop()


def test_health_names_the_database_when_it_cannot_be_opened(
    tmp_path: Path, livekit_server: LiveKitServer
) -> None:
    backend = Backend(tmp_path, livekit_server).start()
    try:
        Path(backend.database_url.removeprefix("sqlite:///")).unlink()
        (tmp_path / "app.db").mkdir()  # a directory where the file was: SQLite cannot open it
        response = httpx.get(f"{backend.base_url}/api/health", timeout=10)
        assert response.status_code == 503
        assert response.json()["database"] == "unreachable"
    finally:
        backend.stop()
