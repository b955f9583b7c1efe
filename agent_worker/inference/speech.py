"""Text to speech as OpenAI's ``/v1/audio/speech`` gives it: 16-bit mono PCM at 24 kHz, streamed.

OpenAI's ``pcm`` format has no header, so clients assume its rate (livekit-plugins-openai
hard-codes 24 kHz); espeak-ng speaks at 22.05 kHz, so its audio is resampled on the way, chunk by
chunk, and the first audio leaves as soon as espeak-ng wrote its first block.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from livekit import rtc

from agent_worker.inference.espeak import EspeakVoice, speakable

OPENAI_PCM_RATE = 24_000
SILENCE_SECONDS = 0.01


async def speech_pcm(voice: EspeakVoice, text: str, *, speed: float = 1.0) -> AsyncGenerator[bytes]:
    """Yield ``text`` spoken by ``voice`` as 24 kHz 16-bit mono PCM, while it is being spoken.

    Text made only of markup symbols yields a moment of silence: a client that split a reply into
    sentences expects audio for each piece.

    Raises:
        EspeakFailed: espeak-ng failed.

    """
    words = speakable(text)
    if not words:
        yield bytes(2 * round(OPENAI_PCM_RATE * SILENCE_SECONDS))
        return
    resampler = rtc.AudioResampler(
        voice.sample_rate, OPENAI_PCM_RATE, num_channels=1, quality=rtc.AudioResamplerQuality.MEDIUM
    )
    pending = b""
    spoken = voice.speak(words, words_per_minute=round(voice.words_per_minute * speed))
    async with contextlib.aclosing(spoken):
        async for chunk in spoken:
            # a read can end between the two bytes of a sample: keep the odd byte for the next one
            pending += chunk
            whole, pending = pending[: len(pending) & ~1], pending[len(pending) & ~1 :]
            if whole:
                for frame in resampler.push(rtc.AudioFrame(whole, voice.sample_rate, 1, len(whole) // 2)):
                    yield bytes(frame.data)
    for frame in resampler.flush():
        yield bytes(frame.data)
