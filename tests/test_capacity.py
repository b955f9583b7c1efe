"""Many conversations on one copy of the models, and a worker that knows when it is full.

Real livekit-server, the real local inference service and workers, LiveKit clients as users.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import psutil
import pytest

from tests.factories import sign_in
from tests.support.inference import InferenceService
from tests.support.speech import spoken_frame, word_accuracy
from tests.support.voice_client import VoiceClient
from tests.support.worker import REGISTERED_LOG_LINE, AgentWorker, Deployment
from tests.test_agent_worker import GREETING_TIMEOUT, REPLY_TIMEOUT, stored_conversations, talking
from voice_app.protocol import LLM_PROVIDER_ATTRIBUTE

pytestmark = pytest.mark.slow

MODEL_FILES = ("model.bin", ".gguf")
"""Whisper's and the LLM's weights: no worker process may map them (llama.cpp maps its GGUF;
CTranslate2 reads Whisper's file into memory, so only the GGUF shows in the service's maps)."""
JOB_PROCESS_MAX_UNIQUE_MB = 150
"""A conversation's own memory (USS of its job process); Whisper alone would be ~75 MB more."""


def maps_model_files(process: psutil.Process) -> list[str]:
    """Model weight files the process has mapped into memory."""
    try:
        return [m.path for m in process.memory_maps() if m.path.endswith(MODEL_FILES)]
    except psutil.Error:
        return []


async def test_the_openai_provider_answers_a_spoken_and_a_typed_question_end_to_end(
    isolated_deployment: Deployment, tmp_path: Path
) -> None:
    """OpenAI is the production default; here its code path talks to an OpenAI-compatible
    server running here (the local inference service) instead of api.openai.com."""
    base_url = isolated_deployment.inference.base_url
    worker = isolated_deployment.worker(
        "openai-path",
        extra_env={
            "PIPELINE": "openai",
            "OPENAI_API_KEY": "sk-test-not-a-real-key",
            "OPENAI_BASE_URL": base_url,
            "OPENAI_STT_REALTIME": "false",  # the realtime transcription websocket is OpenAI's own
            "OPENAI_STT_MODEL": "whisper",
            "OPENAI_LLM_MODEL": "local-llm",
            "OPENAI_TTS_MODEL": "espeak-ng",
            "FALLBACK_TO_LOCAL": "false",
        },
    ).start()
    question = "What is the weather like in Paris today?"
    try:
        with httpx.Client(base_url=isolated_deployment.backend.base_url, timeout=30) as api:
            user = sign_in(api, display_name="Openai")
            async with talking(api, user) as client:
                await client.wait_for(
                    "the agent listening", lambda: client.agent_states[-1][1] == "listening", 20
                )
                ended = await client.speak(spoken_frame(question, tmp_path))
                heard = await client.wait_for(
                    "the user's transcript", lambda: client.user_transcripts(), REPLY_TIMEOUT
                )
                spoken_reply = await client.wait_for(
                    "a spoken reply", lambda: client.agent_transcripts(after=ended), REPLY_TIMEOUT
                )
                voice = await client.wait_for(
                    "its voice", lambda: client.loud_frames(after=ended), REPLY_TIMEOUT
                )
                await client.wait_for(
                    "the agent listening", lambda: client.agent_states[-1][1] == "listening", 45
                )
                sent = await client.send_chat("Say hello to my friend Tom.")
                typed_reply = await client.wait_for(
                    "a reply to the chat", lambda: client.agent_transcripts(after=sent), REPLY_TIMEOUT
                )
                provider = client.agent_attribute(LLM_PROVIDER_ATTRIBUTE)
    finally:
        worker.stop()
    assert provider == "openai"
    assert word_accuracy(question, heard[0].text) >= 0.8, heard[0].text
    assert spoken_reply[0].text
    assert voice
    assert typed_reply[0].text


async def test_several_conversations_share_one_copy_of_the_models_and_keep_to_themselves(
    api: httpx.Client, agent_worker: AgentWorker, inference_service: InferenceService, backend
) -> None:
    names = ["Ada", "Grace", "Hedy"]
    users = [sign_in(api, display_name=name) for name in names]
    clients = await asyncio.gather(*(VoiceClient.join(api, user) for user in users))
    try:
        await asyncio.gather(
            *(c.wait_for("a greeting", lambda c=c: c.agent_transcripts(), GREETING_TIMEOUT) for c in clients)
        )
        questions = [f"My name is {name}. What is my name?" for name in names]
        sent = await asyncio.gather(*(c.send_chat(q) for c, q in zip(clients, questions, strict=True)))
        await asyncio.gather(
            *(
                c.wait_for("a reply", lambda c=c, at=at: c.agent_transcripts(after=at), REPLY_TIMEOUT)
                for c, at in zip(clients, sent, strict=True)
            )
        )
        worker_tree = [
            psutil.Process(agent_worker.pid),
            *psutil.Process(agent_worker.pid).children(recursive=True),
        ]
        job_processes = [p for p in worker_tree[1:] if p.is_running()]
        unique_mb = [p.memory_full_info().uss / 2**20 for p in job_processes]
        mapped = {p.pid: maps_model_files(p) for p in worker_tree}
        service_tree = [
            psutil.Process(inference_service.pid),
            *psutil.Process(inference_service.pid).children(),
        ]
        service_maps = [path for p in service_tree for path in maps_model_files(p)]
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    assert all(not paths for paths in mapped.values()), f"a worker process holds model weights: {mapped}"
    assert any(path.endswith(".gguf") for path in service_maps), "the LLM is not in the inference service"
    assert len(job_processes) >= 3
    assert max(unique_mb) < JOB_PROCESS_MAX_UNIQUE_MB, unique_mb
    await asyncio.sleep(1)
    for user, question, other_questions in zip(
        users, questions, [questions[1:], [questions[0], questions[2]], questions[:2]], strict=True
    ):
        said = [m.text for m in stored_conversations(backend, user.user_id)[-1][1] if m.role == "user"]
        assert said == [question], said
        assert not set(said) & set(other_questions)


async def test_when_the_models_restart_mid_conversation_the_agent_says_so_and_then_answers_again(
    isolated_deployment: Deployment, tmp_path: Path
) -> None:
    models = InferenceService(tmp_path / "own-models").start()
    worker = isolated_deployment.worker(
        "restarting-models", extra_env={"LOCAL_INFERENCE_URL": models.base_url}
    )
    try:
        worker.start()
        with httpx.Client(base_url=isolated_deployment.backend.base_url, timeout=30) as api:
            user = sign_in(api, display_name="Margaret")
            async with talking(api, user) as client:
                await client.wait_for(
                    "the agent listening", lambda: client.agent_states[-1][1] == "listening", 20
                )
                models.kill()
                models.wait(10)
                sent = await client.send_chat("Are you still there?")
                notice = await client.wait_for(
                    "a notice that something failed",
                    lambda: [m for m in client.chat_from_agent if m.received_at > sent],
                    60,
                )
                models.start()
                await client.wait_for(
                    "the agent listening", lambda: client.agent_states[-1][1] == "listening", 30
                )
                again = await client.send_chat("Hello again, can you hear me now?")
                reply = await client.wait_for(
                    "an answer once the models are back", lambda: client.agent_transcripts(after=again), 60
                )
    finally:
        worker.stop()
        models.stop()
    assert "stopped responding" in notice[0].text, notice[0].text
    assert reply[0].text


async def test_a_full_worker_gets_no_more_conversations_and_the_next_worker_takes_them(
    isolated_deployment: Deployment,
) -> None:
    limited = {"MAX_CONVERSATIONS": "1"}
    first = isolated_deployment.worker("first-of-two", extra_env=limited).start()
    second: AgentWorker | None = None
    clients: list[VoiceClient] = []
    try:
        with httpx.Client(base_url=isolated_deployment.backend.base_url, timeout=30) as api:
            clients.append(await VoiceClient.join(api, sign_in(api, display_name="One")))
            await clients[0].wait_for(
                "the first greeting", lambda: clients[0].agent_transcripts(), GREETING_TIMEOUT
            )
            second = isolated_deployment.worker("second-of-two", extra_env=limited).start()
            await asyncio.sleep(1)  # the first worker's next status report says it is full
            clients.append(await VoiceClient.join(api, sign_in(api, display_name="Two")))
            await clients[1].wait_for(
                "the second greeting", lambda: clients[1].agent_transcripts(), GREETING_TIMEOUT
            )

            third_user = sign_in(api, display_name="Three")
            clients.append(await VoiceClient.join(api, third_user))
            await asyncio.sleep(5)
            status = await asyncio.to_thread(
                api.get, f"/api/rooms/{clients[2].room_name}/agent", headers=third_user.headers
            )
            third_agent = clients[2].agent_identity
        first_log, second_log = first.log(), second.log()
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        first.stop()
        if second is not None:
            second.stop()
    assert REGISTERED_LOG_LINE in second_log
    assert first_log.count("received job request") == 1, "the full worker accepted a second conversation"
    assert clients[1].room_name in second_log, "the second worker did not take the second conversation"
    assert third_agent is None, "a third conversation got an agent although both workers were full"
    assert status.status_code == 200, status.text
    assert status.json()["agent"] == "waiting_for_worker", status.json()
