"""axe-core in the browser tests: `assert_accessible(page)` fails on any serious or critical
violation of the page as it is now (after htmx swaps too), listing what and where.

axe-core is the npm package pinned in package.json / package-lock.json, which `make test`
installs into node_modules/ (npm ci) before pytest runs: nothing downloads at test time. Under the
app's strict CSP (script-src 'self') a <script> tag could not load it, so its source is evaluated
through Playwright (DevTools' Runtime.evaluate, which the page's CSP does not govern); the page
itself keeps its CSP for the whole test.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")

# WCAG 2.0/2.1/2.2 A and AA, and axe's best practices (landmarks, one h1, region, ...).
RUN_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    # Frames are other origins' (Stripe.js's card fields, the bank's 3-D Secure page): not ours.
    "iframes": False,
    "resultTypes": ["violations"],
}


@cache
def axe_source() -> str:
    if not AXE_JS.exists():
        raise AssertionError(
            f"{AXE_JS} is missing: run `make test` (or `make axe`, i.e. `npm ci`) to install "
            "axe-core from package-lock.json"
        )
    return AXE_JS.read_text(encoding="utf-8")


# Checked once the page is still: no htmx request, swap or settle under way, and no CSS transition
# running (a list's table fades while it loads: half-faded text is not what anyone reads).
SETTLED = """() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')
  && document.getAnimations().every(a => a.playState !== 'running')"""


def wait_until_settled(page: Page) -> None:
    """Wait until htmx has swapped and settled (it focuses [autofocus] then) and nothing moves."""
    page.wait_for_function(SETTLED)


def axe_violations(page: Page) -> list[dict]:
    """axe-core's violations of the page as it is now, at every impact."""
    wait_until_settled(page)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    return page.evaluate(
        "options => axe.run(document, options).then(r => r.violations.map(v => ({"
        " id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,"
        " targets: v.nodes.map(n => n.target.join(' ')),"
        " summary: (v.nodes[0] && v.nodes[0].failureSummary) || '' })))",
        RUN_OPTIONS,
    )


def describe(violations: list[dict], limit: int = 3) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(v["targets"][:limit])
        more = f" (+{len(v['targets']) - limit} more)" if len(v["targets"]) > limit else ""
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} -> {targets}{more}")
        if v["summary"]:
            lines.append("    " + v["summary"].replace("\n", "\n    "))
    return "\n".join(lines)


def assert_accessible(page: Page, what: str = "") -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
    where = what or page.url
    assert not blocking, (
        f"axe-core: {len(blocking)} serious/critical violation(s) on {where}:\n"
        + describe(blocking)
    )
