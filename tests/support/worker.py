"""The real agent worker (`python -m agent_worker dev|start`) on the test livekit-server and the
backend's database, running the offline pipeline on the shared local inference service (no
OpenAI key in its environment)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol

import psutil
import pytest

from tests.support.backend import Backend
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.processes import ManagedProcess, free_port, tool_env, wait_until

REGISTERED_LOG_LINE = "registered worker"
PORT_TAKEN = "address already in use"


class HasDatabase(Protocol):
    """A backend or a full app: the worker writes conversations into its database."""

    database_url: str


class AgentWorker:
    """One worker process; ``env`` holds the settings it was started with."""

    def __init__(
        self,
        workdir: Path,
        livekit: LiveKitServer,
        backend: HasDatabase,
        inference: InferenceService,
        *,
        mode: str = "dev",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.env = {
            **livekit.env(),
            "DATABASE_URL": backend.database_url,
            "LOCAL_INFERENCE_URL": inference.base_url,
            "PIPELINE": "local",
            "OPENAI_API_KEY": "",
            "WORKER_IDLE_PROCESSES": "1",
            "WORKER_HTTP_PORT": str(free_port()),
            **(extra_env or {}),
        }
        self._process = ManagedProcess(
            f"agent-worker-{mode}-{self.env['WORKER_HTTP_PORT']}",
            [sys.executable, "-m", "agent_worker", mode],
            log_dir=workdir,
            env=tool_env(self.env),
        )

    @property
    def pid(self) -> int:
        """The worker's main process (the one a container runtime signals)."""
        assert self._process.process is not None
        return self._process.process.pid

    @property
    def running(self) -> bool:
        """True while the main process has not exited."""
        return self._process.running

    def log(self) -> str:
        """Everything the worker logged so far."""
        return self._process.log_path.read_text(errors="replace") if self._process.log_path.exists() else ""

    @property
    def health_url(self) -> str:
        """The worker's health endpoint (``WORKER_HTTP_PORT``)."""
        return f"http://127.0.0.1:{self.env['WORKER_HTTP_PORT']}/"

    def launch(self) -> AgentWorker:
        """Start the process without waiting for anything (see :meth:`start`)."""
        self._process.start()
        return self

    def start(self) -> AgentWorker:
        """Start the worker and wait until it registered with livekit-server.

        A port found free can be taken by another process's outgoing connection before the worker
        binds it; then the worker is started once more on another port.
        """
        earlier = self.log()  # a worker started again appends to its log

        def logged(line: str) -> bool:
            return self.log().count(line) > earlier.count(line)

        self._process.start()
        try:
            wait_until(
                lambda: logged(REGISTERED_LOG_LINE) or logged(PORT_TAKEN),
                timeout=90,
                what="agent worker registering",
            )
            if not logged(REGISTERED_LOG_LINE):
                self._process.stop()
                self.env["WORKER_HTTP_PORT"] = str(free_port())
                self._process.env = tool_env(self.env)
                self._process.start()
            wait_until(lambda: logged(REGISTERED_LOG_LINE), timeout=90, what="agent worker registering")
        except TimeoutError as error:
            self.stop()
            raise RuntimeError(f"agent worker did not register:\n{self._process.log_tail(60)}") from error
        return self

    def job_process_in_room(self, livekit_port: int) -> psutil.Process:
        """The child process connected to LiveKit: the one running a conversation.

        Idle job processes wait without a connection; the main process holds its own.
        """
        for child in self.job_processes_in_rooms(livekit_port):
            return child
        raise AssertionError("no job process is connected to LiveKit")

    def job_processes_in_rooms(self, livekit_port: int) -> list[psutil.Process]:
        """Every child process connected to LiveKit: one per running conversation."""
        in_rooms = []
        for child in psutil.Process(self.pid).children(recursive=True):
            try:
                if any(c.raddr and c.raddr.port == livekit_port for c in child.net_connections("tcp")):
                    in_rooms.append(child)
            except psutil.Error:
                continue
        return in_rooms

    def kill_with_its_jobs(self) -> None:
        """SIGKILL the worker and every process it started, as when its machine is lost.

        Job processes live outside the worker's process group (livekit-agents' forkserver), so
        they are found by parentage and killed first; an orphaned job would otherwise go on.
        """
        main = psutil.Process(self.pid)
        for process in [*main.children(recursive=True), main]:
            with contextlib.suppress(psutil.Error):
                process.kill()

    def terminate(self) -> None:
        """SIGTERM the main process only, as `docker stop` or Kubernetes do."""
        os.kill(self.pid, signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        """Wait for the main process to exit; returns its exit code."""
        assert self._process.process is not None
        return self._process.process.wait(timeout=timeout)

    def python_processes(self) -> int:
        """Python processes the worker runs besides itself: its warm pool and one per conversation.

        Other programs are left out: a library looking up a shared object, for one, runs ``ldconfig``
        for a moment, and a busy machine caught several of those in one count.
        """
        count = 0
        for process in psutil.Process(self.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                count += process.name().startswith("python")
        return count

    def log_tail(self, lines: int = 60) -> str:
        """The end of the log, for failure messages."""
        return self._process.log_tail(lines)

    def stop(self) -> None:
        """Stop the worker and its job processes."""
        self._process.stop()


@pytest.fixture(scope="session")
def agent_worker(
    tmp_path_factory: pytest.TempPathFactory,
    livekit_server: LiveKitServer,
    backend: Backend,
    inference_service: InferenceService,
) -> Iterator[AgentWorker]:
    """The worker shared by the session, in `dev` mode, registered on the shared livekit-server."""
    worker = AgentWorker(
        tmp_path_factory.mktemp("agent-worker"), livekit_server, backend, inference_service
    ).start()
    yield worker
    worker.stop()


@dataclass
class Deployment:
    """A livekit-server and a backend of their own, for tests that start and stop workers."""

    workdir: Path
    livekit: LiveKitServer
    backend: Backend
    inference: InferenceService

    def worker(self, name: str, *, mode: str = "dev", extra_env: dict[str, str] | None = None) -> AgentWorker:
        """A worker for this deployment (not started)."""
        return AgentWorker(
            self.workdir / name, self.livekit, self.backend, self.inference, mode=mode, extra_env=extra_env
        )


@pytest.fixture(scope="module")
def isolated_deployment(
    tmp_path_factory: pytest.TempPathFactory, inference_service: InferenceService
) -> Iterator[Deployment]:
    """LiveKit and the backend with no session worker registered, so a test's own worker gets
    every job (two workers under one agent name would share them). The models are the session's."""
    workdir = tmp_path_factory.mktemp("isolated")
    livekit = LiveKitServer(workdir).start()
    try:
        backend = Backend(workdir, livekit).start()
        try:
            yield Deployment(workdir, livekit, backend, inference_service)
        finally:
            backend.stop()
    finally:
        livekit.stop()


class _FailingCompletions(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"error": {"message": "overloaded", "type": "server_error"}}).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_llm_server() -> Iterator[str]:
    """An OpenAI-compatible server that answers every request with 503: the cloud failing.

    Yields its base URL (``http://127.0.0.1:<port>/v1``).
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingCompletions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
