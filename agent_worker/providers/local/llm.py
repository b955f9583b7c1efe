"""A chat LLM on the CPU with llama.cpp, as a livekit-agents LLM that streams its reply token by token.

llama.cpp generates on the model's own thread (:attr:`LocalModels.llm_executor`); each piece of
text is handed to the event loop as soon as it exists, so the text-to-speech can start on the
first sentence while the rest is still being written. An interrupted reply stops the generation
at the next token.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any

from livekit.agents import APIConnectOptions, APIError, llm, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

from agent_worker.providers.local.models import LocalModels

SAMPLING: dict[str, float] = {"temperature": 0.2, "top_p": 0.95, "repeat_penalty": 1.3}
"""Small models loop without a repeat penalty; 1.3 stopped it in our trials without garbling words."""

MESSAGE_OVERHEAD_TOKENS = 6
"""What the chat template adds around each message (`<|im_start|>role` ... `<|im_end|>`)."""

Message = dict[str, str]


def chat_messages(chat_ctx: llm.ChatContext) -> list[Message]:
    """The agent's chat context as plain chat messages: one system message first, then the turns.

    Instructions that come before the first turn (the agent's, and the per-reply instructions of a
    greeting) are joined into that first system message: a 135M model follows them there and
    drifts when they come later. Later instructions stay where they are, so the start of the
    prompt stays the same from turn to turn and llama.cpp reuses what it already read. Tool
    calls, tool outputs and empty messages are left out.
    """
    instructions: list[str] = []
    turns: list[Message] = []
    for message in chat_ctx.messages():
        text = (message.text_content or "").strip()
        if not text:
            continue
        if message.role in ("system", "developer") and not turns:
            instructions.append(text)
        else:
            role = "system" if message.role == "developer" else message.role
            turns.append({"role": role, "content": text})
    system = [{"role": "system", "content": "\n\n".join(instructions)}] if instructions else []
    return system + turns


def fit_to_context(models: LocalModels, messages: list[Message]) -> tuple[list[Message], int]:
    """Drop old turns so the prompt leaves room for a whole reply; also return the prompt's size.

    Turns are dropped in blocks of about half the room, cut where the turns' sizes counted from
    the start of the conversation pass a multiple of that half. As the conversation grows, the
    cut stays put until the room is full again, so the prompt keeps the same beginning turn after
    turn and llama.cpp does not read it again (dropping one turn per reply would make it read the
    whole prompt every time). The leading system message and the latest message are always kept.
    """
    llama = models.llama
    budget = llama.n_ctx() - models.llm_max_tokens
    sizes = [
        len(llama.tokenize(message["content"].encode(), add_bos=False)) + MESSAGE_OVERHEAD_TOKENS
        for message in messages
    ]
    first_turn = 1 if messages and messages[0]["role"] == "system" else 0
    block = budget // 2
    total, dropped, cut, blocks = sum(sizes), 0, first_turn, 0
    while total - dropped > budget and cut < len(messages) - 1:
        blocks += 1
        while dropped < blocks * block and cut < len(messages) - 1:
            dropped += sizes[cut]
            cut += 1
    return messages[:first_turn] + messages[cut:], total - dropped


def generate_reply(
    models: LocalModels,
    messages: list[Message],
    *,
    stop: threading.Event,
    emit: Callable[[str | None], None],
) -> llm.CompletionUsage:
    """Generate one reply on the calling thread, passing each piece of text to ``emit``, then None.

    Runs on :attr:`LocalModels.llm_executor` only (llama.cpp serves one caller at a time).
    Returns early, keeping what was said, once ``stop`` is set.
    """
    completion_tokens = prompt_tokens = 0
    try:
        if stop.is_set():
            return llm.CompletionUsage(completion_tokens=0, prompt_tokens=0, total_tokens=0)
        messages, prompt_tokens = fit_to_context(models, messages)
        chunks: Any = models.llama.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            max_tokens=models.llm_max_tokens,
            **SAMPLING,
        )
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                content = chunk["choices"][0]["delta"].get("content")
                if content:
                    # llama-cpp-python streams one token per chunk (it holds back split UTF-8)
                    completion_tokens += 1
                    emit(content)
        finally:
            chunks.close()
    finally:
        emit(None)
    return llm.CompletionUsage(
        completion_tokens=completion_tokens,
        prompt_tokens=prompt_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )


class LocalLLM(llm.LLM):
    """SmolLM2-135M-Instruct (unless configured otherwise) through llama.cpp, on the worker's CPU.

    Tools are not offered to the model: a 135M model cannot call them reliably.
    """

    def __init__(self, models: LocalModels) -> None:
        super().__init__()
        self._models = models

    @property
    def model(self) -> str:
        """The GGUF model's name."""
        return self._models.llama_name

    @property
    def provider(self) -> str:
        """Always "local": nothing leaves the machine."""
        return "local"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> LocalLLMStream:
        """Start generating a reply to ``chat_ctx``; iterate the stream for its pieces."""
        return LocalLLMStream(
            self, models=self._models, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class LocalLLMStream(llm.LLMStream):
    """One reply of :class:`LocalLLM`, streamed as `ChatChunk`s with the usage last."""

    def __init__(
        self,
        local_llm: LocalLLM,
        *,
        models: LocalModels,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(local_llm, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._models = models

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        stop = threading.Event()
        request_id = utils.shortuuid("local_")

        def emit(piece: str | None) -> None:
            try:
                loop.call_soon_threadsafe(pieces.put_nowait, piece)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                stop.set()

        messages = chat_messages(self._chat_ctx)
        generation = loop.run_in_executor(
            self._models.llm_executor,
            functools.partial(generate_reply, self._models, messages, stop=stop, emit=emit),
        )
        try:
            while (piece := await pieces.get()) is not None:
                self._event_ch.send_nowait(
                    llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=piece))
                )
            usage = await generation
        except Exception as error:
            raise APIError(f"local LLM failed: {error}", retryable=False) from error
        finally:
            stop.set()
            generation.cancel()  # still queued behind another reply: never start it
        self._event_ch.send_nowait(llm.ChatChunk(id=request_id, usage=usage))
