"""`POST /api/generate-token` throughput and latency at concurrency 64, next to a bare baseline.

One run on loopback measures, alternating between them in short rounds so that each sees the
same share of whatever else the machine is doing:

- **backend**: the real backend as deployed (`reflex run --env prod --backend-only`, Granian,
  migrated SQLite, a real livekit-server), a signed-in user asking for a token for their
  existing room: bearer-session lookup, ownership check, signing, JSON. With `--workers N`
  (N > 1) it runs as production does with `REDIS_URL` set: a redis-server for Reflex's state and
  N Granian workers (`GRANIAN_WORKERS`).
- **baseline** (`bench/token_baseline.py`): a bare Starlette endpoint that signs the same JWT
  with the same `issue_participant_token`, with no session, no database, no FastAPI and no
  Reflex, served the same way (Granian, the same number of workers), so the ratio is the app's
  own cost.
- **backend, session lookup only**: the same backend answering `GET /api/me` (an explanation,
  not a target: the bearer-session lookup every signed-in request pays).
- **backend, Reflex's /ping**: the same backend answering Reflex's own `GET /ping`, the
  cheapest request it can serve: the floor that Reflex's ASGI stack sets.

The load comes from `wrk` (64 keep-alive connections, each sending its next request when the
last answer arrived), a C program that takes far less CPU than the servers, which share the
machine's 2 cores with it; its one thread drives 10,000 requests/s here. Requests/s counts 2xx
answers; any other answer and any socket error is listed. p50 is the median of the rounds' p50s
and p99 the worst round's p99.
The servers' CPU time per request (from /proc) is reported too: it moves less than throughput
when other programs compete for the cores, though on a shared host it still varied by ±25 %
between runs of the same code, so compare rows of one run, not runs. Writes
bench/results/token_throughput.json (`token_throughput_<N>_workers.json` with `--workers N`) and
prints a markdown table.

    .venv/bin/python bench/token_throughput.py [--seconds 12] [--rounds 3] [--workers 1]

Needs `wrk` (Debian/Ubuntu: `sudo apt-get install wrk`; `make bench` installs it as root).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.token_baseline import PATH
from tests.factories import sign_in
from tests.support.backend import new_database
from tests.support.livekit import LiveKitServer
from tests.support.processes import REPO_ROOT, ManagedProcess, free_port, tool_env, wait_until

RESULTS = REPO_ROOT / "bench" / "results" / "token_throughput.json"
CONCURRENCY = 64
WARMUP_SECONDS = 2.0
WRK_THREADS = 1
TARGET_REQUESTS_PER_SECOND = 500
"""Per backend worker on 2 cores: a token is needed once per conversation, so this is far above real load."""

# --- the load generator ----------------------------------------------------------------------

# wrk prints one JSON line when a run ends (its Lua `done` hook); the request comes from `request`.
_WRK_SCRIPT = """
wrk.method = os.getenv("BENCH_METHOD")
wrk.body = os.getenv("BENCH_BODY") ~= "" and os.getenv("BENCH_BODY") or nil
wrk.headers["Content-Type"] = "application/json"
if os.getenv("BENCH_AUTHORIZATION") ~= "" then
  wrk.headers["Authorization"] = os.getenv("BENCH_AUTHORIZATION")
end
done = function(summary, latency, requests)
  io.write(string.format(
    '\\n{"requests": %d, "duration_us": %d, "not_2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_path() -> str:
    """The ``wrk`` binary, or a clear error saying how to get it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "bench/token_throughput.py needs wrk (a C HTTP load generator): "
            "sudo apt-get install wrk (or `make bench` as root, which installs it)"
        )
    return path


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


@dataclass
class Target:
    """One server and request under test, and everything measured on it so far."""

    name: str
    server: str
    url: str
    process_group: int
    method: str = "GET"
    body: str = ""
    authorization: str = ""
    rounds: list[dict] = field(default_factory=list)
    server_cpu_seconds: float = 0.0

    def _wrk(self, seconds: float, script: Path) -> dict:
        env = os.environ | {
            "BENCH_METHOD": self.method,
            "BENCH_BODY": self.body,
            "BENCH_AUTHORIZATION": self.authorization,
        }
        command = [
            wrk_path(),
            f"-t{WRK_THREADS}",
            f"-c{CONCURRENCY}",
            f"-d{seconds:g}s",
            "-s",
            str(script),
            self.url,
        ]
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
        return json.loads(output.strip().splitlines()[-1])

    def drive(self, seconds: float, script: Path) -> None:
        """Warm the server up, then load it for ``seconds`` and keep what was seen."""
        self._wrk(WARMUP_SECONDS, script)
        cpu_before = group_cpu_seconds(self.process_group)
        self.rounds.append(self._wrk(seconds, script))
        self.server_cpu_seconds += group_cpu_seconds(self.process_group) - cpu_before

    def summary(self) -> dict:
        """Requests/s, latency percentiles and the server's CPU time per request.

        CPU time per request moves less than throughput when other programs compete for the
        cores, so it hints whether a slow run was the code or the machine.
        """
        requests = sum(run["requests"] for run in self.rounds)
        seconds = sum(run["duration_us"] for run in self.rounds) / 1e6
        ok = requests - sum(run["not_2xx"] for run in self.rounds)
        return {
            "server": self.server,
            "requests": requests,
            "requests_per_second": round(ok / seconds, 1) if seconds else 0.0,
            "p50_ms": round(statistics.median(run["p50_us"] for run in self.rounds) / 1000, 2),
            "p99_ms": round(max(run["p99_us"] for run in self.rounds) / 1000, 2),
            "max_ms": round(max(run["max_us"] for run in self.rounds) / 1000, 2),
            "server_cpu_ms_per_request": round(self.server_cpu_seconds / max(requests, 1) * 1000, 3),
            # Anything but 2xx here is a finding, not noise: it is reported rather than raised.
            "not_2xx": requests - ok,
            "socket_errors": sum(run["socket_errors"] for run in self.rounds),
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
        env = {
            **livekit.env(),
            "DATABASE_URL": new_database(workdir),
            "BACKEND_PORT": str(backend_port),
            # One user asks for thousands of tokens a second here, far above the per-user limit;
            # raising it keeps the limiter's counting on the measured path without refusing.
            "TOKEN_REQUESTS_PER_MINUTE": "1000000000",
        }
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
                "granian",
                "--interface",
                "asgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(baseline_port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "bench.token_baseline:app",
            ],
            log_dir=workdir,
            env=tool_env(env),
        )
        processes.append(baseline)
        _start(baseline, baseline_port)

        with httpx.Client(base_url=f"http://127.0.0.1:{backend_port}", timeout=30) as client:
            user = sign_in(client, display_name="Bench")
            room = client.post("/api/generate-token", json={}, headers=user.headers).json()["room"]

        body = json.dumps({"room": room})
        bearer = user.headers["Authorization"]
        backend_url, baseline_url = f"http://127.0.0.1:{backend_port}", f"http://127.0.0.1:{baseline_port}"
        backend_server = f"reflex --env prod --backend-only (Granian, {_workers(workers)}" + (
            ", Redis)" if workers > 1 else ")"
        )
        targets = [
            Target("backend", backend_server, backend_url + PATH, _pid(backend), "POST", body, bearer),
            Target(
                "baseline",
                f"bare Starlette (Granian, {_workers(workers)})",
                baseline_url + PATH,
                _pid(baseline),
                "POST",
                body,
            ),
            # Not targets, explanations: the bearer-session lookup alone, and Reflex's floor.
            Target(
                "backend_session_lookup_only",
                "same backend, GET /api/me",
                backend_url + "/api/me",
                _pid(backend),
                authorization=bearer,
            ),
            Target(
                "backend_reflex_ping",
                "same backend, Reflex's GET /ping",
                backend_url + "/ping",
                _pid(backend),
            ),
        ]
        script = workdir / "request.lua"
        script.write_text(_WRK_SCRIPT)
        # Alternate in short rounds, so every server sees the same share of whatever else runs.
        for _ in range(rounds):
            for target in targets:
                target.drive(seconds / rounds, script)
        results = {target.name: target.summary() for target in targets}
    finally:
        for process in reversed(processes):
            process.stop()
        livekit.stop()

    backend_result, baseline_result = results["backend"], results["baseline"]
    share = backend_result["requests_per_second"] / max(baseline_result["requests_per_second"], 0.1)
    backend_all_ok = not backend_result["not_2xx"] and not backend_result["socket_errors"]
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_generator": f"wrk, {WRK_THREADS} thread(s), {CONCURRENCY} connections",
        "load_average_before": round(load_before, 2),
        "nice": os.nice(0),
        "concurrency": CONCURRENCY,
        "seconds": seconds,
        "rounds": rounds,
        **results,
        "backend_workers": workers,
        "share_of_baseline": round(share, 2),
        "targets": {
            "requests_per_second_per_worker": TARGET_REQUESTS_PER_SECOND,
        },
        "targets_met": {
            "every_answer_2xx": backend_all_ok,
            "requests_per_second_per_worker": backend_result["requests_per_second"] / workers
            >= TARGET_REQUESTS_PER_SECOND,
        },
    }


def _workers(count: int) -> str:
    return f"{count} worker" + ("s" if count > 1 else "")


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
    wrk_path()  # fail before starting anything when the load generator is missing
    result = run_benchmark(args.seconds, args.rounds, args.workers)
    results = RESULTS if args.workers == 1 else RESULTS.with_stem(f"{RESULTS.stem}_{args.workers}_workers")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"| concurrency {CONCURRENCY}, {result['machine']} | requests/s | p50 ms | p99 ms | CPU ms/request |"
    )
    print("|---|---|---|---|---|")
    for name in ("backend", "baseline", "backend_session_lookup_only", "backend_reflex_ping"):
        row = result[name]
        print(
            f"| {name}: {row['server']} | {row['requests_per_second']} | {row['p50_ms']} "
            f"| {row['p99_ms']} | {row['server_cpu_ms_per_request']} |"
        )
        if row["not_2xx"] or row["socket_errors"]:
            print(f"|   {row['not_2xx']} answers not 2xx, {row['socket_errors']} socket errors |")
    print(f"\nbackend / baseline throughput: {result['share_of_baseline']}; met: {result['targets_met']}")
    print(f"load average before the run: {result['load_average_before']} (other programs on the machine)")


if __name__ == "__main__":
    main()
