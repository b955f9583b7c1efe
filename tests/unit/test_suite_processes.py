"""`make test TEST_PROCESSES=N` spreads the real-process tests over N pytest processes: a module that
compiles the app into the repository's `.web/` must never run beside another one that does."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPOSITORY_WEB_MODULES, process_group

TESTS = Path(__file__).resolve().parents[1]
STARTS_AN_APP_IN_THE_REPOSITORY = re.compile(
    r"\bapp_server\b|\bAppServer\(|\bisolated_tree\(|\"make\", \"dev\""
)
"""What a module writes for the full app (session or its own), a copy of `.web/`, or `make dev`."""


def test_every_module_that_compiles_or_copies_the_app_shares_one_process() -> None:
    compiling = {
        path.name
        for path in TESTS.glob("test_*.py")
        if STARTS_AN_APP_IN_THE_REPOSITORY.search(path.read_text())
    }
    assert compiling, "the pattern no longer finds the browser tests"
    assert compiling <= REPOSITORY_WEB_MODULES, (
        f"add to REPOSITORY_WEB_MODULES: {compiling - REPOSITORY_WEB_MODULES}"
    )
    assert {process_group(f"tests/{name}") for name in compiling} == {"repository-web"}


def test_any_other_module_is_a_group_of_its_own() -> None:
    groups = [process_group(f"tests/{path.name}") for path in TESTS.glob("test_*.py")]
    others = [group for group in groups if group != "repository-web"]
    assert len(others) == len(set(others)) == len(groups) - len(REPOSITORY_WEB_MODULES)
    assert process_group("tests/test_rooms_api.py") == "tests/test_rooms_api.py"
