# Local stub: faster-whisper ships no types; this covers only what agent_worker.inference uses.
import numpy as np
import numpy.typing as npt

class FeatureExtractor:
    def __call__(
        self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None
    ) -> npt.NDArray[np.float32]: ...
