"""Pass-through intermediaries: entities whose out-flow matches their in-flow less a fee,
with a short dwell time, sitting between two other jurisdictions.

Every accepted payment an entity receives is paired with one it sends (an entity is
its bank account where payments name one, so that a party split by resolution is
still seen whole): to someone
other than the payer, within ``max_dwell_days`` before or after (a conduit may pay its
supplier first and be paid by its buyer later), worth the received amount less a fee
in ``fee_band`` (compared in US dollars; ``fx_tolerance`` more across currencies).
Each payment is paired at most once, with the nearest in time.

An entity is a finding when at least ``min_pairs`` pairs are found, the pairs cover at
least ``min_pair_share`` of both its incoming and its outgoing payments (a conduit
passes on nearly everything; a trading business has other custom), and in at least
``min_conduit_share`` of the pairs its country differs from both the payer's and the
payee's (an importer that buys abroad and sells at home also passes money on less a
margin, but it is not between two other jurisdictions).
"""

from __future__ import annotations

from collections.abc import Mapping
from statistics import median
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

__all__ = ["PassThrough"]


class PassThrough:
    name = "pass_through_intermediary"
    title = "Pass-through intermediaries"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        "fee_band": Param(
            [0.02, 0.15],
            "Band of the share of the in-flow the entity keeps.",
            0.0,
            1.0,
            length=2,
            ordered=True,
        ),
        "fx_tolerance": Param(
            0.03, "Extra relative tolerance when the two payments differ in currency.", 0.0, 1.0
        ),
        "max_dwell_days": Param(
            30, "Most days between a payment received and the payment passed on.", 0, 3650
        ),
        "min_pairs": Param(2, "Fewest paired payments for a finding.", 1),
        "min_pair_share": Param(
            0.5, "Least share of the entity's payments, in and out, that are paired.", 0.0, 1.0
        ),
        "min_conduit_share": Param(
            0.5,
            "Least share of pairs in which the entity's country differs from both sides'.",
            0.0,
            1.0,
        ),
        "max_steps": Param(10, "Most pairs listed as steps of one finding.", 1, 1000),
        "fx_per_usd": fx_param(),
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        con = ctx.store.con
        fx = fx_table(ctx, "_pt_fx")
        fee_lo, fee_hi = band(p, "fee_band")
        tol = p["fx_tolerance"]
        # Payments fall in windows of ``max_dwell_days`` (``wk``): a payment passed on
        # within that many days is in the same window or a neighbouring one, so the
        # pairs join on (party, window) and a hub's payments months apart never meet.
        window = max(1, int(p["max_dwell_days"]))
        # ... and on the band of their value (``vb``), so a hub's payments of other
        # sizes never meet either
        lo, hi = 1 - fee_hi - tol, 1 - fee_lo + tol
        vwidth = value_width(lo, hi)
        try:
            sql = f"""
                CREATE OR REPLACE TEMP TABLE _pt_pay AS
                SELECT e.edge_id, e.source, e.target, e.date, e.amount, e.currency,
                       e.amount / fx.per_usd AS usd,
                       coalesce(e.source_account, e.source) AS src_key,
                       coalesce(e.target_account, e.target) AS dst_key,
                       {WINDOW_SQL} AS wk, {value_sql("e.amount / fx.per_usd")} AS vb
                FROM edges e JOIN {ident(fx)} fx ON fx.currency = e.currency
                WHERE e.kind = 'payment' AND e.amount > 0 AND e.date IS NOT NULL
                  AND coalesce(e.status, '') NOT IN ('rejected', 'returned', 'cancelled')
                  AND e.source <> e.target
                """
            con.execute(sql, [window, vwidth])
            con.execute(
                """
                CREATE OR REPLACE TEMP TABLE _pt_pairs AS
                WITH c AS (
                  SELECT i.dst_key AS x, i.target AS party, i.edge_id AS in_id,
                         o.edge_id AS out_id, i.source AS payer, o.target AS payee,
                         1 - o.usd / i.usd AS fee, datediff('day', i.date, o.date) AS gap
                  FROM (
                    SELECT *, vb + unnest(?::BIGINT[]) AS ovb
                    FROM (SELECT *, wk + unnest(?::BIGINT[]) AS owk FROM _pt_pay)
                  ) i
                  JOIN _pt_pay o ON o.src_key = i.dst_key AND o.wk = i.owk AND o.vb = i.ovb
                  WHERE o.dst_key <> i.src_key AND o.target <> i.source
                    AND abs(datediff('day', i.date, o.date)) <= ?
                    AND o.usd / i.usd BETWEEN 1 - ? - CASE WHEN o.currency = i.currency
                                                          THEN 0 ELSE ? END
                                          AND 1 - ? + CASE WHEN o.currency = i.currency
                                                          THEN 0 ELSE ? END
                ), r AS (
                  SELECT *, row_number() OVER (PARTITION BY in_id ORDER BY abs(gap), out_id)
                              AS ra,
                         row_number() OVER (PARTITION BY out_id ORDER BY abs(gap), in_id) AS rb
                  FROM c
                )
                SELECT x, party, in_id, out_id, payer, payee, fee, gap FROM r
                WHERE ra = 1 AND rb = 1
                """,
                [
                    value_shifts(lo, hi, vwidth),
                    window_shifts(-window, window, window),
                    p["max_dwell_days"],
                    fee_hi,
                    tol,
                    fee_lo,
                    tol,
                ],
            )
            entities = fetch(
                ctx.store,
                """
                WITH ni AS (SELECT dst_key AS x, count(*) AS n_in, sum(usd) AS usd_in
                            FROM _pt_pay GROUP BY dst_key),
                     no AS (SELECT src_key AS x, count(*) AS n_out, sum(usd) AS usd_out
                            FROM _pt_pay GROUP BY src_key),
                     pr AS (
                       SELECT pr.x, count(*) AS pairs, mode(pr.party) AS party,
                              avg(CASE WHEN nx.country IS NOT NULL
                                        AND nx.country <> coalesce(np.country, nx.country)
                                        AND nx.country <> coalesce(nq.country, nx.country)
                                       THEN 1.0 ELSE 0.0 END) AS conduit
                       FROM _pt_pairs pr
                       LEFT JOIN nodes nx ON nx.id = pr.party
                       LEFT JOIN nodes np ON np.id = pr.payer
                       LEFT JOIN nodes nq ON nq.id = pr.payee
                       GROUP BY pr.x
                     )
                SELECT pr.x, pr.party, pr.pairs, pr.conduit, ni.n_in, no.n_out, ni.usd_in,
                       no.usd_out
                FROM pr JOIN ni ON ni.x = pr.x JOIN no ON no.x = pr.x
                WHERE pr.pairs >= ? AND pr.pairs >= ? * ni.n_in AND pr.pairs >= ? * no.n_out
                  AND pr.conduit >= ?
                ORDER BY pr.x
                """,
                [p["min_pairs"], p["min_pair_share"], p["min_pair_share"],
                 p["min_conduit_share"]],
            )  # fmt: skip
            pairs = fetch(
                ctx.store,
                """
                SELECT pr.x, pr.fee, pr.gap,
                       i.edge_id AS in_id, i.source AS in_source, CAST(i.date AS VARCHAR)
                         AS in_date, i.amount AS in_amount, i.currency AS in_currency,
                       o.edge_id AS out_id, o.target AS out_target, CAST(o.date AS VARCHAR)
                         AS out_date, o.amount AS out_amount, o.currency AS out_currency
                FROM _pt_pairs pr
                JOIN _pt_pay i ON i.edge_id = pr.in_id
                JOIN _pt_pay o ON o.edge_id = pr.out_id
                ORDER BY pr.x, i.usd DESC, pr.in_id
                """,
            )
        finally:
            unregister(ctx.store, fx)
            for t in ("_pt_pay", "_pt_pairs"):
                drop = f"DROP TABLE IF EXISTS {ident(t)}"
                con.execute(drop)
        keep = {str(e["x"]) for e in entities}
        by_x: dict[str, list[dict[str, Any]]] = {}
        for pr in pairs:
            if pr["x"] in keep:
                by_x.setdefault(str(pr["x"]), []).append(pr)
        ids = {str(e["party"]) for e in entities} | {
            y for prs in by_x.values() for pr in prs for y in (pr["in_source"], pr["out_target"])
        }
        names = captions(ctx.store, ids)
        step_lists: list[list[Step]] = []
        for e in entities:
            steps: list[Step] = []
            for pr in by_x[str(e["x"])][: p["max_steps"]]:
                steps.append(
                    Step(
                        kind="payment",
                        source=pr["in_source"],
                        target=e["party"],
                        summary=f"Received {money(pr['in_amount'], pr['in_currency'])} from "
                        f"{names.get(pr['in_source'])}",
                        entity_id=pr["in_id"],
                        date=pr["in_date"],
                        amount=pr["in_amount"],
                        currency=pr["in_currency"],
                    )
                )
                steps.append(
                    Step(
                        kind="payment",
                        source=e["party"],
                        target=pr["out_target"],
                        summary=f"Passed {money(pr['out_amount'], pr['out_currency'])} on to "
                        f"{names.get(pr['out_target'])} ({pr['fee']:.1%} kept, "
                        f"{pr['gap']:+d} days)",
                        entity_id=pr["out_id"],
                        date=pr["out_date"],
                        amount=pr["out_amount"],
                        currency=pr["out_currency"],
                    )
                )
            step_lists.append(steps)
        out = []
        for e, steps in zip(entities, step_lists, strict=True):
            prs = by_x[str(e["x"])]
            share = min(e["pairs"] / e["n_in"], e["pairs"] / e["n_out"])
            fee = median(float(pr["fee"]) for pr in prs)
            dwell = median(abs(int(pr["gap"])) for pr in prs)
            parties = [
                e["party"],
                *(y for pr in prs[:20] for y in (pr["in_source"], pr["out_target"])),
            ]
            out.append(
                Finding.make(
                    self.name,
                    0.4 + 0.3 * share + 0.2 * float(e["conduit"]) + 0.1 * min(1, e["pairs"] / 10),
                    f"{names.get(e['party'])} passes money on less {fee:.1%}",
                    tuple(dict.fromkeys(parties)),
                    tuple(steps),
                    explanation=(
                        f"{e['pairs']} payments received were passed on less a fee (median "
                        f"{fee:.1%}, {dwell:.0f} days apart): {share:.0%} of its payments. "
                        f"In {float(e['conduit']):.0%} of them it sat between two other "
                        "jurisdictions."
                    ),
                    metrics={
                        "pairs": float(e["pairs"]),
                        "payments_in": float(e["n_in"]),
                        "payments_out": float(e["n_out"]),
                        "usd_in": float(e["usd_in"] or 0.0),
                        "usd_out": float(e["usd_out"] or 0.0),
                        "median_fee": fee,
                        "median_dwell_days": float(dwell),
                        "conduit_share": float(e["conduit"]),
                    },
                )
            )
        return out
