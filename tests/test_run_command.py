"""A new user types `make dev`: livekit-server, the agent worker and the app come up; Ctrl-C stops all."""

from __future__ import annotations

import json
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


def _start_as_in_a_terminal(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Run ``argv`` from the repository in a process group of its own (Ctrl-C = SIGINT to the group)."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


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
    make = _start_as_in_a_terminal(["make", "dev"], env, log_path)
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


def test_plain_reflex_run_starts_the_companions_keeps_them_over_a_reload_and_stops_them(
    tmp_path: Path,
) -> None:
    ports = {
        name: free_port() for name in ("BACKEND_PORT", "LIVEKIT_PORT", "INFERENCE_PORT", "WORKER_HTTP_PORT")
    }
    reload_dir = tmp_path / "watched"
    reload_dir.mkdir()
    env = tool_env({name: str(port) for name, port in ports.items()})
    env.update(
        {
            "DEV_COMPANIONS": "on",  # what a user's shell has: the tests' default is off
            "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
            "REFLEX_HOT_RELOAD_OVERRIDE_PATHS": str(reload_dir),
        }
    )
    subprocess.run(
        ["reflex", "db", "migrate"], cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=120
    )
    log_path = tmp_path / "reflex-run.log"
    run = _start_as_in_a_terminal(
        ["reflex", "run", "--env", "dev", "--backend-only", "--backend-port", str(ports["BACKEND_PORT"])],
        env,
        log_path,
    )
    companions: list[psutil.Process] = []
    try:
        worker_ready = f"http://127.0.0.1:{ports['WORKER_HTTP_PORT']}/"
        health = f"http://127.0.0.1:{ports['BACKEND_PORT']}/api/health"
        try:  # the worker is ready once registered with the livekit-server that reflex run started
            wait_until(
                lambda: httpx.get(worker_ready, timeout=5).status_code == 200,
                timeout=300,
                what="the worker ready",
            )
            wait_until(
                lambda: httpx.get(health, timeout=5).json()["livekit"] == "ok",
                timeout=120,
                what="the backend up",
            )
        except TimeoutError:
            pytest.fail(
                f"reflex run did not bring the companions up:\n{log_path.read_text(errors='replace')[-4000:]}"
            )
        companions = [p for p in psutil.process_iter() if _is_companion(p, ports)]
        assert sorted(_kind(p) for p in companions) == ["livekit-server", "models", "worker"], _cmdlines(
            companions
        )

        backend_before = _backend_processes(run.pid, companions)
        (reload_dir / "edited.py").write_text("# a developer saves a file\n")
        wait_until(
            lambda: bool(_backend_processes(run.pid, companions) - backend_before),
            timeout=60,
            what="a hot reload (a new backend process)",
        )
        wait_until(
            lambda: httpx.get(health, timeout=5).status_code == 200, timeout=120, what="the backend back"
        )
        assert all(p.is_running() for p in companions), "a hot reload stopped a companion"
        again = [p for p in psutil.process_iter() if _is_companion(p, ports)]
        assert len(again) == len(companions), "a hot reload started the companions a second time"

        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        run.wait(timeout=60)
        wait_until(
            lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in companions),
            timeout=30,
            what="the companions stopping with reflex run",
        )
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)
        for process in companions:
            if process.is_running():
                process.kill()


def _backend_processes(run_pid: int, companions: list[psutil.Process]) -> set[int]:
    """The backend's processes under `reflex run` (everything but the companions and theirs)."""
    companion_pids = {p.pid for p in companions}
    pids = set()
    for child in psutil.Process(run_pid).children():
        if child.pid not in companion_pids:
            pids |= {child.pid, *(p.pid for p in child.children(recursive=True))}
    return pids


def _kind(process: psutil.Process) -> str:
    line = " ".join(process.cmdline())
    if "livekit-server" in line:
        return "livekit-server"
    return "models" if "agent_worker.inference" in line else "worker"


def _is_companion(process: psutil.Process, ports: dict[str, int]) -> bool:
    """A companion of this test's `reflex run`: its livekit-server, models or worker (main process)."""
    try:
        line = " ".join(process.cmdline())
        environ = process.environ()
    except psutil.Error:
        return False
    if environ.get("LIVEKIT_PORT") != str(ports["LIVEKIT_PORT"]):
        return False
    return (
        "livekit-server" in line
        or line.endswith("-m agent_worker.inference")
        or line.endswith("-m agent_worker dev")
    )


RELOAD_PATHS_OF_DEV = """
import json, pathlib, sys
sys.path.insert(0, str(pathlib.Path.cwd()))  # as `reflex run` does, so the app's root is watched
import rxconfig  # `reflex run` loads it first; it creates the database's folder
from reflex.utils.exec import get_reload_paths
from voice_app.settings import get_settings
database = pathlib.Path(get_settings().DATABASE_URL.removeprefix("sqlite:///")).absolute()
for suffix in ("-wal", "-shm"):  # what a second `make dev` finds from the first one's messages
    pathlib.Path(f"{database}{suffix}").touch()
print(json.dumps({"database": str(database), "watched": [str(p) for p in get_reload_paths()]}))
"""


def test_a_second_make_dev_does_not_reload_the_backend_when_messages_are_stored() -> None:
    """The default SQLite file and its WAL files sit where Reflex's dev reloader does not look."""
    env = tool_env()
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "python"), "-c", RELOAD_PATHS_OF_DEV],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    database = Path(found["database"])
    assert str(REPO_ROOT / "voice_app") in found["watched"]
    for watched in map(Path, found["watched"]):
        for written in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            assert not written.is_relative_to(watched), f"{watched} is watched and holds {written.name}"
