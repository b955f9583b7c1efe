"""Speech to text with faster-whisper, for OpenAI's ``/v1/audio/transcriptions``.

Whole uploads are recognised (no streaming), on a pool of ``LOCAL_STT_CONCURRENCY`` threads that
matches the model's ``num_workers``, never on the event loop: a transcription takes a CPU core
for a fraction of a second, and the loop must keep streaming speech and LLM tokens meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from livekit import rtc

from agent_worker.inference.wav import parse_wav_header

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

WHISPER_SAMPLE_RATE = 16_000
BEAM_SIZE = 1
"""Greedy decoding: on espeak-ng and natural speech it got the same words as a beam of 5, 20% faster."""
SHORT_CLIP_SECONDS = 25.0
"""Clips up to this long are encoded at their own length instead of Whisper's fixed 30 s window."""
MIN_WINDOW_SECONDS = 5.0
"""The shortest window: shorter ones made tiny.en repeat itself or hallucinate on one-word clips."""
REPETITION_PENALTY = 1.1
MAX_TOKENS_PER_SECOND = 6
"""Fast speech is about 4.5 tokens a second; a transcript longer than this bound is a loop."""
HOP_SAMPLES = 160
"""Audio samples per mel frame (10 ms at 16 kHz)."""


class UnsupportedAudio(ValueError):
    """The upload is not 16-bit PCM WAV."""


@dataclass(frozen=True)
class Transcript:
    """What was heard, in which language, in how many seconds of audio, found in how long."""

    text: str
    language: str
    duration: float
    seconds: float


def whisper_input(wav: bytes) -> np.ndarray:
    """A 16-bit PCM WAV file (any rate, any channels) as Whisper wants it: mono float32 at 16 kHz.

    Raises:
        UnsupportedAudio: the bytes are not a whole 16-bit PCM WAV header.

    """
    try:
        pcm = parse_wav_header(wav)
    except ValueError as error:
        raise UnsupportedAudio(str(error)) from error
    if pcm is None:
        raise UnsupportedAudio("the WAV file ends before its samples start")
    samples = np.frombuffer(pcm.samples(wav), dtype=np.int16).reshape(-1, pcm.num_channels)
    mono = samples.mean(axis=1).astype(np.int16) if pcm.num_channels > 1 else samples[:, 0]
    if pcm.sample_rate != WHISPER_SAMPLE_RATE and len(mono):
        resampler = rtc.AudioResampler(
            pcm.sample_rate, WHISPER_SAMPLE_RATE, quality=rtc.AudioResamplerQuality.HIGH
        )
        frame = rtc.AudioFrame(mono.tobytes(), pcm.sample_rate, 1, len(mono))
        resampled = [*resampler.push(frame), *resampler.flush()]
        mono = (
            np.frombuffer(rtc.combine_audio_frames(resampled).data, dtype=np.int16) if resampled else mono[:0]
        )
    return mono.astype(np.float32) / 32768.0


def whisper_language(language: str | None) -> str | None:
    """Whisper takes bare ISO 639-1 codes ("en", not "en-US"); English-only models ignore it."""
    if not language:
        return None
    return language.replace("_", "-").split("-")[0].lower() or None


class Transcriber:
    """The loaded Whisper model and the threads that run it."""

    def __init__(self, model: WhisperModel, *, name: str, concurrency: int) -> None:
        self.model = model
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="whisper")

    async def transcribe(
        self,
        wav: bytes,
        *,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
    ) -> Transcript:
        """Recognise the speech in a WAV file, on the model's threads.

        Raises:
            UnsupportedAudio: the file is not 16-bit PCM WAV.

        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._transcribe, wav, whisper_language(language), prompt, temperature
        )

    def _transcribe(
        self, wav: bytes, language: str | None, prompt: str | None, temperature: float
    ) -> Transcript:
        started = time.perf_counter()
        audio = whisper_input(wav)
        if not len(audio):
            return Transcript(text="", language=language or "en", duration=0.0, seconds=0.0)
        duration = len(audio) / WHISPER_SAMPLE_RATE
        knows_language = language is not None or not self.model.model.is_multilingual
        if duration <= SHORT_CLIP_SECONDS and knows_language and temperature == 0:
            return Transcript(
                text=self._transcribe_window(audio, language, prompt),
                language=language or "en",
                duration=duration,
                seconds=time.perf_counter() - started,
            )
        segments, info = self.model.transcribe(
            audio,
            language=language,
            initial_prompt=prompt or None,
            temperature=temperature,
            beam_size=BEAM_SIZE,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcript(
            text=text,
            language=info.language,
            duration=len(audio) / WHISPER_SAMPLE_RATE,
            seconds=time.perf_counter() - started,
        )

    def _transcribe_window(self, audio: np.ndarray, language: str | None, prompt: str | None) -> str:
        """Greedy decoding over a window as long as the clip (at least ``MIN_WINDOW_SECONDS``).

        faster-whisper always pads to Whisper's 30 s window, and the encoder's cost follows the
        window, not the speech: for a 2.5 s question it was 0.5 s of a core. CTranslate2 accepts
        a shorter window: 0.1 s, with the same accuracy on our espeak-ng questions (39 clips at
        three speeds: 93.9 % of words against 92.4 % for the 30 s window). The repetition
        penalty and a length bound stop the loops short windows are prone to.
        """
        import ctranslate2  # with faster-whisper, which is loaded lazily (see models.py)
        from faster_whisper.tokenizer import Tokenizer

        model = self.model
        window = max(len(audio), int(MIN_WINDOW_SECONDS * WHISPER_SAMPLE_RATE))
        padded = np.zeros(window, dtype=np.float32)
        padded[: len(audio)] = audio
        features = model.feature_extractor(padded)[:, : window // HOP_SAMPLES]
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language or "en"
        )
        previous = tokenizer.encode(" " + prompt.strip()) if prompt and prompt.strip() else []
        start = model.get_prompt(tokenizer, previous, without_timestamps=True)
        duration = len(audio) / WHISPER_SAMPLE_RATE
        result = model.model.generate(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
            [start],
            beam_size=BEAM_SIZE,
            max_length=int(12 + MAX_TOKENS_PER_SECOND * duration) + len(start),
            repetition_penalty=REPETITION_PENALTY,
            suppress_blank=True,
        )
        return tokenizer.decode(result[0].sequences_ids[0]).strip()

    def warm_up(self) -> None:
        """Run once on silence: the first call pays for page faults and thread start-up."""
        silence = np.zeros(WHISPER_SAMPLE_RATE, dtype=np.float32)
        segments, _ = self.model.transcribe(silence, beam_size=1)
        list(segments)
        self._transcribe_window(silence, None, None)

    def close(self) -> None:
        """Stop the threads after the transcriptions they are running."""
        self._executor.shutdown(wait=True, cancel_futures=True)
