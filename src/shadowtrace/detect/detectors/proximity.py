"""Sanctions proximity: entities within a few hops of listed parties through ownership,
control, directorship or a shared address, phone or identifier, and listed parties
renamed after their listing.

Listed parties are those a ``Sanction`` names (or that carry a sanction topic). From
each, the graph of ownership, control, directorship, relationships and shared
address, phone, e-mail and identifier edges is walked up to ``max_hops``. Every entity
reached gets a score:

* its *ties* to the listed party: each distinct way it is linked (a shared address,
  phone or identifier, an ownership, a shared director, an owner in common …) adds its
  weight in ``tie_weights``, up to ``max_tie_score`` (a record that shares an
  identifier with the listed party counts as the listed party); people and ownership
  weigh more than premises, which mass-registration addresses share; an entity reached
  only through others scores ``distant_score``;
* ``setup_bonus`` when it was incorporated within ``setup_window_days`` of the listing:
  a company set up with the listed party's director, address or phone just when the
  listed party was listed is how a network re-registers its business.

A listed party whose registry entry now shows another name, with the listed name as
its previous name, was *renamed after its listing* and scores ``renamed_score``.

Entities scoring at least ``min_score`` are findings. With the defaults these are
entities that share the listed party's people as well as its premises and were set up
around its listing (substitutes), and renamed parties; lower ``min_score`` to see every entity
within reach (on a large register that is many).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import attach_evidence, captions, fetch
from shadowtrace.detect.finding import Finding, Step
from shadowtrace.graph import STRUCTURAL_KINDS

__all__ = ["SanctionsProximity", "listed_parties", "norm_name"]


def norm_name(value: str) -> str:
    """A name compared without case, punctuation or spacing."""
    return re.sub(r"[\W_]+", "", value.casefold())


def listed_parties(ctx: DetectContext) -> dict[str, dict[str, Any]]:
    """Listed canonical entities with their listing date and caption."""
    rows = fetch(
        ctx.store,
        """
        SELECT n.id, n.caption, CAST(n.listed_date AS VARCHAR) AS listed_date,
               (SELECT min(s.id) FROM sanctions s WHERE s.entity = n.id) AS sanction_id
        FROM nodes n WHERE n.listed ORDER BY n.id
        """,
    )
    return {str(r["id"]): r for r in rows}


class SanctionsProximity:
    name = "sanctions_proximity"
    title = "Sanctions proximity"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        "max_hops": Param(2, "Most hops from a listed party.", 1, 6),
        "kinds": Param(list(STRUCTURAL_KINDS), "Edge kinds walked from listed parties."),
        "tie_weights": Param(
            {
                "shared_director": 0.3,
                "ownership": 0.3,
                "control": 0.3,
                "shared_identifier": 0.3,
                "shared_address": 0.15,
                "shared_phone": 0.15,
                "shared_email": 0.15,
                "other": 0.1,
            },
            "Weight of each kind of tie (people and ownership weigh more than premises, "
            "which registration addresses share); 'other' for kinds not named.",
            0.0,
            1.0,
        ),
        "max_tie_score": Param(0.6, "Most the ties of one entity add up to.", 0.0, 1.0),
        "distant_score": Param(0.15, "Score of an entity three or more hops away.", 0.0, 1.0),
        "setup_bonus": Param(
            0.35, "Added when the entity was set up around the listing date.", 0.0, 1.0
        ),
        "setup_window_days": Param(
            60, "Days before or after the listing that count as around it.", 0, 3650
        ),
        "renamed_score": Param(0.95, "Score of a listed party renamed after listing.", 0.0, 1.0),
        "min_score": Param(0.75, "Least score reported.", 0.0, 1.0),
        "max_degree": Param(
            200, "Nodes with more edges than this are not walked through (hubs).", 1
        ),
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        listed = listed_parties(ctx)
        if not listed:
            return []
        graph = ctx.graph(p["kinds"])
        found: dict[str, dict[str, Any]] = {}
        for origin, info in listed.items():
            for cand, hit in _reach(graph, origin, p["max_hops"], p["max_degree"]).items():
                if cand in listed:
                    continue
                best = found.get(cand)
                if best is None or len(hit["ties"]) > len(best["ties"]):
                    found[cand] = {**hit, "origin": origin, "listed": info}
        inc = _incorporation(ctx, set(found))
        results: list[dict[str, Any]] = []
        for cand, hit in found.items():
            score = _tie_score(hit["ties"], p["tie_weights"], p["max_tie_score"])
            if not hit["ties"]:
                score = p["distant_score"]
            setup = _setup(inc.get(cand), hit["listed"]["listed_date"], p["setup_window_days"])
            if setup is not None:
                score += p["setup_bonus"]
            if score >= p["min_score"]:
                results.append({**hit, "id": cand, "score": min(1.0, score), "setup": setup})
        renamed = _renamed(ctx, listed) if p["renamed_score"] >= p["min_score"] else []
        return self._findings(ctx, results, renamed, inc, listed, p)

    def _findings(
        self,
        ctx: DetectContext,
        results: list[dict[str, Any]],
        renamed: list[dict[str, Any]],
        inc: dict[str, str],
        listed: dict[str, dict[str, Any]],
        p: dict[str, Any],
    ) -> list[Finding]:
        ids = {r["id"] for r in results} | {x for r in results for x in r["path_nodes"]}
        ids |= {r["id"] for r in renamed}
        names = captions(ctx.store, ids)
        step_lists: list[list[Step]] = []
        metas: list[dict[str, Any]] = []
        for r in sorted(results, key=lambda r: (-r["score"], r["id"])):
            origin = r["origin"]
            steps = [
                Step(
                    kind="sanction",
                    source=origin,
                    target=None,
                    summary=f"{names.get(origin, origin)} listed on {r['listed']['listed_date']}",
                    entity_id=r["listed"]["sanction_id"] or origin,
                    date=r["listed"]["listed_date"],
                )
            ]
            for a, b, kind, value in r["links"]:
                steps.append(
                    Step(
                        kind=kind,
                        source=a,
                        target=b,
                        summary=f"{names.get(a, a)} — {kind.replace('_', ' ')} — "
                        f"{names.get(b, b)}" + (f" ({value})" if value else ""),
                        entity_id=None,
                    )
                )
            steps.append(
                Step(
                    kind="party",
                    source=r["id"],
                    target=None,
                    summary=f"{names.get(r['id'], r['id'])}"
                    + (f", incorporated {inc[r['id']]}" if r["id"] in inc else ""),
                    entity_id=r["id"],
                    date=inc.get(r["id"]),
                )
            )
            step_lists.append(steps)
            ties = sorted(r["ties"])
            metas.append(
                {
                    "score": r["score"],
                    "entities": (r["id"], origin, *r["path_nodes"]),
                    "title": f"{names.get(r['id'], r['id'])} is tied to listed "
                    f"{names.get(origin, origin)}"
                    + (" and was set up around its listing" if r["setup"] is not None else ""),
                    "explanation": f"{r['distance']} hop(s) from a listed party; ties: "
                    f"{', '.join(t.replace('_', ' ') for t in ties) or 'none within two hops'}"
                    + (
                        f"; incorporated {abs(r['setup'])} days "
                        f"{'after' if r['setup'] >= 0 else 'before'} the listing."
                        if r["setup"] is not None
                        else "."
                    ),
                    "metrics": {
                        "hops": float(r["distance"]),
                        "ties": float(len(ties)),
                        "setup_days": float(r["setup"]) if r["setup"] is not None else -1.0,
                    },
                }
            )
        for r in renamed:
            step_lists.append(
                [
                    Step(
                        kind="sanction",
                        source=r["id"],
                        target=None,
                        summary=f"Listed as {r['previous']} on {r['listed_date']}",
                        entity_id=listed[r["id"]]["sanction_id"] or r["id"],
                        date=r["listed_date"],
                    ),
                    Step(
                        kind="party",
                        source=r["id"],
                        target=None,
                        summary=f"Registered now as {r['current']}, previously {r['previous']}",
                        entity_id=r["id"],
                    ),
                ]
            )
            metas.append(
                {
                    "score": p["renamed_score"],
                    "entities": (r["id"],),
                    "title": f"Listed {r['previous']} renamed {r['current']} after its listing",
                    "explanation": "The register shows a new name and gives the listed name as "
                    "the previous one: the listed party trades on under another name.",
                    "metrics": {"renamed": 1.0},
                }
            )
        attach_evidence(ctx.store, step_lists)
        return [
            Finding.make(
                self.name,
                m["score"],
                m["title"],
                tuple(dict.fromkeys(m["entities"])),
                tuple(steps),
                explanation=m["explanation"],
                metrics=m["metrics"],
            )
            for steps, m in zip(step_lists, metas, strict=True)
        ]


def _tie_score(ties: set[str], weights: dict[str, float], cap: float) -> float:
    total = 0.0
    for tie in ties:
        first = tie.split("+", 1)[0]
        weight = weights.get(tie, weights.get(first, weights.get("other", 0.0)))
        total += weight
    return min(cap, total)


#: Links through a party in between (a director, an owner) that make a tie.
PARTY_LINKS = ("directorship", "ownership", "control", "relationship")


def _reach(graph: Any, origin: str, max_hops: int, max_degree: int) -> dict[str, dict[str, Any]]:
    """Entities within ``max_hops`` of ``origin`` with their ties and the links of one
    shortest path.

    A tie is a distinct way of being linked: an edge of some kind to the listed party
    (or to a record sharing an identifier with it, which resolution left apart), or a
    party in between linked to both (a shared director, a common owner)."""
    g = graph.graph
    index = graph.index
    if origin not in index:
        return {}

    def neighbours(node: int) -> list[tuple[int, int]]:
        out = [(t, p) for _, t, p in g.out_edges(node)]
        out += [(s, p) for s, _, p in g.in_edges(node)]
        return out

    start = index[origin]
    group = {start}
    for nb, payload in neighbours(start):
        if graph.kinds[payload] == "shared_identifier":
            group.add(nb)
    found: dict[int, dict[str, Any]] = {}
    for member in sorted(group):
        for nb, payload in neighbours(member):
            if nb in group:
                continue
            kind = graph.kinds[payload]
            hit = found.setdefault(nb, {"distance": 1, "ties": set(), "links": []})
            hit["ties"].add(kind)
            if not hit["links"]:
                hit["links"] = [(graph.ids[member], graph.ids[nb], kind, graph.values[payload])]
    for member in sorted(group):
        for mid, p1 in neighbours(member):
            k1 = graph.kinds[p1]
            if mid in group or k1 not in PARTY_LINKS:
                continue
            if g.in_degree(mid) + g.out_degree(mid) > max_degree:
                continue
            for nb, p2 in neighbours(mid):
                k2 = graph.kinds[p2]
                if nb in group or k2 not in PARTY_LINKS:
                    continue
                tie = "shared_director" if k1 == k2 == "directorship" else f"{k1}+{k2}"
                hit = found.setdefault(nb, {"distance": 2, "ties": set(), "links": []})
                hit["ties"].add(tie)
                if not hit["links"]:
                    hit["links"] = [
                        (graph.ids[member], graph.ids[mid], k1, graph.values[p1]),
                        (graph.ids[mid], graph.ids[nb], k2, graph.values[p2]),
                    ]
    for node, hop in graph.within([graph.ids[m] for m in group], max_hops).items():
        i = index[node]
        if i not in found and i not in group:
            links = [
                (hop.path[j], hop.path[j + 1], hop.kinds[j], None) for j in range(len(hop.kinds))
            ]
            found[i] = {"distance": hop.distance, "ties": set(), "links": links}
    out = {}
    for i, hit in found.items():
        if i in group or hit["distance"] > max_hops:
            continue
        hit["path_nodes"] = [x for a, b, _, _ in hit["links"] for x in (a, b)]
        out[graph.ids[i]] = hit
    return out


def _incorporation(ctx: DetectContext, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = ctx.store.con.execute(
        "SELECT id, CAST(incorporation_date AS VARCHAR) FROM nodes "
        "WHERE incorporation_date IS NOT NULL"
    ).fetchall()
    return {str(i): str(d) for i, d in rows if i in ids}


def _setup(incorporated: str | None, listed: str | None, window: int) -> int | None:
    """Days from the listing to the incorporation, when within ``window``."""
    if not incorporated or not listed:
        return None
    days = (dt.date.fromisoformat(incorporated[:10]) - dt.date.fromisoformat(listed[:10])).days
    return days if abs(days) <= window else None


def _renamed(ctx: DetectContext, listed: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Listed entities whose register entry now has another name and the listed name as
    its previous name."""
    rows = fetch(
        ctx.store,
        """
        WITH l AS (SELECT id FROM nodes WHERE listed),
        sanctioned_records AS (
          SELECT DISTINCT s.value AS entity_id FROM statements s
          WHERE s.schema = 'Sanction' AND s.prop = 'entity'
          UNION
          SELECT DISTINCT entity_id FROM statements
          WHERE prop = 'topics' AND value IN ('sanction', 'sanction.linked')
        )
        SELECT s.canonical_id AS id, s.entity_id, s.prop, s.value,
               s.entity_id IN (SELECT entity_id FROM sanctioned_records) AS from_list
        FROM statements s JOIN l ON l.id = s.canonical_id
        WHERE s.prop IN ('name', 'alias', 'previousName')
        """,
    )
    by_id: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"listed_names": set(), "previous": {}, "current": {}}
    )
    for r in rows:
        rec = by_id[str(r["id"])]
        key = norm_name(str(r["value"]))
        if r["from_list"] and r["prop"] in ("name", "alias"):
            rec["listed_names"].add(key)
        elif r["prop"] == "previousName":
            rec["previous"].setdefault(str(r["entity_id"]), []).append(str(r["value"]))
        elif r["prop"] == "name" and not r["from_list"]:
            rec["current"].setdefault(str(r["entity_id"]), []).append(str(r["value"]))
    out = []
    for cid, rec in by_id.items():
        for entity_id, previous in rec["previous"].items():
            old = [v for v in previous if norm_name(v) in rec["listed_names"]]
            new = [
                v
                for v in rec["current"].get(entity_id, [])
                if norm_name(v) not in rec["listed_names"]
            ]
            if old and new:
                out.append(
                    {
                        "id": cid,
                        "previous": old[0],
                        "current": new[0],
                        "listed_date": listed[cid]["listed_date"],
                    }
                )
                break
    return sorted(out, key=lambda r: r["id"])
