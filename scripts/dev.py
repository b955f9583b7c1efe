"""Run the whole app for development: livekit-server, the models, the agent worker and the app.

The programs are `livekit-server --dev`, the local inference service, the agent worker and
`reflex run`.
Started by `make dev` after `scripts/setup.sh`. Each program's output is prefixed with its
name; Ctrl-C (or SIGTERM) stops all of them, process groups included, so nothing is left
behind. If one program exits on its own, the others are stopped too and the exit code says so.

Ports come from the environment (defaults: FRONTEND_PORT=3000, BACKEND_PORT=8080,
LIVEKIT_PORT=7880, which also takes LIVEKIT_PORT+1/tcp and LIVEKIT_PORT+2/udp, INFERENCE_PORT=8090).
The database defaults to ``.data/voice_app.db``: a hidden folder, so Reflex's reloader does not
restart the backend each time the worker stores a message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLORS = {"livekit": "\033[35m", "models": "\033[33m", "agent": "\033[32m", "app": "\033[36m"}
RESET = "\033[0m"
STOP_TIMEOUT_SECONDS = 20

logger = logging.getLogger("dev")


@dataclass
class Program:
    """One supervised program and the thread that copies its output."""

    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start it in its own process group, its output prefixed on ours."""
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv built below
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pump = threading.Thread(target=self._copy_output, daemon=True)
        self.pump.start()

    def _copy_output(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        color = COLORS.get(self.name, "") if sys.stdout.isatty() else ""
        reset = RESET if color else ""
        prefix = f"{color}{self.name:>7} |{reset} "
        for raw in iter(self.process.stdout.readline, b""):
            sys.stdout.write(prefix + raw.decode(errors="replace"))
            sys.stdout.flush()

    def exited(self) -> bool:
        """True once the program has exited."""
        return self.process is not None and self.process.poll() is not None

    def terminate(self) -> None:
        """Ask the whole process group to stop."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def kill(self) -> None:
        """Kill whatever is left of the process group."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def build_programs(env: dict[str, str]) -> list[Program]:
    """The programs with the settings that make them find each other."""
    frontend_port = int(env.get("FRONTEND_PORT", "3000"))
    backend_port = int(env.get("BACKEND_PORT", "8080"))
    livekit_port = int(env.get("LIVEKIT_PORT", "7880"))
    inference_port = int(env.get("INFERENCE_PORT", "8090"))
    ports = (frontend_port, backend_port, livekit_port, livekit_port + 1, inference_port)
    busy = [p for p in ports if not _port_free(p)]
    if busy:
        sys.exit(
            f"dev: port(s) {', '.join(map(str, busy))} already in use. Stop what uses them "
            "(`ss -ltnp` shows it) or pick others: FRONTEND_PORT=3001 BACKEND_PORT=8081 "
            "LIVEKIT_PORT=7890 INFERENCE_PORT=8091 make dev"
        )
    shared = {
        **env,
        "LIVEKIT_URL": f"http://127.0.0.1:{livekit_port}",
        "LIVEKIT_PUBLIC_URL": env.get("LIVEKIT_PUBLIC_URL", f"ws://localhost:{livekit_port}"),
        "LIVEKIT_API_KEY": "devkey",
        "LIVEKIT_API_SECRET": "secret",
        "FRONTEND_PORT": str(frontend_port),
        "BACKEND_PORT": str(backend_port),
        "API_URL": env.get("API_URL", f"http://localhost:{backend_port}"),
        "DEPLOY_URL": env.get("DEPLOY_URL", f"http://localhost:{frontend_port}"),
        "INFERENCE_PORT": str(inference_port),
        "LOCAL_INFERENCE_URL": f"http://127.0.0.1:{inference_port}/v1",
        "PYTHONUNBUFFERED": "1",
    }
    # the webhook tells the backend when an agent leaves a room, so a lost one can be sent again
    livekit_config = (
        f"port: {livekit_port}\nrtc:\n  tcp_port: {livekit_port + 1}\n  udp_port: {livekit_port + 2}\n"
        f'webhook:\n  api_key: devkey\n  urls: ["http://127.0.0.1:{backend_port}/api/livekit/webhook"]\n'
    )
    return [
        Program(
            "livekit",
            [
                "livekit-server",
                "--dev",
                "--bind",
                "127.0.0.1",
                "--node-ip",
                "127.0.0.1",
                "--config-body",
                livekit_config,
            ],
            shared,
        ),
        Program("models", [sys.executable, "-m", "agent_worker.inference"], shared),
        Program("agent", [sys.executable, "-m", "agent_worker", "dev"], shared),
        Program(
            "app",
            [
                "reflex",
                "run",
                "--env",
                "dev",
                "--frontend-port",
                str(frontend_port),
                "--backend-port",
                str(backend_port),
            ],
            shared,
        ),
    ]


def stop_all(programs: list[Program]) -> None:
    """SIGTERM every program, wait for them, then SIGKILL what is left."""
    for program in reversed(programs):
        program.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for program in programs:
        if program.process is None:
            continue
        try:
            program.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("dev: %s did not stop in time; killing it", program.name)
    for program in programs:
        program.kill()


def main() -> int:
    """Start everything, then wait for Ctrl-C or for one program to exit."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    programs = build_programs(dict(os.environ))
    stopping = threading.Event()

    def _request_stop(_signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)

    livekit, *rest = programs
    livekit.start()
    livekit_port = int(programs[0].env["LIVEKIT_URL"].rsplit(":", 1)[1])
    if not _wait_for_port(livekit_port, timeout=20):
        logger.error("dev: livekit-server did not start listening on port %s", livekit_port)
        stop_all(programs)
        return 1
    for program in rest:
        program.start()
    logger.info(
        "dev: starting; the app will be at %s (Ctrl-C stops everything)", programs[0].env["DEPLOY_URL"]
    )

    exit_code = 0
    while not stopping.wait(0.5):
        crashed = [p for p in programs if p.exited()]
        if crashed:
            for program in crashed:
                logger.error(
                    "dev: %s exited with code %s; stopping the others",
                    program.name,
                    program.process.returncode if program.process else "?",
                )
            exit_code = 1
            break
    logger.info("dev: stopping")
    stop_all(programs)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
