"""A real `livekit-server` on free loopback ports, with a generated config file."""

from __future__ import annotations

import secrets
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import TOOLS_BIN, ManagedProcess, free_port, free_udp_port, wait_until

INSTALL_HINT = (
    "livekit-server v1.13.5 was not found on PATH or in .tools/bin. "
    "Run `make setup` (it builds it from its Go module) or install it from https://docs.livekit.io/home/self-hosting/local/."
)


def find_livekit_server() -> str:
    """Path of the livekit-server binary, or a failing test that says how to get it."""
    local = TOOLS_BIN / "livekit-server"
    if local.exists():
        return str(local)
    found = shutil.which("livekit-server")
    if found:
        return found
    pytest.fail(INSTALL_HINT)


class LiveKitServer:
    """One livekit-server process; can be stopped and started again on the same ports."""

    def __init__(
        self,
        workdir: Path,
        *,
        redis_address: str | None = None,
        webhook_url: str | None = None,
        api_secret: str | None = None,
    ) -> None:
        """``redis_address`` makes it a node of LiveKit's distributed mode; every node of one
        deployment shares the Redis and the API key (pass the first node's ``api_secret``)."""
        self.api_key = "test-key"
        self.api_secret = api_secret or secrets.token_urlsafe(32)
        self.port = free_port()
        self.tcp_port = free_port()
        self.udp_port = free_udp_port()
        self.config_path = workdir / f"livekit-{self.port}.yaml"
        redis_block = f"redis:\n  address: {redis_address}\n" if redis_address else ""
        webhook_block = (
            f'webhook:\n  api_key: {self.api_key}\n  urls: ["{webhook_url}"]\n' if webhook_url else ""
        )
        self.config_path.write_text(
            f"port: {self.port}\n"
            "bind_addresses: [127.0.0.1]\n"
            "rtc:\n"
            f"  tcp_port: {self.tcp_port}\n"
            f"  udp_port: {self.udp_port}\n"
            "  node_ip: 127.0.0.1\n"
            "  use_external_ip: false\n"
            f"keys:\n  {self.api_key}: {self.api_secret}\n"
            "logging:\n  level: info\n"
            f"{redis_block}"
            f"{webhook_block}"
        )
        self._process = ManagedProcess(
            f"livekit-server-{self.port}",
            [find_livekit_server(), "--config", str(self.config_path)],
            log_dir=workdir,
        )

    @property
    def url(self) -> str:
        """WebSocket URL clients connect to."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        """HTTP URL for the server API (RoomService)."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The settings the backend and the worker need to reach this server."""
        return {
            "LIVEKIT_URL": self.http_url,
            "LIVEKIT_PUBLIC_URL": self.url,
            "LIVEKIT_API_KEY": self.api_key,
            "LIVEKIT_API_SECRET": self.api_secret,
        }

    def _accepts(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True

    def start(self) -> LiveKitServer:
        """Start the server and wait until its port accepts connections."""
        self._process.start()
        try:
            wait_until(self._accepts, timeout=20, what="livekit-server accepting connections")
        except TimeoutError as error:
            raise RuntimeError(f"livekit-server did not start:\n{self._process.log_tail()}") from error
        return self

    def stop(self) -> None:
        """Stop the server (its ports are free again afterwards)."""
        self._process.stop()

    def kill(self) -> None:
        """SIGKILL the server: it says goodbye to nobody, as when the network between goes down."""
        self._process.signal(signal.SIGKILL)
        self._process.stop()


@pytest.fixture(scope="session")
def livekit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    """A livekit-server shared by the whole session. Tests must not stop it: use `own_livekit_server`."""
    server = LiveKitServer(tmp_path_factory.mktemp("livekit")).start()
    yield server
    server.stop()


@pytest.fixture
def own_livekit_server(tmp_path: Path) -> Iterator[LiveKitServer]:
    """A livekit-server for one test, which the test may stop and start again."""
    server = LiveKitServer(tmp_path).start()
    yield server
    server.stop()
