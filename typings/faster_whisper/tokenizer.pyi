# Local stub: faster-whisper ships no types; this covers only what agent_worker.inference uses.
import tokenizers

class Tokenizer:
    def __init__(
        self,
        tokenizer: tokenizers.Tokenizer,
        multilingual: bool,
        task: str | None = None,
        language: str | None = None,
    ) -> None: ...
    def encode(self, text: str) -> list[int]: ...
    def decode(self, tokens: list[int]) -> str: ...
