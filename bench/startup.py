"""Seconds from `make dev` to a page that answers, cold (fresh clone, nothing cached) and warm.

Cold: a fresh `git clone` of this repository into a temporary folder with no `.venv/` and no
`.tools/`, so setup creates the venv, installs requirements (from pip's cache when this machine
has one), fetches bun and builds livekit-server (Go's build cache helps when warm). Warm: the
second start of the same clone. Both on free ports. Writes bench/results/startup.json.

    .venv/bin/python bench/startup.py            # warm only, on this checkout
    .venv/bin/python bench/startup.py --cold     # cold clone, then warm on that clone
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import REPO_ROOT, free_port

RESULTS = REPO_ROOT / "bench" / "results" / "startup.json"


def time_make_dev(checkout: Path, timeout: float = 1800) -> float:
    """Run `make dev` in ``checkout`` until its page answers; stop it; return the seconds taken."""
    ports = {"FRONTEND_PORT": free_port(), "BACKEND_PORT": free_port(), "LIVEKIT_PORT": free_port()}
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "DATABASE_URL": f"sqlite:///{checkout}/bench.db",
    }
    env.pop("VIRTUAL_ENV", None)
    log = (checkout / "make-dev.log").open("ab")
    started = time.monotonic()
    make = subprocess.Popen(
        ["make", "dev"], cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{ports['FRONTEND_PORT']}/"
    try:
        while time.monotonic() - started < timeout:
            if make.poll() is not None:
                raise RuntimeError(f"make dev exited with {make.returncode}; see {checkout}/make-dev.log")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError("page never answered")
    finally:
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
        log.close()


def main() -> None:
    """Measure and print a markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true", help="measure a fresh clone first")
    args = parser.parse_args()
    results: dict[str, float] = {}
    if args.cold:
        with tempfile.TemporaryDirectory(prefix="voice-app-cold-") as tmp:
            clone = Path(tmp) / "voice-app"
            subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
            results["cold_seconds"] = time_make_dev(clone)
            results["warm_seconds"] = time_make_dev(clone)
    else:
        results["warm_seconds"] = time_make_dev(REPO_ROOT)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    previous.update(results)
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    print("| start | seconds to a page at :3000 |\n|---|---|")
    for name, seconds in previous.items():
        if name.endswith("_seconds"):
            print(f"| {name.removesuffix('_seconds')} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
