"""The local pipeline: speech-to-text, LLM and text-to-speech on the CPU, with no API key and no network.

Load the models once per worker process (in prewarm) and give every conversation its own
provider objects over them::

    models = LocalModels.load(settings)
    session = AgentSession(stt=LocalSTT(models), llm=LocalLLM(models), tts=LocalTTS(models), vad=vad)
"""

from agent_worker.providers.local.llm import LocalLLM
from agent_worker.providers.local.models import LocalModels, LocalModelsUnavailable
from agent_worker.providers.local.stt import LocalSTT
from agent_worker.providers.local.tts import LocalTTS

__all__ = ["LocalLLM", "LocalModels", "LocalModelsUnavailable", "LocalSTT", "LocalTTS"]
