"""axe-core (Deque's accessibility engine) run inside a Playwright page.

`scripts/setup.sh test` installs the pinned axe-core from the npm registry into
`.tools/axe-core/`; the script is injected into the page under test and run there, so it sees
the page exactly as the browser rendered it (computed colours, the accessibility tree).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.processes import REPO_ROOT

AXE_CORE_VERSION = "4.11.0"
AXE_SCRIPT = REPO_ROOT / ".tools" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
AXE_HINT = (
    f"axe-core was not found at {AXE_SCRIPT}. Run `make setup-test` (it runs "
    f"`npm install --prefix .tools/axe-core axe-core@{AXE_CORE_VERSION}`)."
)
WCAG_21_AA_AND_BEST_PRACTICES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

# Colours are measured as they are drawn: wait for finite animations (a dialog fading in) to end.
_RUN_AXE = """async (tags) => {
  const settling = document.getAnimations().filter((a) => a.effect?.getTiming().iterations !== Infinity);
  await Promise.all(settling.map((a) => a.finished.catch(() => null)));
  const results = await axe.run(document, { runOnly: { type: "tag", values: tags } });
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}"""


def axe_violations(page: Any, tags: list[str] | None = None) -> list[dict[str, Any]]:
    """The WCAG 2.1 AA and best-practice violations axe-core finds on ``page`` as it is now."""
    if not AXE_SCRIPT.exists():
        pytest.fail(AXE_HINT)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    return page.evaluate(_RUN_AXE, tags or WCAG_21_AA_AND_BEST_PRACTICES)


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per failing element, for an assertion message a reader can act on."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            summary = " ".join(node["summary"].split())
            lines.append(f"{violation['id']} ({violation['impact']}): {node['target']} — {summary}")
    return "\n".join(lines)
