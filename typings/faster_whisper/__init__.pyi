# Local stub: faster-whisper ships no types; this covers only what agent_worker.inference uses.
from faster_whisper.transcribe import WhisperModel as WhisperModel
