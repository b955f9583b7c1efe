"""Which models the agent uses, as an operator configures it (settings -> the conversation's pipeline).

Nothing here calls a provider: building the OpenAI plugin's clients makes no request.
"""

from __future__ import annotations

import pytest
from livekit.agents import stt, tts
from pydantic import ValidationError

from agent_worker.providers import ProcessModels, build_pipeline, load_process_models
from agent_worker.providers.live_transcription import LiveTranscriptionSTT
from agent_worker.providers.spoken_chunks import SpokenChunkTokenizer
from agent_worker.settings import WorkerSettings

NO_LOCAL_MODELS = {"FALLBACK_TO_LOCAL": False}


@pytest.fixture(scope="module")
def process_models() -> ProcessModels:
    """What prewarm loads in every job process: the voice activity detectors (no weights)."""
    return load_process_models(settings())


def settings(**values: object) -> WorkerSettings:
    """Settings from these values only (no `.env`, no environment)."""
    return WorkerSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_with_no_key_and_no_servers_every_stage_is_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    configured = settings()
    assert configured.remote_stages == {}
    assert configured.runs_locally


def test_the_offline_pipeline_reaches_the_local_inference_service_through_the_openai_plugin(
    process_models: ProcessModels,
) -> None:
    pipeline = build_pipeline(settings(LOCAL_INFERENCE_URL="http://127.0.0.1:8090/v1"), process_models)
    assert pipeline.name == "local"
    assert {pipeline.stt.provider, pipeline.llm.provider, pipeline.tts.provider} == {"127.0.0.1:8090"}
    assert pipeline.fallbacks == {}


def test_every_stage_is_made_to_start_early(process_models: ProcessModels) -> None:
    """Whole-utterance speech-to-text gets interim passes; whole-text voices start on a clause."""
    pipeline = build_pipeline(settings(), process_models)
    assert isinstance(pipeline.stt, LiveTranscriptionSTT)
    assert pipeline.stt.capabilities.interim_results
    assert isinstance(pipeline.tts, tts.StreamAdapter)
    assert isinstance(pipeline.tts._sentence_tokenizer, SpokenChunkTokenizer)


def test_an_openai_key_puts_every_stage_on_openai(process_models: ProcessModels) -> None:
    pipeline = build_pipeline(settings(OPENAI_API_KEY="sk-test", **NO_LOCAL_MODELS), process_models)
    assert pipeline.name == "openai"
    assert {pipeline.stt.provider, pipeline.llm.provider, pipeline.tts.provider} == {"api.openai.com"}
    assert (pipeline.stt.model, pipeline.llm.model) == ("gpt-4o-mini-transcribe", "gpt-4.1-mini")
    # OpenAI streams transcription itself (realtime API): no interim passes on top
    assert pipeline.stt.capabilities.streaming
    assert not isinstance(pipeline.stt, LiveTranscriptionSTT)


def test_a_remote_stage_falls_back_to_the_local_service(process_models: ProcessModels) -> None:
    pipeline = build_pipeline(settings(OPENAI_API_KEY="sk-test"), process_models)
    assert set(pipeline.fallbacks) == {"stt", "llm", "tts"}
    assert isinstance(pipeline.stt, stt.FallbackAdapter)
    assert pipeline.providers == {"stt": "openai", "llm": "openai", "tts": "openai"}


def test_a_base_url_sends_one_stage_to_that_server_and_keeps_the_others(
    process_models: ProcessModels,
) -> None:
    configured = settings(
        OPENAI_API_KEY="sk-test",
        LLM_BASE_URL="http://127.0.0.1:11434/v1",
        LLM_MODEL="llama3.2",
        **NO_LOCAL_MODELS,
    )
    pipeline = build_pipeline(configured, process_models)
    assert pipeline.name == "stt=openai llm=compatible tts=openai"
    assert (pipeline.llm.provider, pipeline.llm.model) == ("127.0.0.1:11434", "llama3.2")
    assert pipeline.stt.provider == "api.openai.com"


def test_pipeline_local_ignores_the_key() -> None:
    assert settings(OPENAI_API_KEY="sk-test", PIPELINE="local").remote_stages == {}


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"PIPELINE": "openai"}, "PIPELINE=openai needs OPENAI_API_KEY"),
        ({"LLM_BASE_URL": "http://127.0.0.1:11434/v1"}, "LLM_BASE_URL is set but LLM_MODEL is not"),
        ({"DRAIN_TIMEOUT_SECONDS": 0}, "DRAIN_TIMEOUT_SECONDS"),
    ],
)
def test_settings_that_cannot_work_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, values: dict, complaint: str
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValidationError, match=complaint):
        settings(**values)
