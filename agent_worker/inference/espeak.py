"""espeak-ng as a separate program: the voice of the service.

espeak-ng is GPL-3.0-or-later, so it is run as its own process (never linked or imported), one
per text: text goes in on stdin, a WAV stream comes out on stdout and is passed on as it comes.
With ``--stdout`` espeak-ng cannot seek back to fill in the sizes, so its header claims a huge
length; the format fields are trusted and the samples read until the pipe closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from agent_worker.inference.wav import parse_wav_header

INSTALL_ESPEAK = (
    "install it with `sudo apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng`"
)
MIN_WORDS_PER_MINUTE, MAX_WORDS_PER_MINUTE = 80, 450
"""The rates espeak-ng speaks at; it clamps others itself, but quietly."""
READ_BYTES = 8192
"""About 0.19 s of espeak-ng's 22.05 kHz mono audio per read."""

_MARKUP = re.compile(r"[*_#`~|<>\[\]{}]+")


def speakable(text: str) -> str:
    """Text without the markdown symbols a chat model likes, which a voice would read aloud."""
    return " ".join(_MARKUP.sub(" ", text).split())


class EspeakFailed(RuntimeError):
    """espeak-ng exited with an error or wrote something that is not 16-bit PCM WAV."""


@dataclass(frozen=True)
class EspeakVoice:
    """A checked espeak-ng voice: which program, which voice, how fast, at what sample rate (mono)."""

    executable: str
    voice: str
    words_per_minute: int
    sample_rate: int

    def command(self, words_per_minute: int | None = None) -> list[str]:
        """The command that reads text on stdin and writes a WAV stream on stdout."""
        rate = words_per_minute or self.words_per_minute
        rate = max(MIN_WORDS_PER_MINUTE, min(MAX_WORDS_PER_MINUTE, rate))
        return [self.executable, "-v", self.voice, "-s", str(rate), "--stdout", "--stdin"]

    async def speak(self, text: str, *, words_per_minute: int | None = None) -> AsyncGenerator[bytes]:
        """Yield the 16-bit PCM of ``text`` (at :attr:`sample_rate`) while espeak-ng produces it.

        Raises:
            EspeakFailed: espeak-ng failed or changed its audio format.

        """
        process = await asyncio.create_subprocess_exec(
            *self.command(words_per_minute),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        # written from a task so a long text cannot block on a full stdout pipe
        feed = asyncio.create_task(_feed(process.stdin, text))
        try:
            received = b""
            while (pcm := parse_wav_header(received)) is None:
                if not (chunk := await process.stdout.read(READ_BYTES)):
                    break
                received += chunk
            if pcm is not None:
                if (pcm.sample_rate, pcm.num_channels) != (self.sample_rate, 1):
                    raise EspeakFailed("espeak-ng changed its audio format")
                # chunks are passed on whole; an odd byte at a read boundary is the caller's to join
                if samples := received[pcm.data_offset :]:
                    yield samples
                while chunk := await process.stdout.read(READ_BYTES):
                    yield chunk
            await feed
            errors = await process.stderr.read()
            if await process.wait() != 0 or pcm is None:
                raise EspeakFailed(
                    f"espeak-ng failed: {errors.decode(errors='replace').strip() or 'no audio'}"
                )
        except (ValueError, OSError) as error:  # not a WAV stream, or espeak-ng died mid-way
            raise EspeakFailed(f"espeak-ng failed: {error}") from error
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await feed
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    @classmethod
    def check(cls, *, voice: str, words_per_minute: int) -> EspeakVoice:
        """Find espeak-ng, speak one word with ``voice`` and learn its sample rate.

        Raises:
            RuntimeError: espeak-ng is missing, the voice does not exist, or the output is not PCM.

        """
        executable = shutil.which("espeak-ng")
        if executable is None:
            raise RuntimeError(f"the local text-to-speech needs the program espeak-ng: {INSTALL_ESPEAK}")
        probe = [executable, "-v", voice, "-s", str(words_per_minute), "--stdout", "--stdin"]
        result = subprocess.run(probe, input=b"ready", capture_output=True, timeout=30, check=False)  # noqa: S603
        problem = result.stderr.decode(errors="replace").strip()
        header = None
        if result.returncode == 0:
            try:
                header = parse_wav_header(result.stdout)
            except ValueError as error:
                problem = str(error)
        if header is not None and header.num_channels != 1:
            header, problem = None, f"{header.num_channels} channels instead of one"
        if header is None or len(result.stdout) <= header.data_offset:
            raise RuntimeError(
                f"espeak-ng could not speak with voice {voice!r} (LOCAL_TTS_VOICE): "
                f"{problem or 'no audio'}; `espeak-ng --voices` lists the installed voices"
            )
        return cls(
            executable=executable,
            voice=voice,
            words_per_minute=words_per_minute,
            sample_rate=header.sample_rate,
        )


async def _feed(stdin: asyncio.StreamWriter, text: str) -> None:
    stdin.write(text.encode())
    await stdin.drain()
    stdin.close()
