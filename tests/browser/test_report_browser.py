"""The report in headless Chromium: it loads from a file:// URL, fetches nothing, logs no
error, runs none of the hostile names, and a click on a finding shows its evidence.

Runs where Debian's ``chromium`` is installed (``apt-get install chromium``; Playwright's
own browser download is not needed). Set ``SHADOWTRACE_CHROMIUM`` to use another binary.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import report_world
from report_world import FILE, HOSTILE, ROW
from shadowtrace.report import write_report
from shadowtrace.report.sections import builtin_sections
from shadowtrace.store import Store

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SHADOWTRACE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
DOCS = Path(__file__).parents[2] / "docs" / "report.md"


def docs_section() -> Any:
    """The plugin section of docs/report.md, as written there."""
    import re

    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    (code,) = [b for b in blocks if "Section(" in b]
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return namespace["plan"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """The report of the small world, with the plugin section of docs/report.md."""
    folder = tmp_path_factory.mktemp("report")
    sections = [*builtin_sections(), docs_section()]
    with Store.open(folder / "world.duckdb") as store:
        found = report_world.build(store, folder)
        path = write_report(store, folder / "report.html", sections=sections)
    return path, found


class Watched:
    """A page with everything it logs, requests and pops up recorded."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1440, "height": 1000})
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def problems(self) -> list[str]:
        bad = [f"{t}: {m}" for t, m in self.console if t in ("error", "warning", "assert")]
        return bad + [f"pageerror: {e}" for e in self.errors]


@pytest.fixture
def page(browser: Any, report: tuple[Path, list[Any]]) -> Iterator[Watched]:
    watched = Watched(browser)
    watched.page.goto(report[0].as_uri())
    watched.page.wait_for_selector(".finding-item")
    watched.page.wait_for_selector("#flows svg")
    try:
        yield watched
    finally:
        watched.page.close()


def test_loads_without_errors_or_fetches(page: Watched, report: tuple[Path, list[Any]]) -> None:
    page.page.wait_for_timeout(300)
    assert page.problems() == []
    # the file itself and nothing else (fonts are data: URLs, which fetch nothing)
    fetched = [u for u in page.requests if not u.startswith("data:")]
    assert fetched == [report[0].as_uri()]
    assert page.page.title().startswith("shadowtrace report")
    assert page.page.evaluate("document.documentElement.lang") == "en"
    # every section drew itself, the plugin section from docs/report.md among them
    for sid in ("overview", "findings", "flows", "inventory", "plan", "sources"):
        assert page.page.locator(f"#{sid} .island > *").count() > 0, sid
    assert page.page.locator("#plan").inner_text().count("3 targets") == 1


def test_hostile_names_are_text(page: Watched) -> None:
    assert page.page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert page.page.locator("img").count() == 0
    titles = page.page.locator(".finding-item .fi-title").all_inner_texts()
    assert any(t.startswith(HOSTILE[:40]) for t in titles)


def test_click_opens_a_findings_evidence(page: Watched, report: tuple[Path, list[Any]]) -> None:
    found = sorted(report[1], key=lambda f: -f.score)
    reroute = found[1]
    assert reroute.typology == "rerouted_payment"
    page.page.click(f'.finding-item[data-finding-id="{reroute.id}"]')
    detail = page.page.locator(f'.finding-detail[data-finding-id="{reroute.id}"]')
    detail.wait_for()
    text = detail.inner_text()
    assert reroute.title in text
    assert FILE in text
    assert f"row {ROW['pay-rejected']}" in text and f"row {ROW['pay-agent']}" in text
    evidence = detail.locator(".evidence")
    assert evidence.count() == 3 and evidence.first.is_visible()
    # the network of the finding is drawn
    assert detail.locator(".graph canvas").count() > 0
    assert (
        page.page.locator('.finding-item[aria-current="true"]').get_attribute("data-finding-id")
        == reroute.id
    )
    # and the hostile finding opens as text too
    hostile = found[2]
    page.page.click(f'.finding-item[data-finding-id="{hostile.id}"]')
    detail = page.page.locator(f'.finding-detail[data-finding-id="{hostile.id}"]')
    detail.wait_for()
    assert HOSTILE.strip()[:40] in detail.inner_text()
    assert page.page.evaluate("window.__pwned") is None
    assert page.problems() == []


def test_link_opens_a_finding(browser: Any, report: tuple[Path, list[Any]]) -> None:
    target = sorted(report[1], key=lambda f: -f.score)[2]
    watched = Watched(browser)
    try:
        watched.page.goto(report[0].as_uri() + "#finding=" + target.id)
        detail = watched.page.locator(f'.finding-detail[data-finding-id="{target.id}"]')
        detail.wait_for()
        assert watched.page.evaluate("window.__pwned") is None
        # a malformed link falls back to the first finding
        watched.page.goto(report[0].as_uri() + "#finding=%E0%A4%A")
        watched.page.reload()
        watched.page.locator(".finding-detail[data-finding-id]").wait_for()
        assert watched.problems() == []
    finally:
        watched.page.close()


def test_every_finding_opens_cleanly(page: Watched) -> None:
    items = page.page.locator(".finding-item")
    for i in range(items.count()):
        items.nth(i).click()
        fid = items.nth(i).get_attribute("data-finding-id")
        page.page.locator(
            f'.finding-detail[data-finding-id="{fid}"] .graph canvas'
        ).first.wait_for()
    assert page.problems() == []


LAYOUTS = {
    # a chain, a fan-out, a cycle (money back to where it came from), loose entities
    "chain": (["a", "b", "c"], [["a", "b"], ["b", "c"]]),
    "fan": (["a", "b", "c", "d"], [["a", "b"], ["a", "c"], ["a", "d"]]),
    "cycle": (["a", "b", "c"], [["a", "b"], ["b", "c"], ["c", "a"]]),
    "loose": (["a", "b", "x", "y", "z"], [["a", "b"]]),
    "self": (["a", "b"], [["a", "a"], ["a", "b"]]),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_network_layout_never_stacks_nodes(page: Watched, name: str) -> None:
    ids, pairs = LAYOUTS[name]
    lay = page.page.evaluate("([i, p]) => Shadowtrace.util.layout(i, p)", [ids, pairs])
    pos = lay["pos"]
    assert sorted(pos) == sorted(ids)
    points = {(round(p["x"]), round(p["y"])) for p in pos.values()}
    assert len(points) == len(ids)
    if name in ("chain", "cycle"):  # left to right along the flow
        assert pos["a"]["x"] < pos["b"]["x"] < pos["c"]["x"]
    if name == "loose":  # below the network
        assert min(pos[k]["y"] for k in "xyz") > max(pos[k]["y"] for k in "ab")


def test_controls_redraw_without_errors(page: Watched) -> None:
    page.page.click('#flows .segmented button:has-text("Records")')
    page.page.click('#flows .toggle[data-channel="bank:rejected"]')
    page.page.fill('#findings input[type="search"]', "Steppe")
    assert page.page.locator(".finding-item").count() >= 1
    page.page.select_option("#findings select", "transshipment")
    assert page.page.locator(".finding-item").count() == 1
    page.page.set_viewport_size({"width": 900, "height": 900})
    page.page.wait_for_timeout(300)
    assert page.problems() == []


def test_screenshot(page: Watched) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / "report.png"
    page.page.wait_for_timeout(300)
    page.page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 10_000
