"""Run the local inference service: ``python -m agent_worker.inference``.

It listens at once (``/health`` answers 503 "starting" while the models load), logs one line when
every model answers, and on SIGTERM or SIGINT stops llama-server and exits. A missing or changed
model is one error line naming the install command, and exit status 78 (EX_CONFIG).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web

from agent_worker.inference.app import create_app
from agent_worker.inference.models import LocalModelsUnavailable
from agent_worker.inference.service import InferenceService
from agent_worker.inference.settings import InferenceSettings, get_inference_settings
from voice_app.logs import ExtrasFormatter

logger = logging.getLogger("agent_worker.inference")

EX_CONFIG = 78
EX_UNAVAILABLE = 69
SHUTDOWN_SECONDS = 5.0
"""On SIGTERM, answers still streaming get this long to finish before their connections close."""


def configure_logging(level: str) -> None:
    """The service's lines from ``level``; the libraries' from WARNING unless ``level`` is DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ExtrasFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if level == "DEBUG" else logging.WARNING, handlers=[handler])
    logging.getLogger("agent_worker").setLevel(level)


async def serve(settings: InferenceSettings) -> int:
    """Listen, load the models, serve until SIGTERM or SIGINT; the exit status."""
    service = InferenceService(settings)
    runner = web.AppRunner(create_app(service), access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await web.TCPSite(runner, settings.INFERENCE_HOST, settings.INFERENCE_PORT).start()
        except OSError as error:
            logger.error(
                "cannot listen",
                extra={
                    "address": f"{settings.INFERENCE_HOST}:{settings.INFERENCE_PORT}",
                    "problem": error.strerror,
                },
            )
            return EX_UNAVAILABLE
        starting = asyncio.create_task(service.start())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            await stopping
        else:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        logger.info("stopping")
        return 0
    except LocalModelsUnavailable as error:
        logger.error("the local models are not usable", extra={"problem": str(error)})
        return EX_CONFIG
    finally:
        await runner.cleanup()
        await service.close()


def main() -> None:
    """Entry point of ``python -m agent_worker.inference``."""
    settings = get_inference_settings()
    configure_logging(settings.LOG_LEVEL)
    sys.exit(asyncio.run(serve(settings)))


if __name__ == "__main__":
    main()
