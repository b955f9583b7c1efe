"""Which models the agent uses, as an operator configures it (settings -> the conversation's pipeline).

Nothing here calls a provider: building the OpenAI plugin's clients makes no request.
"""

from __future__ import annotations

import pytest
from livekit.plugins import silero
from pydantic import ValidationError

from agent_worker.providers import ProcessModels, build_pipeline
from agent_worker.settings import WorkerSettings

NO_LOCAL_MODELS = {"FALLBACK_TO_LOCAL": False}


@pytest.fixture(scope="module")
def models_without_local() -> ProcessModels:
    """What prewarm loads when every stage is remote and nothing may fall back."""
    return ProcessModels(vad=silero.VAD.load(), local=None)


def settings(**values: object) -> WorkerSettings:
    """Settings from these values only (no `.env`, no environment)."""
    return WorkerSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_with_no_key_and_no_servers_every_stage_is_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    configured = settings()
    assert configured.remote_stages == {}
    assert configured.needs_local_models


def test_an_openai_key_puts_every_stage_on_openai(models_without_local: ProcessModels) -> None:
    pipeline = build_pipeline(settings(OPENAI_API_KEY="sk-test", **NO_LOCAL_MODELS), models_without_local)
    assert pipeline.name == "openai"
    assert {pipeline.stt.provider, pipeline.llm.provider, pipeline.tts.provider} == {"api.openai.com"}
    assert (pipeline.stt.model, pipeline.llm.model) == ("gpt-4o-mini-transcribe", "gpt-4.1-mini")


def test_a_base_url_sends_one_stage_to_that_server_and_keeps_the_others(
    models_without_local: ProcessModels,
) -> None:
    configured = settings(
        OPENAI_API_KEY="sk-test",
        LLM_BASE_URL="http://127.0.0.1:11434/v1",
        LLM_MODEL="llama3.2",
        **NO_LOCAL_MODELS,
    )
    pipeline = build_pipeline(configured, models_without_local)
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
