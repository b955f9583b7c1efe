"""`POST /api/generate-token` throughput and latency at concurrency 64, next to a bare baseline.

One run on loopback measures, alternating between them in short rounds so that both see the
same share of whatever else the machine is doing:

- **backend**: the real backend as deployed (`reflex run --env prod --backend-only`, one
  Granian worker, migrated SQLite, a real livekit-server), a signed-in user asking for a token
  for their existing room: bearer-session lookup, ownership check, signing, JSON. With
  `--workers N` (N > 1) it runs as production does with `REDIS_URL` set: a redis-server for
  Reflex's state and N Granian workers (`GRANIAN_WORKERS`; Reflex's own default there is
  2 x cores + 1).
- **baseline**: a bare Starlette endpoint under uvicorn (one worker) that signs the same JWT with
  the same `issue_participant_token`, with no session, no database and no FastAPI.

The load generator is a minimal keep-alive HTTP/1.1 client on asyncio (64 connections, each
sending its next request when the last answer arrived) in this process; requests/s counts 200s
only, and any other answer is listed. The server's CPU time per request (from /proc) is reported
too: it barely moves when other programs compete for the cores, so it separates "slow code" from
"busy machine". The load generator shares the machine's cores with the servers. Writes
bench/results/token_throughput.json (`token_throughput_<N>_workers.json` with `--workers N`) and
prints a markdown table.

    .venv/bin/python bench/token_throughput.py [--seconds 12] [--rounds 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories import sign_in
from tests.support.backend import new_database
from tests.support.livekit import LiveKitServer
from tests.support.processes import REPO_ROOT, ManagedProcess, free_port, tool_env, wait_until
from voice_app.auth.models import User
from voice_app.rooms.tokens import issue_participant_token
from voice_app.settings import get_settings

RESULTS = REPO_ROOT / "bench" / "results" / "token_throughput.json"
PATH = "/api/generate-token"
CONCURRENCY = 64
WARMUP_SECONDS = 2.0
TARGET_REQUESTS_PER_SECOND = 1000
TARGET_P99_MS = 50
TARGET_SHARE_OF_BASELINE = 0.5

# --- the baseline: the same signature behind the thinnest ASGI stack ------------------------

_BASELINE_USER = User(
    id=1,
    email="bench@example.com",
    email_normalized="bench@example.com",
    display_name="Bench",
    password_hash="",
)


async def _baseline_token(request: Request) -> JSONResponse:
    body = await request.json()
    grant = issue_participant_token(user=_BASELINE_USER, room_name=body["room"], settings=get_settings())
    return JSONResponse(
        {
            "server_url": grant.server_url,
            "room": grant.room,
            "identity": grant.identity,
            "token": grant.token,
            "expires_at": grant.expires_at.isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )


baseline_app = Starlette(routes=[Route(PATH, _baseline_token, methods=["POST"])])


# --- the load generator ----------------------------------------------------------------------


@dataclass
class Run:
    """What one measured run saw."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0


def _request_bytes(port: int, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 request: a JSON POST, or a GET when ``body`` is None."""
    lines = [f"{'GET' if body is None else 'POST'} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _connection(port: int, request: bytes, start: float, stop: float, run: Run) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (sent := time.perf_counter()) < stop:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            done = time.perf_counter()
            if sent >= start:
                run.latencies.append(done - sent)
                run.statuses[status] = run.statuses.get(status, 0) + 1
    except (OSError, asyncio.IncompleteReadError):
        run.errors += 1
    finally:
        writer.close()


def group_cpu_seconds(process_group: int) -> float:
    """CPU seconds (user + system) used so far by every live process in ``process_group``."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == process_group:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def _cpu_at(moment: float, process_group: int) -> float:
    await asyncio.sleep(moment - time.perf_counter())
    return group_cpu_seconds(process_group)


async def _load(port: int, request: bytes, seconds: float, process_group: int) -> tuple[Run, float]:
    run = Run()
    start = time.perf_counter() + WARMUP_SECONDS
    stop = start + seconds
    cpu = asyncio.gather(_cpu_at(start, process_group), _cpu_at(stop, process_group))
    await asyncio.gather(*(_connection(port, request, start, stop, run) for _ in range(CONCURRENCY)))
    cpu_start, cpu_stop = await cpu
    return run, cpu_stop - cpu_start


@dataclass
class Target:
    """One server under test and everything measured on it so far."""

    port: int
    request: bytes
    process_group: int
    run: Run = field(default_factory=Run)
    seconds: float = 0.0
    server_cpu_seconds: float = 0.0

    def drive(self, seconds: float) -> None:
        """Load the server for ``seconds`` (after a warm-up) and add what was seen."""
        run, cpu = asyncio.run(_load(self.port, self.request, seconds, self.process_group))
        self.run.latencies += run.latencies
        for status, count in run.statuses.items():
            self.run.statuses[status] = self.run.statuses.get(status, 0) + count
        self.run.errors += run.errors
        self.seconds += seconds
        self.server_cpu_seconds += cpu

    def summary(self) -> dict:
        """Requests/s, latency percentiles and the server's CPU time per request.

        CPU time per request hardly changes when other programs compete for the cores, unlike
        throughput, so it tells whether a slow run was the code or the machine.
        """
        ordered = sorted(self.run.latencies)
        if not ordered:
            return {
                "requests": 0,
                "requests_per_second": 0.0,
                "statuses": {},
                "connection_errors": self.run.errors,
            }
        return {
            "requests": len(ordered),
            "requests_per_second": round(self.run.statuses.get(200, 0) / self.seconds, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2),
            "server_cpu_ms_per_request": round(self.server_cpu_seconds / len(ordered) * 1000, 3),
            # Anything but 200s here is a finding, not noise: it is reported rather than raised.
            "statuses": {str(status): count for status, count in sorted(self.run.statuses.items())},
            "connection_errors": self.run.errors,
        }


# --- the two servers -------------------------------------------------------------------------


def _start(process: ManagedProcess, port: int) -> None:
    process.start()
    try:
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code < 500,
            timeout=90,
            what=f"{process.name} answering",
        )
    except TimeoutError as error:
        raise RuntimeError(process.log_tail()) from error


def _pid(process: ManagedProcess) -> int:
    assert process.process is not None
    return process.process.pid  # the leader of its own process group (start_new_session)


def _start_redis(workdir: Path) -> tuple[ManagedProcess, str]:
    """A throwaway redis-server on loopback (Reflex needs one to run several workers)."""
    port = free_port()
    redis_server = ManagedProcess(
        "redis",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        log_dir=workdir,
    )
    redis_server.start()
    url = f"redis://127.0.0.1:{port}/0"
    wait_until(lambda: redis.Redis.from_url(url).ping(), timeout=20, what="redis-server answering PING")
    return redis_server, url


def run_benchmark(seconds: float, rounds: int, workers: int = 1) -> dict:
    """Start livekit-server, the backend and the baseline; measure both; stop everything."""
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="token-bench-"))
    livekit = LiveKitServer(workdir).start()
    processes: list[ManagedProcess] = []
    try:
        backend_port, baseline_port = free_port(), free_port()
        env = {**livekit.env(), "DATABASE_URL": new_database(workdir), "BACKEND_PORT": str(backend_port)}
        if workers > 1:
            redis_server, redis_url = _start_redis(workdir)
            processes.append(redis_server)
            env |= {"REDIS_URL": redis_url, "GRANIAN_WORKERS": str(workers)}
        backend = ManagedProcess(
            "backend",
            ["reflex", "run", "--env", "prod", "--backend-only", "--backend-port", str(backend_port)],
            log_dir=workdir,
            env=tool_env(env),
        )
        processes.append(backend)
        _start(backend, backend_port)
        baseline = ManagedProcess(
            "baseline",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.token_throughput:baseline_app",
                "--port",
                str(baseline_port),
                "--host",
                "127.0.0.1",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            log_dir=workdir,
            env=tool_env(env),
        )
        processes.append(baseline)
        _start(baseline, baseline_port)

        with httpx.Client(base_url=f"http://127.0.0.1:{backend_port}", timeout=30) as client:
            user = sign_in(client, display_name="Bench")
            room = client.post("/api/generate-token", json={}, headers=user.headers).json()["room"]

        body = json.dumps({"room": room}).encode()
        backend_target = Target(
            backend_port, _request_bytes(backend_port, PATH, body, user.headers), _pid(backend)
        )
        baseline_target = Target(baseline_port, _request_bytes(baseline_port, PATH, body, {}), _pid(baseline))
        # Not a target, an explanation: the same backend answering `GET /api/me`, which is only the
        # bearer-session lookup that generate-token also does.
        session_target = Target(
            backend_port, _request_bytes(backend_port, "/api/me", None, user.headers), _pid(backend)
        )
        # Alternate in short rounds, so every server sees the same share of whatever else runs.
        for _ in range(rounds):
            for target in (backend_target, baseline_target, session_target):
                target.drive(seconds / rounds)
        backend_result, baseline_result = backend_target.summary(), baseline_target.summary()
        session_result = session_target.summary()
    finally:
        for process in reversed(processes):
            process.stop()
        livekit.stop()

    share = backend_result["requests_per_second"] / max(baseline_result["requests_per_second"], 0.1)
    backend_server = "reflex --env prod --backend-only (Granian, " + (
        "1 worker)" if workers == 1 else f"{workers} workers, Redis)"
    )
    backend_all_ok = set(backend_result["statuses"]) == {"200"} and not backend_result["connection_errors"]
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_before": round(load_before, 2),
        "nice": os.nice(0),
        "concurrency": CONCURRENCY,
        "seconds": seconds,
        "rounds": rounds,
        "backend": {"server": backend_server, **backend_result},
        "baseline": {"server": "Starlette + uvicorn (1 worker, h11, asyncio loop)", **baseline_result},
        "backend_session_lookup_only": {"server": "same backend, GET /api/me", **session_result},
        "backend_workers": workers,
        "share_of_baseline": round(share, 2),
        "targets": {
            "requests_per_second": TARGET_REQUESTS_PER_SECOND,
            "p99_ms": TARGET_P99_MS,
            "share_of_baseline": TARGET_SHARE_OF_BASELINE,
        },
        "targets_met": {
            "every_answer_200": backend_all_ok,
            "requests_per_second": backend_result["requests_per_second"] >= TARGET_REQUESTS_PER_SECOND,
            "p99_ms": backend_result.get("p99_ms", float("inf")) < TARGET_P99_MS,
            "share_of_baseline": share >= TARGET_SHARE_OF_BASELINE,
        },
    }


def main() -> None:
    """Measure, save, and print a markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=12.0, help="measured seconds per server")
    parser.add_argument("--rounds", type=int, default=3, help="alternations between the two servers")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Granian workers; above 1 also starts Redis, as production does",
    )
    args = parser.parse_args()
    result = run_benchmark(args.seconds, args.rounds, args.workers)
    results = RESULTS if args.workers == 1 else RESULTS.with_stem(f"{RESULTS.stem}_{args.workers}_workers")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"| concurrency {CONCURRENCY}, {result['machine']} | requests/s | p50 ms | p99 ms | CPU ms/request |"
    )
    print("|---|---|---|---|---|")
    for name in ("backend", "baseline", "backend_session_lookup_only"):
        row = result[name]
        print(
            f"| {name}: {row['server']} | {row['requests_per_second']} | {row.get('p50_ms', '-')} "
            f"| {row.get('p99_ms', '-')} | {row.get('server_cpu_ms_per_request', '-')} |"
        )
        if set(row["statuses"]) != {"200"} or row["connection_errors"]:
            print(
                f"|   answers other than 200: {row['statuses']}, {row['connection_errors']} connection errors |"
            )
    print(f"\nbackend / baseline throughput: {result['share_of_baseline']}; met: {result['targets_met']}")
    print(f"load average before the run: {result['load_average_before']} (other programs on the machine)")


if __name__ == "__main__":
    main()
