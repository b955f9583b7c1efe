"""A job process makes one HTTP client per model server while it warms up, and every stage and
conversation of the process uses it (no CA store loaded on the conversation's event loop)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from agent_worker.providers import build_pipeline, load_process_models
from agent_worker.providers.compatible import NO_KEY
from agent_worker.settings import WorkerSettings

LOCAL = "http://127.0.0.1:8090/v1"


def test_a_conversation_makes_no_http_client_of_its_own_after_warm_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured = WorkerSettings(_env_file=None, LOCAL_INFERENCE_URL=LOCAL)  # type: ignore[call-arg]
    models = load_process_models(configured)
    made: list[httpx2.AsyncClient] = []
    make = httpx2.AsyncClient.__init__

    def counted(client: httpx2.AsyncClient, *args: Any, **kwargs: Any) -> None:
        made.append(client)
        make(client, *args, **kwargs)

    monkeypatch.setattr(httpx2.AsyncClient, "__init__", counted)
    build_pipeline(configured, models)  # what prewarm does
    assert len(made) == 1, "the three stages on one server share one client"
    warm = models.api_clients.get(LOCAL, NO_KEY)

    build_pipeline(configured, models, conversation="talk-1-abc")

    assert len(made) == 1, "the conversation made HTTP clients (and loaded the CA store) on its loop"
    assert made == [warm._client]  # pyright: ignore[reportPrivateUsage]
    assert str(warm.base_url).rstrip("/") == LOCAL
    assert warm.max_retries == 0, "livekit-agents retries a failed request itself"


def test_another_server_or_key_gets_its_own_client() -> None:
    models = load_process_models(WorkerSettings(_env_file=None))  # type: ignore[call-arg]
    clients = models.api_clients
    local = clients.get(LOCAL, NO_KEY)
    assert clients.get("http://llm.internal:8000/v1", NO_KEY) is not local
    assert clients.get(LOCAL, "sk-other") is not local
    assert clients.get(None, "sk-other").base_url.host == "api.openai.com"
