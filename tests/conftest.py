"""Fixtures that start the real parts: livekit-server, the backend, the agent worker, a browser.

Each lives in `tests/support/` with the feature it serves; this file only registers them and
says how `make test TEST_PROCESSES=N` spreads the modules over N pytest processes (pytest-xdist).
"""

from pathlib import Path

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

pytest_plugins = [
    "tests.support.livekit",
    "tests.support.inference",
    "tests.support.backend",
    "tests.support.worker",
    "tests.support.browser",
    "tests.support.production",
    "tests.support.standin_llm",
]

REPOSITORY_WEB_MODULES = frozenset(
    {
        "test_run_command.py",
        "test_accessibility.py",
        "test_agent_tools_page.py",
        "test_auth_pages.py",
        "test_security_pages.py",
        "test_speak_at_once.py",
        "test_talk_page.py",
        "test_your_data.py",
    }
)
"""Modules that compile the app into the repository's `.web/` (the full app, `make dev`, plain
`reflex run`) or copy it: they run one after another in one pytest process."""


def process_group(module_path: str) -> str:
    """The group of a test module: the tests of one group run in one pytest process, in order.

    Every module is a group of its own, so its fixtures start once, except those sharing the
    repository's `.web/`: two of them compiling at the same moment would overwrite each other's
    pages.
    """
    name = Path(module_path).name
    return "repository-web" if name in REPOSITORY_WEB_MODULES else module_path


class ModuleGroupScheduling(LoadScopeScheduling):
    """pytest-xdist's scope scheduling with `process_group` as the scope.

    (xdist's own `--dist loadgroup` finds no groups under pytest 9: it renames `item._nodeid`,
    which pytest 9 no longer reads.)
    """

    def _split_scope(self, nodeid: str) -> str:
        return process_group(nodeid.split("::")[0])


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadScopeScheduling:
    """Spread the groups over the pytest processes of `make test`."""
    return ModuleGroupScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the `make dev` test first.

    `make dev` compiles the app into the repository's `.web/` with its own ports; a full app
    started earlier in the session (browser tests) serves that same folder and would be pointed
    at the stopped dev backend.
    """
    items.sort(key=lambda item: 0 if item.nodeid.startswith("tests/test_run_command.py") else 1)
