"""`reflex.lock/package.json` is committed in the form Reflex writes it, so running the app leaves
`git status` clean.

Reflex renders `.web/package.json` from the committed file as one line of JSON and copies it back
to `reflex.lock/` on every fresh start; `bun add` (run when a component needs a new npm package)
writes it pretty-printed instead. Committed pretty-printed, a fresh clone's first `make dev` or
`make test` rewrote it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reflex.utils import frontend_skeleton

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_JSON = REPO_ROOT / "reflex.lock" / "package.json"


def test_the_committed_package_json_is_exactly_what_reflex_renders_from_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO_ROOT)  # Reflex reads reflex.lock/ from the working directory

    rendered = frontend_skeleton._compile_package_json()

    assert PACKAGE_JSON.read_text() == rendered, (
        "reflex.lock/package.json is not in the form Reflex writes; after adding an npm package run "
        "`.venv/bin/python -c 'from reflex.utils import frontend_skeleton as f; "
        'open("reflex.lock/package.json", "w").write(f._compile_package_json())\'` and commit it'
    )
