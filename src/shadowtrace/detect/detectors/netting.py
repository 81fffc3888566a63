"""Netting ("friend") transactions: mirrored domestic payments in Russia and in China with
matching value and timing, and no cross-border leg.

A client whose payment to a Chinese supplier was rejected pays a broker's agent in
Russia in roubles (the value plus a fee); within days the broker's agent in China pays
the supplier the value in yuan. Nothing crosses the border. The detector pairs the
two domestic legs around each rejected payment (the rerouting search of
:mod:`.rerouted`) and keeps the pairs that are mirrored: the legs are
``mirror_window_days`` apart at most, the roubles leg stays within ``home_countries``,
the yuan leg within ``away_countries``, no payment runs from the rouble agent to the
yuan agent, and neither agent holds a crypto wallet (that would be a stablecoin rail).

Entries of a broker's seized ledger (``NettingTransaction`` records) are findings too;
their legs are found among the bank payments by message id, and an entry that names
the legs of a mirrored pair joins that pair's finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pyarrow as pa

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import (
    RU_AND_OCCUPIED,
    captions,
    fetch,
    money,
    register,
    unregister,
)
from shadowtrace.detect.detectors.rerouted import PARAMS as REROUTE_PARAMS
from shadowtrace.detect.detectors.rerouted import rejected_reroutes
from shadowtrace.detect.finding import Finding, Step

__all__ = ["Netting"]


class Netting:
    name = "netting"
    title = "Netting (friend) transactions"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        **REROUTE_PARAMS,
        "mirror_window_days": Param(
            3, "Most days between the rouble leg and the yuan leg of a mirrored pair.", 0, 365
        ),
        "home_countries": Param(list(RU_AND_OCCUPIED), "Where the client's leg stays."),
        "away_countries": Param(["cn"], "Where the supplier's leg stays."),
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        rows = [r for r in rejected_reroutes(ctx) if r["in_id"] and r["in_node"] != r["out_node"]]
        rows = [r for r in rows if not r["path"]]
        ids = {x for r in rows for x in (r["payer"], r["beneficiary"], r["out_node"], r["in_node"])}
        info = _parties(ctx, ids)
        home, away = set(p["home_countries"]), set(p["away_countries"])
        pairs = []
        for r in rows:
            out_leg, in_leg = r["legs"][r["out_id"]], r["legs"][r["in_id"]]
            gap = _days(out_leg["date"], in_leg["date"])
            if gap is None or abs(gap) > p["mirror_window_days"]:
                continue
            x, y = info.get(r["out_node"], {}), info.get(r["in_node"], {})
            if x.get("wallets") or y.get("wallets"):
                continue
            if not (
                _inside(info, (r["payer"], r["out_node"]), home, out_leg["currency"], "RUB")
                and _inside(info, (r["in_node"], r["beneficiary"]), away, in_leg["currency"], "CNY")
            ):
                continue
            pairs.append(r)
        ledger = _ledger(ctx)
        by_leg: dict[str, dict[str, Any]] = {}
        for item in ledger:
            for leg in item["legs"]:
                by_leg[leg] = item
        names = captions(ctx.store, ids | {x for e in ledger for x in e["parties"]})
        findings: list[tuple[list[Step], dict[str, Any]]] = []
        used: set[str] = set()
        for r in pairs:
            out_leg, in_leg = r["legs"][r["out_id"]], r["legs"][r["in_id"]]
            entry = by_leg.get(r["out_id"]) or by_leg.get(r["in_id"])
            steps = [
                Step(
                    kind="rejected_payment",
                    source=r["payer"],
                    target=r["beneficiary"],
                    summary=f"Cross-border payment of {money(r['amount'], r['currency'])} rejected",
                    entity_id=r["rid"],
                    date=r["date"],
                    amount=r["amount"],
                    currency=r["currency"],
                ),
                _leg(
                    "payment",
                    out_leg,
                    f"Domestic leg: {names.get(r['payer'])} paid "
                    f"{names.get(r['out_node'])} {money(out_leg['amount'], out_leg['currency'])}",
                ),
                _leg(
                    "payment",
                    in_leg,
                    f"Mirrored leg: {names.get(r['in_node'])} paid "
                    f"{names.get(r['beneficiary'])} {money(in_leg['amount'], in_leg['currency'])}",
                ),
            ]
            if entry is not None:
                used.add(entry["id"])
                steps.append(_ledger_step(entry))
            findings.append(
                (
                    steps,
                    {
                        "score": 0.9 if entry else 0.8,
                        "entities": [r["payer"], r["out_node"], r["in_node"], r["beneficiary"]],
                        "title": f"Netting: {names.get(r['payer'])} paid "
                        f"{names.get(r['beneficiary'])} through {names.get(r['out_node'])} and "
                        f"{names.get(r['in_node'])}",
                        "explanation": "A rejected cross-border payment was settled by two "
                        "mirrored domestic payments of matching value "
                        f"({r['fee']:.1%} fee), {abs(_days(out_leg['date'], in_leg['date']) or 0)}"
                        " days apart, with no payment between the two agents.",
                        "metrics": {"fee": float(r["fee"]), "ledger": 1.0 if entry else 0.0},
                    },
                )
            )
        for entry in ledger:
            if entry["id"] in used:
                continue
            steps = [_ledger_step(entry)]
            steps += [_leg("payment", leg, "Leg named in the ledger") for leg in entry["leg_rows"]]
            findings.append(
                (
                    steps,
                    {
                        "score": 0.85 if entry["leg_rows"] else 0.7,
                        "entities": entry["parties"],
                        "title": f"Netting entry in a broker's ledger: "
                        f"{names.get(entry['payer'], entry['payer'])} → "
                        f"{names.get(entry['beneficiary'], entry['beneficiary'])}",
                        "explanation": "A broker's ledger records a netting transaction"
                        + (
                            f"; {len(entry['leg_rows'])} of its legs are among the bank payments."
                            if entry["leg_rows"]
                            else "."
                        ),
                        "metrics": {"ledger": 1.0, "legs_found": float(len(entry["leg_rows"]))},
                    },
                )
            )
        return [
            Finding.make(
                self.name,
                meta["score"],
                meta["title"],
                tuple(dict.fromkeys(x for x in meta["entities"] if x)),
                tuple(steps),
                explanation=meta["explanation"],
                metrics=meta["metrics"],
            )
            for steps, meta in findings
        ]


def _days(a: str | None, b: str | None) -> int | None:
    if not a or not b:
        return None
    return (date.fromisoformat(b[:10]) - date.fromisoformat(a[:10])).days


def _inside(
    info: dict[str, dict[str, Any]],
    parties: tuple[str, str],
    countries: set[str],
    currency: str | None,
    fallback: str,
) -> bool:
    """Both parties are in ``countries`` (where a country is unknown, the leg's currency
    stands in for it)."""
    for party in parties:
        country = info.get(party, {}).get("country")
        if country is None:
            if (currency or "").upper() != fallback:
                return False
        elif country not in countries:
            return False
    return True


def _payments(ctx: DetectContext, ids: set[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    register(ctx.store, "_nt_pay", pa.table({"id": pa.array(sorted(ids), pa.string())}))
    try:
        rows = fetch(
            ctx.store,
            """
            SELECT e.edge_id, e.source, e.target, CAST(e.date AS VARCHAR) AS date, e.amount,
                   e.currency
            FROM edges e JOIN _nt_pay i ON i.id = e.edge_id WHERE e.kind = 'payment'
            """,
        )
    finally:
        unregister(ctx.store, "_nt_pay")
    return {str(r["edge_id"]): r for r in rows}


def _parties(ctx: DetectContext, ids: set[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    register(ctx.store, "_nt_ids", pa.table({"id": pa.array(sorted(ids), pa.string())}))
    try:
        rows = fetch(
            ctx.store,
            """
            SELECT i.id, n.country,
                   EXISTS (SELECT 1 FROM edges e WHERE e.kind = 'wallet_holder'
                           AND e.source = i.id) AS wallets
            FROM _nt_ids i LEFT JOIN nodes n ON n.id = i.id
            """,
        )
    finally:
        unregister(ctx.store, "_nt_ids")
    return {str(r["id"]): r for r in rows}


def _ledger(ctx: DetectContext) -> list[dict[str, Any]]:
    """Ledger entries (netting records) with their legs found by message id."""
    entries = fetch(
        ctx.store,
        """
        SELECT e.edge_id AS id, e.source AS payer, e.target AS beneficiary,
               CAST(e.date AS VARCHAR) AS date, e.amount, e.currency
        FROM edges e WHERE e.kind = 'netting' ORDER BY e.edge_id
        """,
    )
    if not entries:
        return []
    legs = fetch(
        ctx.store,
        """
        WITH refs AS (
          SELECT s.canonical_id AS netting, s.prop, s.value AS leg_ref
          FROM statements s
          WHERE s.schema = 'NettingTransaction' AND s.prop IN ('domesticLeg', 'foreignLeg',
                                                                 'broker')
        ), leg_msg AS (
          SELECT r.netting, r.leg_ref, m.value AS msg
          FROM refs r JOIN statements m ON m.entity_id = r.leg_ref AND m.prop = 'messageId'
          WHERE r.prop IN ('domesticLeg', 'foreignLeg')
        ), pay AS (
          SELECT m.value AS msg, m.canonical_id AS payment
          FROM statements m
          WHERE m.prop = 'messageId' AND m.schema = 'BankPayment'
            AND m.value IN (SELECT msg FROM leg_msg)
        )
        SELECT DISTINCT l.netting, p.payment, NULL AS broker
        FROM leg_msg l JOIN pay p ON p.msg = l.msg
        UNION ALL
        SELECT DISTINCT r.netting, NULL, coalesce(res.canonical_id, r.leg_ref)
        FROM refs r LEFT JOIN resolution res ON res.entity_id = r.leg_ref
        WHERE r.prop = 'broker'
        """,
    )
    rows = _payments(ctx, {str(r["payment"]) for r in legs if r["payment"]})
    by_entry: dict[str, dict[str, Any]] = {
        str(e["id"]): {**e, "legs": [], "leg_rows": [], "broker": None} for e in entries
    }
    for row in legs:
        entry = by_entry.get(str(row["netting"]))
        if entry is None:
            continue
        payment = row["payment"]
        if payment and payment != entry["id"] and payment in rows and payment not in entry["legs"]:
            entry["legs"].append(payment)
            entry["leg_rows"].append(rows[payment])
        if row["broker"]:
            entry["broker"] = row["broker"]
    for entry in by_entry.values():
        parties = [entry["payer"], entry["broker"], entry["beneficiary"]]
        parties += [x for leg in entry["leg_rows"] for x in (leg["source"], leg["target"])]
        entry["parties"] = list(dict.fromkeys(x for x in parties if x))
    return list(by_entry.values())


def _leg(kind: str, leg: dict[str, Any], summary: str) -> Step:
    return Step(
        kind=kind,
        source=str(leg["source"]),
        target=str(leg["target"]),
        summary=summary,
        entity_id=str(leg["edge_id"]),
        date=leg["date"],
        amount=leg["amount"],
        currency=leg["currency"],
    )


def _ledger_step(entry: dict[str, Any]) -> Step:
    return Step(
        kind="netting",
        source=str(entry["payer"]),
        target=str(entry["beneficiary"]),
        summary=f"Ledger entry of {money(entry['amount'], entry['currency'])}"
        + (f" by broker {entry['broker']}" if entry.get("broker") else ""),
        entity_id=str(entry["id"]),
        date=entry["date"],
        amount=entry["amount"],
        currency=entry["currency"],
    )
