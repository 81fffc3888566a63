"""Rerouted payments: a payment rejected by a bank, followed by the same value plus an
intermediary's fee (8–15 % by default) travelling through intermediaries.

For each rejected payment (payer A → beneficiary B, value v):

* the *out-leg*: within ``out_window_days``, A pays someone other than B an amount
  worth v × (1 + fee) with the fee in ``fee_band`` (compared in US dollars; across
  currencies within ``fx_tolerance``);
* the *in-leg*: within ``in_window_days`` of the rejection, someone other than A pays
  B (or B's account) an amount worth v (within ``value_tolerance``, plus
  ``fx_tolerance`` across currencies);
* the path between them: payments from the out-leg's receiver on to the in-leg's
  payer, each worth between v and v × (1 + fee), up to ``max_layers`` hops.

A rejected payment with an out-leg is a finding; the in-leg and the path raise its
score. Parties are matched by canonical id or by bank account, so a payer split by
resolution is still followed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import (
    WINDOW_SQL,
    band,
    captions,
    fetch,
    fx_param,
    fx_table,
    money,
    unregister,
    value_shifts,
    value_sql,
    value_width,
    window_shifts,
)
from shadowtrace.detect.finding import Finding, Step
from shadowtrace.store.sql import ident

__all__ = ["ReroutedPayments", "rejected_reroutes"]

REJECTED = ("rejected", "returned", "refused", "cancelled")

PARAMS: dict[str, Param] = {
    "fee_band": Param(
        [0.08, 0.15],
        "Band of the intermediary's fee, as a share of the value (source texts: 8–15 %).",
        0.0,
        10.0,
        length=2,
        ordered=True,
    ),
    "out_window_days": Param(10, "Days after the rejection in which the payer pays on.", 0),
    "in_window_days": Param(
        [-5, 30],
        "Days before and after the rejection in which the beneficiary receives the value.",
        -3650,
        3650,
        length=2,
        ordered=True,
    ),
    "value_tolerance": Param(
        0.01, "Relative difference still taken as the same value (same currency).", 0.0, 1.0
    ),
    "fx_tolerance": Param(
        0.03, "Extra relative tolerance when two amounts are in different currencies.", 0.0, 1.0
    ),
    "max_layers": Param(3, "Most payments searched between the out-leg and in-leg.", 0, 6),
    "fx_per_usd": fx_param(),
}


def rejected_reroutes(ctx: DetectContext) -> list[dict[str, Any]]:
    """Rejected payments with their out-leg, in-leg and the path between (memoised, as
    the netting detector reads them too)."""
    p = {k: ctx.params.get(k, v.default) for k, v in PARAMS.items()}
    key = "rerouted:" + repr(sorted((k, repr(v)) for k, v in p.items()))
    return ctx.memo(key, lambda: _reroutes(ctx, p))


def _reroutes(ctx: DetectContext, p: Mapping[str, Any]) -> list[dict[str, Any]]:
    con = ctx.store.con
    fx = fx_table(ctx, "_rr_fx")
    fee_lo, fee_hi = band(p, "fee_band")
    in_lo, in_hi = band(p, "in_window_days")
    tol, fxtol = p["value_tolerance"], p["fx_tolerance"]
    marks = ", ".join("?" for _ in REJECTED)
    # Payments fall in windows of ``width`` days (``wk``); a rejected payment meets only
    # the payments of its party in the windows its day range can reach (``shifts``), so
    # a payer with years of payments is not joined with all of them.
    out_days = int(p["out_window_days"])
    width = max(1, out_days, int(in_hi) - int(in_lo))
    out_shifts = window_shifts(0, out_days, width)
    in_shifts = window_shifts(int(in_lo), int(in_hi), width)
    # ... and an in-leg only the payments worth about the same (``vb``: the value's
    # band), so a beneficiary that receives thousands of payments a month is not
    # joined with all of them
    near = tol + fxtol
    vwidth = value_width(1 - near, 1 + near)
    in_values = value_shifts(1 - near, 1 + near, vwidth)
    try:
        sql = f"""
            CREATE OR REPLACE TEMP TABLE _rr_pay AS
            SELECT e.edge_id, e.source, e.target, e.source_account, e.target_account, e.date,
                   e.amount, e.currency, e.amount / fx.per_usd AS usd,
                   coalesce(e.status, '') IN ({marks}) AS rejected, {WINDOW_SQL} AS wk,
                   {value_sql("e.amount / fx.per_usd")} AS vb
            FROM edges e JOIN {ident(fx)} fx ON fx.currency = e.currency
            WHERE e.kind = 'payment' AND e.date IS NOT NULL AND e.amount > 0
            """
        con.execute(sql, [*REJECTED, width, vwidth])
        # the candidates of each rejected payment, by payer (or payer's account) and by
        # beneficiary (or beneficiary's account): equality joins, which scale
        con.execute("CREATE OR REPLACE TEMP TABLE _rr_rej AS SELECT * FROM _rr_pay WHERE rejected")
        shifted = (
            "CREATE OR REPLACE TEMP TABLE _rr_rejw AS "
            "SELECT *, wk + unnest(?::BIGINT[]) AS owk FROM _rr_rej"
        )
        con.execute(shifted, [out_shifts])
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _rr_out AS
            WITH x AS (
              SELECT r.edge_id AS rid, x.edge_id FROM _rr_rejw r
              JOIN _rr_pay x ON x.source = r.source AND x.wk = r.owk
              WHERE NOT x.rejected AND datediff('day', r.date, x.date) BETWEEN 0 AND ?
              UNION
              SELECT r.edge_id, x.edge_id FROM _rr_rejw r
              JOIN _rr_pay x ON x.source_account = r.source_account AND x.wk = r.owk
              WHERE NOT x.rejected AND datediff('day', r.date, x.date) BETWEEN 0 AND ?
            ), c AS (
              SELECT r.edge_id AS rid, x.edge_id, x.target AS node, x.date, x.usd / r.usd AS ratio,
                     row_number() OVER (PARTITION BY r.edge_id
                       ORDER BY datediff('day', r.date, x.date), x.edge_id) AS k
              FROM x AS pair
              JOIN _rr_rej r ON r.edge_id = pair.rid
              JOIN _rr_pay x ON x.edge_id = pair.edge_id
              WHERE x.target <> r.target
                AND coalesce(x.target_account, '') <> coalesce(r.target_account, '-')
                AND x.usd / r.usd BETWEEN 1 + ? - CASE WHEN x.currency = r.currency THEN ?
                                                       ELSE ? END
                                      AND 1 + ? + CASE WHEN x.currency = r.currency THEN ?
                                                       ELSE ? END
            )
            SELECT rid, edge_id, node, date, ratio FROM c WHERE k = 1
            """,
            [p["out_window_days"], p["out_window_days"], fee_lo, tol, tol + fxtol, fee_hi, tol,
             tol + fxtol],
        )  # fmt: skip
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _rr_rejw AS SELECT *, vb + unnest(?::BIGINT[]) AS ovb "
            "FROM (SELECT *, wk + unnest(?::BIGINT[]) AS owk FROM _rr_rej)",
            [in_values, in_shifts],
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _rr_in AS
            WITH x AS (
              SELECT r.edge_id AS rid, x.edge_id FROM _rr_rejw r
              JOIN _rr_pay x ON x.target = r.target AND x.wk = r.owk AND x.vb = r.ovb
              WHERE NOT x.rejected AND datediff('day', r.date, x.date) BETWEEN ? AND ?
              UNION
              SELECT r.edge_id, x.edge_id FROM _rr_rejw r
              JOIN _rr_pay x ON x.target_account = r.target_account AND x.wk = r.owk
                AND x.vb = r.ovb
              WHERE NOT x.rejected AND datediff('day', r.date, x.date) BETWEEN ? AND ?
            ), c AS (
              SELECT r.edge_id AS rid, x.edge_id, x.source AS node, x.date,
                     row_number() OVER (PARTITION BY r.edge_id
                       ORDER BY abs(x.usd / r.usd - 1), datediff('day', r.date, x.date),
                                x.edge_id) AS k
              FROM x AS pair
              JOIN _rr_rej r ON r.edge_id = pair.rid
              JOIN _rr_pay x ON x.edge_id = pair.edge_id
              WHERE x.source <> r.source
                AND coalesce(x.source_account, '') <> coalesce(r.source_account, '-')
                AND abs(x.usd / r.usd - 1) <= CASE WHEN x.currency = r.currency THEN ?
                                                   ELSE ? END
            )
            SELECT rid, edge_id, node, date FROM c WHERE k = 1
            """,
            [in_lo, in_hi, in_lo, in_hi, tol, tol + fxtol],
        )
        # the path from the out-leg's receiver to the in-leg's payer, level by level
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _rr_path AS
            SELECT o.rid, 0 AS level, o.node, o.date, CAST(NULL AS VARCHAR) AS edge_id,
                   CAST(NULL AS VARCHAR) AS prev
            FROM _rr_out o JOIN _rr_in i ON i.rid = o.rid
            WHERE o.node <> i.node
            """
        )
        for level in range(1, p["max_layers"] + 1):
            con.execute(
                """
                INSERT INTO _rr_path
                WITH f AS (
                  SELECT t.* FROM _rr_path t
                  WHERE t.level = ? - 1
                    AND NOT EXISTS (SELECT 1 FROM _rr_path d JOIN _rr_in i ON i.rid = d.rid
                                    WHERE d.rid = t.rid AND d.node = i.node)
                ), c AS (
                  SELECT f.rid, x.target AS node, x.date, x.edge_id, f.node AS prev,
                         row_number() OVER (PARTITION BY f.rid, x.target
                                            ORDER BY x.date, x.edge_id) AS k
                  FROM f
                  JOIN _rr_pay r ON r.edge_id = f.rid
                  JOIN _rr_pay x ON x.source = f.node
                  WHERE NOT x.rejected
                    AND datediff('day', f.date, x.date) BETWEEN 0 AND ?
                    AND x.usd / r.usd BETWEEN 1 - ? - ? AND 1 + ? + ? + ?
                    AND x.target NOT IN (SELECT node FROM _rr_path p2 WHERE p2.rid = f.rid)
                )
                SELECT rid, ?, node, date, edge_id, prev FROM c WHERE k = 1
                """,
                [level, p["out_window_days"], tol, fxtol, fee_hi, tol, fxtol, level],
            )
        rows = fetch(
            ctx.store,
            """
            SELECT r.edge_id AS rid, r.source AS payer, r.target AS beneficiary,
                   CAST(r.date AS VARCHAR) AS date, r.amount, r.currency, r.usd,
                   o.edge_id AS out_id, o.node AS out_node, o.ratio - 1 AS fee,
                   i.edge_id AS in_id, i.node AS in_node
            FROM _rr_pay r
            JOIN _rr_out o ON o.rid = r.edge_id
            LEFT JOIN _rr_in i ON i.rid = r.edge_id
            ORDER BY r.edge_id
            """,
        )
        paths = fetch(
            ctx.store,
            "SELECT rid, level, node, edge_id, prev FROM _rr_path WHERE level > 0 "
            "ORDER BY rid, level",
        )
        amounts = {
            str(r["edge_id"]): r
            for r in fetch(
                ctx.store,
                """
                SELECT edge_id, source, target, CAST(date AS VARCHAR) AS date, amount, currency
                FROM _rr_pay WHERE edge_id IN (
                  SELECT out_id FROM (SELECT edge_id AS out_id FROM _rr_out
                                      UNION SELECT edge_id FROM _rr_in
                                      UNION SELECT edge_id FROM _rr_path))
                """,
            )
        }
    finally:
        unregister(ctx.store, fx)
        for t in ("_rr_pay", "_rr_rej", "_rr_rejw", "_rr_out", "_rr_in", "_rr_path"):
            drop = f"DROP TABLE IF EXISTS {ident(t)}"
            con.execute(drop)
    by_rid: dict[str, list[dict[str, Any]]] = {}
    for row in paths:
        by_rid.setdefault(str(row["rid"]), []).append(row)
    for r in rows:
        r["path"] = _walk(by_rid.get(str(r["rid"]), []), r.get("in_node"))
        r["legs"] = amounts
    return rows


def _walk(levels: list[dict[str, Any]], goal: str | None) -> list[str]:
    """The edge ids from the out-leg's receiver to ``goal``, if the search reached it."""
    if goal is None:
        return []
    reached = {(row["node"]): row for row in levels}
    if goal not in reached:
        return []
    path: list[str] = []
    node: str | None = goal
    seen: set[str] = set()
    while node is not None and node in reached and node not in seen:
        seen.add(node)
        row = reached[node]
        path.append(str(row["edge_id"]))
        node = row["prev"]
    path.reverse()
    return path


def _leg_step(kind: str, leg: Mapping[str, Any], summary: str) -> Step:
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


class ReroutedPayments:
    name = "rerouted_payment"
    title = "Rerouted payments"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = PARAMS

    def detect(self, ctx: DetectContext) -> list[Finding]:
        rows = rejected_reroutes(ctx)
        ids = {x for r in rows for x in (r["payer"], r["beneficiary"], r["out_node"], r["in_node"])}
        ids |= {str(r["legs"][e]["source"]) for r in rows for e in r["path"]}
        ids |= {str(r["legs"][e]["target"]) for r in rows for e in r["path"]}
        names = captions(ctx.store, ids)
        step_lists: list[list[Step]] = []
        for r in rows:
            legs = r["legs"]
            steps = [
                Step(
                    kind="rejected_payment",
                    source=r["payer"],
                    target=r["beneficiary"],
                    summary=f"Payment of {money(r['amount'], r['currency'])} from "
                    f"{names.get(r['payer'])} to {names.get(r['beneficiary'])} rejected",
                    entity_id=r["rid"],
                    date=r["date"],
                    amount=r["amount"],
                    currency=r["currency"],
                ),
                _leg_step(
                    "payment",
                    legs[r["out_id"]],
                    f"{names.get(r['payer'])} paid {names.get(r['out_node'])} the value plus "
                    f"{r['fee']:.1%}",
                ),
            ]
            for edge_id in r["path"]:
                leg = legs[edge_id]
                steps.append(
                    _leg_step(
                        "payment",
                        leg,
                        f"{names.get(leg['source'], leg['source'])} passed "
                        f"{money(leg['amount'], leg['currency'])} on to "
                        f"{names.get(leg['target'], leg['target'])}",
                    )
                )
            if r["in_id"]:
                leg = legs[r["in_id"]]
                steps.append(
                    _leg_step(
                        "payment",
                        leg,
                        f"{names.get(r['beneficiary'])} received the same value from "
                        f"{names.get(str(leg['source']), str(leg['source']))}",
                    )
                )
            step_lists.append(steps)
        out = []
        for r, steps in zip(rows, step_lists, strict=True):
            score = 0.6 + (0.25 if r["in_id"] else 0.0) + (0.1 if r["path"] else 0.0)
            entities = [r["payer"], r["beneficiary"], *(s.target for s in steps[1:] if s.target)]
            out.append(
                Finding.make(
                    self.name,
                    score,
                    f"Rejected payment to {names.get(r['beneficiary'])} rerouted through "
                    f"{names.get(r['out_node'])}",
                    tuple(dict.fromkeys(x for x in entities if x)),
                    tuple(steps),
                    explanation=(
                        f"A payment of {money(r['amount'], r['currency'])} was rejected on "
                        f"{r['date']}; within days the payer sent the value plus a "
                        f"{r['fee']:.1%} fee to another party"
                        + (
                            ", and the beneficiary received the same value from a third party."
                            if r["in_id"]
                            else "."
                        )
                    ),
                    metrics={
                        "value_usd": float(r["usd"]),
                        "fee": float(r["fee"]),
                        "in_leg": 1.0 if r["in_id"] else 0.0,
                        "layers": float(len(r["path"])),
                    },
                )
            )
        return out
