"""axe-core in the page under test (`tests/setup.d/axe.sh` installs it from npm)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[1] / ".npm" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def serious_violations(page: Page) -> list[str]:
    """Every serious or critical axe finding on the page as it is now, one line each (rule, impact, nodes)."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run `bash tests/setup.sh`")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())  # over CDP: the app's CSP (rightly) refuses an injected <script>
    found = page.evaluate("async () => (await axe.run(document)).violations.map("
                          "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))")
    return [f"{v['id']} ({v['impact']}): {', '.join(v['nodes'][:5])}" for v in found if v["impact"] in SERIOUS]
