"""The local inference service: Whisper, a llama.cpp LLM and espeak-ng behind one OpenAI-compatible API.

One process (``python -m agent_worker.inference``) holds the offline models for every
conversation on the machine; workers reach it with the same livekit-plugins-openai code they use
for remote servers (``base_url=http://127.0.0.1:8090/v1``). See :mod:`.app` for the routes.
"""
