"""Report sections: each is a function that gathers plain data plus a JS island that draws it.

A section has an id, a title and a ``gather`` function that reads the store through a
:class:`~shadowtrace.report.context.ReportContext` and returns JSON-able data (or
``None`` to leave the section out). In the page, the function registered under the
same id in ``report.js`` (``Shadowtrace.sections[id]``) draws that data; a section
from another package brings its own script (``script``, inlined after report.js).
The web app serves the same data as JSON and draws it with the same script.

Built-in sections are listed here; other packages add sections through the
``shadowtrace.report_sections`` entry-point group (each entry point names a
:class:`Section`).

>>> [s.id for s in builtin_sections()]
['overview', 'findings', 'flows', 'inventory', 'plan', 'sources']
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from shadowtrace.report.context import ReportContext

__all__ = ["ENTRY_POINT_GROUP", "Section", "available_sections", "builtin_sections"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "shadowtrace.report_sections"

Gather = Callable[[ReportContext], dict[str, Any] | None]


@dataclass(frozen=True)
class Section:
    """One part of the report: data from ``gather``, drawn by the JS island ``id``.

    ``order`` places the section in the page (built-ins use 10, 20, …);
    ``script`` is JavaScript that registers the island of a section defined outside
    shadowtrace (``Shadowtrace.sections[id] = function (el, data, api) {…}``).
    """

    id: str
    title: str
    gather: Gather
    order: int = 100
    description: str = ""
    script: str | None = None


def builtin_sections() -> list[Section]:
    """The sections shadowtrace ships, in page order."""
    from shadowtrace.plan.report import section as plan_section
    from shadowtrace.report import data

    sections = [
        Section(
            "overview",
            "Overview",
            data.overview,
            10,
            "Headline figures: records, entities, sources, findings and flows.",
        ),
        Section(
            "findings",
            "Findings",
            data.findings,
            20,
            "Findings ranked by score, each with its chain of evidence and network.",
        ),
        Section(
            "flows",
            "Flows of money and goods",
            data.flows,
            30,
            "Money by payment channel and goods by route, with values.",
        ),
        Section(
            "inventory",
            "Infrastructure dependency",
            data.inventory,
            40,
            "Installed equipment by supplier origin, region and operator.",
        ),
        Section(
            "sources",
            "Sources",
            data.sources,
            90,
            "The source files the store was built from.",
        ),
        plan_section(),
    ]
    return sorted(sections, key=lambda s: (s.order, s.id))


def available_sections() -> list[Section]:
    """Built-in sections and those other packages register, in page order.

    A plugin section with the id of a built-in one replaces it.
    """
    sections = {s.id: s for s in builtin_sections()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except (ImportError, AttributeError) as exc:
            log.warning("Cannot load report section %r (%s): %s", ep.name, ep.value, exc)
            continue
        section = obj() if callable(obj) and not isinstance(obj, Section) else obj
        if not isinstance(section, Section):
            log.warning("Report section %r (%s) is not a Section", ep.name, ep.value)
            continue
        sections[section.id] = section
    return sorted(sections.values(), key=lambda s: (s.order, s.id))
