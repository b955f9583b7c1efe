"""Streaming speech-to-text over a whole-utterance one: interim passes while the user speaks.

Whisper (and OpenAI-compatible ``/audio/transcriptions`` servers) transcribe whole clips. Left to
livekit-agents' ``stt.StreamAdapter``, the clip is sent only at the VAD's end of speech, so the
turn waits for a full transcription after the silence. Here the utterance so far is transcribed
every ``interval`` seconds while the user speaks (interim results for live captions), and once
more as soon as the voice drops (the *tail pass*). The tail pass is reported as a *preflight*
transcript, on which livekit-agents starts preparing the reply, and when the VAD confirms the
end of the utterance with no speech since, it is the final transcript: nothing is left to
transcribe after the silence. The utterance ends only after ``UTTERANCE_SILENCE_SECONDS``, so a
short pause in the middle of a sentence does not split it. Interim passes run one at a time per
conversation, spaced out when the transcription server is slow, which bounds their CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Any, Never

from livekit import rtc
from livekit.agents import APIConnectOptions, stt, utils, vad
from livekit.agents.stt.stream_adapter import DEFAULT_STREAM_ADAPTER_API_CONNECT_OPTIONS
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

TAIL_SILENCE_SECONDS = 0.1
"""Quiet this long (VAD below its threshold) starts the tail pass."""
UTTERANCE_SILENCE_SECONDS = 0.5
"""Silence that ends an utterance: a pause in a sentence is usually shorter. The turn itself is
decided by the session's endpointing, which waits at least as long."""


class LiveTranscriptionSTT(stt.STT[Never]):
    """Wraps a non-streaming STT into a streaming one with interim and early final transcripts.

    It emits no events of its own (``Never``), only the base ones, forwarding ``metrics_collected``.
    """

    def __init__(self, *, recognizer: stt.STT[Any], voice_activity: vad.VAD, interval: float = 0.6) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=True))
        self._stt = recognizer
        self._vad = voice_activity
        self._interval = interval
        self._stt.on("metrics_collected", self._forward_metrics)

    @property
    def wrapped_stt(self) -> stt.STT[Any]:
        """The whole-utterance STT doing the work (what fallback handlers compare against)."""
        return self._stt

    @property
    def voice_activity(self) -> vad.VAD:
        """The VAD that cuts the utterances (with a longer silence than the session's)."""
        return self._vad

    @property
    def interval(self) -> float:
        """Seconds of new speech between two interim passes (at least)."""
        return self._interval

    @property
    def model(self) -> str:
        """The wrapped STT's model."""
        return self._stt.model

    @property
    def provider(self) -> str:
        """The wrapped STT's provider."""
        return self._stt.provider

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.SpeechEvent:
        return await self._stt.recognize(buffer=buffer, language=language, conn_options=conn_options)

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> LiveTranscriptionStream:
        """One conversation's microphone: feed frames, read speech events."""
        return LiveTranscriptionStream(self, language=language, conn_options=conn_options)

    def _forward_metrics(self, *args: object, **kwargs: object) -> None:
        self.emit("metrics_collected", *args, **kwargs)

    async def aclose(self) -> None:
        """Stop forwarding the wrapped STT's metrics."""
        self._stt.off("metrics_collected", self._forward_metrics)


@dataclass
class _Pass:
    """One transcription of the utterance up to ``covers`` seconds of it."""

    covers: float
    task: asyncio.Task[stt.SpeechEvent]
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def seconds(self) -> float:
        """How long the pass took (so far)."""
        return (self.finished or time.monotonic()) - self.started


@dataclass
class _Utterance:
    """The audio of the speech in progress and the passes made over it."""

    frames: list[rtc.AudioFrame] = field(default_factory=list[rtc.AudioFrame])
    duration: float = 0.0
    last_pass: _Pass | None = None
    tail_pass: _Pass | None = None
    """Started when the voice dropped, and no speech since: the final transcript in waiting."""

    def add(self, frames: list[rtc.AudioFrame]) -> None:
        self.frames.extend(frames)
        self.duration += sum(frame.duration for frame in frames)


class LiveTranscriptionStream(stt.RecognizeStream):
    """Speech events of one microphone: start and end of speech, interim and final transcripts."""

    def __init__(
        self, live: LiveTranscriptionSTT, *, language: NotGivenOr[str], conn_options: APIConnectOptions
    ) -> None:
        super().__init__(stt=live, conn_options=DEFAULT_STREAM_ADAPTER_API_CONNECT_OPTIONS)
        self._live = live
        self._language = language
        self._pass_conn_options = conn_options
        self._utterance: _Utterance | None = None

    async def _metrics_monitor_task(self, event_aiter: AsyncIterable[stt.SpeechEvent]) -> None:
        async for _ in event_aiter:  # the wrapped STT reports its own metrics per pass
            pass

    async def _run(self) -> None:
        vad_stream = self._live.voice_activity.stream()

        async def forward_input() -> None:
            async for item in self._input_ch:
                if isinstance(item, self._FlushSentinel):
                    vad_stream.flush()
                else:
                    vad_stream.push_frame(item)
            vad_stream.end_input()

        async def follow_speech() -> None:
            async for event in vad_stream:
                await self._on_vad_event(event)

        tasks = [asyncio.create_task(forward_input()), asyncio.create_task(follow_speech())]
        try:
            await asyncio.gather(*tasks)
        finally:
            await utils.aio.cancel_and_wait(*tasks)
            self._drop_utterance()
            await vad_stream.aclose()

    async def _on_vad_event(self, event: vad.VADEvent) -> None:
        if event.type == vad.VADEventType.START_OF_SPEECH:
            self._drop_utterance()
            self._utterance = _Utterance()
            self._utterance.add(event.frames)
            self._event_ch.send_nowait(stt.SpeechEvent(stt.SpeechEventType.START_OF_SPEECH))
        elif event.type == vad.VADEventType.INFERENCE_DONE and self._utterance is not None:
            self._on_audio(self._utterance, event)
        elif event.type == vad.VADEventType.END_OF_SPEECH and self._utterance is not None:
            utterance, self._utterance = self._utterance, None
            await self._finish(utterance, event)

    def _on_audio(self, utterance: _Utterance, event: vad.VADEvent) -> None:
        utterance.add(event.frames)
        if event.raw_accumulated_silence >= TAIL_SILENCE_SECONDS:
            if utterance.tail_pass is None:
                utterance.tail_pass = self._start_pass(utterance)
                self._report(utterance, utterance.tail_pass)
            return
        if event.raw_accumulated_speech > 0:
            utterance.tail_pass = None  # the voice came back: that pass was not the end
        last = utterance.last_pass
        if last is not None and not last.task.done():
            return
        # a busy transcription server slows the passes down: space them out rather than queue them
        interval = max(self._live.interval, 2 * last.seconds) if last else self._live.interval
        if utterance.duration - (last.covers if last else 0.0) >= interval:
            self._report(utterance, self._start_pass(utterance))

    def _start_pass(self, utterance: _Utterance) -> _Pass:
        frames = rtc.combine_audio_frames(utterance.frames)
        task = asyncio.create_task(
            self._live.wrapped_stt.recognize(
                buffer=frames, language=self._language, conn_options=self._pass_conn_options
            )
        )
        transcription = _Pass(covers=utterance.duration, task=task)
        task.add_done_callback(lambda _: setattr(transcription, "finished", time.monotonic()))
        utterance.last_pass = transcription
        return transcription

    def _report(self, utterance: _Utterance, transcription: _Pass) -> None:
        """Report a pass when it is done, unless the utterance already has its final transcript.

        The tail pass is a preflight transcript (the likely final one), any other an interim
        one. A pass that ends after the final transcript must not overwrite it.
        """

        def report(task: asyncio.Task[stt.SpeechEvent]) -> None:
            if self._utterance is not utterance:
                return
            tail = utterance.tail_pass is transcription
            kind = (
                stt.SpeechEventType.PREFLIGHT_TRANSCRIPT if tail else stt.SpeechEventType.INTERIM_TRANSCRIPT
            )
            self._send_text(kind, task)

        transcription.task.add_done_callback(report)

    def _send_text(self, kind: stt.SpeechEventType, task: asyncio.Task[stt.SpeechEvent]) -> None:
        if task.cancelled() or task.exception() is not None or self._event_ch.closed:
            return
        alternatives = task.result().alternatives
        if alternatives and alternatives[0].text:
            self._event_ch.send_nowait(stt.SpeechEvent(kind, alternatives=[alternatives[0]]))

    async def _finish(self, utterance: _Utterance, event: vad.VADEvent) -> None:
        speech_end_time = time.time() - event.silence_duration - event.inference_duration
        self._event_ch.send_nowait(
            stt.SpeechEvent(stt.SpeechEventType.END_OF_SPEECH, speech_end_time=speech_end_time)
        )
        final = utterance.tail_pass
        if final is None:
            final = _Pass(
                covers=utterance.duration,
                task=asyncio.create_task(
                    self._live.wrapped_stt.recognize(
                        buffer=utils.merge_frames(event.frames),
                        language=self._language,
                        conn_options=self._pass_conn_options,
                    )
                ),
            )
        try:
            result = await final.task
        except asyncio.CancelledError:
            raise
        except Exception:
            # the wrapped STT already reported its error; a lost utterance must not end the stream
            return
        if result.alternatives and result.alternatives[0].text:
            self._event_ch.send_nowait(
                stt.SpeechEvent(
                    stt.SpeechEventType.FINAL_TRANSCRIPT,
                    alternatives=[result.alternatives[0]],
                    speech_end_time=speech_end_time,
                )
            )

    def _drop_utterance(self) -> None:
        if self._utterance is not None and self._utterance.last_pass is not None:
            with contextlib.suppress(Exception):
                self._utterance.last_pass.task.cancel()
        self._utterance = None
