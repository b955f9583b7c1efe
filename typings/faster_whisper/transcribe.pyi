# Local stub: faster-whisper ships no types; this covers only what agent_worker.inference uses.
from collections.abc import Iterable

import ctranslate2.models
import numpy as np
import tokenizers
from faster_whisper.feature_extractor import FeatureExtractor
from faster_whisper.tokenizer import Tokenizer

class Segment:
    text: str

class TranscriptionInfo:
    language: str

class WhisperModel:
    model: ctranslate2.models.Whisper
    feature_extractor: FeatureExtractor
    hf_tokenizer: tokenizers.Tokenizer
    def __init__(
        self,
        model_size_or_path: str,
        device: str = "auto",
        device_index: int | list[int] = 0,
        compute_type: str = "default",
        cpu_threads: int = 0,
        num_workers: int = 1,
    ) -> None: ...
    def transcribe(
        self,
        audio: np.ndarray,
        language: str | None = None,
        *,
        beam_size: int = 5,
        temperature: float | list[float] | tuple[float, ...] = ...,
        condition_on_previous_text: bool = True,
        initial_prompt: str | Iterable[int] | None = None,
        without_timestamps: bool = False,
        vad_filter: bool = False,
    ) -> tuple[Iterable[Segment], TranscriptionInfo]: ...
    def get_prompt(
        self,
        tokenizer: Tokenizer,
        previous_tokens: list[int],
        without_timestamps: bool = False,
        prefix: str | None = None,
        hotwords: str | None = None,
    ) -> list[int]: ...
