"""Cash-yuan structuring: branch sales split to stay under a reporting threshold.

A cash currency sale is *near the threshold* when what the buyer paid (converted to
``threshold_currency``) is at least ``near_share`` of ``threshold`` and below it. A
buyer (the person, or the identity document shown, when resolution split the person)
structures when at least ``min_near`` of their purchases are near the threshold, these
are at least ``min_near_share`` of all their purchases (an ordinary customer's rare
large purchase is not a pattern), and together they exceed the threshold: money that
would have been reported in one operation went through in pieces, often at several
branches. Each such buyer is a finding, listing their sales near the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import (
    captions,
    fetch,
    fx_param,
    fx_table,
    money,
    unregister,
)
from shadowtrace.detect.finding import Finding, Step
from shadowtrace.store.sql import ident

__all__ = ["CashStructuring"]


class CashStructuring:
    name = "cash_structuring"
    title = "Cash-yuan structuring"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        "threshold": Param(
            600_000.0,
            "Reporting threshold for a cash operation (Russian mandatory control: 600,000 "
            "roubles, Federal Law 115-FZ, art. 6).",
            0.0,
        ),
        "threshold_currency": Param("RUB", "Currency of the threshold."),
        "near_share": Param(
            0.7, "A sale at or above this share of the threshold is near it.", 0.0, 1.0
        ),
        "min_near": Param(3, "Fewest sales near the threshold for a finding.", 1),
        "min_near_share": Param(
            0.5, "Least share of the buyer's purchases that are near the threshold.", 0.0, 1.0
        ),
        "max_steps": Param(200, "Most sales listed as steps of one finding.", 1, 100000),
        "fx_per_usd": fx_param(),
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        fx = fx_table(ctx, "_cs_fx")
        thr_cur = p["threshold_currency"].upper()
        try:
            sql = f"""
                WITH t AS (SELECT per_usd FROM {ident(fx)} WHERE currency = ?),
                s AS (
                  SELECT e.edge_id, e.source AS buyer, e.target AS branch,
                         coalesce(e.value, e.source) AS buyer_key,
                         CAST(e.date AS VARCHAR) AS date, e.amount, e.currency,
                         e.paid_amount, e.paid_currency,
                         CASE WHEN e.paid_amount IS NOT NULL AND e.paid_currency = ?
                                THEN e.paid_amount
                              WHEN e.paid_amount IS NOT NULL
                                THEN e.paid_amount / fp.per_usd * t.per_usd
                              ELSE e.amount / fa.per_usd * t.per_usd END AS value
                  FROM edges e CROSS JOIN t
                  LEFT JOIN {ident(fx)} fp ON fp.currency = e.paid_currency
                  LEFT JOIN {ident(fx)} fa ON fa.currency = e.currency
                  WHERE e.kind = 'cash_sale'
                ), b AS (
                  SELECT buyer_key, count(*) AS n,
                         count(*) FILTER (WHERE value >= ? * ? AND value < ?) AS n_near,
                         sum(value) FILTER (WHERE value >= ? * ? AND value < ?) AS near_total
                  FROM s GROUP BY buyer_key
                )
                SELECT s.*, b.n, b.n_near, b.near_total
                FROM s JOIN b ON b.buyer_key = s.buyer_key
                WHERE b.n_near >= ? AND b.n_near >= ? * b.n AND b.near_total > ?
                  AND s.value >= ? * ? AND s.value < ?
                ORDER BY s.buyer_key, s.date, s.edge_id
                """
            rows = fetch(
                ctx.store,
                sql,
                [thr_cur, thr_cur]
                + [p["near_share"], p["threshold"], p["threshold"]] * 2
                + [p["min_near"], p["min_near_share"], p["threshold"]]
                + [p["near_share"], p["threshold"], p["threshold"]],
            )
        finally:
            unregister(ctx.store, fx)
        by_buyer: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_buyer.setdefault(str(r["buyer_key"]), []).append(r)
        ids = {str(r["buyer"]) for r in rows} | {str(r["branch"]) for r in rows}
        names = captions(ctx.store, ids)
        step_lists: list[list[Step]] = []
        for sales in by_buyer.values():
            step_lists.append(
                [
                    Step(
                        kind="cash_sale",
                        source=str(r["buyer"]),
                        target=str(r["branch"]),
                        summary=f"Bought {money(r['amount'], r['currency'])} for "
                        f"{money(r['value'], thr_cur)} ({r['value'] / p['threshold']:.0%} of "
                        f"the threshold) at {names.get(r['branch'])}",
                        entity_id=str(r["edge_id"]),
                        date=r["date"],
                        amount=r["amount"],
                        currency=r["currency"],
                    )
                    for r in sales[: p["max_steps"]]
                ]
            )
        out = []
        for sales, steps in zip(by_buyer.values(), step_lists, strict=True):
            first = sales[0]
            buyers = list(dict.fromkeys(str(r["buyer"]) for r in sales))
            branches = list(dict.fromkeys(str(r["branch"]) for r in sales))
            share = first["n_near"] / first["n"]
            out.append(
                Finding.make(
                    self.name,
                    0.5 + 0.3 * share + 0.2 * min(1.0, len(branches) / 5),
                    f"{names.get(buyers[0])} bought cash yuan {first['n_near']} times just under "
                    "the reporting threshold",
                    tuple(buyers + branches),
                    tuple(steps),
                    explanation=(
                        f"{first['n_near']} of {first['n']} purchases were between "
                        f"{p['near_share']:.0%} and 100% of the "
                        f"{money(p['threshold'], thr_cur)} threshold, together "
                        f"{money(first['near_total'], thr_cur)}, at {len(branches)} branches "
                        f"from {sales[0]['date']} to {sales[-1]['date']}."
                    ),
                    metrics={
                        "purchases": float(first["n"]),
                        "near_threshold": float(first["n_near"]),
                        "near_total": float(first["near_total"]),
                        "branches": float(len(branches)),
                    },
                )
            )
        return out
