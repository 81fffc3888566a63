"""The report's plan section: targets with their evidence, flows before and after the
world adapts, the replacement schedule and the shifts between channels.

:func:`plan_report_data` reads the latest plan of each kind from the store as plain
JSON-able data. :func:`section` wraps it as a section of ``shadowtrace.report`` (one of
the report's built-in sections), drawn by the island in :data:`SCRIPT`.
"""

from __future__ import annotations

import importlib
import json
from importlib import resources
from typing import Any

from shadowtrace.store import Store

__all__ = ["SCRIPT", "gather", "plan_report_data", "section"]


def _rows(store: Store, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = store.con.execute(sql, params or [])
    names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _latest(store: Store, kind: str) -> dict[str, Any] | None:
    rows = _rows(
        store,
        "SELECT plan_id, name, created_at, params, summary FROM plans WHERE kind = ? "
        "ORDER BY created_at DESC, plan_id DESC LIMIT 1",
        [kind],
    )
    if not rows:
        return None
    row = rows[0]
    return {
        "plan_id": row["plan_id"],
        "name": row["name"],
        "created_at": str(row["created_at"]),
        "params": _json(row["params"]),
        "summary": _json(row["summary"]),
    }


def _has_plans(store: Store) -> bool:
    rows = store.con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'plans'"
    ).fetchall()
    return bool(rows and rows[0][0])


def plan_report_data(
    store: Store, max_targets: int = 50, max_records: int = 3
) -> dict[str, Any] | None:
    """The latest dismantle, replace and restore plans, or ``None`` when there is none."""
    if not _has_plans(store):
        return None
    data: dict[str, Any] = {}
    dismantle = _latest(store, "dismantle")
    if dismantle is not None:
        targets = _rows(
            store,
            "SELECT rank, target_id, kind, action, policy_ref, caption, roles, flow_through, "
            "cut_static, cut_adapted, explanation, findings, evidence FROM plan_targets "
            "WHERE plan_id = ? ORDER BY rank LIMIT ?",
            [dismantle["plan_id"], max_targets],
        )
        for t in targets:
            ev = _json(t.pop("evidence")) or {}
            records = ev.get("records", [])[:max_records]
            t["records"] = [
                {
                    "kind": r.get("kind"),
                    "record": r.get("record"),
                    "value_usd": r.get("value_usd"),
                    "date": r.get("date"),
                    "detail": r.get("detail"),
                    "sources": sorted(
                        {
                            f"{s['source']}:{s['source_row']}"
                            for s in r.get("statements", [])
                            if s.get("source")
                        }
                    ),
                    "statements": len(r.get("statements", [])),
                }
                for r in records
            ]
            t["counterparties"] = ev.get("counterparties")
            t["roles"] = list(t["roles"] or [])
            t["findings"] = list(t["findings"] or [])
        flows = _rows(
            store,
            "SELECT strategy, budget, stage, base, removed, share FROM plan_flows "
            "WHERE plan_id = ? ORDER BY budget, strategy, stage",
            [dismantle["plan_id"]],
        )
        data["dismantle"] = dismantle | {"targets": targets, "flows": flows}
    replace = _latest(store, "replace")
    if replace is not None:
        by_phase = _rows(
            store,
            "SELECT phase, category, option, sum(replaced) AS units, sum(cost) AS cost, "
            "sum(capacity) AS capacity, min(capacity_unit) AS capacity_unit, "
            "sum(criticality) AS criticality FROM plan_replacements WHERE plan_id = ? "
            "GROUP BY ALL ORDER BY phase, category, option",
            [replace["plan_id"]],
        )
        top = _rows(
            store,
            "SELECT phase, category, supplier_name, model, site, region, replaced, option, cost, "
            "criticality, capacity, capacity_unit FROM plan_replacements WHERE plan_id = ? "
            "ORDER BY criticality DESC, group_key LIMIT 25",
            [replace["plan_id"]],
        )
        data["replace"] = replace | {"by_phase": by_phase, "top": top}
    restore = _latest(store, "restore")
    if restore is not None:
        channels = _rows(
            store,
            "SELECT scenario, channel, transparent, volume, records, fees_low, fees_high "
            "FROM plan_channels WHERE plan_id = ? ORDER BY scenario, channel",
            [restore["plan_id"]],
        )
        data["restore"] = restore | {"channels": channels}
    return data or None


def gather(ctx: Any) -> dict[str, Any] | None:
    """The section's data from a report context (anything with a ``store``)."""
    store: Store = ctx.store
    return plan_report_data(store)


def section() -> Any:
    """The plan section for ``shadowtrace.report`` (needs the report package)."""
    # imported by name: the report package is optional for planning
    sections = importlib.import_module("shadowtrace.report.sections")
    return sections.Section(
        id="plan",
        title="Plan: where to cut, what to replace, how to restore",
        gather=gather,
        order=60,
        description=(
            "Targets of the dismantle plan with their evidence; flow removed before and "
            "after the simulated world adapts, against baselines; the replacement schedule; "
            "volume by payment channel and its shift under policies."
        ),
        script=SCRIPT,
    )


def _script() -> str:
    """The island that draws the section (``static/plan.js``)."""
    return resources.files("shadowtrace.plan").joinpath("static", "plan.js").read_text("utf-8")


#: The island that draws the section (``Shadowtrace.util`` comes with report.js).
SCRIPT = _script()
