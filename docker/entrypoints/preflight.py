"""Check a container's configuration before its program starts, and say plainly what is wrong.

    python docker/entrypoints/preflight.py backend        # the web app's settings
    python docker/entrypoints/preflight.py agent          # the agent worker's settings
    python docker/entrypoints/preflight.py agent-models   # also load the offline models once

Both settings classes refuse development keys, missing secrets and SQLite in production; left to
the programs themselves, that refusal would surface as a stack trace from deep inside Reflex or
livekit-agents. Here each problem is one line naming the setting, with exit status 78
(EX_CONFIG), and never the values (they may be secrets). The Dockerfiles run `agent-models` at
build time, so an image whose model files are missing or altered is never shipped.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from pydantic import ValidationError

# Run as a script from any folder: the app's packages sit two levels up.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

EX_CONFIG = 78

logger = logging.getLogger("preflight")


def _settings_class(service: str) -> type:
    if service == "backend":
        from voice_app.settings import Settings

        return Settings
    from agent_worker.settings import WorkerSettings

    return WorkerSettings


def describe(error: ValidationError) -> list[str]:
    """One sentence per problem: the setting's name and what is wrong, without its value."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        message = problem["msg"].removeprefix("Value error, ")
        location = ".".join(str(part) for part in problem["loc"])
        lines.append(f"{location}: {message}" if location else message)
    return lines


def check(service: str) -> int:
    """Load ``service``'s settings (and for ``agent-models`` its models); 0 when it may start."""
    try:
        settings = _settings_class(service.removesuffix("-models"))()
    except ValidationError as error:
        logger.error("%s: the configuration is not usable:", service)
        for line in describe(error):
            logger.error("  - %s", line)
        return EX_CONFIG
    if service == "agent-models":
        from agent_worker.providers.local.models import LocalModels, LocalModelsUnavailable

        try:
            LocalModels.load(settings).close()
        except LocalModelsUnavailable as error:
            logger.error("agent: the offline models are not usable: %s", error)
            return EX_CONFIG
    logger.info("%s: configuration ok (ENVIRONMENT=%s)", service, settings.ENVIRONMENT)
    return 0


def main(argv: list[str]) -> int:
    """Entry point: ``preflight.py backend|agent|agent-models``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if len(argv) != 2 or argv[1] not in ("backend", "agent", "agent-models"):
        logger.error("usage: preflight.py backend|agent|agent-models")
        return 2
    return check(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
