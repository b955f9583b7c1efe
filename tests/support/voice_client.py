"""A user's side of a conversation with the agent, with the LiveKit Python SDK instead of a browser.

It joins with a token from the API, publishes a microphone track (silence until it is told to
speak a recording), and keeps what a browser would show: transcripts on ``lk.transcription``,
chat messages on ``lk.chat``, the agent's ``lk.agent.state``, latency reports, and the loudness
of every audio frame the agent sends.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np
from livekit import rtc

from tests.factories import SignedInUser
from voice_app.protocol import (
    AGENT_SILENT_AFTER_SECONDS,
    END_TURN,
    HEARTBEAT_ATTRIBUTE,
    LATENCY_TOPIC,
    START_TURN,
    TIME_ZONE_ATTRIBUTE,
    TOOL_TOPIC,
)

TRANSCRIPTION_TOPIC = "lk.transcription"
CHAT_TOPIC = "lk.chat"
AGENT_STATE_ATTRIBUTE = "lk.agent.state"
MIC_SAMPLE_RATE = 48_000
MIC_FRAME_MS = 10
MIC_QUEUE_MS = 2000
"""A recording is handed to the audio source up to this far ahead of its playout, so a test
process starved of CPU for a moment (it shares 2 cores with the agent, the models and LiveKit)
leaves no holes in what the agent hears; held to 100 ms, a starved moment became silence inside
a word, and the transcript came out garbled."""
SILENCE_LEAD_SECONDS = 0.03
"""Silence is queued only this far ahead, so a recording starts when ``speak`` is called."""
SILENCE_RMS = 0.003
"""Frames quieter than this (about -50 dBFS) count as silence."""


@dataclass
class Transcript:
    """One finished ``lk.transcription`` stream: who it is about, its text, when it arrived."""

    speaker: str
    text: str
    segment_id: str
    received_at: float
    final: bool = True
    """False for an interim caption (``lk.transcription_final`` unset or false)."""
    first_received_at: float = 0.0
    """When the segment's first version (an interim caption, perhaps) arrived."""


@dataclass
class AgentFrame:
    """Loudness of one audio frame received from the agent."""

    received_at: float
    rms: float


@dataclass
class VoiceClient:
    """A connected room participant; ``await client.close()`` leaves the room."""

    identity: str
    room_name: str
    room: rtc.Room = field(default_factory=rtc.Room)
    transcripts: list[Transcript] = field(default_factory=list)
    chat_from_agent: list[Transcript] = field(default_factory=list)
    latency_reports: list[dict] = field(default_factory=list)
    tool_reports: list[dict] = field(default_factory=list)
    """The agent's tool calls as the page receives them: ``{"id", "name", "status", "text"}``."""
    agent_states: list[tuple[float, str]] = field(default_factory=list)
    agent_frames: list[AgentFrame] = field(default_factory=list)
    agent_joined_at: float | None = None
    connection_events: list[str] = field(default_factory=list)
    """The room's ``reconnecting`` / ``reconnected`` / ``disconnected`` events, in order."""
    agent_beats: dict[str, float] = field(default_factory=dict)
    """Agent identity -> when its heartbeat attribute last changed."""
    recoveries: list[str] = field(default_factory=list)
    """The outcomes of ``POST /api/rooms/{room}/agent/recover`` this client asked for."""
    recovery_asked_at: list[float] = field(default_factory=list)
    frame_ms: int = MIC_FRAME_MS
    """Length of the audio frames sent and received: longer frames cost the client less CPU."""
    _mic: rtc.AudioSource | None = None
    _speech: asyncio.Queue[rtc.AudioFrame | None] = field(default_factory=asyncio.Queue)
    _spoken: asyncio.Queue[float] = field(default_factory=asyncio.Queue)
    _tasks: set[asyncio.Task] = field(default_factory=set)

    @classmethod
    async def join(
        cls,
        api: httpx.Client,
        user: SignedInUser,
        room: str | None = None,
        *,
        frame_ms: int = MIC_FRAME_MS,
        server_url: str | None = None,
    ) -> VoiceClient:
        """Get a token from ``POST /api/generate-token`` and join the room it is for.

        ``server_url`` replaces the LiveKit URL the backend gives, as a load balancer in front of
        several LiveKit nodes would send the client to one that is up.
        """
        response = await asyncio.to_thread(
            api.post, "/api/generate-token", headers=user.headers, json={"room": room} if room else None
        )
        assert response.status_code == 200, f"token refused: {response.status_code} {response.text}"
        grant = response.json()
        client = cls(identity=grant["identity"], room_name=grant["room"], frame_ms=frame_ms)
        await client._connect(server_url or grant["server_url"], grant["token"])
        return client

    async def _connect(self, url: str, token: str) -> None:
        self.room.on("participant_connected", self._on_participant)
        self.room.on("participant_attributes_changed", self._on_attributes)
        self.room.on("track_subscribed", self._on_track)
        self.room.on("data_received", self._on_data)
        for event in ("reconnecting", "reconnected", "disconnected"):
            self.room.on(event, lambda *_args, event=event: self.connection_events.append(event))
        self.room.register_text_stream_handler(TRANSCRIPTION_TOPIC, self._on_text(self.transcripts))
        self.room.register_text_stream_handler(CHAT_TOPIC, self._on_text(self.chat_from_agent))
        await self.room.connect(url, token, rtc.RoomOptions(auto_subscribe=True))
        for participant in self.room.remote_participants.values():
            self._on_participant(participant)
        self._mic = rtc.AudioSource(MIC_SAMPLE_RATE, 1, queue_size_ms=MIC_QUEUE_MS)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", self._mic)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._spawn(self._microphone())

    # --- what the user does ---

    async def send_chat(self, text: str) -> float:
        """Type ``text`` into the chat; returns when it was sent (``time.monotonic()``)."""
        await self.room.local_participant.send_text(text, topic=CHAT_TOPIC)
        return time.monotonic()

    async def set_time_zone(self, time_zone: str) -> None:
        """Tell the agent the user's time zone, as the talk page does with the browser's."""
        await self.room.local_participant.set_attributes({TIME_ZONE_ATTRIBUTE: time_zone})

    async def press_to_talk(self) -> None:
        """Hold the push-to-talk button down (the page's RPC to the agent)."""
        await self._call_agent(START_TURN)

    async def release_to_send(self) -> None:
        """Let the push-to-talk button go: the agent ends the user's turn."""
        await self._call_agent(END_TURN)

    async def _call_agent(self, method: str) -> None:
        agent = self.agent_identity
        assert agent is not None, "no agent in the room to press to"
        await self.room.local_participant.perform_rpc(destination_identity=agent, method=method, payload="")

    async def speak(self, frame: rtc.AudioFrame) -> float:
        """Say a recording into the microphone in real time; returns when the speech ended."""
        await self._speech.put(frame)
        return await self._spoken.get()

    async def close(self) -> None:
        """Leave the room, as a browser tab closing does."""
        await self._speech.put(None)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.room.disconnect()

    def recover_silent_agents(self, api: httpx.Client, user: SignedInUser) -> None:
        """Do as the talk page does: when the agent's heartbeat stops, ask the backend to replace it."""
        self._spawn(self._watch_heartbeats(api, user))

    async def _watch_heartbeats(self, api: httpx.Client, user: SignedInUser) -> None:
        while True:
            await asyncio.sleep(1)
            now = time.monotonic()
            for identity, beat in list(self.agent_beats.items()):
                if now - beat < AGENT_SILENT_AFTER_SECONDS:
                    continue
                del self.agent_beats[identity]  # once per silence
                self.recovery_asked_at.append(now)
                response = await asyncio.to_thread(
                    api.post, f"/api/rooms/{self.room_name}/agent/recover", headers=user.headers
                )
                assert response.status_code == 200, f"recover refused: {response.status_code} {response.text}"
                self.recoveries.append(response.json()["outcome"])

    # --- what the user sees and hears ---

    @property
    def agent_identity(self) -> str | None:
        """The agent participant in the room, if one joined."""
        for participant in self.room.remote_participants.values():
            if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                return participant.identity
        return None

    def agent_attribute(self, name: str) -> str | None:
        """An attribute the agent participant set on itself, if it joined and set it."""
        for participant in self.room.remote_participants.values():
            if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                return participant.attributes.get(name)
        return None

    def agent_transcripts(self, after: float = 0.0) -> list[Transcript]:
        """What the agent said (as text), received after ``after``."""
        agent = self.agent_identity
        return [t for t in self.transcripts if t.speaker == agent and t.received_at > after and t.text]

    def user_transcripts(self, after: float = 0.0, *, interim: bool = False) -> list[Transcript]:
        """What the agent heard the user say, received after ``after`` (final only, unless ``interim``)."""
        return [
            t
            for t in self.transcripts
            if t.speaker == self.identity and t.received_at > after and (interim or t.final)
        ]

    def agent_state_since(self, since: float) -> str | None:
        """The agent's latest ``lk.agent.state`` if it changed after ``since``."""
        changes = [state for at, state in self.agent_states if at > since]
        return changes[-1] if changes else None

    def loud_frames(self, after: float = 0.0) -> list[AgentFrame]:
        """Agent audio frames that are not silence, received after ``after``."""
        return [f for f in self.agent_frames if f.received_at > after and f.rms > SILENCE_RMS]

    async def ask(self, text: str, seconds: float, *, until_listening: bool = True) -> None:
        """Type ``text`` and wait up to ``seconds`` for the agent's answer (and to listen again)."""
        sent = await self.send_chat(text)
        await self.wait_for(f"a reply to {text!r}", lambda: self.agent_transcripts(after=sent), seconds)
        if until_listening:
            await self.wait_for("the agent listening", lambda: self.agent_states[-1][1] == "listening", 30)

    async def wait_for(self, what: str, check: Callable[[], object], seconds: float) -> object:
        """Poll ``check`` until it returns something truthy; fail saying ``what`` never happened."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if result := check():
                return result
            await asyncio.sleep(0.05)
        raise AssertionError(f"{what} did not happen within {seconds:.0f} s")

    # --- room events ---

    def _on_participant(self, participant: rtc.RemoteParticipant) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT and self.agent_joined_at is None:
            self.agent_joined_at = time.monotonic()
            if state := participant.attributes.get(AGENT_STATE_ATTRIBUTE):
                self.agent_states.append((time.monotonic(), state))

    def _on_attributes(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        if HEARTBEAT_ATTRIBUTE in changed and participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            self.agent_beats[participant.identity] = time.monotonic()
        if AGENT_STATE_ATTRIBUTE in changed:
            self.agent_states.append((time.monotonic(), changed[AGENT_STATE_ATTRIBUTE]))

    def _on_text(self, into: list[Transcript]) -> Callable[[rtc.TextStreamReader, str], None]:
        def handler(reader: rtc.TextStreamReader, participant_identity: str) -> None:
            async def read() -> None:
                try:
                    text = await reader.read_all()
                except rtc.StreamError:
                    return  # the room closed while the stream was still coming in
                attributes = reader.info.attributes
                segment = attributes.get("lk.segment_id", reader.info.stream_id)
                final = attributes.get("lk.transcription_final", "true") == "true"
                now = time.monotonic()
                transcript = Transcript(participant_identity, text.strip(), segment, now, final, now)
                # A segment is sent again whenever it is updated: keep its latest text, as a UI does.
                # Streams are read concurrently, so an interim one can finish after the final one;
                # the final text stays.
                for index, earlier in enumerate(into):
                    if earlier.segment_id == segment and earlier.speaker == participant_identity:
                        if earlier.final and not final:
                            return
                        transcript.first_received_at = earlier.first_received_at
                        into[index] = transcript
                        return
                into.append(transcript)

            self._spawn(read())

        return handler

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic == LATENCY_TOPIC:
            self.latency_reports.append(json.loads(packet.data))
        elif packet.topic == TOOL_TOPIC:
            self.tool_reports.append(json.loads(packet.data))

    def _on_track(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if (
            track.kind == rtc.TrackKind.KIND_AUDIO
            and participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        ):
            stream = rtc.AudioStream(
                track, sample_rate=MIC_SAMPLE_RATE, num_channels=1, frame_size_ms=self.frame_ms
            )
            self._spawn(self._listen(stream))

    async def _listen(self, stream: rtc.AudioStream) -> None:
        async for event in stream:
            samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float32) / 32768.0
            rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
            self.agent_frames.append(AgentFrame(time.monotonic(), rms))

    async def _microphone(self) -> None:
        """Send silence, or a recording when one is queued, as a live microphone does."""
        assert self._mic is not None
        samples_per_frame = MIC_SAMPLE_RATE * self.frame_ms // 1000
        silence = rtc.AudioFrame(bytes(samples_per_frame * 2), MIC_SAMPLE_RATE, 1, samples_per_frame)
        while True:
            try:
                recording = self._speech.get_nowait()
            except asyncio.QueueEmpty:
                if self._mic.queued_duration < SILENCE_LEAD_SECONDS:
                    await self._mic.capture_frame(silence)
                else:
                    await asyncio.sleep(self.frame_ms / 2000)
                continue
            if recording is None:
                return
            for chunk in _chunks(_at_rate(recording, MIC_SAMPLE_RATE), samples_per_frame):
                await self._mic.capture_frame(chunk)
            await self._mic.wait_for_playout()
            self._spoken.put_nowait(time.monotonic())

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _at_rate(frame: rtc.AudioFrame, sample_rate: int) -> rtc.AudioFrame:
    if frame.sample_rate == sample_rate:
        return frame
    resampler = rtc.AudioResampler(frame.sample_rate, sample_rate, num_channels=frame.num_channels)
    return rtc.combine_audio_frames([*resampler.push(frame), *resampler.flush()])


def _chunks(frame: rtc.AudioFrame, samples_per_frame: int) -> list[rtc.AudioFrame]:
    data = np.frombuffer(frame.data, dtype=np.int16)
    chunks = []
    for start in range(0, len(data), samples_per_frame):
        piece = data[start : start + samples_per_frame]
        if len(piece) < samples_per_frame:
            piece = np.concatenate([piece, np.zeros(samples_per_frame - len(piece), dtype=np.int16)])
        chunks.append(rtc.AudioFrame(piece.tobytes(), frame.sample_rate, 1, samples_per_frame))
    return chunks
