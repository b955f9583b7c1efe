"""CPU of a conversation's audio path in the worker: livekit-agents' defaults against ours, same run.

Two per-conversation costs that the remote-models capacity is made of (see remote_capacity.py):

- **caption pacing**: the speaking-rate estimate livekit-agents computes on the agent's speech to
  show its words as they are spoken; its Python loop of short FFTs against the batched one of
  ``agent_worker/transcript_pacing.py`` (same numbers, pinned by a unit test);
- **voice activity detection**: each 32 ms window handed to a thread and back (the library's
  default) against run at once on the event loop (``agent_worker/providers/voice_activity.py``).
  A conversation runs two detectors on the user's audio.

Both get 30 s of espeak-ng speech in 50 ms frames, as fast as they take it; the figure is the
process's CPU time per second of audio, best of 5 alternating rounds.
Writes bench/results/audio_path.json and prints a markdown table.

    .venv/bin/python bench/audio_path.py
"""

from __future__ import annotations

import asyncio
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import psutil
from livekit import rtc
from livekit.agents import inference, utils
from livekit.agents.voice.transcription._speaking_rate import SpeakingRateDetector

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_worker.providers.voice_activity import INLINE
from agent_worker.transcript_pacing import BatchedSpeakingRateDetector
from tests.support.processes import REPO_ROOT
from tests.support.speech import QUESTIONS, spoken_frame

RESULTS = REPO_ROOT / "bench" / "results" / "audio_path.json"
SECONDS = 30.0
FRAME_MS = 50
ROUNDS = 5


def speech(workdir: Path) -> list[rtc.AudioFrame]:
    """``SECONDS`` of espeak-ng speech, in ``FRAME_MS`` frames."""
    spoken = [spoken_frame(question, workdir) for question in QUESTIONS]
    stream = utils.audio.AudioByteStream(spoken[0].sample_rate, 1, spoken[0].sample_rate * FRAME_MS // 1000)
    frames: list[rtc.AudioFrame] = []
    while sum(frame.duration for frame in frames) < SECONDS:
        for frame in spoken:
            frames.extend(stream.push(frame.data.tobytes()))
    return frames


async def pace(detector: SpeakingRateDetector, frames: list[rtc.AudioFrame]) -> None:
    stream = detector.stream()
    for frame in frames:
        stream.push_frame(frame)
    stream.end_input()
    async for _ in stream:
        pass


async def detect(detector: inference.VAD, frames: list[rtc.AudioFrame]) -> None:
    stream = detector.stream()

    async def listen() -> None:
        async for _ in stream:
            pass

    listening = asyncio.create_task(listen())
    for frame in frames:
        stream.push_frame(frame)
        await asyncio.sleep(0)  # as frames arrive from the room, one at a time
    stream.end_input()
    await listening
    await stream.aclose()


def cpu_ms_per_audio_second(run: Callable[[], Coroutine[Any, Any, None]], audio_seconds: float) -> float:
    process = psutil.Process()
    before = process.cpu_times()
    asyncio.run(run())
    after = process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return used * 1000 / audio_seconds


def main() -> None:
    frames = speech(Path(tempfile.mkdtemp(prefix="bench-audio-path-")))
    audio_seconds = sum(frame.duration for frame in frames)
    variants: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
        "caption pacing, livekit-agents' loop": lambda: pace(SpeakingRateDetector(), frames),
        "caption pacing, batched (ours)": lambda: pace(BatchedSpeakingRateDetector(), frames),
        "VAD, window on a thread (livekit-agents' default)": lambda: detect(
            inference.VAD(min_silence_duration=0.25), frames
        ),
        "VAD, window on the event loop (ours)": lambda: detect(
            inference.VAD(min_silence_duration=0.25, executor=INLINE), frames
        ),
    }
    measured: dict[str, list[float]] = {name: [] for name in variants}
    started = time.monotonic()
    for _ in range(ROUNDS):
        for name, run in variants.items():
            measured[name].append(cpu_ms_per_audio_second(run, audio_seconds))
    best = {name: round(min(values), 2) for name, values in measured.items()}
    names = list(best)
    result = {
        "machine": {
            "cpus": psutil.cpu_count(),
            "processor": platform.machine(),
            "python": platform.python_version(),
        },
        "audio_seconds": round(audio_seconds, 1),
        "frame_ms": FRAME_MS,
        "sample_rate": frames[0].sample_rate,
        "rounds": ROUNDS,
        "cpu_ms_per_audio_second": best,
        "ratios": {
            "caption pacing": round(best[names[1]] / best[names[0]], 2),
            "VAD": round(best[names[3]] / best[names[2]], 2),
        },
        "seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{audio_seconds:.0f} s of speech at {frames[0].sample_rate} Hz, best of {ROUNDS}\n")
    print("| stage | CPU ms per second of audio | ratio |")
    print("|---|---|---|")
    for index, name in enumerate(names):
        baseline = best[names[index - index % 2]]
        print(f"| {name} | {best[name]} | {best[name] / baseline:.2f}x |")


if __name__ == "__main__":
    main()
