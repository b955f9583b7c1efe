"""Text-to-speech with the espeak-ng program, as a livekit-agents TTS.

Each :meth:`LocalTTS.synthesize` call runs one espeak-ng process and forwards its 16-bit PCM
while it is being produced. The TTS is not streaming itself: `AgentSession` wraps it in
`tts.StreamAdapter`, which splits the LLM's text into sentences and synthesises each one as soon
as it is complete, so the first sentence plays while the LLM is still writing the next.
"""

from __future__ import annotations

import asyncio
import contextlib

from livekit.agents import APIConnectOptions, APIError, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

from agent_worker.providers.local.espeak import parse_wav_header, speakable
from agent_worker.providers.local.models import LocalModels

READ_BYTES = 8192
"""About 0.19 s of espeak-ng's 22.05 kHz mono audio per read."""


class LocalTTS(tts.TTS):
    """espeak-ng's voice (``LOCAL_TTS_VOICE``, ``LOCAL_TTS_RATE``) at its own sample rate, mono."""

    def __init__(self, models: LocalModels) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=models.espeak.sample_rate,
            num_channels=models.espeak.num_channels,
        )
        self._models = models

    @property
    def model(self) -> str:
        """The espeak-ng voice."""
        return f"espeak-ng/{self._models.espeak.voice}"

    @property
    def provider(self) -> str:
        """Always "local": nothing leaves the machine."""
        return "local"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> EspeakStream:
        """Speak ``text``; iterate the stream for its audio frames, or ``await ...collect()``."""
        return EspeakStream(tts=self, models=self._models, input_text=text, conn_options=conn_options)


class EspeakStream(tts.ChunkedStream):
    """The audio of one text from one espeak-ng process."""

    def __init__(
        self, *, tts: LocalTTS, models: LocalModels, input_text: str, conn_options: APIConnectOptions
    ) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._models = models

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        voice = self._models.espeak
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=voice.sample_rate,
            num_channels=voice.num_channels,
            mime_type="audio/pcm",
        )
        text = speakable(self.input_text)
        if not text:
            # only markup symbols: say nothing, but a synthesis must yield some audio
            output_emitter.push(bytes(2 * voice.num_channels * voice.sample_rate // 100))
            return

        process = await asyncio.create_subprocess_exec(
            *voice.command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        # written from a task so a long text cannot block on a full stdout pipe
        feed = asyncio.create_task(self._feed(process.stdin, text))
        try:
            header = b""
            while (pcm := parse_wav_header(header)) is None:
                if not (chunk := await process.stdout.read(READ_BYTES)):
                    break
                header += chunk
            if pcm is not None:
                if (pcm.sample_rate, pcm.num_channels) != (voice.sample_rate, voice.num_channels):
                    raise APIError("espeak-ng changed its audio format", retryable=False)
                output_emitter.push(header[pcm.data_offset :])
                while chunk := await process.stdout.read(READ_BYTES):
                    output_emitter.push(chunk)
            await feed
            errors = await process.stderr.read()
            if await process.wait() != 0 or pcm is None:
                raise APIError(
                    f"espeak-ng failed: {errors.decode(errors='replace').strip()}", retryable=False
                )
            output_emitter.flush()
        except (ValueError, OSError) as error:  # not a WAV stream, or espeak-ng died mid-way
            raise APIError(f"espeak-ng failed: {error}", retryable=False) from error
        finally:
            await utils.aio.cancel_and_wait(feed)
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    @staticmethod
    async def _feed(stdin: asyncio.StreamWriter, text: str) -> None:
        stdin.write(text.encode())
        await stdin.drain()
        stdin.close()
