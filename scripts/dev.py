"""Run the whole app for development: livekit-server, the models, the agent worker and the app.

The programs are `livekit-server --dev`, the local inference service, the agent worker and
`reflex run`.
Started by `make dev` after `scripts/setup.sh`. Each program's output is prefixed with its
name; Ctrl-C (or SIGTERM) stops all of them, process groups included, so nothing is left
behind. If one program exits on its own, the others are stopped too and the exit code says so.

Plain `reflex run` (in dev mode) starts the same companions itself, through
:func:`start_companions_for_reflex_run`, called from ``rxconfig.py``: once, in the `reflex run`
process (which outlives the backend's hot reloads), only those not already listening, and they
stop with it. ``DEV_COMPANIONS=off`` turns that off (`make dev` and the tests set it).

Ports come from the environment (defaults: FRONTEND_PORT=3000, BACKEND_PORT=8080,
LIVEKIT_PORT=7880, which also takes LIVEKIT_PORT+1/tcp and LIVEKIT_PORT+2/udp, INFERENCE_PORT=8090).
The database defaults to ``.data/voice_app.db``: a hidden folder, so Reflex's reloader does not
restart the backend each time the worker stores a message.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
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
PR_SET_PDEATHSIG = 1
COMPANIONS_SWITCH = "DEV_COMPANIONS"
"""``off``: `reflex run` starts no companions (set by `make dev`, which starts them itself)."""

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
            preexec_fn=_stop_with_parent,
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


def _stop_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the process that started it dies (Linux).

    Ctrl-C stops everything through :func:`stop_all`; this also covers the starter being killed.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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


def dev_ports(env: dict[str, str]) -> dict[str, int]:
    """The ports of every program, from the environment or their defaults."""
    return {
        "frontend": int(env.get("FRONTEND_PORT", "3000")),
        "backend": int(env.get("BACKEND_PORT", "8080")),
        "livekit": int(env.get("LIVEKIT_PORT", "7880")),
        "models": int(env.get("INFERENCE_PORT", "8090")),
    }


def dev_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus the settings that make the programs find each other."""
    ports = dev_ports(env)
    return {
        **env,
        "LIVEKIT_URL": f"http://127.0.0.1:{ports['livekit']}",
        "LIVEKIT_PUBLIC_URL": env.get("LIVEKIT_PUBLIC_URL", f"ws://localhost:{ports['livekit']}"),
        "LIVEKIT_API_KEY": "devkey",
        "LIVEKIT_API_SECRET": "secret",
        "FRONTEND_PORT": str(ports["frontend"]),
        "BACKEND_PORT": str(ports["backend"]),
        "API_URL": env.get("API_URL", f"http://localhost:{ports['backend']}"),
        "DEPLOY_URL": env.get("DEPLOY_URL", f"http://localhost:{ports['frontend']}"),
        "INFERENCE_PORT": str(ports["models"]),
        "LOCAL_INFERENCE_URL": f"http://127.0.0.1:{ports['models']}/v1",
        "PYTHONUNBUFFERED": "1",
    }


def build_programs(env: dict[str, str]) -> list[Program]:
    """The programs with the settings that make them find each other."""
    ports = dev_ports(env)
    busy = [
        p
        for p in (
            ports["frontend"],
            ports["backend"],
            ports["livekit"],
            ports["livekit"] + 1,
            ports["models"],
        )
        if not _port_free(p)
    ]
    if busy:
        sys.exit(
            f"dev: port(s) {', '.join(map(str, busy))} already in use. Stop what uses them "
            "(`ss -ltnp` shows it) or pick others: FRONTEND_PORT=3001 BACKEND_PORT=8081 "
            "LIVEKIT_PORT=7890 INFERENCE_PORT=8091 make dev"
        )
    shared = {**dev_environment(env), COMPANIONS_SWITCH: "off"}
    return [
        *companions(shared),
        Program(
            "app",
            [
                "reflex",
                "run",
                "--env",
                "dev",
                "--frontend-port",
                str(ports["frontend"]),
                "--backend-port",
                str(ports["backend"]),
            ],
            shared,
        ),
    ]


def companions(shared: dict[str, str]) -> list[Program]:
    """livekit-server, the local inference service and the agent worker, with ``shared`` settings."""
    livekit_port = dev_ports(shared)["livekit"]
    # the webhook tells the backend when an agent leaves a room, so a lost one can be sent again
    livekit_config = (
        f"port: {livekit_port}\nrtc:\n  tcp_port: {livekit_port + 1}\n  udp_port: {livekit_port + 2}\n"
        f'webhook:\n  api_key: devkey\n  urls: ["http://127.0.0.1:{dev_ports(shared)["backend"]}/api/livekit/webhook"]\n'
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
    ]


def start_companions_for_reflex_run() -> None:
    """From ``rxconfig.py``: in the `reflex run` process in dev mode, start the companions.

    Only once (the backend's own processes inherit the switch turned off), none if livekit-server
    already listens (they are running already), and they stop when `reflex run` exits. The
    settings that make the app find them are put in this process's environment, which the backend
    inherits.
    """
    if os.environ.get(COMPANIONS_SWITCH, "on") == "off" or not _is_reflex_run_in_dev():
        return
    shared = {**dev_environment(dict(os.environ)), COMPANIONS_SWITCH: "off"}
    os.environ.update(shared)  # the backend inherits it: its processes start no companions again
    ports = dev_ports(shared)
    if not _port_free(ports["livekit"]):  # `make dev` or another `reflex run` has them running
        logger.info("dev: livekit-server already listens on %s; starting no companions", ports["livekit"])
        return
    programs = [p for p in companions(shared) if p.name != "models" or _port_free(ports["models"])]
    logger.info("dev: reflex run starts %s", ", ".join(p.name for p in programs))
    for program in programs:
        program.start()
        if program.name == "livekit" and not _wait_for_port(ports["livekit"], timeout=20):
            logger.error("dev: livekit-server did not start listening on port %s", ports["livekit"])
    atexit.register(stop_all, programs)


def _is_reflex_run_in_dev() -> bool:
    argv = sys.argv
    if len(argv) < 2 or Path(argv[0]).name != "reflex" or argv[1] != "run":
        return False
    return (
        not any(flag in argv for flag in ("prod", "--env=prod"))
        and os.environ.get("ENVIRONMENT") != "production"
    )


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
    livekit_port = dev_ports(programs[0].env)["livekit"]
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
