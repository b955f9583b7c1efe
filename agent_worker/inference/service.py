"""The service's models and child process, brought up together and reported on by ``/health``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import Any

import aiohttp

from agent_worker.inference.context import (
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_OVERHEAD_TOKENS,
    fit_to_context,
    message_text,
)
from agent_worker.inference.espeak import EspeakVoice
from agent_worker.inference.llama_server import LlamaServer, LlamaState, find_llama_server
from agent_worker.inference.load import ProcessTreeLoad
from agent_worker.inference.models import check_espeak, load_whisper, locate_gguf
from agent_worker.inference.settings import InferenceSettings
from agent_worker.inference.transcription import Transcriber

logger = logging.getLogger(__name__)


class ServiceNotReady(RuntimeError):
    """A model the request needs is not loaded yet (the service is starting)."""


class InferenceService:
    """Whisper in this process, espeak-ng checked, llama-server supervised, and the CPU load measured."""

    def __init__(self, settings: InferenceSettings) -> None:
        self.settings = settings
        self.load = ProcessTreeLoad()
        self.llm_requests = 0
        self._slot_of_key: OrderedDict[str, int] = OrderedDict()
        self.ready = False
        self._transcriber: Transcriber | None = None
        self._voice: EspeakVoice | None = None
        self._llama: LlamaServer | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def transcriber(self) -> Transcriber:
        """The loaded speech-to-text model."""
        if self._transcriber is None:
            raise ServiceNotReady("the speech-to-text model is still loading")
        return self._transcriber

    @property
    def voice(self) -> EspeakVoice:
        """The checked espeak-ng voice."""
        if self._voice is None:
            raise ServiceNotReady("espeak-ng is still being checked")
        return self._voice

    @property
    def llama(self) -> LlamaServer:
        """The llama-server child (which may be restarting)."""
        if self._llama is None:
            raise ServiceNotReady("llama-server is starting")
        return self._llama

    @property
    def http(self) -> aiohttp.ClientSession:
        """The client session that talks to llama-server."""
        assert self._http is not None, "start() first"
        return self._http

    def problems(self) -> list[str]:
        """What is not ready, in words; empty when every model answers."""
        problems: list[str] = []
        if self._transcriber is None:
            problems.append("the speech-to-text model is loading")
        if self._voice is None:
            problems.append("espeak-ng is being checked")
        if self._llama is None:
            problems.append("llama-server is starting")
        elif self._llama.state is not LlamaState.READY:
            problems.append(f"llama-server is {self._llama.state.value}")
        return problems

    def model_names(self) -> dict[str, str]:
        """The model behind each endpoint, by the name clients may ask for it."""
        names: dict[str, str] = {}
        if self._transcriber is not None:
            names["stt"] = self._transcriber.name
        if self._llama is not None:
            names["llm"] = self._llama.model.name
        if self._voice is not None:
            names["tts"] = f"espeak-ng/{self._voice.voice}"
        return names

    async def prepare_completion(self, completion: dict[str, Any]) -> dict[str, Any]:
        """A chat completion request as llama-server gets it: capped reply, conversation that fits.

        The reply is capped at ``LOCAL_LLM_MAX_TOKENS`` here because llama-server's ``-n`` is only a
        default that a request's own ``max_tokens`` overrides. Old turns that would leave no room
        in a slot for the reply are dropped (see :mod:`.context`).

        Raises:
            LlamaServerUnavailable: llama-server is not answering (it counts the tokens).

        """
        settings = self.settings
        asked = completion.get("max_completion_tokens") or completion.get("max_tokens")
        reply_tokens = settings.LOCAL_LLM_MAX_TOKENS
        if isinstance(asked, int) and 0 < asked < reply_tokens:
            reply_tokens = asked
        budget = settings.LOCAL_LLM_CONTEXT_PER_SLOT - reply_tokens - REPLY_OVERHEAD_TOKENS
        messages = completion["messages"]
        counts = await asyncio.gather(*(self.llama.count_tokens(message_text(m)) for m in messages))
        fitted = fit_to_context(messages, [count + MESSAGE_OVERHEAD_TOKENS for count in counts], budget)
        prepared = {k: v for k, v in completion.items() if k not in ("max_completion_tokens", "n_predict")}
        prepared |= {"messages": fitted, "max_tokens": reply_tokens}
        key = completion.get("prompt_cache_key")
        if isinstance(key, str) and key:
            prepared["id_slot"] = self.slot_for(key)
        return prepared

    def slot_for(self, key: str) -> int:
        """The llama-server slot of the conversation with ``prompt_cache_key`` ``key``.

        A slot keeps the prompt it last read, so a conversation that comes back to its own slot
        is read only from where it left off. Left to itself, llama-server gives a request any
        idle slot, and with several conversations at once they land in each other's slots and
        read their whole prompt again (6 at once: first tokens after 4-5 s instead of 0.7 s).
        A new conversation takes a slot nobody holds, else the least recently used one.
        """
        slots = self._slot_of_key
        if key in slots:
            slots.move_to_end(key)
            return slots[key]
        taken = set(slots.values())
        free = [slot for slot in range(self.llama.slots) if slot not in taken]
        slot = free[0] if free else slots.pop(next(iter(slots)))
        slots[key] = slot
        return slot

    async def start(self) -> None:
        """Check and load every model at once, then wait until llama-server answered.

        Raises:
            LocalModelsUnavailable: with the missing package, file or program and how to install it.

        """
        started = time.perf_counter()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        self._tasks.append(asyncio.create_task(self.load.run(), name="process-tree-load"))
        settings = self.settings
        binary = find_llama_server(settings.LLAMA_SERVER_BIN)
        gguf = await asyncio.to_thread(locate_gguf, settings)
        self._llama = LlamaServer(binary=binary, model=gguf, settings=settings, http=self._http)
        self._tasks.append(asyncio.create_task(self._llama.supervise(), name="llama-server"))
        self._voice, (whisper, whisper_name) = await asyncio.gather(
            asyncio.to_thread(check_espeak, settings), asyncio.to_thread(load_whisper, settings)
        )
        transcriber = Transcriber(whisper, name=whisper_name, concurrency=settings.LOCAL_STT_CONCURRENCY)
        await asyncio.to_thread(transcriber.warm_up)
        self._transcriber = transcriber
        await self._llama.wait_started()
        self.ready = True
        logger.info(
            "inference service ready",
            extra={
                "seconds": round(time.perf_counter() - started, 2),
                **self.model_names(),
                "url": f"http://{settings.INFERENCE_HOST}:{settings.INFERENCE_PORT}/v1",
            },
        )

    async def close(self) -> None:
        """Stop llama-server (SIGTERM, then SIGKILL), the load sampling and the model threads."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._transcriber is not None:
            await asyncio.to_thread(self._transcriber.close)
        if self._http is not None:
            await self._http.close()
