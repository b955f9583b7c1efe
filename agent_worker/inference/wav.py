"""16-bit PCM WAV: reading a header (from uploads and from espeak-ng) and writing one for a stream."""

from __future__ import annotations

import struct
from dataclasses import dataclass

STREAMING_SIZE = 0xFFFFFFFF
"""What a streamed WAV header claims as its sizes: the length is not known when the header is sent."""


@dataclass(frozen=True)
class PcmFormat:
    """The format of a 16-bit PCM WAV stream, where its samples start and how many bytes it claims."""

    sample_rate: int
    num_channels: int
    data_offset: int
    data_size: int

    def samples(self, data: bytes) -> bytes:
        """The whole sample frames of ``data`` (the bytes the header belongs to).

        A streamed WAV (espeak-ng ``--stdout``) claims a huge size it cannot fill in, so the size
        is trusted only when the bytes are there; a trailing partial frame is dropped.
        """
        end = min(len(data), self.data_offset + self.data_size)
        frame_bytes = 2 * self.num_channels
        end -= (end - self.data_offset) % frame_bytes
        return data[self.data_offset : end]


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
            return PcmFormat(*rate_and_channels, data_offset=body, data_size=size)
        if len(data) < body + size:
            return None
        if chunk_id == b"fmt ":
            if size < 16:
                raise ValueError("WAV format chunk too short")
            audio_format, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            # WAVE_FORMAT_EXTENSIBLE (0xFFFE) is how some writers label plain PCM too
            if audio_format not in (1, 0xFFFE) or bits != 16:
                raise ValueError(f"expected 16-bit PCM, got format {audio_format} with {bits} bits")
            if channels < 1 or rate < 1:
                raise ValueError(f"WAV with {channels} channels at {rate} Hz")
            rate_and_channels = (rate, channels)
        position = body + size + (size & 1)
    return None


def streaming_wav_header(*, sample_rate: int, num_channels: int = 1) -> bytes:
    """A 16-bit PCM WAV header for samples whose count is not known yet (sizes set to the maximum)."""
    block_align = 2 * num_channels
    return (
        b"RIFF"
        + struct.pack("<I", STREAMING_SIZE)
        + b"WAVEfmt "
        + struct.pack(
            "<IHHIIHH", 16, 1, num_channels, sample_rate, sample_rate * block_align, block_align, 16
        )
        + b"data"
        + struct.pack("<I", STREAMING_SIZE)
    )
