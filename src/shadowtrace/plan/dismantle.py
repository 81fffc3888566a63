"""``plan dismantle``: choose K targets, explain each, and test the plan against a world
that adapts.

The plan is chosen on the *adaptive* network (substitutes take over most of a removed
entity's flow; refused payments switch to any channel left open), so that it prefers
cuts the network cannot route around; it is also measured on the network as the records
show it (*before adaptation*). With a simulated world, :func:`evaluate` applies the plan
and the baselines as simulator policies and measures the flow they remove before and
after the world adapts (:mod:`shadowtrace.plan.adapt`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shadowtrace.errors import ConfigError
from shadowtrace.plan import adapt as adapt_mod
from shadowtrace.plan.baselines import BASELINES, random_targets
from shadowtrace.plan.evidence import (
    counterparties,
    findings_of,
    record_statements,
    target_records,
)
from shadowtrace.plan.interdiction import InterdictionResult, Method, interdict, max_flow
from shadowtrace.plan.network import (
    DEFAULT_ADAPTATION,
    Adaptation,
    FlowNetwork,
    NetworkOptions,
    Target,
    build_network,
)
from shadowtrace.store import Store

__all__ = [
    "DismantleOptions",
    "DismantlePlan",
    "FlowRow",
    "TargetReport",
    "evaluate",
    "plan_dismantle",
    "records_period",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DismantleOptions:
    """What to plan. The network covers ``[window_start, window_end)``; the policy acts
    from ``from_date`` (default: ``window_end``, else the day after the last record)."""

    budget: int
    method: Method = "auto"
    time_limit: float = 120.0
    exact_max_arcs: int = 20_000
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    from_date: dt.date | None = None
    adaptation: Adaptation | None = DEFAULT_ADAPTATION
    evidence: int = 5
    channel_targets: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "method": self.method,
            "time_limit": self.time_limit,
            "exact_max_arcs": self.exact_max_arcs,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "from_date": _iso(self.from_date),
            "channel_targets": self.channel_targets,
            "adaptation": (
                {
                    "substitute_share": self.adaptation.substitute_share,
                    "channels": self.adaptation.channels,
                }
                if self.adaptation
                else None
            ),
        }


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


@dataclass
class TargetReport:
    """One chosen target with what it carries and why it was chosen."""

    rank: int
    target: Target
    flow_through: float  # observed flow through it in a maximum flow (no one adapting)
    cut_static: float  # flow it adds to the cut, no one adapting (in the order chosen)
    cut_adapted: float  # flow it adds to the cut once substitutes take over
    policy_ref: str | None = None
    explanation: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            **self.target.to_dict(),
            "flow_through": self.flow_through,
            "cut_static": self.cut_static,
            "cut_adapted": self.cut_adapted,
            "policy_ref": self.policy_ref,
            "explanation": self.explanation,
            "findings": self.findings,
            "evidence": self.evidence,
        }


@dataclass
class FlowRow:
    """Flow removed by one strategy at one budget, at one stage.

    Stages: ``model_static`` and ``model_adapted`` (the network, without and with its
    adaptation), ``truth_static`` and ``truth_adapted`` (the simulated world: the flow
    through the targets, and the flow really removed once the world re-ran)."""

    strategy: str
    budget: int
    stage: str
    base: float
    removed: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def share(self) -> float:
        return self.removed / self.base if self.base else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "budget": self.budget,
            "stage": self.stage,
            "base": self.base,
            "removed": self.removed,
            "share": self.share,
            "details": self.details,
        }


@dataclass
class DismantlePlan:
    """A dismantle plan: the targets, how they were chosen, and the flows it removes."""

    options: DismantleOptions
    from_date: dt.date
    network: dict[str, Any]
    result: InterdictionResult
    targets: list[TargetReport]
    designated: list[dict[str, Any]]
    flows: list[FlowRow] = field(default_factory=list)
    net: FlowNetwork | None = None
    plan_id: str | None = None

    def policy(self, parties: dict[str, str] | None = None, name: str = "plan") -> dict[str, Any]:
        """The plan as a policy file's content (targets named by canonical id, or by the
        simulator's party ids when ``parties`` maps them)."""
        ids = parties if parties is not None else {t.target.id: t.target.id for t in self.targets}
        pol = adapt_mod.policy_for([t.target for t in self.targets], ids, self.from_date, name)
        pol["description"] = (
            f"dismantle plan, budget {self.options.budget}: "
            f"{self.result.method} ({self.result.solver}), gap {self.result.gap:.2%}"
        )
        return pol

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "options": self.options.to_dict(),
            "from_date": self.from_date.isoformat(),
            "network": self.network,
            "solver": self.result.to_dict(),
            "targets": [t.to_dict() for t in self.targets],
            "designated_still_active": self.designated,
            "flows": [f.to_dict() for f in self.flows],
        }


def records_period(store: Store) -> tuple[dt.date | None, dt.date | None]:
    """First and last date of the payments and shipments in the store."""
    row = store.con.execute(
        """
        SELECT min(d), max(d) FROM (
          SELECT TRY_CAST(left(value, 10) AS DATE) AS d FROM statements
          WHERE prop = 'date' AND schema IN (
            SELECT name FROM ftm_schemata
            WHERE list_contains(ancestors, 'Payment')
               OR list_contains(ancestors, 'EconomicActivity'))
        )
        """
    ).fetchall()
    if not row:
        return None, None
    return row[0][0], row[0][1]


def _policy_date(store: Store, options: DismantleOptions) -> dt.date:
    if options.from_date is not None:
        return options.from_date
    if options.window_end is not None:
        return options.window_end
    _, last = records_period(store)
    if last is None:
        raise ConfigError("the store holds no dated payments or shipments: nothing to plan on")
    return last + dt.timedelta(days=1)


def plan_dismantle(store: Store, options: DismantleOptions) -> DismantlePlan:
    """Choose ``options.budget`` targets whose removal cuts the most illicit flow.

    >>> # see tests/integration/test_plan.py for a run on a simulated world
    """
    if options.budget < 1:
        raise ConfigError(f"budget must be at least 1, got {options.budget}")
    started = time.perf_counter()
    from_date = _policy_date(store, options)
    window_end = options.window_end or from_date
    net = build_network(
        store,
        NetworkOptions(
            start=options.window_start,
            end=window_end,
            as_of=from_date,
            adaptation=options.adaptation,
            channel_targets=options.channel_targets,
        ),
    )
    if not net.targets:
        raise ConfigError(
            "no targets: the store shows no flow of listed goods or refused payments in the window"
        )
    result = interdict(
        net,
        options.budget,
        method=options.method,
        time_limit=options.time_limit,
        exact_max_arcs=options.exact_max_arcs,
    )
    static = net.static_view()
    static_flow = max_flow(static)
    through = static_flow.through(static)
    static_marginal = _marginals(static, result.chosen)
    captions = net.captions | {t.id: t.caption for t in net.targets}
    reports: list[TargetReport] = []
    for rank, (t, cut_a) in enumerate(zip(result.chosen, result.marginal, strict=True), 1):
        target = net.targets[t]
        report = TargetReport(
            rank=rank,
            target=target,
            flow_through=float(through[t]),
            cut_static=static_marginal[rank - 1],
            cut_adapted=float(cut_a),
        )
        if options.evidence:
            report.evidence = {
                "records": target_records(store, target, options.evidence),
                "counterparties": counterparties(static, t, captions),
            }
            if target.kind == "entity":
                report.findings = findings_of(store, target.id)
        report.explanation = explain(report, options.adaptation)
        reports.append(report)
    if options.evidence:
        # the statements behind every record shown, in one pass
        records = [r for rep in reports for r in rep.evidence.get("records", [])]
        statements = record_statements(store, [str(r["record"]) for r in records])
        for r in records:
            r["statements"] = statements.get(str(r["record"]), [])
    summary = net.summary()
    summary["seconds_total"] = round(time.perf_counter() - started, 3)
    plan = DismantlePlan(
        options=options,
        from_date=from_date,
        network=summary,
        result=result,
        targets=reports,
        designated=_designated_flow(net, static, static_flow.arc_flow),
        net=net,
    )
    base_static = static_flow.value
    plan.flows = [
        FlowRow(
            "plan",
            options.budget,
            "model_static",
            base_static,
            sum(static_marginal),
        ),
        FlowRow("plan", options.budget, "model_adapted", result.base, result.cut),
    ]
    return plan


def _marginals(net: FlowNetwork, chosen: Sequence[int]) -> list[float]:
    from shadowtrace.plan.interdiction import FlowSolver

    solver = FlowSolver(net)
    prev = solver.value_without([])
    out = []
    for i in range(len(chosen)):
        value = solver.value_without(list(chosen[: i + 1]))
        out.append(max(0.0, prev - value))
        prev = value
    return out


def _designated_flow(
    net: FlowNetwork, static: FlowNetwork, arc_flow: np.ndarray[Any, Any]
) -> list[dict[str, Any]]:
    """Designated parties that still carry flow: what passes through their nodes."""
    if not net.designated:
        return []
    by_id = {d["id"]: dict(d) for d in net.designated}
    value: dict[str, float] = {}
    for a in range(static.n_arcs):
        if static.arc_kind[a] in ("source", "sink", "substitute", "switch", "entity"):
            continue
        label = static.nodes[int(static.head[a])].removesuffix("#in").removesuffix("#out")
        eid = label.partition(":")[2]
        if eid in by_id:
            value[eid] = value.get(eid, 0.0) + float(arc_flow[a])
    out = []
    for eid, item in by_id.items():
        item["flow_in"] = value.get(eid, 0.0)
        out.append(item)
    out.sort(key=lambda d: (-d["flow_in"], d["id"]))
    return out


def _usd(x: float) -> str:
    if abs(x) >= 1e6:
        return f"${x / 1e6:,.1f}M"
    if abs(x) >= 1e3:
        return f"${x / 1e3:,.0f}k"
    return f"${x:,.0f}"


def explain(report: TargetReport, adaptation: Adaptation | None) -> str:
    """One paragraph: what the target is, what flow it carries, what removing it cuts."""
    t = report.target
    ev = report.evidence.get("counterparties", {}) if report.evidence else {}
    if t.kind == "channel":
        head = f"Close the {t.id.partition(':')[2]} channel ({t.roles[0] if t.roles else ''})."
    elif t.action == "close":
        head = f"Close {t.caption} ({(t.policy_kind or '').replace('_', ' ')}"
        head += f", {t.country})." if t.country else ")."
    else:
        head = f"Sanction {t.caption}" + (f" ({t.country})" if t.country else "") + "."
    parts = [head]
    if t.kind == "entity" and t.roles:
        parts.append("Role in the network: " + "; ".join(t.roles) + ".")
    verb = "is carried on its arcs" if t.kind == "channel" else "passes through it"
    flow = f"In a maximum flow of the records, {_usd(report.flow_through)} {verb}"
    if ev:
        flow += f", from {ev.get('from_count', 0)} senders to {ev.get('to_count', 0)} receivers"
        if ev.get("from"):
            flow += " (largest: " + ", ".join(x["name"] for x in ev["from"][:2])
            if ev.get("to"):
                flow += " → " + ", ".join(x["name"] for x in ev["to"][:2])
            flow += ")"
    parts.append(flow + ".")
    cut = f"Chosen at this rank, it adds {_usd(report.cut_static)} to the cut if no one adapts"
    if adaptation is not None:
        cut += f" and {_usd(report.cut_adapted)} once substitutes take over"
        if t.kind == "channel":
            cut += " (closed together with the other channels, refused payments have no route left)"
        else:
            cut += (
                f" ({adaptation.substitute_share:.0%} of a removed party's flow moves to a"
                " substitute)"
            )
    parts.append(cut + ".")
    if report.findings:
        parts.append(
            "Findings: " + "; ".join(f"{f['typology']} ({f['score']:.2f})" for f in report.findings)
        )
    return " ".join(parts)


def evaluate(
    store: Store,
    plan: DismantlePlan,
    *,
    world: adapt_mod.WorldRef | None = None,
    workdir: Path,
    baselines: bool = True,
    random_seeds: int = 3,
    budgets: Sequence[int] | None = None,
) -> list[FlowRow]:
    """Apply the plan (and the baselines, with the same budget and candidates) to the
    simulated world the store came from; measure the flow each removes before and after
    the world adapts. Returns (and adds to ``plan.flows``) one row per strategy and stage.

    ``budgets`` re-plans at other budgets on the same network (default: the plan's own).
    """
    net = plan.net
    if net is None:
        raise ConfigError("the plan has no network to evaluate against")
    ref = world or adapt_mod.world_of_store(store)
    workdir.mkdir(parents=True, exist_ok=True)
    unperturbed = adapt_mod.unperturbed_world(ref, workdir / "unperturbed")
    parties = adapt_mod.party_ids(store, ref, [t.id for t in net.targets if t.kind == "entity"])
    static = net.static_view()
    base_static = max_flow(static).value
    base_adapted = max_flow(net).value
    rows: list[FlowRow] = []
    for k in budgets or [plan.options.budget]:
        if k == plan.options.budget:
            chosen = list(plan.result.chosen)
            solver_info = plan.result.to_dict()
        else:
            res = interdict(
                net,
                k,
                method=plan.options.method,
                time_limit=plan.options.time_limit,
                exact_max_arcs=plan.options.exact_max_arcs,
            )
            chosen, solver_info = list(res.chosen), res.to_dict()
        strategies: dict[str, list[int]] = {"plan": chosen}
        if baselines:
            for name, fn in BASELINES.items():
                strategies[name] = fn(static, k, None)
            for s in range(random_seeds):
                strategies[f"random-{s}"] = random_targets(net, k, s)
        for name, picked in strategies.items():
            targets = [net.targets[i] for i in picked]
            m = adapt_mod.measure(
                store,
                ref,
                targets,
                plan.from_date,
                workdir / f"{name}-k{k}",
                strategy=name,
                parties=parties,
                unperturbed=unperturbed,
            )
            detail: dict[str, Any] = {
                "targets": [t.id for t in targets],
                "channels": [t.id for t in targets if t.kind == "channel"],
            }
            if name == "plan":
                detail["solver"] = {
                    key: solver_info[key]
                    for key in ("method", "solver", "gap", "seconds", "status")
                    if key in solver_info
                }
            rows += [
                FlowRow(
                    name,
                    k,
                    "model_static",
                    base_static,
                    base_static - max_flow(static, picked).value,
                    detail,
                ),
                FlowRow(
                    name,
                    k,
                    "model_adapted",
                    base_adapted,
                    base_adapted - max_flow(net, picked).value,
                ),
                FlowRow(name, k, "truth_static", m.base, m.static_cut),
                FlowRow(
                    name,
                    k,
                    "truth_adapted",
                    m.base,
                    m.adapted_cut,
                    {
                        "by_channel_base": m.by_channel_base,
                        "by_channel_after": m.by_channel_after,
                        "policy": m.policy,
                    },
                ),
            ]
    plan.flows = [f for f in plan.flows if not f.stage.startswith("truth")] + [
        r
        for r in rows
        if not (
            r.strategy == "plan" and r.stage.startswith("model") and r.budget == plan.options.budget
        )
    ]
    return rows


def save(store: Store, plan: DismantlePlan, name: str | None = None) -> str:
    """Write the plan, its targets and its flows into the store; returns the plan id."""
    from shadowtrace.plan.persist import insert_rows, new_plan

    summary = {
        "from_date": plan.from_date.isoformat(),
        "network": plan.network,
        "solver": plan.result.to_dict(),
        "designated_still_active": plan.designated[:50],
    }
    with store.transaction():
        plan_id = new_plan(
            store,
            "dismantle",
            name or f"dismantle, budget {plan.options.budget}",
            plan.options.to_dict(),
            summary,
        )
        insert_rows(
            store,
            "plan_targets",
            [
                {
                    "plan_id": plan_id,
                    "rank": t.rank,
                    "target_id": t.target.id,
                    "kind": t.target.kind,
                    "action": t.target.action,
                    "policy_ref": t.target.policy_kind,
                    "caption": t.target.caption,
                    "roles": list(t.target.roles),
                    "flow_through": t.flow_through,
                    "cut_static": t.cut_static,
                    "cut_adapted": t.cut_adapted,
                    "explanation": t.explanation,
                    "findings": [f["finding_id"] for f in t.findings],
                    "evidence": t.evidence,
                }
                for t in plan.targets
            ],
        )
        insert_rows(
            store,
            "plan_flows",
            [
                {
                    "plan_id": plan_id,
                    "strategy": f.strategy,
                    "budget": f.budget,
                    "stage": f.stage,
                    "base": f.base,
                    "removed": f.removed,
                    "share": f.share,
                    "details": f.details,
                }
                for f in plan.flows
            ],
        )
    plan.plan_id = plan_id
    return plan_id
