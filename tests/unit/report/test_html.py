"""The HTML page: self-contained, and no value from the data can break out of it."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from report_world import HOSTILE
from shadowtrace.report import ReportOptions, Section, gather, render, write_report
from shadowtrace.report.html import ASSETS, CSP, json_for_script
from shadowtrace.report.sections import builtin_sections


class Page(HTMLParser):
    """Collects what a browser would see of the page's structure."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.title = ""
        self._in: str | None = None
        self._attrs: dict[str, str | None] = {}
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "title", "style"):
            self._in, self._attrs, self._text = tag, dict(attrs), []

    def handle_endtag(self, tag):
        if tag == self._in:
            if tag == "script":
                self.scripts.append((self._attrs, "".join(self._text)))
            elif tag == "title":
                self.title = "".join(self._text)
            self._in = None

    def handle_data(self, data):
        if self._in:
            self._text.append(data)


def strings(data):
    """Every string in a JSON value."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for k, v in data.items():
            yield k
            yield from strings(v)
    elif isinstance(data, list):
        for v in data:
            yield from strings(v)


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


@pytest.fixture(scope="module")
def page(world) -> str:
    store, _ = world
    return render(gather(store))


def test_page_is_self_contained(page):
    p = parse(page)
    assert page.startswith("<!doctype html>")
    assert ("html", {"lang": "en"}) in p.tags
    assert p.title.startswith("shadowtrace report")
    # nothing loaded from anywhere: no src, no stylesheet links, no URLs in attributes
    for tag, attrs in p.tags:
        assert "src" not in attrs, tag
        assert tag != "link", attrs
        for name, value in attrs.items():
            if name != "content":
                assert not re.match(r"\s*(https?:|//|file:)", value or "", re.I), (tag, name)
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", page, re.I)
    assert not re.search(r"@import", page)
    csp = [a for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and csp[0]["content"] == CSP and "default-src 'none'" in CSP
    assert "connect-src 'none'" in CSP


def test_page_holds_every_asset(page):
    for asset in ASSETS:
        assert asset.name in page  # named in the colophon with its licence
    p = parse(page)
    code = "\n".join(text for attrs, text in p.scripts if "type" not in attrs)
    assert "cytoscape" in code and "echarts" in code and "Shadowtrace.boot" in code
    assert page.count("@font-face") == 3 and "data:font/woff2;base64," in page


def test_licence_files_are_shipped():
    vendor = Path(__import__("shadowtrace.report").report.__file__).parent / "static" / "vendor"
    names = {p.name for p in vendor.iterdir()}
    for lic in ("cytoscape", "cytoscape-fcose", "cose-base", "layout-base", "echarts",
                "echarts-notice", "zrender", "tslib", "inter"):  # fmt: skip
        assert f"LICENSE.{lic}.txt" in names
    for asset in ASSETS:
        for f in asset.files:
            assert f in names


def test_data_round_trips_through_the_page(world, page):
    store, _ = world
    p = parse(page)
    (blob,) = [text for attrs, text in p.scripts if attrs.get("type") == "application/json"]
    data = json.loads(blob)
    expected = gather(store)
    data["meta"].pop("generated_at")
    expected["meta"].pop("generated_at")
    assert data == expected


def test_hostile_names_cannot_break_out(page):
    p = parse(page)
    # every script element is one of ours: the JSON blob, the vendored code, report.js
    # and the boot line; the hostile name made no element of its own
    assert len(p.scripts) == 1 + 2 + 1 + 1
    assert not any(t == "img" for t, _ in p.tags)
    assert "window.__pwned" not in "".join(text for attrs, text in p.scripts if "type" not in attrs)
    (blob,) = [text for attrs, text in p.scripts if attrs.get("type") == "application/json"]
    assert "<" not in blob and ">" not in blob and "&" not in blob
    assert "\u2028" not in blob and "\u2029" not in blob
    assert any(HOSTILE in v for v in strings(json.loads(blob)))
    # the page's markup outside the scripts holds none of it
    outside = re.sub(r"<script\b.*?</script>", "", page, flags=re.S | re.I)
    assert "__pwned" not in outside and "onerror" not in outside


def test_json_for_script():
    hostile = {"a": "</script><!--<script>", "b": "\u2028\u2029", "c": "&amp; 'q' \"d\""}
    text = json_for_script(hostile)
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == hostile
    with pytest.raises(ValueError):
        json_for_script({"x": float("nan")})


def test_title_and_store_name_are_escaped(world, tmp_path):
    store, _ = world
    report = gather(store, ReportOptions(title=HOSTILE))
    report["meta"]["store"] = HOSTILE
    page = render(report)
    p = parse(page)
    assert p.title.startswith(HOSTILE)  # the browser shows the text itself
    assert "<script>window" not in page.split("<script", 1)[0].split("<title>", 1)[1]
    assert not any(t == "img" for t, _ in p.tags)
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=1" in page


def test_section_script_cannot_end_its_element(world):
    store, _ = world
    script = 'Shadowtrace.sections.plan = function (el) { el.textContent = "</script>"; };'
    plan = Section("plan", "Plan", lambda ctx: {"n": 1}, order=50, script=script)
    sections = [*builtin_sections(), plan]
    page = render(gather(store, sections=sections), sections)
    p = parse(page)
    assert any("Shadowtrace.sections.plan" in text for _, text in p.scripts)
    assert '"<\\/script>"' in page
    assert (
        "section",
        {"class": "section", "id": "plan", "aria-labelledby": "plan-title"},
    ) in p.tags


def test_write_report(world, tmp_path):
    store, _ = world
    out = write_report(store, tmp_path / "report.html")
    assert out == tmp_path / "report.html"
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left
    assert out.stat().st_size < 3_000_000


def docs_section():
    """The plugin section of docs/report.md, run as written."""
    text = (Path(__file__).parents[3] / "docs" / "report.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    (code,) = [b for b in blocks if "Section(" in b]
    namespace: dict = {}
    exec(code, namespace)
    return namespace["plan"]


def test_docs_plugin_section(world):
    store, _ = world
    plan = docs_section()
    sections = [*builtin_sections(), plan]
    report = gather(store, sections=sections)
    assert [s["id"] for s in report["sections"]][-2:] == ["plan", "sources"]
    assert report["sections"][-2]["data"] == {"targets": 3}
    page = render(report, sections)
    assert "Shadowtrace.sections.plan" in page
