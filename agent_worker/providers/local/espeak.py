"""espeak-ng as a separate program: the voice of the local pipeline.

espeak-ng is GPL-3.0-or-later, so it is run as its own process (never linked or imported):
text goes in on stdin, a WAV stream comes out on stdout. With ``--stdout`` espeak-ng cannot
seek back to fill in the sizes, so its header claims a huge length; readers here trust the
format fields only and read the samples until the pipe closes.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from dataclasses import dataclass

INSTALL_ESPEAK = (
    "install it with `sudo apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng`"
)

_MARKUP = re.compile(r"[*_#`~|<>\[\]{}]+")


@dataclass(frozen=True)
class PcmFormat:
    """The format of a 16-bit PCM WAV stream, and where its samples start."""

    sample_rate: int
    num_channels: int
    data_offset: int


def parse_wav_header(data: bytes) -> PcmFormat | None:
    """Read a WAV header from the start of ``data``; None while more bytes are needed.

    Raises:
        ValueError: the bytes are not a 16-bit PCM WAV stream.

    """
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV stream")
    position = 12
    rate_and_channels: tuple[int, int] | None = None
    while len(data) >= position + 8:
        chunk_id = data[position : position + 4]
        (size,) = struct.unpack_from("<I", data, position + 4)
        body = position + 8
        if chunk_id == b"data":
            if rate_and_channels is None:
                raise ValueError("WAV samples come before their format")
            return PcmFormat(*rate_and_channels, data_offset=body)
        if len(data) < body + size:
            return None
        if chunk_id == b"fmt ":
            audio_format, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if audio_format != 1 or bits != 16:
                raise ValueError(f"expected 16-bit PCM, got format {audio_format} with {bits} bits")
            rate_and_channels = (rate, channels)
        position = body + size + (size & 1)
    return None


def speakable(text: str) -> str:
    """Text without the markdown symbols a chat model likes, which a voice would read aloud."""
    return " ".join(_MARKUP.sub(" ", text).split())


@dataclass(frozen=True)
class EspeakVoice:
    """A checked espeak-ng voice: which program, which voice, how fast, at what sample rate."""

    executable: str
    voice: str
    words_per_minute: int
    sample_rate: int
    num_channels: int

    def command(self) -> list[str]:
        """The command that reads text on stdin and writes a WAV stream on stdout."""
        return [
            self.executable,
            "-v",
            self.voice,
            "-s",
            str(self.words_per_minute),
            "--stdout",
            "--stdin",
        ]

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
            num_channels=header.num_channels,
        )
