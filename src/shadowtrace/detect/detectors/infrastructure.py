"""Infrastructure dependency: critical sites (base stations, quarries, mines) whose
equipment and parts come from Chinese or sanctioned suppliers.

Installed equipment (``Equipment`` and other assets naming an operator and a
manufacturer) is grouped by operator and manufacturer. A group is a finding when the
manufacturer is in ``supplier_countries``, or the manufacturer, a supplier or a parts
supplier of the group is listed. Each finding gives the operator's dependency: how
many of its assets the manufacturer made (and their share of the operator's assets),
the population they serve, and one step per supply route (supplier and parts
supplier) with a sample asset as evidence. Every finding's metrics also give the
operator's assets by the manufacturer's country (``assets_<country>``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import captions, fetch
from shadowtrace.detect.finding import Finding, Step

__all__ = ["InfrastructureDependency"]


class InfrastructureDependency:
    name = "infrastructure_dependency"
    title = "Infrastructure dependency"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        "supplier_countries": Param(["cn"], "Countries of manufacturers depended on."),
        "include_listed": Param(
            True, "Also report groups whose manufacturer or suppliers are listed."
        ),
        "categories": Param(
            [""], "Asset categories that count (empty or [''] for every category)."
        ),
        "max_routes": Param(50, "Most supply routes listed as steps of one finding.", 1, 10000),
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        categories = [c for c in p["categories"] if c]
        where = ""
        params: list[Any] = []
        if categories:
            where = f"AND a.category IN ({', '.join('?' for _ in categories)})"
            params = list(categories)
        sql = f"""
            SELECT a.id, a.operator, a.manufacturer, a.supplier, a.parts_supplier,
                   a.category, a.site, a.region, a.serves_population, a.output_capacity,
                   nm.country AS mfr_country, coalesce(nm.listed, FALSE) AS mfr_listed,
                   coalesce(ns.listed, FALSE) AS sup_listed,
                   coalesce(np.listed, FALSE) AS parts_listed
            FROM equipment a
            LEFT JOIN nodes nm ON nm.id = a.manufacturer
            LEFT JOIN nodes ns ON ns.id = a.supplier
            LEFT JOIN nodes np ON np.id = a.parts_supplier
            WHERE a.operator IS NOT NULL AND a.manufacturer IS NOT NULL {where}
            ORDER BY a.operator, a.manufacturer, a.id
            """
        rows = fetch(
            ctx.store,
            sql,
            params,
        )
        countries = set(p["supplier_countries"])
        by_operator: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            by_operator[str(r["operator"])].append(r)
        groups: list[tuple[str, str, list[dict[str, Any]], dict[str, float]]] = []
        for operator, assets in by_operator.items():
            origin: dict[str, float] = defaultdict(float)
            for a in assets:
                origin[f"assets_{a['mfr_country'] or 'unknown'}"] += 1
            by_mfr: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for a in assets:
                by_mfr[str(a["manufacturer"])].append(a)
            for mfr, items in by_mfr.items():
                chinese = items[0]["mfr_country"] in countries
                listed = p["include_listed"] and any(
                    a["mfr_listed"] or a["sup_listed"] or a["parts_listed"] for a in items
                )
                if chinese or listed:
                    groups.append((operator, mfr, items, dict(origin)))
        ids = {
            x
            for _, _, items, _ in groups
            for a in items
            for x in (a["operator"], a["manufacturer"], a["supplier"], a["parts_supplier"])
            if x
        }
        names = captions(ctx.store, ids)
        step_lists: list[list[Step]] = []
        for operator, mfr, items, _ in groups:
            routes: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
            for a in items:
                routes[(a["supplier"] or "", a["parts_supplier"] or "")].append(a)
            steps = []
            for (sup, parts), assets in sorted(routes.items(), key=lambda kv: (-len(kv[1]), kv[0]))[
                : p["max_routes"]
            ]:
                sample = assets[0]
                people = sum(float(a["serves_population"] or 0) for a in assets)
                flags = [
                    label
                    for label, on in (
                        ("manufacturer listed", sample["mfr_listed"]),
                        ("supplier listed", any(a["sup_listed"] for a in assets)),
                        ("parts supplier listed", any(a["parts_listed"] for a in assets)),
                    )
                    if on
                ]
                steps.append(
                    Step(
                        kind="equipment",
                        source=mfr,
                        target=operator,
                        summary=f"{len(assets)} × {sample['category'] or 'asset'} made by "
                        f"{names.get(mfr, mfr)}, supplied by {names.get(sup, sup or 'unknown')}"
                        f", parts from {names.get(parts, parts or 'unknown')}"
                        + (f", serving {people:,.0f} people" if people else "")
                        + (f" ({'; '.join(flags)})" if flags else ""),
                        entity_id=str(sample["id"]),
                    )
                )
            step_lists.append(steps)
        out = []
        for (operator, mfr, items, origin), steps in zip(groups, step_lists, strict=True):
            total = len(by_operator[operator])
            share = len(items) / total if total else 0.0
            people = sum(float(a["serves_population"] or 0) for a in items)
            listed = any(a["mfr_listed"] or a["sup_listed"] or a["parts_listed"] for a in items)
            country = items[0]["mfr_country"] or "unknown"
            sites = {a["site"] for a in items if a["site"]}
            parties = [operator, mfr]
            parties += [x for a in items for x in (a["supplier"], a["parts_supplier"]) if x]
            out.append(
                Finding.make(
                    self.name,
                    min(1.0, 0.4 + 0.4 * share + (0.2 if listed else 0.0)),
                    f"{names.get(operator, operator)} depends on {names.get(mfr, mfr)} "
                    f"({country}) for {len(items)} assets ({share:.0%})",
                    tuple(dict.fromkeys(parties)),
                    tuple(steps),
                    explanation=(
                        f"{len(items)} of the operator's {total} assets at {len(sites)} sites "
                        f"were made by a manufacturer in {country}"
                        + (f", serving {people:,.0f} people" if people else "")
                        + (
                            ". A manufacturer or supplier in the chain is listed."
                            if listed
                            else "."
                        )
                    ),
                    metrics={
                        "assets": float(len(items)),
                        "share_of_operator": share,
                        "population": people,
                        "routes": float(len(steps)),
                        **origin,
                    },
                )
            )
        return out
