"""Speech for tests: sentences spoken by espeak-ng into WAV files or audio frames, and word accuracy.

espeak-ng is a Debian package, run as a program. A test that needs it fails (never skips) and
says how to install it when it is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from livekit import rtc

ESPEAK_INSTALL_HINT = (
    "espeak-ng is not installed: run `sudo apt-get install espeak-ng` (Debian/Ubuntu) "
    "or `brew install espeak-ng` (macOS), or run `make setup`."
)

QUESTIONS = (
    "What is the weather like in Paris today?",
    "Please tell me a short story about a brave little robot.",
    "Can you recommend a good book to read this weekend?",
    "Can you tell me a joke about a cat?",
)
"""Short questions a user might ask; tiny.en hears each of them from espeak-ng's en-us voice."""

SILENCE_LEVEL = 300
"""16-bit samples at or below this (about -40 dBFS) count as silence when trimming a recording."""


def espeak_executable() -> str:
    """The espeak-ng program, or a failing test that says how to install it."""
    found = shutil.which("espeak-ng")
    if found is None:
        pytest.fail(ESPEAK_INSTALL_HINT)
    return found


def speak_to_wav(
    text: str,
    path: Path,
    *,
    voice: str = "en-us",
    words_per_minute: int = 175,
    sample_rate: int | None = None,
) -> Path:
    """Write ``text`` spoken by espeak-ng to a 16-bit mono WAV at ``path`` (resampled when asked)."""
    subprocess.run(
        [espeak_executable(), "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    if sample_rate is not None:
        frame = read_wav(path)
        if frame.sample_rate != sample_rate:
            write_wav(resample(frame, sample_rate), path)
    return path


def read_wav(path: Path) -> rtc.AudioFrame:
    """A 16-bit PCM WAV file as one audio frame."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path} is not 16-bit PCM")
        data = wav.readframes(wav.getnframes())
        return rtc.AudioFrame(data, wav.getframerate(), wav.getnchannels(), wav.getnframes())


def write_wav(frame: rtc.AudioFrame, path: Path) -> Path:
    """Write an audio frame as a 16-bit PCM WAV file."""
    path.write_bytes(frame.to_wav_bytes())
    return path


def resample(frame: rtc.AudioFrame, sample_rate: int) -> rtc.AudioFrame:
    """The same audio at another sample rate (what a browser microphone would send is 48 kHz)."""
    resampler = rtc.AudioResampler(
        frame.sample_rate,
        sample_rate,
        num_channels=frame.num_channels,
        quality=rtc.AudioResamplerQuality.HIGH,
    )
    return rtc.combine_audio_frames([*resampler.push(frame), *resampler.flush()])


def spoken_frame(text: str, workdir: Path, *, words_per_minute: int = 175) -> rtc.AudioFrame:
    """``text`` spoken by espeak-ng's en-us voice, as one audio frame at espeak-ng's own rate."""
    name = re.sub(r"\W+", "-", text.lower()).strip("-")[:40] or "silence"
    return read_wav(speak_to_wav(text, workdir / f"{name}.wav", words_per_minute=words_per_minute))


def trailing_silence_seconds(frame: rtc.AudioFrame) -> float:
    """How long a recording stays silent after its last sound (espeak-ng pads about 0.3 s)."""
    samples = np.frombuffer(frame.data, dtype=np.int16)
    voiced = np.flatnonzero(np.abs(samples) > SILENCE_LEVEL)
    last = voiced[-1] if voiced.size else -1
    return (len(samples) - 1 - last) / frame.sample_rate


def spoken_with_pauses(parts: list[str], pause_seconds: float, workdir: Path) -> rtc.AudioFrame:
    """``parts`` spoken one after another with exactly ``pause_seconds`` of silence between them.

    espeak-ng pads its recordings with silence; that is cut off first, so the pause is the one asked for.
    """
    frames = [spoken_frame(part, workdir) for part in parts]
    rate = frames[0].sample_rate
    silence = np.zeros(int(rate * pause_seconds), dtype=np.int16).tobytes()
    pieces: list[bytes] = []
    for index, frame in enumerate(frames):
        samples = np.frombuffer(frame.data, dtype=np.int16)
        voiced = np.flatnonzero(np.abs(samples) > SILENCE_LEVEL)
        if index:
            pieces.append(silence)
        pieces.append(samples[voiced[0] : voiced[-1] + 1].tobytes() if voiced.size else b"")
    data = b"".join(pieces)
    return rtc.AudioFrame(data, rate, 1, len(data) // 2)


def rms(frame: rtc.AudioFrame) -> float:
    """Loudness of 16-bit audio as root mean square, from 0 (silence) to 1 (full scale)."""
    samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float64) / 32768.0
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def words(text: str) -> list[str]:
    """Lower-case words without punctuation; hyphenated words count as their parts."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def word_accuracy(expected: str, heard: str) -> float:
    """1 - word error rate: the share of ``expected``'s words heard right, less any extra words (>= 0)."""
    reference, hypothesis = words(expected), words(heard)
    if not reference:
        return 1.0 if not hypothesis else 0.0
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return max(0.0, 1.0 - previous[-1] / len(reference))


def words_heard(expected: str, heard: str) -> float:
    """The share of ``expected``'s words found in ``heard``, in order, whatever else was heard.

    For checks that a recording got through rather than how well it was recognised: Whisper
    tiny.en sometimes repeats a phrase ("Wait, stop please. I can't wait. Stop please!"), and
    every extra word counts against :func:`word_accuracy`.
    """
    reference, hypothesis = words(expected), words(heard)
    if not reference:
        return 1.0
    longest = [0] * (len(hypothesis) + 1)  # longest common subsequence, one row at a time
    for ref_word in reference:
        diagonal = 0
        for j, hyp_word in enumerate(hypothesis, start=1):
            diagonal, longest[j] = (
                longest[j],
                diagonal + 1 if ref_word == hyp_word else max(longest[j], longest[j - 1]),
            )
    return longest[-1] / len(reference)


def fake_microphone_recording(
    text: str, workdir: Path, *, before_seconds: float = 0.0, after_seconds: float = 30.0, repeat: int = 1
) -> Path:
    """What Chromium's fake microphone plays: ``text`` in espeak-ng's voice at 48 kHz after
    ``before_seconds`` of silence, each time followed by ``after_seconds`` of silence, ``repeat``
    times over."""
    speech = speak_to_wav(text, workdir / "speech.wav", sample_rate=48_000)
    with wave.open(str(speech), "rb") as source:
        rate, frames = source.getframerate(), source.readframes(source.getnframes())
    silence = b"\x00\x00"
    path = workdir / "microphone.wav"
    with wave.open(str(path), "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(rate)
        spoken = frames + silence * int(rate * after_seconds)
        target.writeframes(silence * int(rate * before_seconds) + spoken * repeat)
    return path
