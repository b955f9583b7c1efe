"""A stand-in for a remote OpenAI-compatible speech and chat service, with realistic delays.

For capacity benchmarks only: it does no recognition or synthesis, so the measured CPU is the
agent worker's own. Every transcription answers the same sentence after ``--stt-delay``; chat
completions stream a fixed reply (first token after ``--llm-delay``, then ``--tokens-per-second``);
speech answers 24 kHz PCM (a soft tone, not silence) after ``--tts-delay``, faster than real time.

    .venv/bin/python bench/standin_server.py --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time

import numpy as np
from aiohttp import web

TRANSCRIPT = "What is the weather like in Paris today?"
REPLY = (
    "It is sunny in Paris today, with a light breeze from the west. "
    "Take a jacket for the evening, when it gets cooler near the river."
)
SAMPLE_RATE = 24_000
SECONDS_PER_CHARACTER = 0.06
"""About how long a voice takes to say one character of text."""


def tone(seconds: float) -> bytes:
    """A quiet 220 Hz tone: audible to a loudness check, cheap to make."""
    samples = np.arange(int(seconds * SAMPLE_RATE))
    return (np.sin(2 * math.pi * 220 * samples / SAMPLE_RATE) * 3000).astype(np.int16).tobytes()


def build_app(args: argparse.Namespace) -> web.Application:
    """The routes, with the delays from the command line."""

    async def transcriptions(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(args.stt_delay)
        return web.json_response({"text": TRANSCRIPT})

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(args.llm_delay)
        words = REPLY.split(" ")
        created = int(time.time())
        for index, word in enumerate(words):
            chunk = {
                "id": "standin",
                "object": "chat.completion.chunk",
                "created": created,
                "model": body.get("model", "standin"),
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": (" " if index else "") + word}}
                ],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await asyncio.sleep(1 / args.tokens_per_second)
        done = {
            "id": "standin",
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.get("model", "standin"),
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        usage = {
            **done,
            "choices": [],
            "usage": {"prompt_tokens": 50, "completion_tokens": len(words), "total_tokens": 50 + len(words)},
        }
        await response.write(
            f"data: {json.dumps(done)}\n\ndata: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode()
        )
        return response

    async def speech(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        await response.prepare(request)
        await asyncio.sleep(args.tts_delay)
        audio = tone(len(body.get("input", "")) * SECONDS_PER_CHARACTER)
        step = SAMPLE_RATE // 5 * 2  # 0.2 s of audio per write
        for start in range(0, len(audio), step):
            await response.write(audio[start : start + step])
            await asyncio.sleep(0.05)  # four times faster than real time
        return response

    app = web.Application(client_max_size=32 * 2**20)
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/audio/speech", speech)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Port and delays."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--stt-delay", type=float, default=0.15)
    parser.add_argument("--llm-delay", type=float, default=0.3)
    parser.add_argument("--tokens-per-second", type=float, default=50.0)
    parser.add_argument("--tts-delay", type=float, default=0.2)
    return parser.parse_args(argv)


def main() -> None:
    """Serve until interrupted."""
    args = parse_args()
    web.run_app(build_app(args), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
