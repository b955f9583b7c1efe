# Local stub: CTranslate2 is a compiled extension without types; this covers only what agent_worker.inference uses.
from typing import Literal, overload

from ctranslate2 import StorageView

class WhisperGenerationResult:
    sequences_ids: list[list[int]]

class WhisperGenerationResultAsync:
    def result(self) -> WhisperGenerationResult: ...

class Whisper:
    @property
    def is_multilingual(self) -> bool: ...
    @overload
    def generate(
        self,
        features: StorageView,
        prompts: list[list[str]] | list[list[int]],
        *,
        asynchronous: Literal[False] = False,
        beam_size: int = 5,
        max_length: int = 448,
        repetition_penalty: float = 1,
        suppress_blank: bool = True,
    ) -> list[WhisperGenerationResult]: ...
    @overload
    def generate(
        self,
        features: StorageView,
        prompts: list[list[str]] | list[list[int]],
        *,
        asynchronous: Literal[True],
        beam_size: int = 5,
        max_length: int = 448,
        repetition_penalty: float = 1,
        suppress_blank: bool = True,
    ) -> list[WhisperGenerationResultAsync]: ...
