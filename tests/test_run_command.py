"""A new user types `make dev`: livekit-server, the agent worker and the app come up; Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.processes import REPO_ROOT, free_port, tool_env, wait_until

pytestmark = pytest.mark.slow


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmdlines(processes: list[psutil.Process]) -> list[str]:
    lines = []
    for process in processes:
        try:
            lines.append(" ".join(process.cmdline()))
        except psutil.Error:
            continue
    return lines


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_make_dev_starts_all_three_processes_and_ctrl_c_leaves_none_behind(tmp_path: Path) -> None:
    status_before = _git_status()
    ports = {
        "FRONTEND_PORT": free_port(),
        "BACKEND_PORT": free_port(),
        "LIVEKIT_PORT": free_port(),
        "INFERENCE_PORT": free_port(),
    }
    env = tool_env({name: str(port) for name, port in ports.items()})
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'dev.db'}"
    log_path = tmp_path / "make-dev.log"
    with log_path.open("wb") as log:
        make = subprocess.Popen(
            ["make", "dev"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    running: list[psutil.Process] = []
    try:
        page = f"http://127.0.0.1:{ports['FRONTEND_PORT']}/"
        try:
            wait_until(
                lambda: httpx.get(page, timeout=5).status_code == 200,
                timeout=600,
                what="the page answering on the frontend port",
            )
            wait_until(
                lambda: any("agent_worker" in line for line in _cmdlines(_descendants(make.pid))),
                timeout=60,
                what="the agent worker running",
            )
        except TimeoutError:
            pytest.fail(f"make dev did not come up:\n{log_path.read_text(errors='replace')[-4000:]}")

        running = _descendants(make.pid)
        commands = _cmdlines(running)
        assert any("livekit-server" in c and "--dev" in c for c in commands), commands
        assert any("agent_worker" in c for c in commands), commands
        assert any("reflex" in c and "run" in c for c in commands), commands
        output = log_path.read_text(errors="replace")
        for prefix in ("livekit |", "agent |", "app |"):
            assert prefix in output, f"no log line prefixed {prefix!r}"
        # LOG_LEVEL's default: the app's lines, not the libraries' debug output.
        assert "InsecureKeyLengthWarning" not in output
        debug_lines = [line for line in output.splitlines() if " DEBUG " in line or "DEBUG:" in line]
        assert debug_lines == [], debug_lines[:5]
        health_url = f"http://127.0.0.1:{ports['BACKEND_PORT']}/api/health"
        wait_until(
            lambda: httpx.get(health_url, timeout=10).json()["livekit"] == "ok",
            timeout=60,
            what="the backend reporting the dev livekit-server healthy",
        )

        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        make.wait(timeout=60)
        time.sleep(1)
        survivors = [p for p in running if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert survivors == [], f"left behind: {_cmdlines(survivors)}"
        assert _git_status() == status_before, "make dev changed tracked files (see reflex.lock/)"
    finally:
        leftovers = running + _descendants(make.pid)
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait(timeout=10)
        for process in leftovers:
            if process.is_running():
                process.kill()
