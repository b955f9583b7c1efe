"""Conversation turns with the agent worker on the offline pipeline, measured from the user's side.

Starts a livekit-server, the local inference service, the backend (for sign-in and tokens) and
the worker (`python -m agent_worker start`, offline pipeline) on free ports, then joins as users
with the LiveKit Python SDK, speaking espeak-ng questions into the microphone track as a browser
would.

1. **Latency** (one conversation, ``--turns`` questions): from the end of the user's speech (the
   last sound of the question played out of the client's microphone source; espeak-ng's ~0.3 s
   of trailing silence in the recording does not count) to the first
   non-silent audio frame of the agent's answer received by the client, p50/p95. The worker's own
   report for each turn (the ``voice-app.latency`` data message) splits it into stages: end of
   speech -> turn decision, -> final transcript (STT), LLM time to first token and to first
   sentence, TTS time to first audio, and end of speech -> agent speaking as the worker sees it.
2. **Capacity**: conversations are added one at a time, each user asking a question as soon as
   the agent finished answering the last one (a busy, unbroken conversation). For each count
   the worker's load is measured over ``--window`` seconds as the CPU time its process tree
   (main process and job processes, from /proc via psutil) used per second of wall time per
   CPU: the same number the worker reports to LiveKit (see agent_worker/load.py). The machine's
   1-minute load average per CPU is printed next to it but is not used: the machine is shared.
   Capacity is the largest count whose answers stay at e2e p50 <= 1.5 s. Memory is the
   proportional set size (PSS: shared pages split between the processes sharing them) of the
   worker's tree plus the inference service's tree, so forked job processes are not counted
   several times for the pages they share.
3. **Pauses** (``--paused`` sentences): "I would like to book a table ... for two people" with
   0.4 s of silence in the middle; a false cut-off is an answer that starts before the sentence
   ended, or the sentence stored as two user messages.
4. **All at once** (``--simultaneous`` users): the users join, hear their greetings, then ask a
   question at the same moment; each one's wait for the answer's first sound.

Writes bench/results/agent_turns.json and prints markdown tables.

    .venv/bin/python bench/agent_turns.py [--turns 20] [--max-conversations 8] [--window 30]
        [--paused 10] [--simultaneous 6]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_worker.process_tree import ProcessTree
from tests.factories import sign_in
from tests.support.backend import Backend
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.processes import REPO_ROOT
from tests.support.speech import QUESTIONS, spoken_frame, spoken_with_pauses, trailing_silence_seconds
from tests.support.voice_client import VoiceClient
from tests.support.worker import AgentWorker

RESULTS = REPO_ROOT / "bench" / "results" / "agent_turns.json"
STAGES = ("end_of_turn_ms", "stt_ms", "llm_ttft_ms", "llm_first_sentence_ms", "tts_ttfb_ms", "e2e_ms")
E2E_LIMIT_MS = 1500
CROWD_FRAME_MS = 40
"""Audio frame length of the simulated users when there are many: keeps the bench's own CPU low
(the machine is shared with what it measures). The single-user latency uses 10 ms frames."""
REPLY_SECONDS = 60
PAUSED_PARTS = ["I would like to book a table", "for two people tomorrow evening"]


@dataclass
class Turn:
    """One question and the first sound of its answer."""

    client_e2e_ms: float
    stages: dict[str, int | None]


@dataclass
class Talker:
    """A simulated user in a busy conversation: asks again as soon as the agent is done."""

    client: VoiceClient
    questions: list
    turns: list[Turn] = field(default_factory=list)
    task: asyncio.Task | None = None

    async def ask(self, index: int) -> Turn:
        """Ask one question and wait until the agent finished answering it."""
        client = self.client
        await client.wait_for("the agent listening", lambda: client.agent_states[-1][1] == "listening", 60)
        reports_before = len(client.latency_reports)
        question = self.questions[index % len(self.questions)]
        # the recording's own trailing silence is not speech: the user stopped before it
        ended = await client.speak(question) - trailing_silence_seconds(question)
        first = await client.wait_for(
            "the answer's first sound", lambda: client.loud_frames(after=ended), REPLY_SECONDS
        )
        await client.wait_for(
            "the turn's latency report", lambda: len(client.latency_reports) > reports_before, REPLY_SECONDS
        )
        report = client.latency_reports[-1]
        turn = Turn((first[0].received_at - ended) * 1000, {stage: report.get(stage) for stage in STAGES})
        self.turns.append(turn)
        return turn

    async def keep_talking(self) -> None:
        """Ask questions back to back until cancelled."""
        index = 0
        while True:
            with contextlib.suppress(AssertionError):  # an unheard question: ask the next one
                await self.ask(index)
            index += 1
            await asyncio.sleep(0.5)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0-1) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: list[float]) -> dict[str, float | None]:
    """p50, p95 and max, rounded to milliseconds."""
    pick = {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "max": max(values, default=None)}
    return {key: None if value is None else round(value) for key, value in pick.items()}


async def join(api: httpx.Client, name: str, *, frame_ms: int = 10) -> VoiceClient:
    """A new user joins their room and waits for the greeting to end."""
    user = await asyncio.to_thread(sign_in, api, display_name=name)
    client = await VoiceClient.join(api, user, frame_ms=frame_ms)
    await client.wait_for("the greeting", lambda: client.agent_transcripts(), 60)
    await client.wait_for("the agent listening", lambda: client.agent_states[-1][1] == "listening", 60)
    return client


async def measure_latency(api: httpx.Client, questions: list, turns: int) -> dict:
    """One conversation, ``turns`` questions one after another."""
    talker = Talker(await join(api, "Latency"), questions)
    try:
        for index in range(turns):
            turn = await talker.ask(index)
            print(f"  turn {index + 1:2d}: {turn.client_e2e_ms:6.0f} ms  {turn.stages}", flush=True)
    finally:
        await talker.client.close()
    result = {
        "turns": len(talker.turns),
        "client_end_of_speech_to_first_audio_ms": summary([t.client_e2e_ms for t in talker.turns]),
    }
    for stage in STAGES:
        result[stage] = summary([t.stages[stage] for t in talker.turns if t.stages[stage] is not None])
    return result


async def measure_capacity(
    api: httpx.Client,
    worker: AgentWorker,
    inference: InferenceService,
    questions: list,
    maximum: int,
    window: float,
) -> tuple[list[dict], int | None]:
    """Add busy conversations one by one; latency, CPU and memory for each count.

    Also returns the first count whose new conversation never got going (no greeting within
    60 s, when the machine is past what it can hold), or None.
    """
    cpu = ProcessTree(worker.pid)
    models_cpu = ProcessTree(inference.pid)
    cpus = psutil.cpu_count() or 1
    talkers: list[Talker] = []
    rows = []
    not_started = None
    try:
        for count in range(1, maximum + 1):
            try:
                client = await join(api, f"Load {count}", frame_ms=CROWD_FRAME_MS)
            except AssertionError as failure:
                print(f"  {count} conversations: the new one never got going ({failure})", flush=True)
                not_started = count
                break
            talker = Talker(client, questions)
            talker.task = asyncio.create_task(talker.keep_talking())
            talkers.append(talker)
            await asyncio.sleep(5)  # let the new conversation settle into its rhythm
            turns_before = [len(t.turns) for t in talkers]
            cpu.cpu_seconds_since_last_call()
            models_cpu.cpu_seconds_since_last_call()
            started = time.monotonic()
            await asyncio.sleep(window)
            elapsed = time.monotonic() - started
            load = cpu.cpu_seconds_since_last_call() / (elapsed * cpus)
            models_load = models_cpu.cpu_seconds_since_last_call() / (elapsed * cpus)
            latencies = [
                turn.client_e2e_ms
                for t, before in zip(talkers, turns_before, strict=False)
                for turn in t.turns[before:]
            ]
            row = {
                "conversations": count,
                "worker_load": round(load, 3),
                "inference_load": round(models_load, 3),
                "machine_load_per_cpu": round(os.getloadavg()[0] / cpus, 2),
                "turns_in_window": len(latencies),
                "client_e2e_ms": summary(latencies),
                "memory_mb": round(cpu.memory_mb() + models_cpu.memory_mb()),
            }
            rows.append(row)
            print(f"  {row}", flush=True)
            if (row["client_e2e_ms"]["p50"] or 0) > 2 * E2E_LIMIT_MS:
                break
    finally:
        for talker in talkers:
            if talker.task:
                talker.task.cancel()
        await asyncio.gather(*(t.task for t in talkers if t.task), return_exceptions=True)
        await asyncio.gather(*(t.client.close() for t in talkers), return_exceptions=True)
    return rows, not_started


async def measure_pauses(api: httpx.Client, workdir: Path, sentences: int) -> dict:
    """Sentences with a 0.4 s pause in the middle: how many were cut off."""
    sentence = spoken_with_pauses(PAUSED_PARTS, 0.4, workdir)
    talker = Talker(await join(api, "Pauses"), [sentence])
    cut_off = 0
    client = talker.client
    try:
        for index in range(sentences):
            await client.wait_for(
                "the agent listening", lambda: client.agent_states[-1][1] == "listening", 60
            )
            started = time.monotonic()
            heard_before = len(client.user_transcripts())
            ended = await client.speak(sentence)
            await client.wait_for("an answer", lambda end=ended: client.loud_frames(after=end), REPLY_SECONDS)
            await asyncio.sleep(1.5)
            spoken = client.loud_frames(after=started)
            early = bool(spoken) and spoken[0].received_at < ended
            split = len(client.user_transcripts()) - heard_before > 1
            cut_off += bool(early or split)
            print(f"  paused sentence {index + 1}: {'CUT OFF' if early or split else 'ok'}", flush=True)
    finally:
        await client.close()
    return {"sentences": sentences, "pause_seconds": 0.4, "false_cut_offs": cut_off}


async def measure_simultaneous(api: httpx.Client, questions: list, users: int) -> dict:
    """``users`` join, then all ask at the same moment."""
    joined = await asyncio.gather(
        *(join(api, f"Together {n}", frame_ms=CROWD_FRAME_MS) for n in range(users)), return_exceptions=True
    )
    clients = [client for client in joined if isinstance(client, VoiceClient)]
    try:
        talkers = [Talker(client, questions) for client in clients]
        answers = await asyncio.gather(*(t.ask(n) for n, t in enumerate(talkers)), return_exceptions=True)
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    waits = [turn.client_e2e_ms for turn in answers if isinstance(turn, Turn)]
    return {
        "users": users,
        "got_an_agent": len(clients),
        "got_an_answer": len(waits),
        "client_e2e_ms": summary(waits),
    }


async def run(args: argparse.Namespace) -> dict:
    """Start everything, measure, stop everything."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-agent-turns-"))
    questions = [spoken_frame(text, workdir) for text in QUESTIONS]
    livekit = LiveKitServer(workdir).start()
    backend = worker = inference = None
    try:
        inference = InferenceService(workdir).start()
        backend = Backend(workdir, livekit).start()
        worker = AgentWorker(
            workdir, livekit, backend, inference, mode="start", extra_env={"WORKER_LOAD_THRESHOLD": "2"}
        ).start()
        with httpx.Client(base_url=backend.base_url, timeout=30) as api:
            print("latency:", flush=True)
            latency = await measure_latency(api, questions, args.turns)
            print("pauses:", flush=True)
            pauses = await measure_pauses(api, workdir, args.paused)
            print("all at once:", flush=True)
            simultaneous = await measure_simultaneous(api, questions, args.simultaneous)
            print(f"  {simultaneous}", flush=True)
            print("capacity:", flush=True)
            capacity, not_started = await measure_capacity(
                api, worker, inference, questions, args.max_conversations, args.window
            )
    finally:
        for process in (worker, backend, inference, livekit):
            if process is not None:
                process.stop()
    held = [row["conversations"] for row in capacity if (row["client_e2e_ms"]["p50"] or 0) <= E2E_LIMIT_MS]
    return {
        "machine": {
            "cpus": psutil.cpu_count(),
            "processor": platform.machine(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "pipeline": "local inference service (whisper tiny.en, SmolLM2-135M-Instruct Q4_1 on llama-server, espeak-ng)",
        "latency": latency,
        "pauses": pauses,
        "simultaneous": simultaneous,
        "capacity": {
            "e2e_limit_ms": E2E_LIMIT_MS,
            "window_seconds": args.window,
            "rows": capacity,
            "conversations_held": max(held, default=0),
            "first_count_not_started": not_started,
        },
    }


def print_tables(result: dict) -> None:
    """Markdown tables for the README."""
    latency = result["latency"]
    print(f"\nLatency over {latency['turns']} spoken turns (ms):\n")
    print("| stage | p50 | p95 |\n|---|---|---|")
    names = {
        "client_end_of_speech_to_first_audio_ms": "end of speech -> first agent audio at the client",
        "end_of_turn_ms": "end of speech -> turn decision (worker)",
        "stt_ms": "end of speech -> final transcript (STT)",
        "llm_ttft_ms": "LLM time to first token",
        "llm_first_sentence_ms": "LLM time to first sentence (speech starts per sentence)",
        "tts_ttfb_ms": "TTS time to first audio",
        "e2e_ms": "end of speech -> agent speaking (worker)",
    }
    for key, name in names.items():
        print(f"| {name} | {latency[key]['p50']} | {latency[key]['p95']} |")
    pauses = result["pauses"]
    print(
        f"\nPaused sentences: {pauses['false_cut_offs']} false cut-offs of {pauses['sentences']} "
        f"({pauses['pause_seconds']} s pause)"
    )
    together = result["simultaneous"]
    print(
        f"\n{together['users']} users asking at once: {together['got_an_agent']} got an agent, "
        f"{together['got_an_answer']} an answer; e2e p50 {together['client_e2e_ms']['p50']} ms, "
        f"max {together['client_e2e_ms']['max']} ms"
    )
    print("\nConversations on one worker (busy users, back-to-back questions):\n")
    print("| conversations | e2e p50 ms | e2e p95 ms | worker load | inference load | memory MB (PSS) |")
    print("|---|---|---|---|---|---|")
    for row in result["capacity"]["rows"]:
        e2e = row["client_e2e_ms"]
        print(
            f"| {row['conversations']} | {e2e['p50']} | {e2e['p95']} | {row['worker_load']} | "
            f"{row['inference_load']} | {row['memory_mb']} |"
        )
    held = result["capacity"]["conversations_held"]
    print(f"\nHeld at e2e p50 <= {E2E_LIMIT_MS} ms: {held} conversations")
    if result["capacity"]["first_count_not_started"]:
        print(
            f"Conversation {result['capacity']['first_count_not_started']} never got going (no greeting in 60 s)"
        )


def main() -> None:
    """Parse arguments, run, write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--paused", type=int, default=10)
    parser.add_argument("--simultaneous", type=int, default=6)
    parser.add_argument("--max-conversations", type=int, default=8)
    parser.add_argument("--window", type=float, default=30.0)
    result = asyncio.run(run(parser.parse_args()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_tables(result)


if __name__ == "__main__":
    main()
