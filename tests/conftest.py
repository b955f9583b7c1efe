"""Fixtures that start the real parts: livekit-server, the backend, the agent worker, a browser.

Each lives in `tests/support/` with the feature it serves; this file only registers them.
"""

pytest_plugins = [
    "tests.support.livekit",
    "tests.support.backend",
    "tests.support.worker",
    "tests.support.browser",
    "tests.support.production",
]
