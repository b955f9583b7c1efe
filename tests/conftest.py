"""Fixtures that start the real parts: livekit-server, the backend, the agent worker, a browser.

Each lives in `tests/support/` with the feature it serves; this file only registers them.
"""

pytest_plugins = [
    "tests.support.livekit",
    "tests.support.inference",
    "tests.support.backend",
    "tests.support.worker",
    "tests.support.browser",
    "tests.support.production",
    "tests.support.standin_llm",
]


def pytest_collection_modifyitems(items: list) -> None:  # type: ignore[type-arg]
    """Run the `make dev` test first.

    `make dev` compiles the app into the repository's `.web/` with its own ports; a full app
    started earlier in the session (browser tests) serves that same folder and would be pointed
    at the stopped dev backend.
    """
    items.sort(key=lambda item: 0 if item.nodeid.startswith("tests/test_run_command.py") else 1)
