"""Ten minutes of conversations back to back: lost messages, worker memory, latency at start vs end.

Starts a livekit-server, the local inference service, the backend and one worker
(`python -m agent_worker start`, offline pipeline) on free ports. After one warm-up conversation,
two users at a time hold conversations back to back (each a new user: greeting, three typed
questions answered one after another, leave) until the time is up (`tests/support/soak.py`,
the same code as the suite's two-minute soak). Then:

- conversations, turns, and messages lost (said or heard by a user but not stored as such);
- memory (PSS) of the worker's process tree and of the inference service, idle after the
  warm-up and idle at the end (goal: within 10 %);
- p50/p95 from a typed question to the answer's first audible frame, in the first and the last
  quarter of the conversations;
- ERROR lines in the worker's and the backend's logs.

Writes bench/results/soak.json and prints a markdown table.

    .venv/bin/python bench/soak.py [--seconds 600] [--lanes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_turns import summary

from agent_worker.process_tree import ProcessTree
from tests.support.backend import Backend
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.processes import REPO_ROOT
from tests.support.soak import SoakConversation, back_to_back, error_lines, lost_messages, one_conversation
from tests.support.worker import AgentWorker

RESULTS = REPO_ROOT / "bench" / "results" / "soak.json"
SETTLE_SECONDS = 10
"""After the last conversation: job processes exit and idle ones are warmed again."""


def memory_mb(*pids: int) -> float:
    """PSS of the processes and their descendants, in MB."""
    return round(ProcessTree(*pids).memory_mb(), 1)


def latency(conversations: list[SoakConversation]) -> dict[str, float | None]:
    """p50/p95/max in ms from question to first audio over these conversations' turns."""
    return summary([seconds * 1000 for c in conversations for seconds in c.first_audio_seconds])


async def run(args: argparse.Namespace) -> dict:
    """Start the parts, warm up, soak, measure, stop everything."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    livekit = LiveKitServer(workdir).start()
    inference = InferenceService(workdir).start()
    backend = Backend(workdir, livekit).start()
    worker = AgentWorker(workdir / "worker", livekit, backend, inference, mode="start").start()
    try:
        with httpx.Client(base_url=backend.base_url, timeout=30) as api:
            await one_conversation(api, -1)
            await asyncio.sleep(SETTLE_SECONDS)
            warm = {"worker_mb": memory_mb(worker.pid), "inference_mb": memory_mb(inference.pid)}
            worker_log, backend_log = len(worker.log()), len(backend.log())
            print(
                f"warmed up: {warm}; soaking {args.seconds} s with {args.lanes} users at a time", flush=True
            )
            conversations = await back_to_back(api, seconds=args.seconds, lanes=args.lanes)
            await asyncio.sleep(SETTLE_SECONDS)
            end = {"worker_mb": memory_mb(worker.pid), "inference_mb": memory_mb(inference.pid)}
            losses = await lost_messages(backend, conversations)
            errors = error_lines(worker.log()[worker_log:]) + error_lines(backend.log()[backend_log:])
    finally:
        worker.stop()
        backend.stop()
        inference.stop()
        livekit.stop()
    by_start = sorted(conversations, key=lambda c: c.started_at)
    quarter = max(len(by_start) // 4, 1)
    return {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "seconds": args.seconds,
        "lanes": args.lanes,
        "conversations": len(conversations),
        "turns": sum(len(c.asked) for c in conversations),
        "messages": sum(len(c.asked) + len(c.heard) for c in conversations),
        "lost_messages": sum(len(loss.missing) for loss in losses),
        "unexpected_messages": sum(len(loss.unexpected) for loss in losses),
        "memory_after_warm_up": warm,
        "memory_at_end": end,
        "worker_memory_change": round(end["worker_mb"] / warm["worker_mb"] - 1, 3),
        "first_audio_ms_first_quarter": latency(by_start[:quarter]),
        "first_audio_ms_last_quarter": latency(by_start[-quarter:]),
        "error_lines": errors[:20],
    }


def print_table(result: dict) -> None:
    """The README's table."""
    start, end = result["first_audio_ms_first_quarter"], result["first_audio_ms_last_quarter"]
    warm, last = result["memory_after_warm_up"], result["memory_at_end"]
    print(
        f"\n{result['seconds']} s, {result['lanes']} users at a time: {result['conversations']} conversations, "
        f"{result['turns']} questions, {result['messages']} messages\n"
    )
    print("| measure | after warm-up / first quarter | at the end / last quarter |")
    print("|---|---|---|")
    print(f"| worker memory (PSS, MB) | {warm['worker_mb']} | {last['worker_mb']} |")
    print(f"| inference service memory (PSS, MB) | {warm['inference_mb']} | {last['inference_mb']} |")
    print(
        f"| question → first audio p50 / p95 (ms) | {start['p50']} / {start['p95']} | {end['p50']} / {end['p95']} |"
    )
    print(f"| messages lost / unexpected | | {result['lost_messages']} / {result['unexpected_messages']} |")
    print(f"| ERROR lines in the worker's and backend's logs | | {len(result['error_lines'])} |")


def main() -> None:
    """Parse arguments, run, write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--lanes", type=int, default=2)
    result = asyncio.run(run(parser.parse_args()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)


if __name__ == "__main__":
    main()
