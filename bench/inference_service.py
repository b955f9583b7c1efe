"""How fast the local inference service answers on this machine, and how much memory it takes.

Starts `python -m agent_worker.inference` (its own port, default settings) and measures over HTTP:

- start-up: seconds from starting the process to `/health` 200, and the load time it logs;
- LLM: time to the first token of a ~300-token prompt the server has not seen (cold) and of the
  next turn of the same conversation (llama-server's slot cache), 1 and 6 conversations at once;
- speech-to-text: a ~2.5 s espeak-ng clip at 16 kHz, the model's time (`openai-processing-ms`)
  and the round trip;
- text-to-speech: time to the first audio byte of a sentence;
- RSS of the service and of llama-server after all of that.

Writes bench/results/inference_service.json and prints a markdown table.

    .venv/bin/python bench/inference_service.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.inference import InferenceService
from tests.support.processes import REPO_ROOT
from tests.support.speech import read_wav, speak_to_wav

RESULTS = REPO_ROOT / "bench" / "results" / "inference_service.json"
CLIP_TEXT = "What is the weather like in Paris today?"
SENTENCE = "The weather in Paris is mild today, with a little sunshine in the afternoon."
TOPICS = ["gardening", "trains", "baking", "astronomy", "sailing", "chess", "painting", "cycling"]


def summary(values: list[float], digits: int = 3) -> dict[str, float]:
    """Median and extremes of a list of measurements."""
    return {
        "p50": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def opening(conversation: int) -> list[dict[str, str]]:
    """A conversation of about 300 prompt tokens that no other conversation starts like."""
    topic = TOPICS[conversation % len(TOPICS)]
    facts = (
        f"The user, caller number {conversation} ({time.time_ns()}), loves {topic}. "
        "Keep answers short, friendly and easy to say out loud. Never use lists or markdown. "
    ) * 4
    return [
        {"role": "system", "content": f"You are a friendly voice assistant. {facts}"},
        {"role": "user", "content": f"Hello! I would like to talk about {topic} today, if that is fine."},
        {
            "role": "assistant",
            "content": f"Of course, {topic} is a wonderful subject. What would you like to know?",
        },
        {"role": "user", "content": f"What is the first thing a beginner in {topic} should learn, and why?"},
    ]


async def first_token(http: httpx.AsyncClient, messages: list[dict[str, str]]) -> dict:
    """Seconds to the first token, the reply, and llama-server's own timings of the request."""
    started = time.perf_counter()
    first, pieces, timings = None, [], {}
    request = {"model": "local", "messages": messages, "stream": True}
    async with http.stream("POST", "/chat/completions", json=request) as reply:
        async for line in reply.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line.removeprefix("data: "))
            timings = chunk.get("timings", timings)
            content = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
            if content:
                first = first or time.perf_counter() - started
                pieces.append(content)
    return {"first_token": first, "reply": "".join(pieces), "timings": timings}


async def conversation_turns(http: httpx.AsyncClient, conversation: int) -> tuple[dict, dict]:
    """The cold first request of a conversation, then its next turn."""
    messages = opening(conversation)
    cold = await first_token(http, messages)
    messages += [
        {"role": "assistant", "content": cold["reply"]},
        {"role": "user", "content": "Thanks. And what is the most common mistake?"},
    ]
    return cold, await first_token(http, messages)


async def bench_llm(http: httpx.AsyncClient, *, at_once: int, rounds: int) -> dict:
    colds, nexts = [], []
    for round_ in range(rounds):
        turns = await asyncio.gather(*(conversation_turns(http, round_ * 10 + i) for i in range(at_once)))
        colds += [cold for cold, _ in turns]
        nexts += [next_ for _, next_ in turns]
    return {
        "conversations_at_once": at_once,
        "cold_first_token_seconds": summary([t["first_token"] for t in colds]),
        "cold_prompt_tokens": summary([t["timings"].get("prompt_n", 0) for t in colds], 0),
        "next_turn_first_token_seconds": summary([t["first_token"] for t in nexts]),
        "next_turn_prompt_tokens_read": summary([t["timings"].get("prompt_n", 0) for t in nexts], 0),
        "next_turn_prompt_tokens_cached": summary([t["timings"].get("cache_n", 0) for t in nexts], 0),
        "generation_tokens_per_second": summary(
            [t["timings"].get("predicted_per_second", 0) for t in colds], 1
        ),
    }


async def bench_stt(http: httpx.AsyncClient, clip: bytes, duration: float, rounds: int) -> dict:
    model, round_trip = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        reply = await http.post(
            "/audio/transcriptions",
            files={"file": ("clip.wav", clip, "audio/wav")},
            data={"model": "whisper"},
        )
        round_trip.append(time.perf_counter() - started)
        model.append(int(reply.headers["openai-processing-ms"]) / 1000)
    return {
        "clip_seconds": round(duration, 2),
        "model_seconds": summary(model),
        "round_trip_seconds": summary(round_trip),
        "text": reply.json()["text"],
    }


async def bench_tts(http: httpx.AsyncClient, rounds: int) -> dict:
    first_bytes, totals, sizes = [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        async with http.stream(
            "POST", "/audio/speech", json={"input": SENTENCE, "response_format": "pcm"}
        ) as reply:
            chunks = reply.aiter_bytes()
            first = await anext(chunks)
            first_bytes.append(time.perf_counter() - started)
            size = len(first) + sum([len(chunk) async for chunk in chunks])
        totals.append(time.perf_counter() - started)
        sizes.append(size)
    return {
        "first_audio_byte_seconds": summary(first_bytes),
        "whole_sentence_seconds": summary(totals),
        "audio_seconds": round(statistics.median(sizes) / 48_000, 2),
    }


def rss_mib(service: InferenceService) -> dict[str, float]:
    root = psutil.Process(service.pid)
    llama = [child for child in root.children() if child.name() == "llama-server"]
    mib = 1024 * 1024
    return {
        "service": round(root.memory_info().rss / mib, 1),
        "llama_server": round(sum(p.memory_info().rss for p in llama) / mib, 1),
    }


async def main(rounds: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    clip_path = speak_to_wav(CLIP_TEXT, workdir / "clip.wav", sample_rate=16_000, words_per_minute=160)
    clip_frame = read_wav(clip_path)
    service = InferenceService(workdir)
    started = time.perf_counter()
    service.start()
    startup = time.perf_counter() - started
    logged = re.search(r"ready seconds=([\d.]+)", service.log())
    try:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=120) as http:
            results = {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "startup": {
                    "process_start_to_healthy_seconds": round(startup, 2),
                    "logged_load_seconds": float(logged.group(1)) if logged else None,
                },
                "llm_1": await bench_llm(http, at_once=1, rounds=rounds),
                "llm_6": await bench_llm(http, at_once=6, rounds=rounds),
                "stt": await bench_stt(http, clip_path.read_bytes(), clip_frame.duration, rounds * 3),
                "tts": await bench_tts(http, rounds * 3),
                "rss_mib": rss_mib(service),
            }
    finally:
        service.stop()
    return results


def table(results: dict) -> str:
    rows = [
        ("start-up, process to /health 200", f"{results['startup']['process_start_to_healthy_seconds']} s"),
    ]
    for key in ("llm_1", "llm_6"):
        llm = results[key]
        n = llm["conversations_at_once"]
        rows += [
            (
                f"LLM first token, cold ~300-token prompt, {n} at once",
                f"{llm['cold_first_token_seconds']['p50']} s",
            ),
            (
                f"LLM first token, next turn (cached), {n} at once",
                f"{llm['next_turn_first_token_seconds']['p50']} s",
            ),
        ]
    stt, tts, rss = results["stt"], results["tts"], results["rss_mib"]
    rows += [
        (f"transcription of {stt['clip_seconds']} s, model", f"{stt['model_seconds']['p50']} s"),
        (f"transcription of {stt['clip_seconds']} s, round trip", f"{stt['round_trip_seconds']['p50']} s"),
        ("speech, first audio byte", f"{tts['first_audio_byte_seconds']['p50']} s"),
        ("RSS service + llama-server", f"{rss['service']} + {rss['llama_server']} MiB"),
    ]
    return "\n".join(["| measure | p50 |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    measured = asyncio.run(main(parser.parse_args().rounds))
    RESULTS.write_text(json.dumps(measured, indent=2) + "\n")
    print(table(measured))
