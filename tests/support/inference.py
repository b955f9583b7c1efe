"""The real local inference service (`python -m agent_worker.inference`) on a free loopback port."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ManagedProcess, free_port, tool_env, wait_until

START_TIMEOUT_SECONDS = 120


class InferenceService:
    """One service process with its llama-server child; ``extra_env`` overrides its settings."""

    def __init__(self, workdir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.env = {"INFERENCE_HOST": "127.0.0.1", "INFERENCE_PORT": str(self.port), **(extra_env or {})}
        self._process = ManagedProcess(
            f"inference-{self.port}",
            [sys.executable, "-m", "agent_worker.inference"],
            log_dir=workdir,
            env=tool_env(self.env),
        )

    @property
    def url(self) -> str:
        """The root, where ``/health`` answers."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible API, as clients' ``base_url``."""
        return f"{self.url}/v1"

    @property
    def pid(self) -> int:
        """The service's own process (llama-server is its child)."""
        assert self._process.process is not None
        return self._process.process.pid

    @property
    def running(self) -> bool:
        """True while the service process has not exited."""
        return self._process.running

    def health(self) -> httpx.Response:
        """``GET /health`` now."""
        return httpx.get(f"{self.url}/health", timeout=5)

    def log(self) -> str:
        """Everything the service logged so far."""
        path = self._process.log_path
        return path.read_text(errors="replace") if path.exists() else ""

    def spawn(self) -> InferenceService:
        """Start the service without waiting for it."""
        self._process.start()
        return self

    def start(self) -> InferenceService:
        """Start the service and wait until ``/health`` says every model answers."""
        self.spawn()
        try:
            wait_until(
                lambda: self.running and self.health().status_code == 200,
                timeout=START_TIMEOUT_SECONDS,
                what="the inference service becoming healthy",
            )
        except TimeoutError as error:
            self.stop()
            raise RuntimeError(
                f"the inference service did not start:\n{self._process.log_tail(40)}"
            ) from error
        return self

    def stop(self) -> int | None:
        """SIGTERM the service (it stops llama-server), SIGKILL whatever is left; the exit status."""
        return self._process.stop()

    def terminate(self) -> None:
        """SIGTERM the service process only, as a container runtime does."""
        self._process.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]

    def kill(self) -> None:
        """SIGKILL the service process only (not its group), as the OOM killer would."""
        self._process.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]

    def wait(self, timeout: float) -> int:
        """Wait for the service process to exit; its exit status."""
        assert self._process.process is not None
        return self._process.process.wait(timeout=timeout)


@pytest.fixture(scope="session")
def inference_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceService]:
    """The service shared by the session, with the verified models and default settings."""
    service = InferenceService(tmp_path_factory.mktemp("inference")).start()
    yield service
    service.stop()
