"""How long a user waits for a new agent after the agent's job process is killed mid-conversation.

Starts a livekit-server, the local inference service, the backend and one worker
(`python -m agent_worker start`, offline pipeline) on free ports. Each run: a new user joins with
the LiveKit Python SDK, hears the greeting, asks one typed question and hears the answer; then
the job process serving the room gets SIGKILL. Measured from the kill, as the user's client sees
it: the lost agent leaving the room (what the talk page reacts to), the new agent joining, its
first words as text ("I'm back ..."), and their first non-silent audio frame.

With ``--worker-runs`` it also kills a whole worker (its process group, as a lost machine) while
a second one is up: the client, as the talk page does, notices the agent's heartbeat stop and asks
the backend (``POST /api/rooms/{room}/agent/recover``), which sends the new agent.

With ``--database-runs`` (on a PostgreSQL of its own) PostgreSQL is stopped for 10 s while the user
goes on typing; measured from its restart: ``/api/health`` answering 200 again, and every message
said during the outage stored. With ``--node-runs`` (two livekit-server nodes on Redis) the node the
user came through is killed; measured from the kill: the client noticing, and the user talking to an
agent again after trying again through the node that is up.

Writes bench/results/recovery.json and prints markdown tables (p50 and max over the runs).

    .venv/bin/python bench/recovery.py [--runs 5] [--worker-runs 5] [--database-runs 5] [--node-runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
from livekit import rtc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories import sign_in
from tests.support.backend import Backend, migrate_database
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.nodes import TwoNodes
from tests.support.processes import REPO_ROOT, free_port
from tests.support.production import PostgresServer
from tests.support.voice_client import VoiceClient
from tests.support.worker import AgentWorker
from tests.test_agent_worker import stored_conversations
from tests.test_livekit_nodes import GENEROUS_LIMITS, join_again

RESULTS = REPO_ROOT / "bench" / "results" / "recovery.json"
WAIT_SECONDS = 60
MEASURES = (
    "client_noticed_s",
    "lost_agent_gone_s",
    "new_agent_joined_s",
    "new_agent_text_s",
    "new_agent_audio_s",
)
DATABASE_MEASURES = ("health_back_s", "outage_messages_stored_s")
NODE_MEASURES = ("client_noticed_s", "agent_answering_again_s")
OUTAGE_SECONDS = 10


async def seconds_until(what: str, condition: Callable[[], bool], since: float) -> float:
    """Seconds from ``since`` (a ``time.monotonic()``) until ``condition()`` holds."""
    while not await asyncio.to_thread(condition):
        assert time.monotonic() - since < WAIT_SECONDS, f"{what}: not within {WAIT_SECONDS} s"
        await asyncio.sleep(0.1)
    return round(time.monotonic() - since, 2)


async def one_run(
    api: httpx.Client,
    workers: list[AgentWorker],
    livekit: LiveKitServer,
    number: int,
    *,
    whole_worker: bool = False,
) -> dict[str, float]:
    """One conversation whose agent is killed; seconds from the kill to each thing the user sees.

    The agent's job process, or with ``whole_worker`` the worker holding it (LiveKit may give the
    job to any of ``workers``), gets SIGKILL.
    """
    user = sign_in(api, display_name=f"Run {number}")
    client = await VoiceClient.join(api, user)
    client.recover_silent_agents(api, user)
    try:
        await client.wait_for("the greeting", lambda: client.agent_transcripts(), WAIT_SECONDS)
        sent = await client.send_chat("Tell me a short fact about the sea.")
        await client.wait_for("a reply", lambda: client.agent_transcripts(after=sent), WAIT_SECONDS)
        await client.wait_for("the agent listening", lambda: client.agent_states[-1][1] == "listening", 30)
        lost = client.agent_identity
        [holder] = [
            worker for worker in workers if worker.running and worker.job_processes_in_rooms(livekit.port)
        ]
        if whole_worker:
            holder.kill_with_its_jobs()
        else:
            os.kill(holder.job_process_in_room(livekit.port).pid, signal.SIGKILL)
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
                seen.setdefault("client_noticed_s", now)  # the agent left: the page says so at once
            if client.recovery_asked_at:  # its heartbeat stopped
                seen.setdefault("client_noticed_s", client.recovery_asked_at[0] - killed)
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
    outages: list[dict] = []
    node_kills: list[dict] = []
    try:
        with httpx.Client(base_url=backend.base_url, timeout=30) as api:
            for number in range(args.runs):
                runs.append(await one_run(api, workers[:1], livekit, number))
                print(f"job process killed, run {number + 1}: {runs[-1]}", flush=True)
            for number in range(args.worker_runs):
                for worker in workers:
                    if not worker.running:
                        worker.stop()  # the one killed in the last run: its leftovers
                        worker.start()
                worker_runs.append(await one_run(api, workers, livekit, number, whole_worker=True))
                print(f"whole worker killed, run {number + 1}: {worker_runs[-1]}", flush=True)
        for worker in workers:
            worker.stop()
        outages = await database_runs(args.database_runs, workdir / "postgres", inference)
        node_kills = await node_runs(args.node_runs, workdir / "nodes", inference)
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
        "database_stopped": {
            "outage_seconds": OUTAGE_SECONDS,
            "runs": outages,
            "summary": summarise(outages, DATABASE_MEASURES),
        },
        "livekit_node_killed": {"runs": node_kills, "summary": summarise(node_kills, NODE_MEASURES)},
    }


async def database_outage_run(
    api: httpx.Client, backend: Backend, postgres: PostgresServer, number: int
) -> dict:
    """PostgreSQL stopped for ``OUTAGE_SECONDS`` mid-conversation; seconds from its restart."""
    user = sign_in(api, display_name=f"Outage {number}")
    client = await VoiceClient.join(api, user)
    typed = ["Before the outage.", "During the outage, first.", "During the outage, second."]
    try:
        await client.wait_for("the greeting", lambda: client.agent_transcripts(), WAIT_SECONDS)
        await client.ask(typed[0], WAIT_SECONDS)
        postgres.pause()
        stopped = time.monotonic()
        for text in typed[1:]:
            await client.ask(text, WAIT_SECONDS)
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
        postgres.resume()
        back = time.monotonic()
        said = len(client.agent_transcripts()) + len(typed)

        def health_ok() -> bool:
            return httpx.get(f"{backend.base_url}/api/health", timeout=5).status_code == 200

        def all_stored() -> bool:
            return sum(len(messages) for _c, messages in stored_conversations(backend, user.user_id)) >= said

        health_back = await seconds_until("/api/health answering 200", health_ok, back)
        stored = await seconds_until("every message stored", all_stored, back)
    finally:
        await client.close()
    return {"health_back_s": health_back, "outage_messages_stored_s": stored}


async def node_killed_run(
    through_dead: httpx.Client, through_live: httpx.Client, node: LiveKitServer, number: int
) -> dict:
    """The node a user came through is killed; seconds until the user talks to an agent again."""
    user = sign_in(through_dead, display_name=f"Node {number}")
    client = await VoiceClient.join(through_dead, user)
    try:
        await client.wait_for("the greeting", lambda: client.agent_transcripts(), WAIT_SECONDS)
        await client.ask("Are you there?", WAIT_SECONDS)
        node.kill()
        killed = time.monotonic()
        await client.wait_for(
            "the client noticing",
            lambda: {"reconnecting", "disconnected"} & set(client.connection_events),
            30,
        )
        noticed = round(time.monotonic() - killed, 2)
    finally:
        await client.close()
    again = await join_again(through_live, user)  # what the page's Try again does
    try:
        await again.wait_for("the new agent's greeting", lambda: again.agent_transcripts(), WAIT_SECONDS)
        answering = round(time.monotonic() - killed, 2)
    finally:
        await again.close()
    node.start()
    await asyncio.sleep(10)  # the restarted node is counted again by the others
    return {"client_noticed_s": noticed, "agent_answering_again_s": answering}


async def database_runs(count: int, workdir: Path, inference: InferenceService) -> list[dict]:
    """``count`` outages on a stack of its own on PostgreSQL."""
    if not count:
        return []
    os.makedirs(workdir, exist_ok=True)
    postgres = PostgresServer(workdir, user="voice_app", password=secrets.token_hex(12), database="voice_app")
    postgres.start()
    migrate_database(postgres.url)
    livekit = LiveKitServer(workdir).start()
    backend = Backend(workdir, livekit, GENEROUS_LIMITS, database_url=postgres.url).start()
    worker = AgentWorker(workdir / "worker-on-postgres", livekit, backend, inference, mode="start").start()
    runs: list[dict] = []
    try:
        with httpx.Client(base_url=backend.base_url, timeout=30) as api:
            for number in range(count):
                runs.append(await database_outage_run(api, backend, postgres, number))
                print(f"database stopped for {OUTAGE_SECONDS} s, run {number + 1}: {runs[-1]}", flush=True)
    finally:
        worker.stop()
        backend.stop()
        livekit.stop()
        postgres.stop()
    return runs


async def node_runs(count: int, workdir: Path, inference: InferenceService) -> list[dict]:
    """``count`` node kills on two livekit-server nodes sharing Redis, one backend per node."""
    if not count:
        return []
    os.makedirs(workdir, exist_ok=True)
    stack = TwoNodes.start(workdir, inference, backend_env=GENEROUS_LIMITS, worker_mode="start")
    runs: list[dict] = []
    try:
        with (
            httpx.Client(base_url=stack.backends[1].base_url, timeout=30) as through_second,
            httpx.Client(base_url=stack.backends[0].base_url, timeout=30) as through_first,
        ):
            for number in range(count):
                runs.append(await node_killed_run(through_second, through_first, stack.nodes[1], number))
                print(f"livekit node killed, run {number + 1}: {runs[-1]}", flush=True)
    finally:
        stack.stop()
    return runs


def summarise(
    runs: list[dict[str, float]], measures: Iterable[str] = MEASURES
) -> dict[str, dict[str, float]]:
    """p50 and max of each measure."""
    if not runs:
        return {}
    return {
        name: {"p50": round(statistics.median(r[name] for r in runs), 2), "max": max(r[name] for r in runs)}
        for name in measures
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
        "client_noticed_s": "the page says the agent was lost",
        "lost_agent_gone_s": "the lost agent leaves the room",
        "new_agent_joined_s": "a new agent joins",
        "new_agent_text_s": 'its first words ("… I\'m back …") as text',
        "new_agent_audio_s": "its voice",
    }
    for name, label in labels.items():
        cells = [
            f"{part['summary'][name][stat]}" if name in part["summary"] else "—"
            for part in (job, worker)
            for stat in ("p50", "max")
        ]
        print(f"| {label} | {' | '.join(cells)} |")
    print("\n| fault | measured from | what | p50 s | max s | runs |")
    print("|---|---|---|---|---|---|")
    other = {
        "database_stopped": (
            f"PostgreSQL stopped {OUTAGE_SECONDS} s",
            "its restart",
            {
                "health_back_s": "`/api/health` 200 again",
                "outage_messages_stored_s": "every message of the outage stored",
            },
        ),
        "livekit_node_killed": (
            "the user's LiveKit node killed",
            "the kill",
            {
                "client_noticed_s": "the client notices",
                "agent_answering_again_s": "an agent greets the user again (after Try again)",
            },
        ),
    }
    for key, (fault, since, labels) in other.items():
        part = result[key]
        for name, label in labels.items():
            if part["summary"]:
                summary = part["summary"][name]
                print(
                    f"| {fault} | {since} | {label} | {summary['p50']} | {summary['max']} | {len(part['runs'])} |"
                )


def main() -> None:
    """Parse arguments, run, write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--worker-runs", type=int, default=5)
    parser.add_argument("--database-runs", type=int, default=5)
    parser.add_argument("--node-runs", type=int, default=5)
    result = asyncio.run(run(parser.parse_args()))
    if RESULTS.exists():  # a fault run 0 times keeps its last measured figures
        earlier = json.loads(RESULTS.read_text())
        for key, part in result.items():
            if isinstance(part, dict) and part.get("runs") == [] and key in earlier:
                result[key] = earlier[key]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)


if __name__ == "__main__":
    main()
