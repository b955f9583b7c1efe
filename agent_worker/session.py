"""One conversation: the job that joins the user's room and runs an ``AgentSession`` there.

``prewarm`` runs once per job process (models are shared by its conversations); ``entrypoint``
runs once per dispatched job. The session hears the user (Silero VAD -> STT), answers (LLM ->
TTS), can be interrupted, publishes both sides' transcripts on ``lk.transcription`` and its state
in the ``lk.agent.state`` attribute, answers chat text from ``lk.chat`` in speech and transcript,
and ends the job when the user leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

from livekit import rtc
from livekit.agents import (
    AgentSession,
    AutoSubscribe,
    CloseEvent,
    CloseReason,
    ConversationItemAddedEvent,
    ErrorEvent,
    JobContext,
    JobProcess,
    TurnHandlingOptions,
    llm,
    room_io,
    tts,
)
from livekit.agents.types import TOPIC_CHAT
from sqlalchemy import Engine

from agent_worker import prompts
from agent_worker.agent import VoiceAssistant
from agent_worker.conversation_start import ConversationStart, load_conversation_start
from agent_worker.heartbeat import keep_beating
from agent_worker.latency import LatencyReporter
from agent_worker.providers import STAGES, Pipeline, ProcessModels, build_pipeline, load_process_models
from agent_worker.push_to_talk import enable_push_to_talk
from agent_worker.resume import EarlierConversation, earlier_conversation
from agent_worker.settings import WorkerSettings, get_worker_settings
from agent_worker.tools import ToolContext, offered_tools
from agent_worker.tools.reporting import ToolReporter
from agent_worker.transcript_pacing import build_caption_hyphenator, pace_captions_in_batches
from agent_worker.transcripts import TranscriptStore, engine_for
from voice_app.logs import quiet_library_warnings
from voice_app.protocol import LLM_PROVIDER_ATTRIBUTE, AgentDispatchMetadata

logger = logging.getLogger(__name__)


SHUTDOWN_TASKS_SECONDS = 5.0
"""How long a ending job waits for its own tasks (notices, latency reports) before cancelling them.

Unbounded, one reliable data send to a room the user had just left held a job process for the
supervisor's whole shutdown timeout (a minute), and with it a draining worker."""

TYPED_MARK = "voice_app_typed"
"""Set in ``ChatMessage.extra`` on user messages that came from the chat, not the microphone."""


def turn_handling(settings: WorkerSettings, models: ProcessModels) -> TurnHandlingOptions:
    """When the user's turn ends, what may interrupt the agent, and what starts before the end.

    The reply (LLM and voice) starts on the final transcript, before the turn is committed, and is
    dropped if the user goes on. Interruptions are decided on voice activity: the adaptive
    interruption model needs LiveKit Cloud.
    """
    return {
        "turn_detection": models.turn_detector or "vad",
        "endpointing": {
            "min_delay": settings.ENDPOINTING_MIN_DELAY,
            "max_delay": settings.ENDPOINTING_MAX_DELAY,
        },
        "interruption": {"enabled": True, "mode": "vad"},
        "preemptive_generation": {"enabled": settings.PREEMPTIVE_GENERATION, "preemptive_tts": True},
    }


MICROPHONE = room_io.AudioInputOptions(
    sample_rate=16_000, auto_gain_control=False, pre_connect_audio=True, pre_connect_audio_timeout=3.0
)
"""Whisper and the VADs work at 16 kHz, so nothing is resampled twice; browsers already apply
their own gain control. Measured on espeak-ng questions through the room: 100% of words heard
right, against 93-98% at the 24 kHz default.

Pre-connect audio: the talk page records the microphone from the moment Start is pressed and
sends that recording as soon as the agent is in the room; it is heard before the live audio, so
words said before the agent was there are not lost (`tests/test_speak_at_once.py`)."""


def microphone(*, push_to_talk: bool, resumed: bool) -> room_io.AudioInputOptions:
    """How the user's microphone is heard, with the pre-connect recording or without.

    Without it for push-to-talk (what was said before the agent joined was said outside a press)
    and for an agent sent in place of a lost one: the page recorded only for the first agent, and
    the room's input would otherwise wait ``pre_connect_audio_timeout`` for a recording that never
    comes, hearing nothing live meanwhile and then all of it at once.
    """
    if push_to_talk or resumed:
        return dataclasses.replace(MICROPHONE, pre_connect_audio=False)
    return MICROPHONE


async def open_room_io(
    ctx: JobContext, session: AgentSession[ToolContext], options: room_io.RoomOptions
) -> room_io.RoomIO:
    """The session's input and output in the room, made before the agent joins it.

    The browser sends its pre-connect recording the moment the agent is in the room; a byte stream
    that arrives before its handler exists is dropped by the SDK. ``AgentSession.start(room=...)``
    would create this only once the session starts, which here is after the user has joined and
    their records are read, so it is made first and the session started on it later. It is closed
    after the session, when the job ends.
    """
    conversation_io = room_io.RoomIO(session, ctx.room, options=options)
    await conversation_io.start()

    async def close_after_session(_reason: str) -> None:
        await session.aclose()
        await conversation_io.aclose()

    ctx.add_shutdown_callback(close_after_session)
    return conversation_io


AEC_WARMUP_SECONDS: float | None = None
"""No echo-cancellation warm-up: livekit-agents' default (3 s) feeds the
speech-to-text silence for the first 3 s the agent speaks (the greeting), so a user who started
talking before the agent joined lost their question under the greeting. Without it, their voice
interrupts the greeting and is heard whole; the browser's own echo cancellation (on by default in
getUserMedia) keeps the greeting from interrupting itself."""


def hear_microphone(room: rtc.Room, identity: str) -> None:
    """Subscribe to the user's audio now that the session listens, and to any they publish later.

    The browser records its pre-connect buffer until the agent subscribes to its microphone, so
    the buffer ends where the live audio begins. Only the user's microphone: the agent does not
    look at their camera or screen, and subscribing to them would only cost decoding.
    """

    def subscribe(publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == identity and publication.kind == rtc.TrackKind.KIND_AUDIO:
            publication.set_subscribed(True)

    room.on("track_published", subscribe)
    if (participant := room.remote_participants.get(identity)) is not None:
        for publication in participant.track_publications.values():
            subscribe(publication, participant)


WARM_IMPORTS = (
    "openai.pagination",
    "openai.resources.chat.completions",
    "openai.lib.streaming.chat",
    "anyio._backends._asyncio",
)
"""Modules a conversation's first answer would import on its event loop, delaying the greeting
(livekit-agents logs each such block); imported while the process warms up instead."""


def prewarm(proc: JobProcess) -> None:
    """Load the VAD and the end-of-turn detector once per job process, and more.

    Also made here is what a conversation would otherwise make on its event loop as it starts:
    the model servers' HTTP clients, the database engine and lazily imported modules. No model
    weights: those live in the local inference service.
    """
    settings = get_worker_settings()
    quiet_library_warnings(settings.LOG_LEVEL)  # a job process does not inherit the worker's filters
    models = proc.userdata["models"] = load_process_models(settings)
    pace_captions_in_batches()
    build_caption_hyphenator()
    with contextlib.suppress(ValueError):  # a missing setting fails the conversation, saying which
        build_pipeline(settings, models)
    engine_for(settings.DATABASE_URL)  # imports its dialect; connects only when first used
    for module in WARM_IMPORTS:
        with contextlib.suppress(ImportError):  # a library's inner layout may change
            importlib.import_module(module)


async def entrypoint(ctx: JobContext) -> None:
    """Run one conversation with the user who dispatched this job."""
    settings = get_worker_settings()
    models: ProcessModels = ctx.proc.userdata["models"]
    pipeline = build_pipeline(settings, models, conversation=ctx.job.room.name or ctx.job.id)
    metadata = AgentDispatchMetadata.parse(ctx.job.metadata)
    tool_context = ToolContext(job_id=ctx.job.id)
    tools = offered_tools(pipeline.providers["llm"], local_llm_tools=settings.LOCAL_LLM_TOOLS)

    session = AgentSession(
        userdata=tool_context,
        vad=models.vad,
        stt=pipeline.stt,
        llm=pipeline.llm,
        tts=pipeline.tts,
        turn_handling=turn_handling(settings, models),
        aec_warmup_duration=AEC_WARMUP_SECONDS,
    )
    room_options = room_io.RoomOptions(
        text_input=room_io.TextInputOptions(text_input_cb=answer_typed_message),
        audio_input=MICROPHONE,
        close_on_disconnect=True,
    )
    greeting = (prompts.resumed_greeting if metadata.resumed else prompts.greeting)(metadata.display_name)

    if ctx.is_fake_job():  # `console` mode: no room, no user record
        agent = VoiceAssistant(greeting=greeting, tools=tools)
        await session.start(agent=agent, room=ctx.room, room_options=room_options)
        return

    # the greeting's words are known now: its audio is made while the room connects
    greeting_audio = asyncio.create_task(speak_ahead(pipeline.tts, greeting))
    # Who is coming is in the dispatch, so what the conversation starts with is read before
    # joining: the room's input must exist before the agent is in the room (see open_room_io).
    expected_user = metadata.user_id
    tool_context.engine = engine = engine_for(settings.DATABASE_URL)
    earlier = await _earlier_conversation(engine, ctx, expected_user) if metadata.resumed else None
    start = await _conversation_start(engine, expected_user, ctx.job.id)
    room_options.audio_input = microphone(push_to_talk=start.push_to_talk, resumed=metadata.resumed)
    # (no participant_identity in the options: RoomIO cannot take one before the room connects;
    # it links the first user to join, and only the user the token was made for can join)
    expected_identity = str(expected_user) if expected_user is not None else None
    conversation_io = await open_room_io(ctx, session, room_options)

    await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)  # see hear_microphone
    # The talk page reads this to say plainly when the tiny offline LLM is the one answering.
    await ctx.room.local_participant.set_attributes({LLM_PROVIDER_ATTRIBUTE: pipeline.providers["llm"]})
    keep_beating(ctx)  # how the user's page tells a lost agent from a quiet one
    try:
        participant = await asyncio.wait_for(
            ctx.wait_for_participant(identity=expected_identity),
            settings.USER_JOIN_TIMEOUT_SECONDS,
        )
    except TimeoutError:
        await _leave_unused_room(ctx, settings.USER_JOIN_TIMEOUT_SECONDS)
        return
    user_id = _user_id(participant, metadata)
    if user_id != expected_user:  # not the user the dispatch named: nothing of theirs is used
        earlier, start = None, ConversationStart()
    if start.push_to_talk:  # before hearing anything: only presses open the microphone
        enable_push_to_talk(session, ctx.room, user_identity=participant.identity)
    hear_microphone(ctx.room, participant.identity)
    store = _open_transcripts(settings, ctx, user_id, earlier.conversation_id if earlier else None)
    observer = ConversationObserver(ctx, session, pipeline, store)
    observer.watch()
    tool_context.participant = participant
    tool_context.user_id = store.user_id if store else None
    ToolReporter(ctx.room, store, tools, observer.spawn).watch(session)
    agent = VoiceAssistant(
        greeting=greeting,
        greeting_audio=greeting_audio,
        tools=tools,
        remembered=start.remembered,
        push_to_talk=start.push_to_talk,
        chat_ctx=earlier.chat_context() if earlier else None,
    )
    logger.info("conversation started", extra={"pipeline": pipeline.name, "push_to_talk": start.push_to_talk})
    await session.start(agent=agent)  # its input and output are conversation_io's
    conversation_io.register_text_input(answer_typed_message)
    if pipeline.providers["llm"] == "local":
        # while the greeting plays, let the local LLM read the prompt every reply starts with
        observer.spawn(read_ahead(pipeline.llm, prompts.INSTRUCTIONS, greeting))


async def read_ahead(model: llm.LLM[Any], instructions: str, greeting: str) -> None:
    """Ask for one token after the instructions and the greeting.

    The LLM server then has them in its prompt cache when the first question comes, and reads
    only the question.
    """
    chat_ctx = llm.ChatContext()
    chat_ctx.add_message(role="system", content=instructions)
    chat_ctx.add_message(role="assistant", content=greeting)
    try:
        async with model.chat(chat_ctx=chat_ctx, extra_kwargs={"max_tokens": 1}) as stream:
            async for _ in stream:
                pass
    except Exception:
        logger.debug("could not warm the LLM's prompt cache", exc_info=True)


async def speak_ahead(voice: tts.TTS[Any], text: str) -> list[rtc.AudioFrame] | None:
    """The audio of ``text``, made in advance; None if the voice failed (it is then spoken live)."""
    try:
        async with voice.synthesize(text) as stream:
            return [event.frame async for event in stream]
    except Exception:
        logger.warning("could not prepare the greeting's audio", exc_info=True)
        return None


async def _leave_unused_room(ctx: JobContext, waited_seconds: float) -> None:
    """Nobody joined: delete the room and end the job.

    Deleting means a later join re-creates the room with a new dispatch; waiting for LiveKit's
    empty timeout instead would hold a process with the models loaded for minutes.
    """
    logger.info("no user joined; leaving the room", extra={"waited_seconds": waited_seconds})
    try:
        await ctx.delete_room()
    except Exception:  # the room may already be gone; the job ends either way
        logger.warning("could not delete the unused room", exc_info=True)
    ctx.shutdown(reason="no user joined")


async def answer_typed_message(session: AgentSession[Any], event: room_io.TextInputEvent) -> None:
    """A chat message from the user: stop talking and answer it (spoken, with transcript)."""
    message = llm.ChatMessage(role="user", content=[event.text], extra={TYPED_MARK: True})
    with contextlib.suppress(RuntimeError):  # speech that may not be interrupted: answer after it
        await session.interrupt()
    session.generate_reply(user_input=message)


def _user_id(participant: rtc.RemoteParticipant, metadata: AgentDispatchMetadata) -> int | None:
    # the identity is the user's id: the backend signed it into the token
    return int(participant.identity) if participant.identity.isdigit() else metadata.user_id


async def _earlier_conversation(
    engine: Engine, ctx: JobContext, user_id: int | None
) -> EarlierConversation | None:
    """The stored conversation a lost agent was having here; None (a new one) if unreadable."""
    if user_id is None:
        return None
    try:
        return await asyncio.to_thread(earlier_conversation, engine, user_id=user_id, room_name=ctx.room.name)
    except Exception:
        logger.warning("could not read the conversation so far; starting a new one", exc_info=True)
        return None


async def _conversation_start(engine: Engine, user_id: int | None, job_id: str) -> ConversationStart:
    """The user's choices and memory; the defaults for a participant who is not an app user."""
    if user_id is None:
        return ConversationStart()
    return await asyncio.to_thread(load_conversation_start, engine, user_id=user_id, job_id=job_id)


def _open_transcripts(
    settings: WorkerSettings, ctx: JobContext, user_id: int | None, conversation_id: int | None
) -> TranscriptStore | None:
    if user_id is None:
        logger.warning("participant is not an app user; the conversation will not be stored")
        return None
    store = TranscriptStore(
        engine_for(settings.DATABASE_URL),
        user_id=user_id,
        room_name=ctx.room.name,
        job_id=ctx.job.id,
        conversation_id=conversation_id,
    )
    store.open()
    return store


class ConversationObserver:
    """Session events -> stored messages, latency reports, failure notices and the job's end."""

    def __init__(
        self,
        ctx: JobContext,
        session: AgentSession[ToolContext],
        pipeline: Pipeline,
        store: TranscriptStore | None,
    ) -> None:
        self._ctx = ctx
        self._session = session
        self._pipeline = pipeline
        self._store = store
        self._latency = LatencyReporter(ctx.room)
        self._failed_stages: set[str] = set()
        self._tasks: set[asyncio.Task[object]] = set()

    def watch(self) -> None:
        """Subscribe to the session, the fallback adapters and the job's shutdown."""
        self._session.on("conversation_item_added", self._on_item_added)
        self._session.on("error", self._on_error)
        self._session.on("close", self._on_close)
        for stage, fallback in self._pipeline.fallbacks.items():
            # each adapter names its event after its stage; pyright cannot pair the union with the name
            fallback.adapter.on(f"{stage}_availability_changed", self._availability_handler(stage))  # pyright: ignore[reportArgumentType]
        self._ctx.add_shutdown_callback(self._on_shutdown)

    def _on_item_added(self, event: ConversationItemAddedEvent) -> None:
        message = event.item
        if not isinstance(message, llm.ChatMessage) or message.role not in ("user", "assistant"):
            return
        text = message.text_content or ""
        if message.role == "user":
            typed = bool(message.extra.get(TYPED_MARK))
            self._latency.user_message(message, typed=typed)
            if self._store:
                self._store.add(
                    role="user", source="typed" if typed else "spoken", text=text, at=message.created_at
                )
        else:
            self.spawn(self._latency.agent_message(message))
            if text:
                # a stage without a fallback answered again: its next failure is news again
                self._failed_stages -= {stage for stage in STAGES if stage not in self._pipeline.fallbacks}
            if self._store:
                self._store.add(role="agent", source="spoken", text=text, at=message.created_at)

    def _on_error(self, event: ErrorEvent) -> None:
        error = event.error
        # an LLM, STT or TTS (livekit-agents types it with their bare generics): each names its
        # provider and model
        source = cast("object", event.source)
        stage = getattr(error, "type", "unknown").removesuffix("_error")
        recoverable = bool(getattr(error, "recoverable", False))
        logger.log(
            logging.WARNING if recoverable else logging.ERROR,
            "model provider failed",
            extra={
                "stage": stage,
                "provider": getattr(source, "provider", None),
                "model": getattr(source, "model", None),
                "recoverable": recoverable,
                "error_type": type(getattr(error, "error", error)).__name__,
            },
        )
        if not recoverable and stage in STAGES:
            self._notify_failure(stage, falling_back=False)

    def _availability_handler(self, stage: str) -> Callable[[object], None]:
        fallback = self._pipeline.fallbacks[stage]  # type: ignore[index]

        def on_change(event: object) -> None:
            remote = fallback.is_remote(getattr(event, stage))
            if getattr(event, "available", True):
                if remote:
                    self._notify_recovery(stage)
                return
            logger.error("model provider unavailable", extra={"stage": stage, "remote": remote})
            self._notify_failure(stage, falling_back=remote)

        return on_change

    def _notify_failure(self, stage: str, *, falling_back: bool) -> None:
        if stage in self._failed_stages:
            return
        self._failed_stages.add(stage)
        self.spawn(self._send_notice(prompts.provider_failed(stage, falling_back=falling_back)))

    def _notify_recovery(self, stage: str) -> None:
        if stage not in self._failed_stages:
            return
        self._failed_stages.discard(stage)
        logger.info("model provider recovered", extra={"stage": stage})
        self.spawn(self._send_notice(prompts.provider_recovered(stage)))

    async def _send_notice(self, text: str) -> None:
        """Tell the user in the chat (text only: the failing stage may be the voice)."""
        if not self._ctx.room.isconnected():
            return
        try:
            # uncompressed: not every browser SDK version reads compressed text streams
            await self._ctx.room.local_participant.send_text(text, topic=TOPIC_CHAT, compress=False)
        except Exception:
            logger.warning("could not send a chat notice", exc_info=True)
            return
        if self._store:
            self._store.add(role="agent", source="typed", text=text, at=time.time())

    def _on_close(self, event: CloseEvent) -> None:
        logger.info("conversation ended", extra={"reason": event.reason.value})

        async def end_job() -> None:
            if event.reason == CloseReason.ERROR:
                await self._send_notice(prompts.SESSION_FAILED)
            self._ctx.shutdown(reason=f"session closed: {event.reason.value}")

        self.spawn(end_job())

    async def _on_shutdown(self) -> None:
        if self._tasks:
            _done, late = await asyncio.wait(self._tasks, timeout=SHUTDOWN_TASKS_SECONDS)
            for task in late:  # e.g. a reliable send to a room whose user just left can wait for ever
                logger.warning(
                    "a conversation task did not finish as the job ended", extra={"task": repr(task)[:200]}
                )
                task.cancel()
        if self._store:
            await self._store.close()

    def spawn(self, coroutine: Coroutine[Any, Any, object]) -> None:
        """Run ``coroutine`` as part of the conversation (awaited before the job ends)."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
