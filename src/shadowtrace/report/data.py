"""The data of the report, gathered from the store as plain JSON-able dictionaries.

Each public function here is the ``gather`` of one built-in section (see
:mod:`shadowtrace.report.sections`); :func:`gather` runs every section and returns
the whole report as one dictionary, which :mod:`shadowtrace.report.html` inlines
into the page and the web app can serve as JSON.

>>> from shadowtrace.store import Store
>>> with Store.open(":memory:") as store:
...     report = gather(store)
>>> [s["id"] for s in report["sections"]]  # an empty store has no flows, inventory, sources
['overview', 'findings']
>>> report["sections"][1]["data"]["total"]
0
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from followthemoney import registry

from shadowtrace import __version__
from shadowtrace.detect.evidence import EVIDENCE_ORDER
from shadowtrace.report.context import ReportContext, ReportOptions, clip
from shadowtrace.store import Store
from shadowtrace.store.views import STATEMENT_ID_SQL

__all__ = [
    "FORMAT_VERSION",
    "findings",
    "flows",
    "gather",
    "inventory",
    "overview",
    "sources",
]

#: Version of the report's data layout; the JS checks it.
FORMAT_VERSION = 1

#: Schemata under ``Asset`` that are not installed equipment (FtM makes a company,
#: a contract, an account and a security assets too).
NOT_EQUIPMENT = ("LegalEntity", "Contract", "BankAccount", "Security")

REJECTED_STATUSES = ("rejected", "returned", "declined", "refused", "blocked")


def gather(
    store: Store,
    options: ReportOptions | None = None,
    sections: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """The whole report as one JSON-able dictionary: ``meta`` and ``sections``.

    Each section is ``{"id", "title", "description", "data"}``, in the order of their
    ``order``; a section whose gather returns ``None`` is left out.
    """
    from shadowtrace.report.sections import available_sections

    ctx = ReportContext(store, options)
    out: list[dict[str, Any]] = []
    chosen = available_sections() if sections is None else sorted(sections, key=lambda s: s.order)
    for section in chosen:
        payload = section.gather(ctx)
        if payload is None:
            continue
        out.append(
            {
                "id": section.id,
                "title": section.title,
                "description": section.description,
                "data": payload,
            }
        )
    return {
        "meta": {
            "format": FORMAT_VERSION,
            "title": ctx.options.title,
            "store": _store_name(store.path),
            "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "shadowtrace_version": __version__,
        },
        "sections": out,
    }


def _store_name(path: str) -> str:
    """The file name of the store, not its full path (which may say whose machine)."""
    return path if path == ":memory:" else _basename(path) or path


# -- helpers -----------------------------------------------------------------------


def _num(value: Any) -> float | None:
    """A finite float, or ``None`` (NaN and infinity are not JSON)."""
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _n(count: int, one: str, many: str | None = None) -> str:
    """
    >>> _n(1, "payment"), _n(1200, "payment")
    ('1 payment', '1,200 payments')
    """
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _basename(name: str | None) -> str | None:
    """The file name of a source, without the folders it was read from (a path can
    say whose machine it was; the name and row are what a reader needs)."""
    if name is None:
        return None
    return name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or name


def typology_label(typology: str) -> str:
    """A readable label for a typology key.

    >>> typology_label("rerouted_payment")
    'Rerouted payment'
    """
    text = typology.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:] if text else typology


def country_label(code: str | None) -> str | None:
    if not code:
        return None
    return str(registry.country.caption(code) or code)


def _countries(codes: Iterable[str | None]) -> dict[str, str]:
    return {c: country_label(c) or c for c in sorted({c for c in codes if c})}


# -- overview ----------------------------------------------------------------------


def overview(ctx: ReportContext) -> dict[str, Any]:
    """Headline figures: what the store holds, what was found, what flows where."""
    counts = ctx.store.con.execute(
        "SELECT count(*), count(DISTINCT entity_id), count(DISTINCT canonical_id), "
        "count(DISTINCT dataset), min(first_seen), max(last_seen) FROM statements"
    ).fetchone()
    assert counts is not None
    statements, records, entities, datasets, first_seen, last_seen = counts
    n_sources = int(ctx.store.scalar("SELECT count(*) FROM sources") or 0)
    rejects = int(ctx.store.scalar("SELECT count(*) FROM rejects") or 0)
    per_dataset = ctx.rows(
        "SELECT dataset, count(DISTINCT entity_id) AS records, count(*) AS statements "
        "FROM statements GROUP BY dataset ORDER BY records DESC, dataset"
    )
    per_schema = ctx.rows(
        "SELECT schema, count(DISTINCT canonical_id) AS entities FROM statements "
        "GROUP BY schema ORDER BY entities DESC, schema"
    )
    summary = ctx.cached("findings_summary", _findings_summary)
    money = ctx.cached("money", _money)
    goods = ctx.cached("goods", _goods)
    equipment = ctx.cached("equipment", _equipment_rows)
    completed = [c for c in money["channels"] if not c["rejected"]]
    rejected = [c for c in money["channels"] if c["rejected"]]
    n_items = len(equipment)
    chinese = sum(1 for e in equipment if e["chinese"])
    period = _period(money, goods)
    money_done = _num(sum(c["value_usd"] or 0 for c in completed))
    n_done = sum(c["count"] for c in completed)
    figures = [
        {"key": "findings", "label": "Findings", "value": summary["total"], "tier": 1,
         "note": f"in {_n(len(summary['typologies']), 'typology', 'typologies')}, "
                 "each with its evidence"},
        {"key": "money", "label": "Money moved", "unit": "USD", "value": money_done, "tier": 1,
         "note": f"{_n(n_done, 'payment or transfer', 'payments and transfers')} "
                 f"in {_n(len(completed), 'channel')}"},
        {"key": "rejected", "label": "Payments rejected", "unit": "USD", "tier": 1,
         "value": _num(sum(c["value_usd"] or 0 for c in rejected)),
         "note": f"{_n(sum(c['count'] for c in rejected), 'payment')} refused by banks"},
        {"key": "goods", "label": "Goods declared", "unit": "USD", "tier": 1,
         "value": _num(sum(r["value_usd"] or 0 for r in goods["routes"])),
         "note": _n(sum(r["count"] for r in goods["routes"]), "customs declaration")},
        {"key": "equipment", "label": "Installed equipment", "value": n_items, "tier": 1,
         "note": f"{chinese / n_items:.0%} from Chinese suppliers" if n_items else
                 "no inventory in the store"},
        {"key": "records", "label": "Records", "value": int(records), "tier": 2},
        {"key": "entities", "label": "Entities after resolution", "value": int(entities),
         "tier": 2},
        {"key": "statements", "label": "Statements", "value": int(statements), "tier": 2},
        {"key": "sources", "label": "Source files", "value": n_sources, "tier": 2},
        {"key": "datasets", "label": "Datasets", "value": int(datasets), "tier": 2},
        {"key": "sanctioned", "label": "Sanctioned entities", "value": len(ctx.sanctioned),
         "tier": 2},
    ]  # fmt: skip
    return {
        "figures": figures,
        "period": period,
        "rejects": rejects,
        "first_seen": _iso(first_seen),
        "last_seen": _iso(last_seen),
        "datasets": per_dataset,
        "schemata": per_schema,
        "typologies": summary["typologies"],
        "channels": money["channels"],
    }


def _period(money: dict[str, Any], goods: dict[str, Any]) -> dict[str, str | None]:
    months = [m["month"] for m in money["monthly"]] + [m["month"] for m in goods["monthly"]]
    months = [m for m in months if m]
    return {"from": min(months) if months else None, "to": max(months) if months else None}


# -- findings ----------------------------------------------------------------------


def _findings_summary(ctx: ReportContext) -> dict[str, Any]:
    if not ctx.table_exists("findings"):
        return {"total": 0, "typologies": []}
    rows = ctx.rows(
        "SELECT typology, count(*) AS count, max(score) AS max_score, "
        "avg(score) AS mean_score FROM findings GROUP BY typology "
        "ORDER BY count DESC, typology"
    )
    about = _typologies()
    for r in rows:
        label, description = about.get(r["typology"], (typology_label(r["typology"]), ""))
        r["label"] = label
        r["description"] = description
        r["max_score"] = _num(r["max_score"])
        r["mean_score"] = _num(r["mean_score"])
    return {"total": sum(int(r["count"]) for r in rows), "typologies": rows}


def _typologies() -> dict[str, tuple[str, str]]:
    """Title and first paragraph of the description of each registered detector."""
    from shadowtrace.detect.registry import detectors

    out = {}
    for name, det in detectors().items():
        text = " ".join(str(det.description).strip().split("\n\n", 1)[0].split())
        # "Rerouted payments: a payment rejected …" says its title twice in a table
        head, sep, rest = text.partition(": ")
        if sep and len(head) <= 60 and rest:
            text = rest[:1].upper() + rest[1:]
        out[name] = (str(det.title), text)
    return out


def findings(ctx: ReportContext) -> dict[str, Any]:
    """Findings ranked by score, each with its steps, the evidence of each step down
    to the source file and row, and the subgraph of the entities involved.

    The ``max_findings`` highest-scoring findings are shown, and with them the best
    ``min_per_typology`` of every typology, so that a typology whose scores run lower
    than another's is not crowded out.
    """
    summary = ctx.cached("findings_summary", _findings_summary)
    labels = {t["typology"]: t["label"] for t in summary["typologies"]}
    opts = ctx.options
    if not summary["total"]:
        return {**summary, "shown": 0, "findings": [], "entities": {}}
    heads = ctx.rows(
        """
        WITH w AS (
          -- scores equal to six places are equal (0.9999999999999999 is 1)
          SELECT *, round(score, 6) AS rounded,
                 row_number() OVER (PARTITION BY typology ORDER BY score DESC, finding_id)
                   AS within
          FROM findings
        ),
        f AS (
          -- equal scores take turns by typology, so that a detector scoring many
          -- findings 1.0 does not fill the list on its own
          SELECT *, row_number() OVER (ORDER BY rounded DESC, within, typology, finding_id)
                      AS overall
          FROM w
        )
        SELECT finding_id, typology, score, title, explanation, entities, metrics,
               detector, run_id, created_at, overall, within
        FROM f WHERE overall <= ? OR within <= ?
        ORDER BY overall
        """,
        [opts.max_findings, opts.min_per_typology],
    )
    ids = [h["finding_id"] for h in heads]
    steps = ctx.rows(
        "SELECT f.* FROM finding_steps f JOIN (SELECT unnest(?) AS id) q "
        "ON q.id = f.finding_id ORDER BY f.finding_id, f.step",
        [ids],
    )
    evidence = _evidence(ctx, ids)
    refs: set[str] = set()
    for h in heads:
        refs.update(h["entities"] or [])
    for s in steps:
        refs.update(x for x in (s["source"], s["target"], s["entity_id"]) if x)
    for items, _ in evidence.values():
        for e in items:
            refs.add(e["entity_id"])
            if e["prop_type"] == "entity" and e["value"]:
                refs.add(e["value"])
    canon = ctx.canonical(refs)

    def c(x: str | None) -> str | None:
        return canon.get(x, x) if x else None

    steps_by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in steps:
        items, total = evidence.get((s["finding_id"], s["step"]), ([], 0))
        steps_by[s["finding_id"]].append(
            {
                "step": int(s["step"]),
                "kind": s["kind"],
                "source": c(s["source"]),
                "target": c(s["target"]),
                "summary": clip(s["summary"], opts.max_text),
                "entity_id": c(s["entity_id"]),
                "date": s["date"],
                "amount": _num(s["amount"]),
                "currency": s["currency"],
                "evidence": _records(items, canon),
                "evidence_total": total,
            }
        )
    candidates = []
    for h in heads:
        fsteps = steps_by.get(h["finding_id"], [])
        ents = [e for e in dict.fromkeys(c(x) for x in h["entities"] or []) if e]
        candidates.append(
            {
                "id": h["finding_id"],
                "rank": int(h["overall"]),  # among all findings
                "typology": h["typology"],
                "typology_label": labels.get(h["typology"]) or typology_label(h["typology"]),
                "score": _num(h["score"]),
                "title": clip(h["title"], opts.max_text),
                "explanation": clip(h["explanation"], opts.max_text * 4),
                "detector": h["detector"],
                "run_id": h["run_id"],
                "created_at": _iso(h["created_at"]),
                "metrics": _metrics(h["metrics"]),
                "entities": ents,
                "steps": fsteps,
                "graph": _finding_graph(ents, fsteps),
            }
        )
    guaranteed = {h["finding_id"] for h in heads if h["within"] <= opts.min_per_typology}
    out = _within_budget(candidates, guaranteed, opts.max_findings_bytes)
    node_ids: set[str] = set()
    for f in out:
        node_ids.update(_mentioned(f))
    entities = ctx.entities(node_ids)
    return {
        **summary,
        "shown": len(out),
        "findings": out,
        "entities": entities,
        "countries": _countries(e.get("country") for e in entities.values()),
    }


def _within_budget(
    candidates: list[dict[str, Any]], guaranteed: set[str], budget: int
) -> list[dict[str, Any]]:
    """The findings that fit in ``budget`` characters of JSON: the best of each
    typology first, then the rest by rank; always at least one. Back in rank order."""
    order = sorted(candidates, key=lambda f: (f["id"] not in guaranteed, f["rank"]))
    kept: list[dict[str, Any]] = []
    used = 0
    for f in order:
        size = len(json.dumps(f, ensure_ascii=False, separators=(",", ":")))
        if kept and used + size > budget:
            continue
        kept.append(f)
        used += size
    return sorted(kept, key=lambda f: f["rank"])


def _mentioned(f: dict[str, Any]) -> set[str]:
    """Every entity a finding's page needs a caption for."""
    ids = {n["id"] for n in f["graph"]["nodes"]}
    for s in f["steps"]:
        if s["entity_id"]:
            ids.add(s["entity_id"])
        for rec in s["evidence"]:
            ids.add(rec.get("canonical_id") or rec["entity_id"])
            ids.update(x["ref"] for x in rec["statements"] if "ref" in x)
    return ids


def _records(items: list[dict[str, Any]], canon: dict[str, str]) -> list[dict[str, Any]]:
    """A step's evidence grouped by the record each statement is about, in the order
    the detector gave. The record carries the file and row its statements share; a
    statement read from elsewhere (a merged record's second source) says so itself.
    A record merged into another entity names it (``canonical_id``); an entity-typed
    value gets ``ref``: the canonical id of the entity it names."""
    records: dict[str, dict[str, Any]] = {}
    for e in items:
        rec = records.get(e["entity_id"])
        if rec is None:
            canonical = e["canonical_id"] or canon.get(e["entity_id"], e["entity_id"])
            rec = records[e["entity_id"]] = {
                "entity_id": e["entity_id"],
                "schema": e["schema"],
                "dataset": e["dataset"],
                "source": e["source"],
                "source_row": e["source_row"],
                "statements": [],
            }
            if canonical != e["entity_id"]:  # the record was merged into another entity
                rec["canonical_id"] = canonical
        st: dict[str, Any] = {"id": e["statement_id"], "prop": e["prop"], "value": e["value"]}
        if e["prop_type"] == "entity" and e["value"]:
            st["ref"] = canon.get(e["value"], e["value"])
        if not e["in_store"]:
            st["missing"] = True
        if (e["source"], e["source_row"]) != (rec["source"], rec["source_row"]):
            st["source"], st["source_row"] = e["source"], e["source_row"]
        rec["statements"].append(st)
    return list(records.values())


def _metrics(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    data = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, dict):
        return {}
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            out[str(k)] = v
        elif isinstance(v, int | float):
            out[str(k)] = _num(v)
    return out


def _evidence(
    ctx: ReportContext, finding_ids: list[str]
) -> dict[tuple[str, int], tuple[list[dict[str, Any]], int]]:
    """Evidence of each step, with the file and row of each statement.

    The file and row stored with the finding are used when present; otherwise they
    are looked up from the statement id (only among the statements of the records
    the evidence names, so the statement ids are hashed for few rows).
    """
    rows = ctx.rows(
        f"""
        WITH fe AS (
          SELECT fe.*, row_number() OVER (
                   PARTITION BY fe.finding_id, fe.step ORDER BY {EVIDENCE_ORDER}) AS n,
                 count(*) OVER (PARTITION BY fe.finding_id, fe.step) AS total
          FROM finding_evidence fe JOIN (SELECT unnest(?) AS id) q ON q.id = fe.finding_id
        ),
        fk AS (SELECT * FROM fe WHERE n <= ?),
        st AS (
          SELECT {STATEMENT_ID_SQL} AS id, entity_id, canonical_id, dataset, schema, prop_type,
                 source_id, source_row
          FROM statements WHERE entity_id IN (SELECT entity_id FROM fk)
        ),
        s AS (
          SELECT st.*, src.name AS source
          FROM st LEFT JOIN sources src ON src.source_id = st.source_id
        )
        SELECT fk.finding_id, fk.step, fk.statement_id, fk.entity_id, fk.prop, fk.value,
               coalesce(fk.source, s.source) AS source,
               coalesce(fk.source_row, s.source_row) AS source_row,
               s.dataset, s.schema, s.prop_type, s.canonical_id, fk.total,
               s.id IS NOT NULL AS in_store
        FROM fk LEFT JOIN s ON s.id = fk.statement_id AND s.entity_id = fk.entity_id
        ORDER BY fk.finding_id, fk.step, fk.n
        """,
        [finding_ids, ctx.options.max_evidence],
    )
    out: dict[tuple[str, int], tuple[list[dict[str, Any]], int]] = {}
    limit = ctx.options.max_text
    for r in rows:
        key = (r["finding_id"], int(r["step"]))
        items, _ = out.get(key, ([], 0))
        items.append(
            {
                "statement_id": r["statement_id"],
                "entity_id": r["entity_id"],
                "canonical_id": r["canonical_id"],
                "prop": r["prop"],
                "prop_type": r["prop_type"],
                "value": clip(r["value"], limit),
                "source": _basename(r["source"]),
                "source_row": int(r["source_row"]) if r["source_row"] is not None else None,
                "dataset": r["dataset"],
                "schema": r["schema"],
                "in_store": bool(r["in_store"]),
            }
        )
        out[key] = (items, int(r["total"]))
    return out


def _finding_graph(entities: list[str], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Nodes (the finding's entities and every step's ends) and edges (the steps)."""
    nodes: dict[str, dict[str, Any]] = {}
    for e in entities:
        nodes[e] = {"id": e, "focus": True}
    edges = []
    for s in steps:
        for end in (s["source"], s["target"]):
            if end and end not in nodes:
                nodes[end] = {"id": end, "focus": False}
        if s["source"] and s["target"]:
            edges.append(
                {
                    "id": f"s{s['step']}",
                    "source": s["source"],
                    "target": s["target"],
                    "kind": s["kind"],
                    "step": s["step"],
                }
            )
    return {"nodes": list(nodes.values()), "edges": edges}


# -- flows -------------------------------------------------------------------------


def _channel(schema: str, rejected: bool, platform: str | None, currency: str | None) -> str:
    """The channel key of a payment: how the money moved."""
    if schema == "CryptoTransfer":
        return f"crypto:{currency or '?'}"
    if schema == "AppPayment":
        return f"app:{platform or '?'}"
    if schema == "CashCurrencySale":
        return "cash"
    if schema == "NettingTransaction":
        return "netting"
    if schema == "BankPayment":
        return "bank:rejected" if rejected else "bank"
    return "bank:rejected" if rejected else "payment"


def channel_label(key: str) -> str:
    """
    >>> channel_label("app:Alipay")
    'App payment (Alipay)'
    """
    kind, _, detail = key.partition(":")
    if kind == "crypto":
        return f"Crypto transfer ({detail})"
    if kind == "app":
        return f"App payment ({detail})"
    return {
        "cash": "Cash currency sale",
        "netting": "Netting (offset) transaction",
        "bank": "Bank transfer, rejected" if detail == "rejected" else "Bank transfer",
        "payment": "Payment, rejected" if detail == "rejected" else "Payment",
    }.get(kind, key)


def _money(ctx: ReportContext) -> dict[str, Any]:
    """Money by channel: totals, payer country → channel → beneficiary country links,
    and monthly series, in US dollars at the report's rates."""
    rates_sql, rate_params = ctx.to_usd_sql()
    statuses = list(REJECTED_STATUSES)
    payments = ctx.rows(
        f"""
        WITH legs AS (
          SELECT DISTINCT coalesce(r.canonical_id, s.value) AS id
          FROM statements s LEFT JOIN resolution r ON r.entity_id = s.value
          WHERE s.prop IN ('domesticLeg', 'foreignLeg')
        ),
        c AS (
          SELECT canonical_id AS id, coalesce(
            min(value) FILTER (WHERE prop = 'country'),
            min(value) FILTER (WHERE prop = 'jurisdiction'),
            min(value) FILTER (WHERE prop = 'nationality')) AS country
          FROM statements WHERE prop IN ('country', 'jurisdiction', 'nationality')
          GROUP BY canonical_id
        ),
        p AS (
          SELECT p.schema, p.platform, upper(p.currency) AS currency, p.date,
                 (p.rejection_reason IS NOT NULL
                  OR list_contains(?::VARCHAR[], lower(p.status))) AS rejected,
                 coalesce(p.amount_usd, p.amount * r.usd) AS value_usd,
                 pc.country AS payer_country, bc.country AS beneficiary_country
          FROM payments p
          LEFT JOIN {rates_sql} r ON r.currency = upper(p.currency)
          LEFT JOIN c pc ON pc.id = p.payer
          LEFT JOIN c bc ON bc.id = p.beneficiary
          WHERE p.schema <> 'CryptoTransfer' AND p.id NOT IN (SELECT id FROM legs)
          UNION ALL
          SELECT 'CryptoTransfer', NULL, upper(t.currency), t.date, FALSE,
                 t.amount * r.usd,
                 pc.country, bc.country
          FROM transfers t
          LEFT JOIN {rates_sql} r ON r.currency = upper(t.currency)
          LEFT JOIN wallets ws ON ws.id = t.source_wallet
          LEFT JOIN wallets wt ON wt.id = t.target_wallet
          LEFT JOIN c pc ON pc.id = coalesce(t.payer, ws.holder)
          LEFT JOIN c bc ON bc.id = coalesce(t.beneficiary, wt.holder)
        )
        SELECT schema, rejected, platform, currency,
               payer_country, beneficiary_country, strftime(date, '%Y-%m') AS month,
               grouping(payer_country) AS by_month,
               count(*) AS count, sum(value_usd) AS value_usd,
               count(*) - count(value_usd) AS unpriced
        FROM p
        GROUP BY GROUPING SETS (
          (schema, rejected, platform, currency, payer_country, beneficiary_country),
          (schema, rejected, platform, currency, month))
        """,
        [statuses, *rate_params, *rate_params],
    )
    channels: dict[str, dict[str, Any]] = {}
    links: dict[tuple[str | None, str, str | None], dict[str, Any]] = {}
    monthly: dict[tuple[str, str], dict[str, Any]] = {}
    for r in payments:
        key = _channel(r["schema"], bool(r["rejected"]), r["platform"], r["currency"])
        value = _num(r["value_usd"]) or 0.0
        if r["by_month"]:
            if r["month"] is None:
                continue
            m = monthly.setdefault(
                (r["month"], key), {"month": r["month"], "channel": key, "count": 0,
                                    "value_usd": 0.0}
            )  # fmt: skip
            m["count"] += int(r["count"])
            m["value_usd"] += value
            continue
        ch = channels.setdefault(
            key,
            {"key": key, "label": channel_label(key), "rejected": bool(r["rejected"]),
             "count": 0, "value_usd": 0.0, "unpriced": 0, "currencies": Counter()},
        )  # fmt: skip
        ch["count"] += int(r["count"])
        ch["value_usd"] += value
        ch["unpriced"] += int(r["unpriced"])
        if r["currency"]:
            ch["currencies"][r["currency"]] += int(r["count"])
        lk = (r["payer_country"], key, r["beneficiary_country"])
        link = links.setdefault(
            lk, {"from": lk[0], "channel": key, "to": lk[2], "count": 0, "value_usd": 0.0}
        )
        link["count"] += int(r["count"])
        link["value_usd"] += value
    chans = sorted(channels.values(), key=lambda c: (-c["value_usd"], c["key"]))
    for ch in chans:
        ch["currencies"] = [c for c, _ in ch["currencies"].most_common()]
    codes = [lk[0] for lk in links] + [lk[2] for lk in links]
    return {
        "channels": chans,
        "links": sorted(
            links.values(),
            key=lambda x: (-x["value_usd"], x["from"] or "", x["channel"], x["to"] or ""),
        ),
        "monthly": sorted(monthly.values(), key=lambda x: (x["month"], x["channel"])),
        "countries": _countries(codes),
    }


def _goods(ctx: ReportContext) -> dict[str, Any]:
    """Goods by route (origin → country of departure → destination), by month and by
    HS chapter, valued in US dollars with each declaration's own dollar rate."""
    rows = ctx.rows(
        """
        WITH rate AS (
          SELECT canonical_id AS id,
                 min(TRY_CAST(replace(value, ',', '') AS DOUBLE)) AS usd_rate
          FROM statements WHERE prop = 'dollarExchRate' GROUP BY canonical_id
        ),
        g AS (
          SELECT s.origin_country AS origin,
                 CASE WHEN s.departure_country IS NOT NULL
                       AND s.departure_country IS DISTINCT FROM s.origin_country
                      THEN s.departure_country END AS via,
                 s.destination_country AS destination,
                 strftime(s.date, '%Y-%m') AS month,
                 left(s.hs_code, 2) AS chapter, s.goods,
                 s.customs_amount / nullif(rate.usd_rate, 0) AS value_usd,
                 s.net_weight
          FROM shipments s LEFT JOIN rate ON rate.id = s.id
        )
        SELECT origin, via, destination, month, chapter,
               grouping(origin) AS g_origin, grouping(month) AS g_month,
               via IS NOT NULL AS transit,
               count(*) AS count, sum(value_usd) AS value_usd,
               count(*) - count(value_usd) AS unpriced, sum(net_weight) AS net_weight,
               mode(goods) AS goods
        FROM g
        GROUP BY GROUPING SETS ((origin, via, destination), (month, transit), (chapter))
        """
    )
    routes, monthly, chapters = [], [], []
    for r in rows:
        base = {
            "count": int(r["count"]),
            "value_usd": _num(r["value_usd"]) or 0.0,
            "unpriced": int(r["unpriced"]),
        }
        if not r["g_origin"]:
            routes.append(
                {"origin": r["origin"], "via": r["via"], "destination": r["destination"],
                 "net_weight": _num(r["net_weight"]), **base}
            )  # fmt: skip
        elif not r["g_month"]:
            if r["month"] is not None:
                monthly.append(
                    {"month": r["month"], "route": "transit" if r["transit"] else "direct",
                     **base}
                )  # fmt: skip
        else:
            chapters.append({"chapter": r["chapter"], "goods": clip(r["goods"], 200), **base})
    codes = [c for r in routes for c in (r["origin"], r["via"], r["destination"])]
    return {
        "routes": sorted(
            routes,
            key=lambda x: (
                -x["value_usd"],
                x["origin"] or "",
                x["via"] or "",
                x["destination"] or "",
            ),
        ),
        "monthly": sorted(monthly, key=lambda x: (x["month"], x["route"])),
        "chapters": sorted(chapters, key=lambda x: (-x["value_usd"], x["chapter"] or ""))[
            : ctx.options.top
        ],
        "countries": _countries(codes),
    }


def flows(ctx: ReportContext) -> dict[str, Any] | None:
    """Money by payment channel and goods by route, for Sankey diagrams and series."""
    money = ctx.cached("money", _money)
    goods = ctx.cached("goods", _goods)
    if not money["channels"] and not goods["routes"]:
        return None
    used = {c for ch in money["channels"] for c in ch["currencies"]}
    rates = ctx.options.rates_to_usd
    return {
        "money": money,
        "goods": goods,
        "rates": {c: rates[c] for c in sorted(used) if c in rates},
        "unpriced_currencies": sorted(c for c in used if c not in rates),
        "countries": {**money["countries"], **goods["countries"]},
    }


# -- inventory ---------------------------------------------------------------------


def _equipment_rows(ctx: ReportContext) -> list[dict[str, Any]]:
    """One row per installed item with its supplier origin and flags."""
    rows = ctx.rows(
        """
        SELECT e.id, e.category, e.site, e.region, e.operator, e.manufacturer,
               e.supplier, e.parts_supplier, e.serves_population, e.output_capacity,
               e.output_unit, e.status
        FROM equipment e JOIN ftm_schemata m ON m.name = e.schema
        WHERE NOT list_has_any(m.ancestors, ?::VARCHAR[])
        """,
        [list(NOT_EQUIPMENT)],
    )
    countries = ctx.countries
    sanctioned = ctx.sanctioned
    chinese = ctx.options.chinese_countries
    for r in rows:
        parties = [r["manufacturer"], r["supplier"], r["parts_supplier"]]
        origin = countries.get(r["manufacturer"] or "") or countries.get(r["supplier"] or "")
        r["origin"] = origin
        r["chinese"] = any(countries.get(p or "") in chinese for p in parties)
        r["sanctioned"] = any(p in sanctioned for p in parties if p)
        r["operator_sanctioned"] = r["operator"] in sanctioned if r["operator"] else False
    return rows


def inventory(ctx: ReportContext) -> dict[str, Any] | None:
    """The infrastructure dependency inventory: installed equipment by category,
    supplier origin, region, supplier and operator, with Chinese and sanctioned
    suppliers flagged."""
    items = ctx.cached("equipment", _equipment_rows)
    if not items:
        return None
    top = ctx.options.top

    def tally(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
        rows = list(rows)
        return {
            "items": len(rows),
            "chinese": sum(1 for r in rows if r["chinese"]),
            "sanctioned": sum(1 for r in rows if r["sanctioned"]),
            "people_served": _num(sum(r["serves_population"] or 0 for r in rows)),
        }

    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_region: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_origin: dict[tuple[str, str], int] = Counter()
    by_operator: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_supplier: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    by_site: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in items:
        if r["site"]:
            by_site[(r["site"], r["region"] or "")].append(r)
        cat = r["category"] or "other"
        by_cat[cat].append(r)
        by_region[r["region"] or ""].append(r)
        by_origin[(r["origin"] or "", cat)] += 1
        if r["operator"]:
            by_operator[r["operator"]].append(r)
        for role in ("manufacturer", "supplier", "parts_supplier"):
            if r[role]:
                by_supplier[(r[role], role)].append(r)
    categories: list[dict[str, Any]] = []
    for cat, rows in by_cat.items():
        units = Counter(r["output_unit"] for r in rows if r["output_unit"])
        categories.append(
            {
                "category": cat,
                **tally(rows),
                "sites": len({r["site"] for r in rows if r["site"]}),
                "operators": len({r["operator"] for r in rows if r["operator"]}),
                "output_capacity": _num(sum(r["output_capacity"] or 0 for r in rows)),
                "output_unit": units.most_common(1)[0][0] if len(units) == 1 else None,
            }
        )
    categories.sort(key=lambda x: (-x["items"], x["category"]))
    regions: list[dict[str, Any]] = [
        {"region": k or None, **tally(v)} for k, v in by_region.items()
    ]
    regions.sort(key=lambda x: (-x["items"], x["region"] or ""))
    origins: list[dict[str, Any]] = [
        {"country": k[0] or None, "category": k[1], "items": n} for k, n in by_origin.items()
    ]
    origins.sort(key=lambda x: (-x["items"], x["country"] or "", x["category"]))
    operators: list[dict[str, Any]] = []
    for op, rows in by_operator.items():
        sup = {r[k] for r in rows for k in ("manufacturer", "supplier", "parts_supplier") if r[k]}
        operators.append(
            {
                "id": op,
                **tally(rows),
                "sites": len({r["site"] for r in rows if r["site"]}),
                "regions": sorted({r["region"] for r in rows if r["region"]}),
                "categories": sorted({r["category"] for r in rows if r["category"]}),
                "suppliers": len(sup),
                "sanctioned_suppliers": len(sup & ctx.sanctioned),
            }
        )
    operators.sort(key=lambda x: (-x["items"], x["id"]))
    suppliers: list[dict[str, Any]] = []
    for (sid, role), rows in by_supplier.items():
        suppliers.append(
            {
                "id": sid,
                "role": role,
                "items": len(rows),
                "operators": len({r["operator"] for r in rows if r["operator"]}),
                "regions": sorted({r["region"] for r in rows if r["region"]}),
                "categories": sorted({r["category"] for r in rows if r["category"]}),
                "people_served": _num(sum(r["serves_population"] or 0 for r in rows)),
            }
        )
    suppliers.sort(key=lambda x: (-x["items"], x["id"], x["role"]))
    # The suppliers everyone sees first: the biggest, and every sanctioned one.
    shown = suppliers[:top] + [s for s in suppliers[top:] if s["id"] in ctx.sanctioned]
    operators_shown = operators[:top]
    sites: list[dict[str, Any]] = []
    for (site, region), rows in by_site.items():
        ops = sorted({r["operator"] for r in rows if r["operator"]})
        sites.append(
            {
                "site": clip(site, 200),
                "region": region or None,
                **tally(rows),
                "operators": ops[:3],
                "operators_total": len(ops),
                "categories": sorted({r["category"] for r in rows if r["category"]}),
            }
        )
    sites.sort(key=lambda x: (-x["items"], -x["sanctioned"], x["site"]))
    sites_shown = sites[:top]
    entities = ctx.entities(
        {s["id"] for s in shown}
        | {o["id"] for o in operators_shown}
        | {op for site in sites_shown for op in site["operators"]}
    )
    return {
        "total": tally(items),
        "categories": categories,
        "regions": regions,
        "origins": origins,
        "suppliers": shown,
        "suppliers_top": min(top, len(suppliers)),
        "suppliers_total": len(suppliers),
        "operators": operators_shown,
        "operators_total": len(operators),
        "sites": sites_shown,
        "sites_total": len(sites),
        "entities": entities,
        "countries": _countries(
            [o["country"] for o in origins] + [e.get("country") for e in entities.values()]
        ),
        "chinese_countries": sorted(ctx.options.chinese_countries),
    }


# -- sources -----------------------------------------------------------------------


def sources(ctx: ReportContext) -> dict[str, Any] | None:
    """The source files the store was read from, with their row counts."""
    rows = ctx.rows(
        "SELECT source_id, name, dataset, format, rows_in, rows_stored, rows_rejected, "
        "rows_filtered, size_bytes, left(sha256, 16) AS sha256, run_id "
        "FROM sources ORDER BY source_id"
    )
    if not rows:
        return None
    for r in rows:
        r["name"] = _basename(r["name"])
    return {"sources": rows}
