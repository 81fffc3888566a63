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
  listed party was listed is how a network re-registers its business. Every listing
  of the listed party counts (a party can be listed more than once, by several
  authorities or because resolution joined several list entries), and so does every
  incorporation date among the entity's records (resolution may have merged a
  re-registered company's entry with an older namesake).

An entity tied to several listed parties keeps its best score. A listed entity is
scored like any other: a substitute can be listed in its turn, and resolution may have
merged a substitute's register entry with a listed namesake.

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
from shadowtrace.detect.common import captions, fetch
from shadowtrace.detect.finding import Finding, Step
from shadowtrace.graph import STRUCTURAL_KINDS

__all__ = ["SanctionsProximity", "listed_parties", "norm_name"]


def norm_name(value: str) -> str:
    """A name compared without case, punctuation or spacing."""
    return re.sub(r"[\W_]+", "", value.casefold())


def listed_parties(ctx: DetectContext) -> dict[str, dict[str, Any]]:
    """Listed canonical entities with their caption, first listing date and sanction, and
    every listing (``listings``: date and sanction id, earliest first).

    An entity can be listed more than once: by several authorities or programmes, or
    because resolution joined several list entries."""
    rows = fetch(
        ctx.store,
        """
        SELECT n.id, n.caption, CAST(n.listed_date AS VARCHAR) AS listed_date,
               (SELECT min(s.id) FROM sanctions s WHERE s.entity = n.id) AS sanction_id
        FROM nodes n WHERE n.listed ORDER BY n.id
        """,
    )
    out = {str(r["id"]): {**r, "listings": []} for r in rows}
    sql = """
        SELECT DISTINCT s.entity, CAST(coalesce(s.listing_date, s.start_date) AS VARCHAR), s.id
        FROM sanctions s
        WHERE s.entity IS NOT NULL AND coalesce(s.listing_date, s.start_date) IS NOT NULL
        ORDER BY 1, 2, 3
        """
    for entity, day, sanction_id in ctx.store.con.execute(sql).fetchall():
        if str(entity) in out:
            out[str(entity)]["listings"].append((str(day), str(sanction_id)))
    for r in out.values():
        if not r["listings"]:
            r["listings"] = [(r["listed_date"], r["sanction_id"])]
    return out


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
        reached = {
            origin: _reach(graph, origin, p["max_hops"], p["max_degree"]) for origin in listed
        }
        inc = _incorporation(ctx, {cand for hits in reached.values() for cand in hits})
        # Each entity is scored against every listed party that reaches it, and the best
        # score is kept: the setup bonus depends on which party's listing it answers.
        # Listed entities are candidates too: a substitute may be listed in its turn, and
        # resolution may merge a substitute's register entry with a listed namesake.
        best: dict[str, dict[str, Any]] = {}
        for origin, hits in reached.items():
            listings = listed[origin]["listings"]
            for cand, hit in hits.items():
                score = _tie_score(hit["ties"], p["tie_weights"], p["max_tie_score"])
                if not hit["ties"]:
                    score = p["distant_score"]
                dates = inc.get(cand, [])
                setup, listing = _setup(dates, listings, p["setup_window_days"])
                if setup is not None:
                    score += p["setup_bonus"]
                info = {"listed_date": listing[0], "sanction_id": listing[1]}
                row = {**hit, "id": cand, "origin": origin, "listed": info}
                row.update(score=min(1.0, score), setup=setup, raw=score)
                row["incorporated"] = _shown_date(dates, listing[0], setup)
                key = (row["raw"], len(hit["ties"]))
                prev = best.get(cand)
                if prev is None or key > (prev["raw"], len(prev["ties"])):
                    best[cand] = row
        results = [r for r in best.values() if r["raw"] >= p["min_score"]]
        renamed = _renamed(ctx, listed) if p["renamed_score"] >= p["min_score"] else []
        return self._findings(ctx, results, renamed, listed, p)

    def _findings(
        self,
        ctx: DetectContext,
        results: list[dict[str, Any]],
        renamed: list[dict[str, Any]],
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
            incorporated = r["incorporated"]
            steps.append(
                Step(
                    kind="party",
                    source=r["id"],
                    target=None,
                    summary=f"{names.get(r['id'], r['id'])}"
                    + (f", incorporated {incorporated}" if incorporated else ""),
                    entity_id=r["id"],
                    date=incorporated,
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


def _incorporation(ctx: DetectContext, ids: set[str]) -> dict[str, list[str]]:
    """Every incorporation date among the records of each entity in ``ids``.

    An entity resolved from several register entries can have several: a company
    re-registered under a similar name may be merged with its namesake, and the date
    that shows it was set up around a listing is then one of them."""
    if not ids:
        return {}
    rows = ctx.store.con.execute(
        "SELECT DISTINCT canonical_id, left(value, 10) FROM statements "
        "WHERE prop = 'incorporationDate' ORDER BY 1, 2"
    ).fetchall()
    out: dict[str, list[str]] = defaultdict(list)
    for cid, day in rows:
        if cid in ids and _iso_date(str(day)) is not None:
            out[str(cid)].append(str(day))
    return dict(out)


def _iso_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _shown_date(incorporated: list[str], listed: str | None, setup: int | None) -> str | None:
    """The incorporation date a finding shows: the one near the listing, else the first."""
    if setup is not None and listed:
        day = _iso_date(listed)
        if day is not None:
            return (day + dt.timedelta(days=setup)).isoformat()
    return min(incorporated, default=None)


def _setup(
    incorporated: list[str], listings: list[tuple[str | None, str | None]], window: int
) -> tuple[int | None, tuple[str | None, str | None]]:
    """Days from a listing to the incorporation nearest it, when within ``window``, and
    that listing (date, sanction id); else ``None`` and the first listing."""
    best: tuple[int, int] | None = None
    for k, (listed, _) in enumerate(listings):
        when = _iso_date(listed) if listed else None
        if when is None:
            continue
        for value in incorporated:
            day = _iso_date(value)
            if day is None:
                continue
            days = (day - when).days
            if abs(days) <= window and (
                best is None or (abs(days), days) < (abs(best[0]), best[0])
            ):
                best = (days, k)
    if best is None:
        return None, listings[0]
    return best[0], listings[best[1]]


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
