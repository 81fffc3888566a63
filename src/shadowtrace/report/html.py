"""Render the report as one self-contained HTML file.

Everything the page needs is inside it: the data as JSON in a
``<script type="application/json">`` element, the vendored scripts (Cytoscape with
fCoSE, a build of ECharts), ``report.js`` and ``report.css``, and the Inter font as
``data:`` URLs. A Content-Security-Policy in the page forbids every network fetch,
so opening it loads nothing, anywhere.

>>> from shadowtrace.store import Store
>>> with Store.open(":memory:") as store:
...     page = render(gather(store))
>>> page.startswith("<!doctype html>") and 'lang="en"' in page
True
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from shadowtrace.report.context import ReportOptions
from shadowtrace.report.data import gather
from shadowtrace.report.sections import Section, available_sections
from shadowtrace.store import Store

__all__ = ["ASSETS", "Asset", "json_for_script", "render", "write_report"]


@dataclass(frozen=True)
class Asset:
    """A vendored component inlined into the page, with its licence."""

    name: str
    version: str
    licence: str
    files: tuple[str, ...]
    url: str


ASSETS: tuple[Asset, ...] = (
    Asset(
        "Cytoscape.js with fCoSE",
        "3.34.4 / 2.2.0",
        "MIT",
        ("cytoscape-3.34.4-fcose-2.2.0.min.js",),
        "https://js.cytoscape.org",
    ),
    Asset(
        "Apache ECharts (with ZRender)",
        "6.1.0",
        "Apache-2.0 (ZRender: BSD-3-Clause)",
        ("echarts-6.1.0-report.min.js",),
        "https://echarts.apache.org",
    ),
    Asset(
        "Inter typeface",
        "fontsource 5.3.0",
        "OFL-1.1",
        (
            "inter-5.3.0-latin-wght-normal.woff2",
            "inter-5.3.0-latin-ext-wght-normal.woff2",
            "inter-5.3.0-cyrillic-wght-normal.woff2",
        ),
        "https://rsms.me/inter/",
    ),
)

#: The characters each Inter subset covers (from fontsource's CSS), so the browser
#: uses the system's fonts for everything else (Chinese, for one).
FONT_RANGES = {
    "latin": "U+0000-00FF,U+0131,U+0152-0153,U+02BB-02BC,U+02C6,U+02DA,U+02DC,U+0304,"
    "U+0308,U+0329,U+2000-206F,U+20AC,U+2122,U+2191,U+2193,U+2212,U+2215,U+FEFF,U+FFFD",
    "latin-ext": "U+0100-02BA,U+02BD-02C5,U+02C7-02CC,U+02CE-02D7,U+02DD-02FF,U+0304,"
    "U+0308,U+0329,U+1D00-1DBF,U+1E00-1E9F,U+1EF2-1EFF,U+2020,U+20A0-20AB,U+20AD-20C0,"
    "U+2113,U+2C60-2C7F,U+A720-A7FF",
    "cyrillic": "U+0301,U+0400-045F,U+0490-0491,U+04B0-04B1,U+2116",
}

#: No fetch of any kind: scripts, styles and fonts are inline or ``data:`` URLs.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "font-src data:; img-src data: blob:; connect-src 'none'; base-uri 'none'; "
    "form-action 'none'"
)

_STATIC = files("shadowtrace.report") / "static"
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)


def _static_text(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


@cache
def _vendor_scripts() -> tuple[str, ...]:
    return tuple(
        _inline_script(_static_text(f"vendor/{f}"))
        for a in ASSETS
        for f in a.files
        if f.endswith(".js")
    )


@cache
def _font_css() -> str:
    rules = []
    for subset, ranges in FONT_RANGES.items():
        raw = (_STATIC / f"vendor/inter-5.3.0-{subset}-wght-normal.woff2").read_bytes()
        data = base64.b64encode(raw).decode("ascii")
        rules.append(
            "@font-face{font-family:'Inter Variable';font-style:normal;font-display:swap;"
            f"font-weight:100 900;src:url(data:font/woff2;base64,{data}) "
            f"format('woff2-variations');unicode-range:{ranges}}}"
        )
    return "\n".join(rules)


def _inline_script(code: str) -> str:
    """Script text safe to put between ``<script>`` tags: ``</script`` cannot
    appear in it (``<\\/script`` means the same inside a JS string or regex)."""
    return _SCRIPT_END.sub(r"<\\/\1", code)


def _raw(text: str, element: str) -> Markup:
    """Text for the inside of a raw-text element (``script``, ``style``), which HTML
    does not unescape: it must not escape, only never contain the element's end tag.
    """
    if f"</{element}" in text.lower():
        raise ValueError(f"text would end the <{element}> element early")
    return Markup(text)  # noqa: S704 - raw-text element content, checked above


def json_for_script(data: Any) -> str:
    """JSON to inline in ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e`` and ``\\u0026``,
    so no value can end the script element or open a comment, whatever it holds;
    ``JSON.parse`` reads them back unchanged.

    >>> json_for_script({"name": "</script><script>alert(1)</script>"})
    '{"name":"\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("shadowtrace.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(report: dict[str, Any], sections: Sequence[Section] | None = None) -> str:
    """The HTML page of a report gathered by :func:`~shadowtrace.report.data.gather`.

    ``sections`` are the section definitions, for the scripts of sections defined
    outside shadowtrace; by default every available section.
    """
    defs = {s.id: s for s in (sections if sections is not None else available_sections())}
    extra = [
        _inline_script(defs[s["id"]].script or "")
        for s in report["sections"]
        if s["id"] in defs and defs[s["id"]].script
    ]
    template = _environment().get_template("report.html.j2")
    return template.render(
        meta=report["meta"],
        sections=report["sections"],
        csp=CSP,
        assets=ASSETS,
        font_css=_raw(_font_css(), "style"),
        report_css=_raw(_static_text("report.css"), "style"),
        data_json=_raw(json_for_script(report), "script"),
        vendor_scripts=[_raw(s, "script") for s in _vendor_scripts()],
        report_js=_raw(_inline_script(_static_text("report.js")), "script"),
        extra_scripts=[_raw(s, "script") for s in extra],
    )


def write_report(
    store: Store,
    out: str | Path,
    options: ReportOptions | None = None,
    sections: Sequence[Section] | None = None,
) -> Path:
    """Gather the report from ``store`` and write it to ``out`` as one HTML file.

    The file is written next to its destination first and then moved into place,
    so an interrupted run never leaves half a report.
    """
    defs = list(sections) if sections is not None else available_sections()
    page = render(gather(store, options, defs), defs)
    path = Path(out)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
