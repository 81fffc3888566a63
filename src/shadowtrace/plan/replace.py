"""``plan replace``: which installed equipment to replace first, phase by phase.

From the asset inventory (typed view ``equipment``, schema ``Equipment``) the units made
by suppliers of the dependent origins are grouped by manufacturer, model and site. Each
unit is scored for criticality (``data/replacement.yml``)::

    criticality = family weight x capacity / family's capacity
                  x (1 + SPOF bonus)      if it is the only unit of its kind in its locality
                  x (1 + parts bonus)     if its spare parts come from a designated supplier
                  x (1 + service bonus)   if it is out of service

and each phase solves a knapsack (an integer program, HiGHS): how many units of each
group to replace, and with which option, to restore the most criticality within the
phase's budget. The budget is spread evenly over the phases; what a phase leaves unspent
carries over to the next.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from shadowtrace.errors import ConfigError
from shadowtrace.plan.data_files import read_data
from shadowtrace.store import Store

__all__ = ["EquipmentGroup", "Option", "ReplacementPlan", "knapsack", "load_groups", "plan_replace"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Option:
    """A way to replace one unit of a category."""

    category: str
    name: str
    unit_cost: float
    restores: float
    source: str


@dataclass
class EquipmentGroup:
    """Units of one manufacturer and model at one site."""

    key: str
    category: str
    manufacturer: str | None
    manufacturer_name: str | None
    supplier_name: str | None
    model: str | None
    site: str | None
    region: str | None
    units: int
    capacity: float  # people served or t/h, over the group
    capacity_unit: str
    criticality: float  # over the group
    reasons: dict[str, Any] = field(default_factory=dict)

    @property
    def criticality_per_unit(self) -> float:
        return self.criticality / self.units if self.units else 0.0


@dataclass
class ReplacementPlan:
    budget: float
    phases: int
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    plan_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "summary": self.summary, "rows": self.rows}


def _config() -> dict[str, Any]:
    spec = read_data("replacement.yml")
    if not isinstance(spec, dict) or "options" not in spec or "criticality" not in spec:
        raise ConfigError("replacement.yml: needs criticality and options")
    return spec


def options() -> dict[str, list[Option]]:
    """Replacement options by category, from ``data/replacement.yml``."""
    out: dict[str, list[Option]] = {}
    for category, items in _config()["options"].items():
        for item in items:
            if not str(item.get("source", "")).strip():
                raise ConfigError(f"replacement.yml: option {item.get('name')!r} has no source")
            out.setdefault(str(category), []).append(
                Option(
                    category=str(category),
                    name=str(item["name"]),
                    unit_cost=float(item["unit_cost"]),
                    restores=float(item["restores"]),
                    source=str(item["source"]),
                )
            )
    return out


def load_groups(store: Store) -> list[EquipmentGroup]:
    """Dependent equipment grouped by manufacturer, model and site, scored."""
    cfg = _config()
    crit = cfg["criticality"]
    fams = cfg["families"]
    origins = [str(x).lower() for x in crit["dependent_origins"]["value"]]
    weight = {str(k): float(v) for k, v in crit["family_weight"]["value"].items()}
    spof_bonus = float(crit["single_point_of_failure_bonus"]["value"])
    parts_bonus = float(crit["sanctioned_parts_bonus"]["value"])
    service_bonus = float(crit["out_of_service_bonus"]["value"])
    fam_rows = [
        (str(cat), str(f["family"]), str(f["capacity"]), str(f["unit"])) for cat, f in fams.items()
    ]
    con = store.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rp_family (category VARCHAR, family VARCHAR, "
        "capacity VARCHAR, unit VARCHAR)"
    )
    con.executemany("INSERT INTO _rp_family VALUES (?, ?, ?, ?)", fam_rows)
    rows = con.execute(
        """
        WITH e AS (
          SELECT q.*, f.family, f.unit,
                 CASE f.capacity WHEN 'serves_population' THEN q.serves_population
                                 ELSE q.output_capacity END AS cap,
                 -- the locality a unit serves: its site, without a station's number
                 trim(regexp_replace(regexp_replace(coalesce(q.site, ''), '^(БС|BS)\\s+', ''),
                      '\\s*(№|No\\.?|#)\\s*\\d+\\s*$', '')) AS locality
          FROM equipment q JOIN _rp_family f ON f.category = q.category
          WHERE q.schema = 'Equipment'
        ),
        country AS (
          SELECT canonical_id AS id, min(lower(value)) AS country FROM statements
          WHERE prop IN ('country', 'jurisdiction') GROUP BY canonical_id
        ),
        listed AS (SELECT DISTINCT entity FROM sanctions),
        names AS (
          SELECT canonical_id AS id, min(value) AS name FROM statements
          WHERE prop = 'name' GROUP BY canonical_id
        ),
        dep AS (
          SELECT e.*, c.country AS origin,
                 e.parts_supplier IN (SELECT entity FROM listed) AS parts_listed,
                 coalesce(lower(e.status) NOT IN ('в работе', 'in service', 'active',
                                                   'operational'), FALSE) AS down
          FROM e LEFT JOIN country c ON c.id = e.manufacturer
          WHERE list_contains(?, c.country)
        ),
        scored AS (
          SELECT d.*,
                 count(*) OVER (PARTITION BY category, region, locality) = 1 AS spof,
                 sum(cap) OVER (PARTITION BY family) AS family_cap
          FROM dep d
        )
        SELECT category, family, unit, manufacturer, nm.name AS manufacturer_name,
               min(ns.name) AS supplier_name, model, site, min(region) AS region,
               count(*) AS units, coalesce(sum(cap), 0) AS capacity,
               sum(coalesce(cap / nullif(family_cap, 0), 0)
                   * (1 + CASE WHEN spof THEN ? ELSE 0 END)
                   * (1 + CASE WHEN parts_listed THEN ? ELSE 0 END)
                   * (1 + CASE WHEN down THEN ? ELSE 0 END)) AS score,
               sum(spof::INTEGER) AS spof_units, sum(parts_listed::INTEGER) AS parts_listed,
               sum(down::INTEGER) AS down_units, min(origin) AS origin
        FROM scored
        LEFT JOIN names nm ON nm.id = scored.manufacturer
        LEFT JOIN names ns ON ns.id = scored.supplier
        GROUP BY category, family, unit, manufacturer, nm.name, model, site
        ORDER BY category, site, model, manufacturer
        """,
        [origins, spof_bonus, parts_bonus, service_bonus],
    ).fetchall()
    groups = []
    for r in rows:
        (cat, fam, unit, mfr, mfr_name, sup_name, model, site, region, units, cap, score) = r[:12]
        spof_units, parts_listed, down_units, origin = r[12:]
        key = "|".join(str(x or "") for x in (cat, mfr, model, site))
        groups.append(
            EquipmentGroup(
                key=key,
                category=str(cat),
                manufacturer=mfr,
                manufacturer_name=mfr_name,
                supplier_name=sup_name,
                model=model,
                site=site,
                region=region,
                units=int(units),
                capacity=float(cap or 0.0),
                capacity_unit=str(unit),
                criticality=float(score or 0.0) * weight.get(str(fam), 0.0),
                reasons={
                    "single_point_of_failure_units": int(spof_units),
                    "sanctioned_parts_units": int(parts_listed),
                    "out_of_service_units": int(down_units),
                    "origin": origin,
                    "family": fam,
                },
            )
        )
    return groups


def knapsack(
    values: list[float],
    costs: list[float],
    upper: list[int],
    budget: float,
    groups: list[int] | None = None,
    group_upper: dict[int, int] | None = None,
    time_limit: float = 30.0,
    gap: float = 1e-3,
) -> tuple[list[int], float, str]:
    """Integer knapsack: units ``y_i`` in ``[0, upper_i]`` maximising ``sum v_i y_i`` with
    ``sum c_i y_i <= budget``; items of one ``group`` share ``group_upper[group]`` units.
    Solved by HiGHS to a relative gap of ``gap`` (the status says when the time limit
    stopped it first).

    >>> knapsack([6.0, 5.0, 5.0], [3.0, 2.0, 2.0], [1, 1, 1], 4.0)[0]
    [0, 1, 1]
    """
    n = len(values)
    if n == 0:
        return [], 0.0, "empty"
    h = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy has no annotations
    h.silent()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", 1)
    # HiGHS's presolve spends far longer on a wide knapsack than branch and bound does
    h.setOptionValue("presolve", "off")
    h.addVars(n, np.zeros(n), np.asarray(upper, dtype=np.float64))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(values, dtype=np.float64))
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.ones(n, dtype=np.uint8))
    h.addRow(
        -np.inf, float(budget), n, np.arange(n, dtype=np.int32), np.asarray(costs, dtype=np.float64)
    )
    if groups is not None and group_upper:
        members: dict[int, list[int]] = {}
        for i, g in enumerate(groups):
            members.setdefault(g, []).append(i)
        for g, idx in members.items():
            if len(idx) > 1:
                h.addRow(
                    -np.inf,
                    float(group_upper[g]),
                    len(idx),
                    np.asarray(idx, dtype=np.int32),
                    np.ones(len(idx)),
                )
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    sol = np.asarray(h.getSolution().col_value)
    y = [round(v) for v in sol] if len(sol) == n else [0] * n
    value = float(sum(v * k for v, k in zip(values, y, strict=True)))
    return y, value, status


def plan_replace(store: Store, budget: float, phases: int) -> ReplacementPlan:
    """Replacement schedule: per phase, the units to replace and with which option."""
    if budget <= 0:
        raise ConfigError(f"budget must be positive, got {budget}")
    if phases < 1:
        raise ConfigError(f"phases must be at least 1, got {phases}")
    started = time.perf_counter()
    groups = load_groups(store)
    opts = options()
    left = {g.key: g.units for g in groups}
    rows: list[dict[str, Any]] = []
    phase_budget = budget / phases
    carry = 0.0
    total_crit = sum(g.criticality for g in groups)
    per_phase: list[dict[str, Any]] = []
    for phase in range(1, phases + 1):
        money = phase_budget + carry
        items: list[tuple[EquipmentGroup, Option]] = []
        for g in groups:
            if left[g.key] <= 0:
                continue
            for o in opts.get(g.category, []):
                items.append((g, o))
        gid = {g.key: i for i, g in enumerate(groups)}
        y, _, status = knapsack(
            [g.criticality_per_unit * o.restores for g, o in items],
            [o.unit_cost for _, o in items],
            [left[g.key] for g, _ in items],
            money,
            groups=[gid[g.key] for g, _ in items],
            group_upper={gid[g.key]: left[g.key] for g, _ in items},
        )
        spent = 0.0
        restored = 0.0
        for (g, o), n in zip(items, y, strict=True):
            if n <= 0:
                continue
            left[g.key] -= n
            cost = n * o.unit_cost
            spent += cost
            restored += n * g.criticality_per_unit * o.restores
            rows.append(
                {
                    "phase": phase,
                    "group_key": g.key,
                    "category": g.category,
                    "supplier": g.manufacturer,
                    "supplier_name": g.manufacturer_name,
                    "model": g.model,
                    "site": g.site,
                    "region": g.region,
                    "units": g.units,
                    "replaced": n,
                    "option": o.name,
                    "unit_cost": o.unit_cost,
                    "cost": cost,
                    "criticality": n * g.criticality_per_unit * o.restores,
                    "capacity": g.capacity / g.units * n * o.restores if g.units else 0.0,
                    "capacity_unit": g.capacity_unit,
                    "reasons": g.reasons | {"option_source": o.source},
                }
            )
        carry = money - spent
        per_phase.append(
            {
                "phase": phase,
                "budget": money,
                "spent": spent,
                "criticality_restored": restored,
                "share_of_criticality": restored / total_crit if total_crit else 0.0,
                "solver": status,
            }
        )
    by_cat: dict[str, dict[str, float]] = {}
    for g in groups:
        c = by_cat.setdefault(g.category, {"units": 0, "capacity": 0.0, "replaced": 0})
        c["units"] += g.units
        c["capacity"] += g.capacity
    for r in rows:
        by_cat[r["category"]]["replaced"] += r["replaced"]
    summary = {
        "budget": budget,
        "phases": per_phase,
        "groups": len(groups),
        "units": sum(g.units for g in groups),
        "criticality_total": total_crit,
        "criticality_restored": sum(p["criticality_restored"] for p in per_phase),
        "spent": sum(p["spent"] for p in per_phase),
        "by_category": by_cat,
        "seconds": round(time.perf_counter() - started, 3),
        "options": {
            cat: [{"name": o.name, "unit_cost": o.unit_cost, "source": o.source} for o in os_]
            for cat, os_ in opts.items()
        },
    }
    return ReplacementPlan(budget=budget, phases=phases, rows=rows, summary=summary)


def save(store: Store, plan: ReplacementPlan) -> str:
    """Write the schedule into ``plans`` and ``plan_replacements``."""
    from shadowtrace.plan.persist import insert_rows, new_plan

    with store.transaction():
        plan_id = new_plan(
            store,
            "replace",
            f"replace, budget {plan.budget:,.0f} over {plan.phases} phases",
            {"budget": plan.budget, "phases": plan.phases},
            plan.summary,
        )
        insert_rows(store, "plan_replacements", [{"plan_id": plan_id, **r} for r in plan.rows])
    plan.plan_id = plan_id
    return plan_id
