"""Check a container's configuration before its program starts, and say plainly what is wrong.

    python docker/entrypoints/preflight.py backend            # the web app's settings
    python docker/entrypoints/preflight.py agent              # the agent worker's settings
    python docker/entrypoints/preflight.py agent-models       # also load the VAD and turn detector
    python docker/entrypoints/preflight.py inference-models   # the inference service's models

The backend's and the worker's settings refuse development keys, missing secrets and SQLite in
production; left to the programs themselves, that refusal would surface as a stack trace from deep
inside Reflex or livekit-agents. Here each problem is one line naming the setting, with exit
status 78 (EX_CONFIG), and never the values (they may be secrets). The Dockerfiles run the
`*-models` checks at build time, so an image whose model files are missing or altered, or whose
programs do not run, is never shipped.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

if TYPE_CHECKING:
    from agent_worker.inference.settings import InferenceSettings

# Run as a script from any folder: the app's packages sit two levels up.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

EX_CONFIG = 78
SERVICES = ("backend", "agent", "agent-models", "inference-models")

logger = logging.getLogger("preflight")


def _settings_class(service: str) -> type:
    if service == "backend":
        from voice_app.settings import Settings

        return Settings
    if service == "inference":
        from agent_worker.inference.settings import InferenceSettings

        return InferenceSettings
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


def check_inference_models(settings: InferenceSettings) -> None:
    """The image's pinned weights are the expected files, espeak-ng speaks, llama-server runs.

    Only the files are checked, never loaded: llama-server loads the GGUF when the service starts,
    and this image has no llama_cpp bindings to load it with.

    Raises:
        LocalModelsUnavailable: a file is missing or altered, or a program does not run.

    """
    from agent_worker.inference.llama_server import find_llama_server
    from agent_worker.inference.models import (
        SMOLLM2_135M_INSTRUCT,
        WHISPER_TINY_EN,
        LocalModelsUnavailable,
        check_espeak,
    )

    for weights in (WHISPER_TINY_EN, SMOLLM2_135M_INSTRUCT):
        weights.verify(weights.locate())
    check_espeak(settings)
    llama_server = find_llama_server(settings.LLAMA_SERVER_BIN)
    # a missing shared library (libgomp, libstdc++) shows here, not at the first conversation
    result = subprocess.run(  # noqa: S603 - the program the service itself will run
        [str(llama_server), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    if result.returncode != 0:
        raise LocalModelsUnavailable(f"{llama_server} does not run: {result.stderr.strip()[-500:]}")


def check(service: str) -> int:
    """Load ``service``'s settings (and for ``*-models`` check its models); 0 when it may start."""
    try:
        settings = _settings_class(service.removesuffix("-models"))()
    except ValidationError as error:
        logger.error("%s: the configuration is not usable:", service)
        for line in describe(error):
            logger.error("  - %s", line)
        return EX_CONFIG
    if service == "agent-models":
        from agent_worker.providers import load_process_models

        try:
            load_process_models(settings)
        except Exception as error:  # whatever the native runtimes raise, as one line
            logger.error("agent: the VAD or the end-of-turn model is not usable: %s", error)
            return EX_CONFIG
    if service == "inference-models":
        from agent_worker.inference.models import LocalModelsUnavailable

        try:
            check_inference_models(settings)
        except LocalModelsUnavailable as error:
            logger.error("inference: the offline models are not usable: %s", error)
            return EX_CONFIG
    # the inference service has no production mode: no secrets, nothing to refuse
    environment = getattr(settings, "ENVIRONMENT", None)
    logger.info("%s: configuration ok%s", service, f" (ENVIRONMENT={environment})" if environment else "")
    return 0


def main(argv: list[str]) -> int:
    """Entry point: ``preflight.py backend|agent|agent-models|inference-models``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if len(argv) != 2 or argv[1] not in SERVICES:
        logger.error("usage: preflight.py %s", "|".join(SERVICES))
        return 2
    return check(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
