"""The floor under a conversation's CPU: livekit's own media path, with no agent framework at all.

Each *bare agent* is a process of its own, as a job process is, that joins a room, hears the
user's microphone as the worker does (16 kHz, 50 ms frames) and speaks half of the time (24 kHz,
200 ms frames, as livekit-agents' room output sends them). It runs no VAD, no speech-to-text, no
LLM or voice: what it costs is livekit's WebRTC stack and its Python SDK alone. Opposite each, a
simulated user in this process sends its microphone all the time (40 ms frames, as
``remote_capacity.py``'s users) and hears the agent.

The load of the bare agents is what no change inside the worker can take below: a worker whose
conversations cost only this would hold ``0.7 / floor`` conversations at load 0.7.
``remote_capacity.py`` measures it in the same run as the real worker; alone:

    .venv/bin/python bench/media_floor.py [--steps 1,5,10] [--window 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import psutil
from livekit import api, rtc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from standin_server import SAMPLE_RATE as SPOKEN_RATE
from standin_server import tone

from agent_worker.process_tree import ProcessTree
from tests.support.livekit import LiveKitServer

HEARD_RATE, HEARD_FRAME_MS = 16_000, 50
"""How the worker hears the user (``MICROPHONE`` in agent_worker/session.py, RoomIO's frames)."""
SPOKEN_FRAME_MS = 200
"""How the worker speaks: livekit-agents' output frames, at the stand-in voice's rate."""
USER_RATE, USER_FRAME_MS = 48_000, 40
SPEAKS_SECONDS, QUIET_SECONDS = 3.0, 3.0


def frame(audio: bytes, sample_rate: int) -> rtc.AudioFrame:
    """Mono 16-bit audio as one frame."""
    return rtc.AudioFrame(audio, sample_rate, 1, len(audio) // 2)


def token(livekit: LiveKitServer, identity: str, room: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room)
    return (
        api.AccessToken(livekit.api_key, livekit.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .to_jwt()
    )


async def drain(stream: rtc.AudioStream) -> None:
    async for _ in stream:
        pass


async def bare_agent(url: str, access_token: str) -> None:
    """Join, hear every audio track published, speak half of the time; until killed."""
    room = rtc.Room()
    heard: list[asyncio.Task[None]] = []

    @room.on("track_subscribed")
    def hear(track: rtc.Track, *_: object) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            stream = rtc.AudioStream.from_track(
                track=track, sample_rate=HEARD_RATE, num_channels=1, frame_size_ms=HEARD_FRAME_MS
            )
            heard.append(asyncio.create_task(drain(stream)))

    await room.connect(url, access_token)
    voice = rtc.AudioSource(SPOKEN_RATE, 1, queue_size_ms=SPOKEN_FRAME_MS)
    await room.local_participant.publish_track(rtc.LocalAudioTrack.create_audio_track("voice", voice))
    speech = frame(tone(SPOKEN_FRAME_MS / 1000), SPOKEN_RATE)
    while True:
        until = time.monotonic() + SPEAKS_SECONDS
        while time.monotonic() < until:
            await voice.capture_frame(speech)
        await asyncio.sleep(QUIET_SECONDS)


async def simulated_user(url: str, access_token: str) -> rtc.Room:
    """A user whose microphone sends all the time (quiet), who hears the agent."""
    room = rtc.Room()
    streams: list[asyncio.Task[None]] = []

    @room.on("track_subscribed")
    def hear(track: rtc.Track, *_: object) -> None:
        stream = rtc.AudioStream.from_track(
            track=track, sample_rate=USER_RATE, num_channels=1, frame_size_ms=USER_FRAME_MS
        )
        streams.append(asyncio.create_task(drain(stream)))

    await room.connect(url, access_token)
    microphone = rtc.AudioSource(USER_RATE, 1)
    await room.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("microphone", microphone)
    )

    async def send() -> None:
        quiet = frame(bytes(USER_RATE * USER_FRAME_MS // 1000 * 2), USER_RATE)
        next_at = time.monotonic()
        while True:
            await microphone.capture_frame(quiet)
            next_at += USER_FRAME_MS / 1000
            await asyncio.sleep(max(next_at - time.monotonic(), 0))

    streams.append(asyncio.create_task(send()))
    room.on("disconnected", lambda *_: [task.cancel() for task in streams])
    return room


async def measure(livekit: LiveKitServer, steps: list[int], window: float) -> list[dict]:
    """The bare agents' load (CPU per core per second) at each number of conversations."""
    agents: list[asyncio.subprocess.Process] = []
    users: list[rtc.Room] = []
    rows = []
    cpus = psutil.cpu_count() or 1
    try:
        for step in steps:
            while len(agents) < step:
                name = f"floor-{len(agents)}"
                agents.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        __file__,
                        "--agent",
                        livekit.url,
                        token(livekit, f"{name}-agent", name),
                    )
                )
                users.append(await simulated_user(livekit.url, token(livekit, f"{name}-user", name)))
            await asyncio.sleep(8)  # joined, subscribed and talking
            tree = ProcessTree(*(agent.pid for agent in agents))
            started = time.monotonic()
            await asyncio.sleep(window)
            load = tree.cpu_seconds_since_last_call() / ((time.monotonic() - started) * cpus)
            rows.append({"conversations": step, "floor_load": round(load, 3)})
            print(f"  bare agents: {rows[-1]}", flush=True)
    finally:
        for agent in agents:
            with contextlib.suppress(ProcessLookupError):
                agent.kill()
        await asyncio.gather(*(agent.wait() for agent in agents))
        await asyncio.gather(*(user.disconnect() for user in users), return_exceptions=True)
    return rows


async def run(steps: list[int], window: float) -> list[dict]:
    livekit = LiveKitServer(Path(tempfile.mkdtemp(prefix="bench-media-floor-"))).start()
    try:
        return await measure(livekit, steps, window)
    finally:
        livekit.stop()


def main() -> None:
    if sys.argv[1:2] == ["--agent"]:
        asyncio.run(bare_agent(sys.argv[2], sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=lambda text: [int(n) for n in text.split(",")], default=[1, 5, 10])
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    print("| conversations | bare agents' load | per conversation |\n|---|---|---|")
    for row in asyncio.run(run(args.steps, args.window)):
        print(
            f"| {row['conversations']} | {row['floor_load']} | {row['floor_load'] / row['conversations']:.4f} |"
        )


if __name__ == "__main__":
    main()
