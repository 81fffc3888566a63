"""Front companies: recent registration, a mass-registration address, a director who
fronts companies in several countries, a phone shared with other companies, and
re-registration or renaming around a sanctions listing.

Each registered company (an entity with an incorporation date) is scored by what it
shows, each sign adding its weight from ``weights``:

* ``recent``: incorporated within ``recent_days`` of the latest date in the store;
* ``mass_address``: its registered address is shared with other registered companies
  (``min_address_companies`` in all);
* ``nominee``: a director of it directs companies in two or more jurisdictions (a
  nominee lends a name to companies wherever they are needed);
* ``many_directorships``: a director of it directs ``min_director_companies`` or more
  companies;
* ``shared_phone``: its phone is shared with other registered companies;
* ``substitute``: it looks like a substitute for a listed party (the sanctions
  proximity search: two or more ties and set up around the listing). The address or
  phone it shares with the party it replaced does not count as shared.

Companies scoring at least ``min_score`` are findings, each naming what it shares and
with whom.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import captions, fetch
from shadowtrace.detect.detectors.proximity import SanctionsProximity
from shadowtrace.detect.finding import Finding, Step

__all__ = ["FrontCompanies"]

SIGNS = ("recent", "mass_address", "nominee", "many_directorships", "shared_phone", "substitute")


class FrontCompanies:
    name = "front_company"
    title = "Front companies"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        "recent_days": Param(
            1095, "Days before the latest date in the store that count as recent.", 0
        ),
        "min_address_companies": Param(
            2, "Registered companies at one address that make it a mass address.", 2
        ),
        "min_director_companies": Param(3, "Companies one director directs that count.", 2),
        "weights": Param(
            {
                "recent": 0.3,
                "mass_address": 0.3,
                "nominee": 0.4,
                "many_directorships": 0.2,
                "shared_phone": 0.1,
                "substitute": 0.4,
            },
            "Weight of each sign of a front company.",
            0.0,
            1.0,
            keys=SIGNS,
        ),
        "min_score": Param(0.6, "Least score reported.", 0.0, 10.0),
        "as_of": Param(
            "", "Date the registration age is measured at (default: the latest in the store)."
        ),
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        weights = {k: float(p["weights"].get(k, 0.0)) for k in SIGNS}
        as_of = p["as_of"] or _latest(ctx)
        companies = fetch(
            ctx.store,
            """
            SELECT id, caption, country, CAST(incorporation_date AS VARCHAR) AS incorporated
            FROM nodes WHERE incorporation_date IS NOT NULL ORDER BY id
            """,
        )
        if not companies:
            return []
        signs: dict[str, dict[str, Any]] = defaultdict(dict)
        if as_of:
            cutoff = dt.date.fromisoformat(as_of[:10]) - dt.timedelta(days=p["recent_days"])
            for c in companies:
                if dt.date.fromisoformat(c["incorporated"][:10]) >= cutoff:
                    signs[c["id"]]["recent"] = c["incorporated"]
        subs = _substitutes(ctx)
        # a listed party and its substitute share an address because one replaced the
        # other: that is not a mass-registration address
        paired = {(a, b) for a, b, _, _ in subs} | {(b, a) for a, b, _, _ in subs}
        for prop, sign, minimum in (
            ("address", "mass_address", p["min_address_companies"]),
            ("phone", "shared_phone", 2),
        ):
            for cid, sharing, value in _shared(ctx, prop, 2):
                others = [x for x in sharing if (cid, x) not in paired]
                if len(others) + 1 >= minimum:
                    signs[cid][sign] = (value, others)
        for cid, director, edge, peers, countries in _directors(ctx):
            if len(countries) >= 2:
                signs[cid]["nominee"] = (director, peers, sorted(countries), edge)
            if len(peers) + 1 >= p["min_director_companies"]:
                signs[cid]["many_directorships"] = (director, peers, sorted(countries), edge)
        for cid, listed, reason, sanction in subs:
            signs[cid]["substitute"] = (reason, listed, sanction)
        by_id = {c["id"]: c for c in companies}
        chosen = []
        for cid, found in signs.items():
            if cid not in by_id:
                continue
            score = sum(weights[s] for s in found)
            if score >= p["min_score"]:
                chosen.append((cid, found, score))
        chosen.sort(key=lambda x: (-x[2], x[0]))
        ids = {cid for cid, _, _ in chosen}
        for _, found, _ in chosen:
            for key in ("mass_address", "shared_phone"):
                if key in found:
                    ids.update(found[key][1])
            for key in ("nominee", "many_directorships"):
                if key in found:
                    ids.add(found[key][0])
                    ids.update(found[key][1])
        names = captions(ctx.store, ids)
        step_lists = [_steps(cid, found, by_id[cid], names) for cid, found, _ in chosen]
        out = []
        for (cid, found, score), steps in zip(chosen, step_lists, strict=True):
            related: list[str] = []
            for key in ("nominee", "many_directorships"):
                if key in found:
                    related += [found[key][0], *found[key][1]]
            for key in ("mass_address", "shared_phone"):
                if key in found:
                    related += list(found[key][1])
            shown = ", ".join(s.replace("_", " ") for s in SIGNS if s in found)
            out.append(
                Finding.make(
                    self.name,
                    min(1.0, score),
                    f"{names.get(cid, cid)} looks like a front company ({shown})",
                    tuple(dict.fromkeys([cid, *related])),
                    tuple(steps),
                    explanation=f"Signs of a front company: {shown}.",
                    metrics={s: 1.0 if s in found else 0.0 for s in SIGNS},
                )
            )
        return out


def _latest(ctx: DetectContext) -> str:
    row = ctx.store.con.execute(
        "SELECT CAST(greatest(max(date), (SELECT max(incorporation_date) FROM nodes)) AS VARCHAR)"
        " FROM edges"
    ).fetchall()
    return str(row[0][0]) if row and row[0][0] else ""


def _shared(ctx: DetectContext, prop: str, minimum: int) -> list[tuple[str, list[str], str]]:
    """Registered companies whose ``prop`` (address or phone) is shared with at least
    ``minimum - 1`` other registered companies: (company, the others, the value)."""
    norm = (
        "trim(regexp_replace(lower(s.value), '[^\\p{L}\\p{N}]+', ' ', 'g'))"
        if prop == "address"
        else "regexp_replace(s.value, '[^0-9]', '', 'g')"
    )
    sql = f"""
        WITH v AS (
          SELECT DISTINCT s.canonical_id AS id, {norm} AS value
          FROM statements s JOIN nodes n ON n.id = s.canonical_id
          WHERE s.prop = ? AND n.incorporation_date IS NOT NULL
        ), g AS (
          SELECT value, list(DISTINCT id ORDER BY id) AS ids FROM v
          WHERE length(value) >= 4
          GROUP BY value HAVING count(DISTINCT id) >= ?
        )
        SELECT v.id, g.ids, v.value FROM v JOIN g ON g.value = v.value ORDER BY v.id
        """
    rows = fetch(
        ctx.store,
        sql,
        [prop, minimum],
    )
    return [(str(r["id"]), [x for x in r["ids"] if x != r["id"]], str(r["value"])) for r in rows]


def _directors(ctx: DetectContext) -> list[tuple[str, str, str, list[str], set[str]]]:
    """(company, director, the directorship, the director's other companies, their
    jurisdictions) for directors of two or more companies."""
    rows = fetch(
        ctx.store,
        """
        WITH d AS (
          SELECT e.source AS director, e.target AS company, any_value(n.country) AS country,
                 min(e.edge_id) AS edge_id
          FROM edges e JOIN nodes n ON n.id = e.target
          WHERE e.kind = 'directorship'
          GROUP BY e.source, e.target
        ), m AS (
          SELECT director, list(DISTINCT company ORDER BY company) AS companies,
                 list(DISTINCT country) FILTER (WHERE country IS NOT NULL) AS countries
          FROM d GROUP BY director HAVING count(DISTINCT company) >= 2
        )
        SELECT d.company, m.director, d.edge_id, m.companies, m.countries
        FROM d JOIN m ON m.director = d.director ORDER BY d.company, m.director
        """,
    )
    return [
        (
            str(r["company"]),
            str(r["director"]),
            str(r["edge_id"]),
            [x for x in r["companies"] if x != r["company"]],
            set(r["countries"] or []),
        )
        for r in rows
    ]


def _substitutes(ctx: DetectContext) -> list[tuple[str, str, str, str]]:
    """(substitute, listed party, why, the listing's entity): companies the
    sanctions-proximity search (with its default parameters) takes for substitutes set up
    around a listing."""
    detector = SanctionsProximity()
    params = {k: v.default for k, v in detector.parameters.items()}

    def run() -> list[tuple[str, str, str, str]]:
        sub = DetectContext(ctx.store, params, detector.name, ctx.cache)
        return [
            (f.entities[0], f.entities[1], f.title, _listing(f))
            for f in detector.detect(sub)
            if not f.metrics.get("renamed") and len(f.entities) > 1
        ]

    return ctx.memo("front_company:substitutes", run)


def _listing(finding: Finding) -> str:
    """The entity of the listing a sanctions-proximity finding starts from."""
    ids = (s.entity_id for s in finding.steps if s.kind == "sanction" and s.entity_id)
    return next(ids, finding.entities[1])


def _steps(
    cid: str, found: dict[str, Any], company: dict[str, Any], names: dict[str, str]
) -> list[Step]:
    steps = [
        Step(
            kind="party",
            source=cid,
            target=None,
            summary=f"{names.get(cid, cid)} ({company.get('country') or 'country unknown'}), "
            f"incorporated {company['incorporated']}",
            entity_id=cid,
            date=company["incorporated"],
        )
    ]
    for key, kind in (("mass_address", "shared_address"), ("shared_phone", "shared_phone")):
        if key in found:
            _, peers = found[key]
            steps.append(
                Step(
                    kind=kind,
                    source=cid,
                    target=peers[0] if peers else None,
                    summary=f"{kind.replace('_', ' ').capitalize()} with {len(peers)} other "
                    f"registered companies: " + ", ".join(names.get(x, x) for x in peers[:5]),
                    entity_id=cid,
                )
            )
    for key in ("nominee", "many_directorships"):
        if key in found:
            director, peers, countries, edge = found[key]
            steps.append(
                Step(
                    kind="directorship",
                    source=director,
                    target=cid,
                    summary=f"{names.get(director, director)} also directs {len(peers)} other "
                    f"companies in {', '.join(countries) or 'unknown countries'}",
                    entity_id=edge,
                )
            )
            break
    if "substitute" in found:
        reason, listed, sanction = found["substitute"]
        steps.append(
            Step(kind="sanction", source=cid, target=listed, summary=reason, entity_id=sanction)
        )
    return steps
