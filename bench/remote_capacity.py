"""How many conversations one agent worker holds when the models are remote, and what it adds.

A team in production points the worker at remote or self-hosted model servers; then the worker
itself (rooms, audio, voice activity detection, turn taking) is what limits a machine. Here the
models are a stand-in server in its own process (``bench/standin_server.py``: an OpenAI-compatible
API with realistic first-byte delays and streaming speeds, no model). Conversations are added in
steps; in each, every user asks a 2.3 s question, waits for the answer's first sound, listens a
few seconds and asks again. For each step:

- **worker load**: the CPU time of the worker's process tree per second of wall time per core
  (the figure it reports to LiveKit, see agent_worker/load.py);
- **added latency**: end of the user's speech -> first sound of the answer at the client, less the
  stand-in's own delays on the critical path (the tail pass's 0.1 s of quiet, the transcription
  delay, the LLM's first-byte delay and the first clause's tokens, the voice's first-byte delay):
  what the framework and the worker add. The one-conversation step is the same run's baseline.
- **floor**: the same number of bare agents (``media_floor.py``: a process per conversation that
  only hears and speaks through livekit, no agent framework), on the same LiveKit server once the
  worker has stopped. ``worker / floor`` is what the agent framework and the worker cost on top of
  the media path no worker can do without.

Writes bench/results/remote_capacity.json and prints a markdown table.

    .venv/bin/python bench/remote_capacity.py [--steps 1,5,10,15,20,25,30] [--window 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import media_floor
from agent_turns import Turn, summary
from standin_server import REPLY

from agent_worker.process_tree import ProcessTree
from agent_worker.providers.live_transcription import TAIL_SILENCE_SECONDS
from tests.factories import sign_in
from tests.support.backend import Backend
from tests.support.livekit import LiveKitServer
from tests.support.processes import REPO_ROOT, ManagedProcess, free_port, tool_env, wait_until
from tests.support.speech import QUESTIONS, spoken_frame
from tests.support.voice_client import VoiceClient
from tests.support.worker import AgentWorker

RESULTS = REPO_ROOT / "bench" / "results" / "remote_capacity.json"
DELAYS = {"stt": 0.15, "llm": 0.3, "tokens_per_second": 50.0, "tts": 0.2}
FIRST_CLAUSE_WORDS = len(REPLY.split(",")[0].split())
CRITICAL_PATH_S = (
    TAIL_SILENCE_SECONDS
    + DELAYS["stt"]
    + DELAYS["llm"]
    + FIRST_CLAUSE_WORDS / DELAYS["tokens_per_second"]
    + DELAYS["tts"]
)
CLIENT_FRAME_MS = 40
"""The simulated users send and receive 40 ms frames: the bench's own CPU stays low."""


class Standin:
    """The stand-in model server, as its own process."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        argv = [
            sys.executable,
            str(REPO_ROOT / "bench" / "standin_server.py"),
            "--port",
            str(self.port),
            "--stt-delay",
            str(DELAYS["stt"]),
            "--llm-delay",
            str(DELAYS["llm"]),
            "--tokens-per-second",
            str(DELAYS["tokens_per_second"]),
            "--tts-delay",
            str(DELAYS["tts"]),
        ]
        self._process = ManagedProcess(f"standin-{self.port}", argv, log_dir=workdir, env=tool_env())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> Standin:
        self._process.start()
        wait_until(
            lambda: httpx.post(f"{self.base_url}/audio/transcriptions", content=b"").status_code == 200,
            timeout=30,
            what="the stand-in server",
        )
        return self

    def stop(self) -> None:
        self._process.stop()


async def converse(client: VoiceClient, question, turns: list[Turn]) -> None:
    """Ask, wait for the answer's first sound, listen a while, ask again; until cancelled."""
    await asyncio.sleep(random.uniform(0, 6))
    while True:
        with contextlib.suppress(AssertionError):
            await client.wait_for(
                "the agent listening", lambda: client.agent_states[-1][1] == "listening", 30
            )
            ended = await client.speak(question)
            first = await client.wait_for("the answer", lambda end=ended: client.loud_frames(after=end), 30)
            turns.append(Turn((first[0].received_at - ended) * 1000, {}))
        await asyncio.sleep(random.uniform(3, 6))


async def run(args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-remote-capacity-"))
    livekit = LiveKitServer(workdir).start()
    try:
        rows, not_started = await conversations_on_a_worker(args, workdir, livekit)
        # the same LiveKit server, now free of the worker's conversations
        floor = await media_floor.measure(livekit, [row["conversations"] for row in rows], args.window)
    finally:
        livekit.stop()
    for row, floor_row in zip(rows, floor, strict=True):
        row["floor_load"] = floor_row["floor_load"]
        row["worker_to_floor"] = round(row["worker_load"] / floor_row["floor_load"], 2)
    return {
        "machine": {
            "cpus": psutil.cpu_count(),
            "processor": platform.machine(),
            "python": platform.python_version(),
        },
        "standin_delays_s": DELAYS,
        "critical_path_ms": round(CRITICAL_PATH_S * 1000),
        "window_seconds": args.window,
        "rows": rows,
        "first_count_not_started": not_started,
    }


async def conversations_on_a_worker(
    args: argparse.Namespace, workdir: Path, livekit: LiveKitServer
) -> tuple[list[dict], int | None]:
    """The worker's load and added latency at each step; and the first conversation not started."""
    question = spoken_frame(QUESTIONS[0], workdir)
    standin = backend = worker = None
    rows = []
    not_started = None
    clients: list[VoiceClient] = []
    tasks: list[asyncio.Task] = []
    turns: list[Turn] = []
    try:
        standin = Standin(workdir).start()
        backend = Backend(workdir, livekit).start()
        worker = AgentWorker(
            workdir,
            livekit,
            backend,
            SimpleInference(standin.base_url),
            mode="start",
            extra_env={
                "PIPELINE": "auto",
                "STT_BASE_URL": standin.base_url,
                "STT_MODEL": "standin",
                "LLM_BASE_URL": standin.base_url,
                "LLM_MODEL": "standin",
                "TTS_BASE_URL": standin.base_url,
                "TTS_MODEL": "standin",
                "FALLBACK_TO_LOCAL": "false",
                "MAX_CONVERSATIONS": "100",
                "WORKER_LOAD_THRESHOLD": "0.99",
                "WORKER_IDLE_PROCESSES": "3",
            },
        ).start()
        cpu = ProcessTree(worker.pid)
        cpus = psutil.cpu_count() or 1
        with httpx.Client(base_url=backend.base_url, timeout=30) as api:
            for step in args.steps:
                while len(clients) < step and not_started is None:
                    user = await asyncio.to_thread(sign_in, api, display_name=f"Remote {len(clients) + 1}")
                    client = await VoiceClient.join(api, user, frame_ms=CLIENT_FRAME_MS)
                    clients.append(client)
                    try:
                        await client.wait_for("the greeting", lambda c=client: c.agent_transcripts(), 60)
                    except AssertionError:
                        not_started = len(clients)  # past what the machine holds: stop adding
                        print(f"  conversation {not_started} got no greeting within 60 s", flush=True)
                        break
                    tasks.append(asyncio.create_task(converse(client, question, turns)))
                if not_started is not None:
                    break
                await asyncio.sleep(8)  # the new users settle into their rhythm
                before = len(turns)
                cpu.cpu_seconds_since_last_call()
                started = time.monotonic()
                await asyncio.sleep(args.window)
                load = cpu.cpu_seconds_since_last_call() / ((time.monotonic() - started) * cpus)
                window_turns = [turn.client_e2e_ms for turn in turns[before:]]
                added = [ms - CRITICAL_PATH_S * 1000 for ms in window_turns]
                row = {
                    "conversations": len(clients),
                    "worker_load": round(load, 3),
                    "turns": len(window_turns),
                    "client_e2e_ms": summary(window_turns),
                    "added_ms": summary(added),
                    "worker_memory_mb": round(cpu.memory_mb()),
                    "machine_load_per_cpu": round(os.getloadavg()[0] / cpus, 2),
                }
                rows.append(row)
                print(f"  {row}", flush=True)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        for process in (worker, backend, standin):
            if process is not None:
                process.stop()
    return rows, not_started


class SimpleInference:
    """What the worker fixture needs from an inference service: its URL (unused with remote models)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


def print_table(result: dict) -> None:
    print(f"\nStand-in critical path: {result['critical_path_ms']} ms\n")
    print(
        "| conversations | worker load | bare agents' load (floor) | worker / floor | e2e p50 ms "
        "| added p50 ms | added p95 ms | memory MB (PSS) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in result["rows"]:
        print(
            f"| {row['conversations']} | {row['worker_load']} | {row['floor_load']} | {row['worker_to_floor']} | "
            f"{row['client_e2e_ms']['p50']} | "
            f"{row['added_ms']['p50']} | {row['added_ms']['p95']} | {row['worker_memory_mb']} |"
        )
    if result["first_count_not_started"]:
        print(f"\nConversation {result['first_count_not_started']} got no greeting within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=lambda text: [int(n) for n in text.split(",")], default=[1, 5, 10, 15, 20, 25, 30]
    )
    parser.add_argument("--window", type=float, default=30.0)
    result = asyncio.run(run(parser.parse_args()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)


if __name__ == "__main__":
    main()
