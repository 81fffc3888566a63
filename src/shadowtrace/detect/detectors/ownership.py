"""Ownership chains: layered and circular ownership and control.

Over the ownership and control edges (owner → asset):

* every *circular* structure (a company that owns itself through others) is a finding;
* for every company at the bottom of a structure, the longest chain of owners above it
  is a finding when it has at least ``min_depth`` links. Chains that cross borders,
  pass through ``secrecy_countries`` or include a listed party score higher.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import captions, fetch
from shadowtrace.detect.finding import Finding, Step

__all__ = ["OwnershipChains"]


class OwnershipChains:
    name = "ownership_chain"
    title = "Ownership chains"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        "min_depth": Param(3, "Fewest ownership links of a reported chain.", 1, 100),
        "kinds": Param(["ownership", "control"], "Edge kinds that make a chain."),
        "secrecy_countries": Param(
            ["ae", "bz", "cy", "hk", "ky", "pa", "sc", "vg"],
            "Jurisdictions that hide owners (a chain through one scores higher).",
        ),
        "max_cycles": Param(1000, "Most circular structures reported.", 0, 1_000_000),
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        kinds = [k for k in p["kinds"] if k in ("ownership", "control")]
        graph = ctx.graph(kinds)
        if not len(graph):
            return []
        chains = graph.longest_paths(p["min_depth"])
        cycles = graph.cycles(p["max_cycles"]) if p["max_cycles"] else []
        ids = {x for c in chains for x in c} | {x for c in cycles for x in c}
        info = {
            str(r["id"]): r
            for r in fetch(
                ctx.store,
                "SELECT id, country, listed FROM nodes WHERE id IN (SELECT source FROM edges "
                "WHERE kind IN ('ownership', 'control') UNION SELECT target FROM edges "
                "WHERE kind IN ('ownership', 'control'))",
            )
            if str(r["id"]) in ids
        }
        edge_ids = _edge_ids(ctx, kinds)
        names = captions(ctx.store, ids)
        secrecy = set(p["secrecy_countries"])
        items: list[tuple[list[str], bool]] = [(c, False) for c in chains]
        items += [([*c, c[0]], True) for c in cycles]
        step_lists = []
        for path, _ in items:
            steps = []
            for a, b in pairwise(path):
                kind, edge = edge_ids.get((a, b), ("ownership", None))
                steps.append(
                    Step(
                        kind=kind,
                        source=a,
                        target=b,
                        summary=f"{names.get(a, a)} {'owns' if kind == 'ownership' else 'controls'}"
                        f" {names.get(b, b)}",
                        entity_id=edge,
                    )
                )
            step_lists.append(steps)
        out = []
        for (path, circular), steps in zip(items, step_lists, strict=True):
            nodes = list(dict.fromkeys(path))
            countries = [info.get(n, {}).get("country") for n in nodes]
            known = {c for c in countries if c}
            listed = [n for n in nodes if info.get(n, {}).get("listed")]
            hidden = sorted(known & secrecy)
            depth = len(path) - 1
            score = 0.7 if circular else 0.3 + 0.05 * min(6, depth - p["min_depth"])
            score += 0.15 if len(known) > 1 else 0.0
            score += 0.15 if hidden else 0.0
            score += 0.3 if listed else 0.0
            top, bottom = path[0], path[-1] if not circular else path[0]
            title = (
                f"Circular ownership through {len(nodes)} companies from {names.get(top, top)}"
                if circular
                else f"{names.get(bottom, bottom)} is owned through {depth} layers from "
                f"{names.get(top, top)}"
            )
            out.append(
                Finding.make(
                    self.name,
                    score,
                    title,
                    tuple(reversed(nodes)) if not circular else tuple(nodes),
                    tuple(steps),
                    explanation=(
                        f"{depth} ownership or control links"
                        + (f" across {', '.join(sorted(known))}" if len(known) > 1 else "")
                        + (f", through {', '.join(hidden)}" if hidden else "")
                        + (
                            f"; {len(listed)} listed part{'y' if len(listed) == 1 else 'ies'}"
                            if listed
                            else ""
                        )
                        + "."
                    ),
                    metrics={
                        "depth": float(depth),
                        "countries": float(len(known)),
                        "listed": float(len(listed)),
                        "circular": 1.0 if circular else 0.0,
                    },
                )
            )
        return out


def _edge_ids(ctx: DetectContext, kinds: list[str]) -> dict[tuple[str, str], tuple[str, str]]:
    if not kinds:
        return {}
    marks = ", ".join("?" for _ in kinds)
    sql = (
        f"SELECT source, target, min(kind), min(edge_id) FROM edges WHERE kind IN ({marks}) "
        "GROUP BY source, target"
    )
    rows = ctx.store.con.execute(sql, kinds).fetchall()
    return {(str(a), str(b)): (str(k), str(e)) for a, b, k, e in rows}
