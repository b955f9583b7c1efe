"""How long a user waits for a new agent after the agent's job process is killed mid-conversation.

Starts a livekit-server, the local inference service, the backend and one worker
(`python -m agent_worker start`, offline pipeline) on free ports. Each run: a new user joins with
the LiveKit Python SDK, hears the greeting, asks one typed question and hears the answer; then
the job process serving the room gets SIGKILL. Measured from the kill, as the user's client sees
it: the lost agent leaving the room (what the talk page reacts to), the new agent joining, its
first words as text ("I'm back ..."), and their first non-silent audio frame.

With ``--worker-runs`` it also kills a whole worker (its process group, as a lost machine) while
a second one is up: the new agent then comes from the backend, which LiveKit's webhook tells when
the lost agent leaves the room.

Writes bench/results/recovery.json and prints a markdown table (p50 and max over the runs).

    .venv/bin/python bench/recovery.py [--runs 5] [--worker-runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from livekit import rtc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories import sign_in
from tests.support.backend import Backend
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.processes import REPO_ROOT, free_port
from tests.support.voice_client import VoiceClient
from tests.support.worker import AgentWorker

RESULTS = REPO_ROOT / "bench" / "results" / "recovery.json"
WAIT_SECONDS = 60
MEASURES = ("lost_agent_gone_s", "new_agent_joined_s", "new_agent_text_s", "new_agent_audio_s")


async def one_run(
    api: httpx.Client, worker: AgentWorker, livekit: LiveKitServer, number: int, *, whole_worker: bool = False
) -> dict[str, float]:
    """One conversation whose agent is killed; seconds from the kill to each thing the user sees."""
    user = sign_in(api, display_name=f"Run {number}")
    client = await VoiceClient.join(api, user)
    try:
        await client.wait_for("the greeting", lambda: client.agent_transcripts(), WAIT_SECONDS)
        sent = await client.send_chat("Tell me a short fact about the sea.")
        await client.wait_for("a reply", lambda: client.agent_transcripts(after=sent), WAIT_SECONDS)
        await client.wait_for("the agent listening", lambda: client.agent_states[-1][1] == "listening", 30)
        lost = client.agent_identity
        if whole_worker:
            worker.kill_with_its_jobs()
        else:
            os.kill(worker.job_process_in_room(livekit.port).pid, signal.SIGKILL)
        killed = time.monotonic()
        seen: dict[str, float] = {}
        while len(seen) < len(MEASURES):
            assert time.monotonic() - killed < WAIT_SECONDS, f"no new agent within {WAIT_SECONDS} s"
            now = time.monotonic() - killed
            participants = client.room.remote_participants.values()
            agents = {
                p.identity for p in participants if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
            }
            if lost not in agents:
                seen.setdefault("lost_agent_gone_s", now)
            if agents - {lost}:
                seen.setdefault("new_agent_joined_s", now)
                if client.agent_transcripts(after=killed):
                    seen.setdefault("new_agent_text_s", now)
                if client.loud_frames(after=killed):
                    seen.setdefault("new_agent_audio_s", now)
            await asyncio.sleep(0.02)
    finally:
        await client.close()
    await asyncio.sleep(3)  # the new job ends with its user; the next run starts on a quiet worker
    return {name: round(seen[name], 2) for name in MEASURES}


async def run(args: argparse.Namespace) -> dict:
    """Start the parts, do the runs, stop everything."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    backend_port = free_port()
    livekit = LiveKitServer(
        workdir, webhook_url=f"http://127.0.0.1:{backend_port}/api/livekit/webhook"
    ).start()
    inference = InferenceService(workdir).start()
    backend = Backend(workdir, livekit, port=backend_port).start()
    workers = [
        AgentWorker(workdir / f"worker-{n}", livekit, backend, inference, mode="start") for n in range(2)
    ]
    workers[0].start()
    runs: list[dict[str, float]] = []
    worker_runs: list[dict[str, float]] = []
    try:
        with httpx.Client(base_url=backend.base_url, timeout=30) as api:
            for number in range(args.runs):
                runs.append(await one_run(api, workers[0], livekit, number))
                print(f"job process killed, run {number + 1}: {runs[-1]}", flush=True)
            for number in range(args.worker_runs):
                workers[1].start()  # the one that stays up
                worker_runs.append(await one_run(api, workers[0], livekit, number, whole_worker=True))
                print(f"whole worker killed, run {number + 1}: {worker_runs[-1]}", flush=True)
                workers[0].stop()
                workers.reverse()
    finally:
        for worker in workers:
            worker.stop()
        backend.stop()
        inference.stop()
        livekit.stop()
    return {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "job_process_killed": {"runs": runs, "summary": summarise(runs)},
        "worker_killed": {"runs": worker_runs, "summary": summarise(worker_runs)},
    }


def summarise(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """p50 and max of each measure."""
    if not runs:
        return {}
    return {
        name: {"p50": round(statistics.median(r[name] for r in runs), 2), "max": max(r[name] for r in runs)}
        for name in MEASURES
    }


def print_table(result: dict) -> None:
    """The README's table."""
    job, worker = result["job_process_killed"], result["worker_killed"]
    print(
        f"\nSeconds after SIGKILL; job process killed: {len(job['runs'])} runs, "
        f"whole worker killed: {len(worker['runs'])} runs\n"
    )
    print("| what the user sees | job process p50 | max | whole worker p50 | max |")
    print("|---|---|---|---|---|")
    labels = {
        "lost_agent_gone_s": "the lost agent leaves the room (the page says so)",
        "new_agent_joined_s": "a new agent joins",
        "new_agent_text_s": 'its first words ("… I\'m back …") as text',
        "new_agent_audio_s": "its voice",
    }
    for name, label in labels.items():
        cells = [
            f"{part['summary'][name][stat]}" if part["summary"] else "—"
            for part in (job, worker)
            for stat in ("p50", "max")
        ]
        print(f"| {label} | {' | '.join(cells)} |")


def main() -> None:
    """Parse arguments, run, write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--worker-runs", type=int, default=3)
    result = asyncio.run(run(parser.parse_args()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)


if __name__ == "__main__":
    main()
