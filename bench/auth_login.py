"""Login latency under 20 concurrent logins, and whether the event loop stays responsive meanwhile.

Starts its own livekit-server and backend (the test-support classes, dev mode, free ports, a
fresh database), registers 20 users, then:

1. idle: `GET /api/health` one after another with nothing else going on;
2. one login at a time (the cost of one argon2id verification plus a session row);
3. load: rounds of 20 logins at once, while a prober keeps calling `GET /api/health`.

The number that matters is the health ratio (p50 under load / p50 idle): argon2id runs on a
small thread pool, so the event loop keeps answering other requests. Absolute times depend on
the machine (2 shared cores here). Writes bench/results/auth_login.json.

    .venv/bin/python bench/auth_login.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories import DEFAULT_PASSWORD, register_user
from tests.support.backend import Backend
from tests.support.livekit import LiveKitServer
from tests.support.processes import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results" / "auth_login.json"
CONCURRENCY = 20


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 0.50) * 1000, 1),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(samples) * 1000, 1),
    }


async def timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    response = await call
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


async def health_samples(
    client: httpx.AsyncClient, *, count: int | None = None, until: asyncio.Event | None = None
):  # type: ignore[no-untyped-def]
    samples = []
    while (count is not None and len(samples) < count) or (until is not None and not until.is_set()):
        samples.append(await timed(client.get("/api/health")))
        await asyncio.sleep(0.02)
    return samples


async def measure(base_url: str, emails: list[str], rounds: int) -> dict:
    limits = httpx.Limits(max_connections=CONCURRENCY + 5, max_keepalive_connections=CONCURRENCY + 5)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        def login(email: str):  # type: ignore[no-untyped-def]
            return client.post("/api/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})

        await health_samples(client, count=5)  # warm up connections and the LiveKit client
        idle = await health_samples(client, count=60)
        single = [await timed(login(email)) for email in emails]

        done = asyncio.Event()
        prober = asyncio.create_task(health_samples(client, until=done))
        concurrent: list[float] = []
        started = time.perf_counter()
        for _ in range(rounds):
            concurrent += await asyncio.gather(*(timed(login(email)) for email in emails))
        load_seconds = time.perf_counter() - started
        done.set()
        under_load = await prober

    idle_summary, load_summary = summary(idle), summary(under_load)
    return {
        "concurrency": CONCURRENCY,
        "rounds": rounds,
        "single_login": summary(single),
        "concurrent_login": summary(concurrent),
        "logins_per_second": round(len(concurrent) / load_seconds, 1),
        "health_idle": idle_summary,
        "health_under_load": load_summary,
        "health_p50_ratio": round(load_summary["p50_ms"] / idle_summary["p50_ms"], 2),
        "health_p99_ratio": round(load_summary["p99_ms"] / idle_summary["p99_ms"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10, help="rounds of 20 concurrent logins")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        workdir = Path(tmp)
        (workdir / "no-reload").mkdir()
        livekit = LiveKitServer(workdir).start()
        backend = None
        try:
            backend = Backend(
                workdir, livekit, extra_env={"REFLEX_HOT_RELOAD_OVERRIDE_PATHS": str(workdir / "no-reload")}
            ).start()
            with httpx.Client(base_url=backend.base_url, timeout=60) as client:
                emails = [register_user(client)["email"] for _ in range(CONCURRENCY)]
            results = asyncio.run(measure(backend.base_url, emails, args.rounds))
        finally:
            if backend is not None:
                backend.stop()
            livekit.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    single, many = results["single_login"], results["concurrent_login"]
    idle, load = results["health_idle"], results["health_under_load"]
    print("| measure | p50 ms | p99 ms | n |\n|---|---|---|---|")
    print(f"| one login at a time | {single['p50_ms']} | {single['p99_ms']} | {single['n']} |")
    print(f"| login, {CONCURRENCY} at once | {many['p50_ms']} | {many['p99_ms']} | {many['n']} |")
    print(f"| GET /api/health, idle | {idle['p50_ms']} | {idle['p99_ms']} | {idle['n']} |")
    print(f"| GET /api/health during the logins | {load['p50_ms']} | {load['p99_ms']} | {load['n']} |")
    print(
        f"\nlogins/s: {results['logins_per_second']}; health under load / idle: "
        f"p50 x{results['health_p50_ratio']}, p99 x{results['health_p99_ratio']}"
    )


if __name__ == "__main__":
    main()
