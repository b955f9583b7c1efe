"""A conversation's audio path costs less CPU and behaves the same: the captions' pacing gets the
same speaking rate as livekit-agents computes, and the VAD gives the same answers without a
thread of its own (bench/remote_capacity.py measures the CPU)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import inference, vad
from livekit.agents.tokenize import _basic_hyphenator
from livekit.agents.voice import io
from livekit.agents.voice.transcription import _speaking_rate, synchronizer

from agent_worker.providers.voice_activity import INLINE, load_vad
from agent_worker.settings import WorkerSettings
from agent_worker.transcript_pacing import (
    BatchedSpeakingRateStream,
    build_caption_hyphenator,
    pace_captions_in_batches,
    spectral_flux,
)


def sounds(sample_rate: int) -> dict[str, np.ndarray]:
    """Signals of the kinds the agent plays: noise, a voice-like harmonic sweep, syllable bursts."""
    rng = np.random.default_rng(7)
    t = np.arange(sample_rate) / sample_rate
    sweep = sum(np.sin(2 * np.pi * (120 + 80 * t) * k * t) / k for k in range(1, 8))
    syllables = sweep * (np.sin(2 * np.pi * 4 * t) > 0)
    return {
        "noise": rng.standard_normal(sample_rate),
        "sweep": sweep,
        "syllables": syllables,
        "short": rng.standard_normal(int(sample_rate * 0.03)),
        "one frame": rng.standard_normal(int(sample_rate * 0.025)),
    }


@pytest.mark.parametrize("sample_rate", [16_000, 24_000, 48_000])
def test_the_batched_flux_is_the_librarys_for_every_kind_of_sound(sample_rate: int) -> None:
    library = _speaking_rate.SpeakingRateStream.__new__(_speaking_rate.SpeakingRateStream)
    for name, signal in sounds(sample_rate).items():
        audio = (0.3 * signal / np.max(np.abs(signal))).astype(np.float32)
        expected = library._spectral_flux(audio, sample_rate)  # pyright: ignore[reportPrivateUsage]
        assert spectral_flux(audio, sample_rate) == pytest.approx(expected, rel=1e-9, abs=1e-12), name


class Speaker(io.AudioOutput):
    """An audio output that plays nothing: enough for the synchroniser to be built on."""

    def __init__(self) -> None:
        super().__init__(label="test", capabilities=io.AudioOutputCapabilities(pause=True))

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)

    def flush(self) -> None:
        super().flush()

    def clear_buffer(self) -> None:
        pass


async def test_every_transcript_synchroniser_built_after_warm_up_paces_with_the_batched_flux(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(synchronizer, "SpeakingRateDetector", synchronizer.SpeakingRateDetector)
    pace_captions_in_batches()

    captions = synchronizer.TranscriptSynchronizer(next_in_chain_audio=Speaker(), next_in_chain_text=None)
    try:
        segment = captions._impl  # pyright: ignore[reportPrivateUsage]
        assert isinstance(segment._audio_data.sr_stream, BatchedSpeakingRateStream)  # pyright: ignore[reportPrivateUsage]
    finally:
        await captions.aclose()


def test_the_captions_hyphenator_is_built_while_the_process_warms_up_not_when_the_agent_speaks() -> None:
    _basic_hyphenator._get_hyphenator.cache_clear()  # pyright: ignore[reportPrivateUsage]

    build_caption_hyphenator()

    assert _basic_hyphenator._get_hyphenator.cache_info().currsize == 1  # pyright: ignore[reportPrivateUsage]


async def test_the_inline_executor_answers_on_the_callers_thread_and_raises_there() -> None:
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(INLINE, threading.get_ident) == threading.get_ident()
    with pytest.raises(ZeroDivisionError):
        await loop.run_in_executor(INLINE, divmod, 1, 0)


async def judged_windows(detector: vad.VAD) -> list[float]:
    """The speech probability of every window of a second of quiet, then a tone, then noise."""
    stream = detector.stream()
    sample_rate = 16_000
    t = np.arange(sample_rate // 100) / sample_rate
    rng = np.random.default_rng(3)
    probabilities: list[float] = []

    async def listen() -> None:
        async for event in stream:
            if event.type == vad.VADEventType.INFERENCE_DONE:
                probabilities.append(event.probability)

    listening = asyncio.create_task(listen())
    for index in range(150):  # 10 ms frames
        if index < 50:
            samples = np.zeros(len(t))
        elif index < 100:
            samples = 8000 * np.sin(2 * np.pi * 220 * (t + index / 100))
        else:
            samples = 3000 * rng.standard_normal(len(t))
        pcm = samples.astype(np.int16)
        stream.push_frame(rtc.AudioFrame(pcm.tobytes(), sample_rate, 1, len(pcm)))
    stream.end_input()
    await asyncio.wait_for(listening, 10)
    await stream.aclose()
    return probabilities


async def test_the_vad_judges_every_window_as_before_without_a_thread_of_its_own() -> None:
    inline = await judged_windows(load_vad(WorkerSettings(_env_file=None, VAD_MODEL="livekit"), 0.25))  # type: ignore[call-arg]
    assert not [thread.name for thread in threading.enumerate() if thread.name.startswith("inference.vad")]

    on_a_thread = await judged_windows(inference.VAD(min_silence_duration=0.25))
    assert len(inline) >= 45, "every 32 ms window was judged"
    assert inline == on_a_thread
