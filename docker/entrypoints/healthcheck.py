"""Container health check for the Python images (they have no curl): exit 0 when URL answers 200.

python docker/entrypoints/healthcheck.py http://127.0.0.1:8080/ping
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    """GET the URL given on the command line; 0 for HTTP 200, 1 for anything else."""
    if len(argv) != 2:
        sys.stderr.write("usage: healthcheck.py URL\n")
        return 2
    try:
        with urllib.request.urlopen(argv[1], timeout=3) as response:  # noqa: S310 - fixed local URL
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        sys.stderr.write(f"unhealthy: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
