"""The real backend (Reflex in backend-only mode, our FastAPI routes inside) on a free port,
with its own migrated SQLite database and pointed at a test livekit-server."""

from __future__ import annotations

import atexit
import functools
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.support.livekit import LiveKitServer
from tests.support.processes import REPO_ROOT, ManagedProcess, free_port, tool_env, wait_until


def migrate_database(database_url: str) -> None:
    """Apply the committed migrations to ``database_url``, as `make setup` does."""
    result = subprocess.run(
        ["reflex", "db", "migrate"],
        cwd=REPO_ROOT,
        env=tool_env({"DATABASE_URL": database_url}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrations failed:\n{result.stdout}\n{result.stderr}")


def empty_dir(path: Path) -> Path:
    """Create ``path`` if needed and return it (a folder Reflex may watch without reloading)."""
    path.mkdir(parents=True, exist_ok=True)
    return path


@functools.cache
def migrated_template() -> Path:
    """An empty SQLite database with every migration applied, made once per pytest process.

    `reflex db migrate` costs ~4 s of CPU; the suite needs a fresh database some 25 times.
    """
    folder = Path(tempfile.mkdtemp(prefix="voice-app-migrated-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    migrate_database(f"sqlite:///{folder / 'template.db'}")
    return folder / "template.db"


def new_database(workdir: Path) -> str:
    """A fresh SQLite database in ``workdir`` with every migration applied; returns its URL."""
    path = workdir / "app.db"
    with closing(sqlite3.connect(migrated_template())) as template, closing(sqlite3.connect(path)) as copy:
        template.backup(copy)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's database, shared by the backend, the full app and the agent worker."""
    return new_database(tmp_path_factory.mktemp("database"))


UNSERVED_AGENT_NAME = "agent-that-no-worker-serves"
"""For backends of tests that make many rooms but need no agent: the session's worker would
otherwise start a job process, offline models and all, for every one of them."""


class Backend:
    """One backend process. ``env`` holds the settings it was started with."""

    def __init__(
        self,
        workdir: Path,
        livekit: LiveKitServer,
        extra_env: dict[str, str] | None = None,
        *,
        database_url: str | None = None,
        loglevel: str = "info",
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.database_url = database_url or new_database(workdir)
        self.env = {
            **livekit.env(),
            "DATABASE_URL": self.database_url,
            "BACKEND_PORT": str(self.port),
            "API_URL": f"http://127.0.0.1:{self.port}",
            # Dev mode reloads on any file change in the tree, which would wipe in-memory state
            # (throttle counters, sessions) mid-test while the code is being edited.
            "REFLEX_HOT_RELOAD_OVERRIDE_PATHS": str(empty_dir(workdir / "no-hot-reload")),
            **(extra_env or {}),
        }
        self._process = ManagedProcess(
            f"backend-{self.port}",
            [
                "reflex",
                "run",
                "--env",
                "dev",
                "--backend-only",
                "--backend-port",
                str(self.port),
                "--loglevel",
                loglevel,
            ],
            log_dir=workdir,
            env=tool_env(self.env),
        )

    def log(self) -> str:
        """Everything the backend logged so far."""
        path = self._process.log_path
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def base_url(self) -> str:
        """Where tests send API requests."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Backend:
        """Start the backend and wait until `/ping` answers."""
        self._process.start()
        try:
            wait_until(
                lambda: httpx.get(f"{self.base_url}/ping", timeout=2).status_code == 200,
                timeout=90,
                what="backend answering /ping",
            )
        except TimeoutError as error:
            raise RuntimeError(f"backend did not start:\n{self._process.log_tail()}") from error
        return self

    def stop(self) -> None:
        """Stop the backend and everything it started."""
        self._process.stop()


@pytest.fixture(scope="session")
def backend(
    tmp_path_factory: pytest.TempPathFactory, livekit_server: LiveKitServer, database_url: str
) -> Iterator[Backend]:
    """The backend shared by the session, on the shared livekit-server and database.

    Its token rate is raised: the burst test (`test_api_under_load`) sends 128 token requests for
    one user in seconds. The limits are tested at their defaults on backends of their own.
    """
    server = Backend(
        tmp_path_factory.mktemp("backend"),
        livekit_server,
        {"TOKEN_REQUESTS_PER_MINUTE": "100000"},
        database_url=database_url,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def api(backend: Backend) -> Iterator[httpx.Client]:
    """An HTTP client for the shared backend's API (no credentials)."""
    with httpx.Client(base_url=backend.base_url, timeout=30) as client:
        yield client
