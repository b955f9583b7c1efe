"""Run the agent worker: ``python -m agent_worker dev|start|console``.

``dev`` is for development (only ``MAX_CONVERSATIONS`` limits it, exits at once on
Ctrl-C); ``start`` is for production: it stops taking conversations when its load (see
``agent_worker/load.py``) reaches ``WORKER_LOAD_THRESHOLD`` and on SIGTERM drains, letting running
conversations finish for up to ``DRAIN_TIMEOUT_SECONDS``. ``console`` talks to the agent in the
terminal without a room (``console --text`` needs no audio device). The offline models run in
the local inference service (``python -m agent_worker.inference``), which must be running.

The worker registers under ``AGENT_NAME``, so LiveKit only sends it rooms whose token asks for
that agent in its room configuration (explicit dispatch). Its health endpoint (``GET /`` on
``WORKER_HTTP_PORT``) answers 200 only once registered and not draining (``readiness.py``); a job
process that dies mid-conversation is replaced by a new agent in the same room (``recovery.py``).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from livekit.agents import cli
from livekit.agents.worker import ServerEnvOption

from agent_worker.load import InferenceLoad, WorkerLoad
from agent_worker.recovery import RecoveringAgentServer
from agent_worker.session import entrypoint, prewarm
from agent_worker.settings import WorkerSettings, get_worker_settings
from agent_worker.transcripts import FLUSH_TIMEOUT_SECONDS
from voice_app.logs import set_app_log_level

PROCESS_START_TIMEOUT_SECONDS = 30.0
"""A job process loads no model weights, but may start slowly on a busy 2-core machine."""
DEV_LOAD_THRESHOLD = 1.0
"""In ``dev`` the load is the conversation count alone, so "full" means ``MAX_CONVERSATIONS``."""


def build_server(settings: WorkerSettings, *, dev_mode: bool) -> RecoveringAgentServer:
    """The livekit-agents server for these settings, with our job entrypoint registered."""
    options: dict[str, Any] = {}
    if settings.WORKER_HTTP_PORT is not None:
        options["port"] = settings.WORKER_HTTP_PORT
    production = not dev_mode
    threshold = settings.WORKER_LOAD_THRESHOLD if production else DEV_LOAD_THRESHOLD
    inference = InferenceLoad(settings.LOCAL_INFERENCE_URL) if settings.runs_locally else None
    server = RecoveringAgentServer(
        max_conversations=settings.MAX_CONVERSATIONS,
        threshold=threshold,
        warm_up_delay=settings.WARM_UP_DELAY_SECONDS,
        ws_url=settings.LIVEKIT_URL,
        api_key=settings.LIVEKIT_API_KEY,
        api_secret=settings.LIVEKIT_API_SECRET,
        setup_fnc=prewarm,
        load_fnc=WorkerLoad(
            max_conversations=settings.MAX_CONVERSATIONS,
            threshold=threshold,
            count_resources=production,
            inference=inference,
        ),
        num_idle_processes=settings.WORKER_IDLE_PROCESSES,
        load_threshold=ServerEnvOption(
            dev_default=DEV_LOAD_THRESHOLD, prod_default=settings.WORKER_LOAD_THRESHOLD
        ),
        drain_timeout=settings.DRAIN_TIMEOUT_SECONDS,
        initialize_process_timeout=PROCESS_START_TIMEOUT_SECONDS,
        log_level=settings.LOG_LEVEL,
        # a conversation that ends while the database is down keeps retrying its last messages
        shutdown_process_timeout=FLUSH_TIMEOUT_SECONDS + 10,
        **options,
    )
    server.rtc_session(entrypoint, agent_name=settings.AGENT_NAME)
    return server


def main() -> None:
    """Parse the command line (``dev``, ``start``, ``console``) and run the worker."""
    # livekit-agents 1.8 deprecates its Python CLI in favour of the separate `lk` tool; we keep
    # it so that `python -m agent_worker start` works with nothing else installed.
    warnings.filterwarnings("ignore", message="the built-in Python CLI is deprecated")
    dev_mode = len(sys.argv) > 1 and sys.argv[1] in ("dev", "console")
    settings = get_worker_settings()
    set_app_log_level(settings.LOG_LEVEL)
    cli.run_app(build_server(settings, dev_mode=dev_mode))


if __name__ == "__main__":
    main()
