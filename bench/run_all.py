"""Run every benchmark in this folder, one after another, and print their tables.

Each benchmark writes its numbers to bench/results/<name>.json; the README's results table is
copied from those files. Run with `make bench` (or `.venv/bin/python bench/run_all.py NAME...`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ORDER = [
    "inference_service",
    "auth_login",
    "token_throughput",
    "agent_turns",
    "remote_capacity",
    "audio_path",
    "talk_page",
    "recovery",
    "soak",
    "deploy_sizes",
    "startup",
]


def main() -> int:
    """Run the named benchmarks (all by default); return non-zero if one failed."""
    names = sys.argv[1:] or [name for name in ORDER if (BENCH_DIR / f"{name}.py").exists()]
    failed = []
    for name in names:
        print(f"\n## {name}\n", flush=True)
        result = subprocess.run(
            [sys.executable, str(BENCH_DIR / f"{name}.py")], cwd=BENCH_DIR.parent, check=False
        )
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
