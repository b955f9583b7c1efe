"""How fast the local pipeline is on this machine, stage by stage, and how much memory it takes.

Loads the models the way a worker process does (`LocalModels.load`), then measures through the
livekit-agents API the session uses:

- speech-to-text: real-time factor (seconds of work per second of audio) and word accuracy on
  espeak-ng questions at 48 kHz, as a browser microphone sends them;
- LLM: time to first token and tokens per second of streamed replies to those questions;
- text-to-speech: time to first audio and real-time factor of spoken sentences;
- one turn without VAD or room (transcript -> streamed reply -> first audio of its first sentence),
  the part of end-of-speech-to-first-audio these models add; the agent bench adds the rest;
- RSS of this process with every model loaded and used.

Writes bench/results/local_pipeline.json and prints a markdown table.

    .venv/bin/python bench/local_pipeline.py [--turns 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livekit import rtc
from livekit.agents import llm, tts

from agent_worker.providers.local import LocalLLM, LocalModels, LocalSTT, LocalTTS
from agent_worker.providers.local.llm import chat_messages, fit_to_context
from agent_worker.settings import WorkerSettings
from tests.support.processes import REPO_ROOT
from tests.support.speech import resample, spoken_frame, word_accuracy

RESULTS = REPO_ROOT / "bench" / "results" / "local_pipeline.json"
INSTRUCTIONS = "You are a friendly voice assistant. Answer in one or two short sentences."
QUESTIONS = [
    "What is the weather like in Paris today?",
    "Please tell me a short story about a brave little robot.",
    "Can you recommend a good book to read this weekend?",
    "Can you tell me a joke about a cat?",
    "I think the meeting should start a little later tomorrow.",
    "Hello there, my name is Alice and I would like some help.",
    "Could you explain how a rainbow forms in the sky?",
    "Thank you very much, that was really helpful.",
    "What should I cook for dinner tonight?",
    "How do I make a good cup of tea?",
]
SENTENCES = [
    "Sure, I can help with that.",
    "The weather in Paris is mild today, with a little sunshine in the afternoon.",
    "Here is a short story about a brave little robot who wanted to see the sea.",
    "Thanks for calling, and have a wonderful evening.",
]


def summary(values: list[float], digits: int = 3) -> dict[str, float]:
    """Median, 5th and 95th percentile and extremes of a list of measurements."""
    ordered = sorted(values)

    def percentile(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))], digits)

    return {
        "p50": round(statistics.median(ordered), digits),
        "p5": percentile(0.05),
        "p95": percentile(0.95),
        "min": round(ordered[0], digits),
        "max": round(ordered[-1], digits),
    }


def question_context(question: str) -> llm.ChatContext:
    chat_ctx = llm.ChatContext.empty()
    chat_ctx.add_message(role="system", content=INSTRUCTIONS)
    chat_ctx.add_message(role="user", content=question)
    return chat_ctx


async def bench_stt(models: LocalModels, microphone: dict[str, rtc.AudioFrame]) -> dict:
    ears = LocalSTT(models)
    factors, accuracies = [], []
    for question, frame in microphone.items():
        started = time.perf_counter()
        event = await ears.recognize(frame)
        factors.append((time.perf_counter() - started) / frame.duration)
        accuracies.append(word_accuracy(question, event.alternatives[0].text))
    return {
        "clips": len(factors),
        "mean_clip_seconds": round(statistics.mean(f.duration for f in microphone.values()), 2),
        "real_time_factor": summary(factors),
        "word_accuracy_mean": round(statistics.mean(accuracies), 3),
    }


async def bench_llm(models: LocalModels, rounds: int) -> dict:
    brain = LocalLLM(models)
    first_tokens, rates, lengths = [], [], []
    for i in range(rounds):
        started = time.perf_counter()
        arrivals = []
        async with brain.chat(chat_ctx=question_context(QUESTIONS[i % len(QUESTIONS)])) as stream:
            async for chunk in stream:
                if chunk.delta and chunk.delta.content:
                    arrivals.append(time.perf_counter() - started)
        first_tokens.append(arrivals[0])
        lengths.append(len(arrivals))
        if len(arrivals) > 1:
            rates.append((len(arrivals) - 1) / (arrivals[-1] - arrivals[0]))
    return {
        "replies": rounds,
        "time_to_first_token_seconds": summary(first_tokens),
        "tokens_per_second": summary(rates, digits=1),
        "reply_tokens_mean": round(statistics.mean(lengths), 1),
        "max_tokens": models.llm_max_tokens,
    }


async def first_token_seconds(brain: LocalLLM, chat_ctx: llm.ChatContext) -> tuple[float, str]:
    """Seconds to the first token of a reply, and the whole reply."""
    started = time.perf_counter()
    first, pieces = None, []
    async with brain.chat(chat_ctx=chat_ctx) as stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                first = first or time.perf_counter() - started
                pieces.append(chunk.delta.content)
    return first or 0.0, "".join(pieces)


async def bench_long_conversation(models: LocalModels) -> dict:
    """First token of a reply late in a conversation: the next turn (its start already read), or
    the same conversation after another one used the model (read again whole)."""
    brain = LocalLLM(models)
    conversation = question_context(QUESTIONS[0])
    for i in range(24):
        conversation.add_message(
            role="assistant" if i % 2 == 0 else "user", content=SENTENCES[i % len(SENTENCES)]
        )
    conversation.add_message(role="user", content="And what about tomorrow?")
    _, prompt_tokens = fit_to_context(models, chat_messages(conversation))

    next_turn, after_another = [], []
    for i in range(3):
        _, reply = await first_token_seconds(brain, conversation)
        conversation.add_message(role="assistant", content=reply)
        conversation.add_message(role="user", content=QUESTIONS[(i + 4) % len(QUESTIONS)])
        next_turn.append((await first_token_seconds(brain, conversation))[0])
        await first_token_seconds(brain, question_context(QUESTIONS[i]))
        after_another.append((await first_token_seconds(brain, conversation))[0])
    return {
        "prompt_tokens": prompt_tokens,
        "next_turn_first_token_seconds": summary(next_turn),
        "after_another_conversation_first_token_seconds": summary(after_another),
    }


async def bench_tts(models: LocalModels, rounds: int) -> dict:
    voice = LocalTTS(models)
    first_audio, factors = [], []
    for i in range(rounds):
        started = time.perf_counter()
        frames = []
        async for audio in voice.synthesize(SENTENCES[i % len(SENTENCES)]):
            if not frames:
                first_audio.append(time.perf_counter() - started)
            frames.append(audio.frame)
        factors.append((time.perf_counter() - started) / rtc.combine_audio_frames(frames).duration)
    return {
        "sentences": rounds,
        "time_to_first_audio_seconds": summary(first_audio),
        "real_time_factor": summary(factors),
    }


async def arrival_of_first_audio(speech: tts.SynthesizeStream) -> float:
    await anext(speech)
    return time.perf_counter()


async def bench_turns(models: LocalModels, microphone: dict[str, rtc.AudioFrame], turns: int) -> dict:
    """Transcript, streamed reply and the first audio of its first sentence, as the session chains them."""
    ears, brain = LocalSTT(models), LocalLLM(models)
    voice = tts.StreamAdapter(tts=LocalTTS(models))
    clips = list(microphone.values())
    to_first_audio, stt_parts, llm_parts = [], [], []
    for i in range(turns):
        started = time.perf_counter()
        event = await ears.recognize(clips[i % len(clips)])
        heard = time.perf_counter()
        first_token = None
        async with voice.stream() as speech:
            first_audio = asyncio.create_task(arrival_of_first_audio(speech))
            async with brain.chat(chat_ctx=question_context(event.alternatives[0].text)) as reply:
                async for chunk in reply:
                    if chunk.delta and chunk.delta.content:
                        first_token = first_token or time.perf_counter()
                        speech.push_text(chunk.delta.content)
            speech.end_input()
            to_first_audio.append(await first_audio - started)
        stt_parts.append(heard - started)
        llm_parts.append((first_token or heard) - heard)
    return {
        "turns": turns,
        "stt_seconds": summary(stt_parts),
        "llm_first_token_seconds": summary(llm_parts),
        "transcript_to_first_audio_seconds": summary(to_first_audio),
    }


def render(results: dict) -> str:
    stt, lm, voice, turn = results["stt"], results["llm"], results["tts"], results["turn"]
    long = results["llm_long_conversation"]
    rows = [
        ("Models loaded (checksums, load, warm-up)", f"{results['load_seconds']} s", ""),
        (
            f"STT real-time factor ({stt['mean_clip_seconds']} s clips)",
            f"{stt['real_time_factor']['p50']}",
            f"{stt['real_time_factor']['p95']}",
        ),
        ("STT word accuracy (espeak-ng, 48 kHz)", f"{stt['word_accuracy_mean']:.0%}", ""),
        (
            "LLM time to first token",
            f"{lm['time_to_first_token_seconds']['p50']} s",
            f"{lm['time_to_first_token_seconds']['p95']} s",
        ),
        (
            f"LLM first token, {long['prompt_tokens']}-token conversation, next turn",
            f"{long['next_turn_first_token_seconds']['p50']} s",
            f"{long['next_turn_first_token_seconds']['p95']} s",
        ),
        (
            f"LLM first token, {long['prompt_tokens']}-token conversation, after another one",
            f"{long['after_another_conversation_first_token_seconds']['p50']} s",
            f"{long['after_another_conversation_first_token_seconds']['p95']} s",
        ),
        (
            "LLM tokens/s (streamed)",
            f"{lm['tokens_per_second']['p50']}",
            f"{lm['tokens_per_second']['p5']}",
        ),
        (
            "TTS time to first audio",
            f"{voice['time_to_first_audio_seconds']['p50']} s",
            f"{voice['time_to_first_audio_seconds']['p95']} s",
        ),
        (
            "TTS real-time factor",
            f"{voice['real_time_factor']['p50']}",
            f"{voice['real_time_factor']['p95']}",
        ),
        (
            f"Turn without VAD: STT + LLM + first audio ({turn['turns']} turns)",
            f"{turn['transcript_to_first_audio_seconds']['p50']} s",
            f"{turn['transcript_to_first_audio_seconds']['p95']} s",
        ),
        (
            "RSS with all models loaded and used",
            f"{results['rss_mb']} MB",
            f"peak {results['peak_rss_mb']} MB",
        ),
    ]
    lines = ["| Measure | p50 | p95 (tokens/s: p5) |", "|---|---|---|"]
    lines += [f"| {name} | {p50} | {p95} |" for name, p50, p95 in rows]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20, help="turns, replies and sentences per stage")
    args = parser.parse_args()

    rss_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    models = LocalModels.load(WorkerSettings())
    load_seconds = time.perf_counter() - started
    rss_loaded = psutil.Process().memory_info().rss
    try:
        with tempfile.TemporaryDirectory() as workdir:
            microphone = {q: resample(spoken_frame(q, Path(workdir)), 48_000) for q in QUESTIONS}
        results = {
            "machine": {
                "cpus": os.cpu_count(),
                "processor": platform.processor() or platform.machine(),
                "python": platform.python_version(),
                "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            },
            "versions": {
                name: version(name)
                for name in ("livekit-agents", "faster-whisper", "ctranslate2", "llama_cpp_python")
            },
            "models": {
                "stt": models.whisper_name,
                "llm": models.llama_name,
                "tts": f"espeak-ng/{models.espeak.voice} at {models.espeak.words_per_minute} wpm",
            },
            "load_seconds": round(load_seconds, 2),
            "stt": await bench_stt(models, microphone),
            "llm": await bench_llm(models, args.turns),
            "llm_long_conversation": await bench_long_conversation(models),
            "tts": await bench_tts(models, args.turns),
            "turn": await bench_turns(models, microphone, args.turns),
        }
        results["rss_mb_before_load"] = round(rss_before / 2**20)
        results["rss_mb_after_load"] = round(rss_loaded / 2**20)
        results["rss_mb"] = round(psutil.Process().memory_info().rss / 2**20)
        results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    finally:
        models.close()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\nload average {results['machine']['load_average_at_start']} at start; written to {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
