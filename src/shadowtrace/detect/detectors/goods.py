"""Goods chains: customs declarations linked hop by hop into the route goods took.

A declaration ``a`` (sender → receiver) links to a later declaration ``b`` when ``b``'s
sender is ``a``'s receiver (or shares an identifier, address or phone with it, when
resolution kept the two records apart: ``same_party_via``), the HS code is the same,
``b`` follows within ``max_lag_days``, and the goods match: the same quantity (within
``quantity_tolerance``), or, when a quantity is missing, a value within the
``value_ratio`` band (each layer marks the goods up a little). Each declaration keeps
its best successor and predecessor (closest quantity, then shortest lag) when both
choose each other, so chains never branch. Declarations that link to nothing are
chains of one.

The chains are computed once per run and shared by the transshipment and dual-use
detectors (``goods_chains``); the end user who paid the last receiver is looked up in
the payments (``end_users``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import (
    RU_AND_OCCUPIED,
    band,
    fetch,
    fx_param,
    fx_table,
    register,
    unregister,
)
from shadowtrace.detect.finding import Step
from shadowtrace.store import Store
from shadowtrace.store.sql import ident

__all__ = ["CHAIN_PARAMS", "END_USER_PARAMS", "Chain", "Hop", "end_users", "goods_chains"]

CHAIN_PARAMS: dict[str, Param] = {
    "max_lag_days": Param(
        45, "Longest time between a declaration and the next one along a chain.", 0, 3650
    ),
    "quantity_tolerance": Param(
        0.02, "Relative difference of quantities still taken as the same goods.", 0.0, 1.0
    ),
    "same_party_via": Param(
        ["shared_identifier", "shared_address", "shared_phone"],
        "Edge kinds that make a receiver and the next sender one party when resolution kept "
        "them apart (an address or identifier they share); empty: only the same entity.",
    ),
    "value_ratio": Param(
        [0.9, 1.5],
        "Band of value next / value before at a hop (a layer's mark-up), when values exist.",
        0.0,
        1e6,
        length=2,
        ordered=True,
    ),
}


# The end user who pays the last importer (``end_users``), for detectors of goods chains.
END_USER_PARAMS: dict[str, Param] = {
    "end_user_countries": Param(
        list(RU_AND_OCCUPIED), "Countries of the receivers and end users that count."
    ),
    "end_user_window_days": Param(
        30, "Days after the last declaration in which the end user pays the importer.", 0
    ),
    "end_user_ratio": Param(
        [1.0, 1.35],
        "Band of (payment in USD) / (declared value) for the end user's payment.",
        0.0,
        length=2,
        ordered=True,
    ),
    "fx_per_usd": fx_param(),
}


@dataclass(frozen=True)
class Hop:
    """One declaration of a chain."""

    edge_id: str
    source: str
    target: str
    date: str | None
    hs_code: str | None
    quantity: float | None
    amount: float | None
    origin_country: str | None
    destination_country: str | None


@dataclass
class Chain:
    """Declarations linked into the route of one consignment, in order."""

    hops: list[Hop]
    receiver_country: str | None = None
    end_user: dict[str, Any] | None = None
    parties: list[str] = field(default_factory=list)

    @property
    def first(self) -> Hop:
        return self.hops[0]

    @property
    def last(self) -> Hop:
        return self.hops[-1]

    @property
    def intermediaries(self) -> int:
        return len(self.hops) - 1

    def steps(self, names: Mapping[str, str] | None = None) -> list[Step]:
        names = names or {}
        out = []
        for h in self.hops:
            qty = f"{h.quantity:,.0f} × " if h.quantity is not None else ""
            out.append(
                Step(
                    kind="shipment",
                    source=h.source,
                    target=h.target,
                    summary=f"{qty}HS {h.hs_code} declared "
                    f"{names.get(h.source, h.source)} → {names.get(h.target, h.target)}"
                    + (f" on {h.date}" if h.date else "")
                    + (f" (origin {h.origin_country})" if h.origin_country else ""),
                    entity_id=h.edge_id,
                    date=h.date,
                    amount=h.amount,
                    currency=None,
                )
            )
        return out


def _key(params: Mapping[str, Any]) -> str:
    return "goods_chains:" + repr(tuple(params.get(k) for k in sorted(CHAIN_PARAMS)))


def goods_chains(ctx: DetectContext) -> list[Chain]:
    """Every chain of linked declarations (chains of one included), computed once per run
    for the same chain parameters."""
    params = {k: ctx.params.get(k, p.default) for k, p in CHAIN_PARAMS.items()}
    return ctx.memo(_key(params), lambda: _build(ctx.store, params))


def _build(store: Store, params: Mapping[str, Any]) -> list[Chain]:
    con = store.con
    lo, hi = band(params, "value_ratio")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _gc_ship AS
        SELECT edge_id, source, target, date, hs_code, quantity, amount,
               origin_country, destination_country
        FROM edges
        WHERE kind = 'shipment' AND hs_code IS NOT NULL AND hs_code <> '' AND date IS NOT NULL
        """
    )
    via = [k for k in params["same_party_via"] if k.startswith("shared_")]
    marks = ", ".join("?" for _ in via) or "NULL"
    sql = f"""
        CREATE OR REPLACE TEMP TABLE _gc_same AS
        SELECT DISTINCT target AS a, target AS b, 0 AS soft FROM _gc_ship
        UNION
        SELECT e.source, e.target, 1 FROM edges e WHERE e.kind IN ({marks})
        UNION
        SELECT e.target, e.source, 1 FROM edges e WHERE e.kind IN ({marks})
        """
    con.execute(
        sql,
        [*via, *via],
    )
    links = con.execute(
        """
        -- the receiver's parties first, materialised: left to itself the planner joins
        -- the declarations on the HS code alone, a near-cross product at scale
        WITH a AS MATERIALIZED (
          SELECT s.*, sm.b AS party, sm.soft
          FROM _gc_ship s JOIN _gc_same sm ON sm.a = s.target
        ), l AS (
          SELECT a.edge_id AS a_id, b.edge_id AS b_id, a.soft,
                 CASE WHEN a.quantity IS NULL OR b.quantity IS NULL THEN 1.0
                      ELSE abs(b.quantity - a.quantity) / greatest(abs(a.quantity), 1e-9)
                 END AS qdiff,
                 datediff('day', a.date, b.date) AS lag
          FROM a
          JOIN _gc_ship b ON b.source = a.party AND b.hs_code = a.hs_code
          WHERE a.edge_id <> b.edge_id AND b.target <> a.source
            AND datediff('day', a.date, b.date) BETWEEN 0 AND ?
            AND (a.amount IS NULL OR b.amount IS NULL OR a.amount <= 0
                 OR b.amount / a.amount BETWEEN ? AND ?)
            AND ((a.quantity IS NOT NULL AND b.quantity IS NOT NULL
                  AND abs(b.quantity - a.quantity) <= ? * greatest(abs(a.quantity), 1e-9))
                 OR ((a.quantity IS NULL OR b.quantity IS NULL)
                     AND a.amount > 0 AND b.amount IS NOT NULL))
        ), r AS (
          SELECT a_id, b_id,
                 row_number() OVER (PARTITION BY a_id ORDER BY soft, qdiff, lag, b_id) AS ra,
                 row_number() OVER (PARTITION BY b_id ORDER BY soft, qdiff, lag, a_id) AS rb
          FROM l
        )
        SELECT a_id, b_id FROM r WHERE ra = 1 AND rb = 1
        """,
        [params["max_lag_days"], lo, hi, params["quantity_tolerance"]],
    ).fetchall()
    nxt = dict(links)
    has_prev = {b for _, b in links}
    rows = fetch(
        store,
        "SELECT edge_id, source, target, CAST(date AS VARCHAR) AS date, hs_code, quantity, "
        "amount, origin_country, destination_country FROM _gc_ship ORDER BY edge_id",
    )
    hops = {r["edge_id"]: Hop(**r) for r in rows}
    chains: list[Chain] = []
    for edge_id in sorted(hops):
        if edge_id in has_prev:
            continue
        chain = [hops[edge_id]]
        seen = {edge_id}
        while chain[-1].edge_id in nxt and nxt[chain[-1].edge_id] not in seen:
            following = nxt[chain[-1].edge_id]
            seen.add(following)
            chain.append(hops[following])
        chains.append(Chain(hops=chain))
    countries = dict(
        con.execute(
            "SELECT n.id, n.country FROM nodes n WHERE n.id IN (SELECT target FROM _gc_ship)"
        ).fetchall()
    )
    for c in chains:
        c.receiver_country = countries.get(c.last.target) or c.last.destination_country
        c.parties = list(dict.fromkeys(x for h in c.hops for x in (h.source, h.target)))
    con.execute("DROP TABLE IF EXISTS _gc_ship")
    con.execute("DROP TABLE IF EXISTS _gc_same")
    return chains


def end_users(
    ctx: DetectContext,
    chains: list[Chain],
    window_days: int,
    ratio: list[float],
    countries: list[str] | None = None,
) -> None:
    """Set ``chain.end_user``: the party in ``countries`` (Russia and the occupied
    territories by default) that paid the chain's last receiver within ``window_days``
    after the last declaration, an amount whose ratio to the declared value is in the
    ``ratio`` band (the importer's margin). The nearest such payment wins."""
    todo = [c for c in chains if c.last.amount and c.last.date]
    if not todo:
        return
    fx = fx_table(ctx)
    lo, hi = band({"end_user_ratio": ratio}, "end_user_ratio")
    register(
        ctx.store,
        "_eu_chains",
        pa.table(
            {
                "i": pa.array(range(len(todo)), pa.int64()),
                "receiver": pa.array([c.last.target for c in todo], pa.string()),
                "date": pa.array([c.last.date for c in todo], pa.string()),
                "value": pa.array([float(c.last.amount or 0) for c in todo], pa.float64()),
            }
        ),
    )
    marks = ", ".join("?" for _ in (countries or RU_AND_OCCUPIED))
    try:
        sql = f"""
            WITH c AS (SELECT i, receiver, CAST(date AS DATE) AS date, value FROM _eu_chains),
            p AS (
              SELECT c.i, e.source AS payer, e.edge_id, CAST(e.date AS VARCHAR) AS date,
                     e.amount, e.currency, (e.amount / fx.per_usd) / c.value AS ratio,
                     datediff('day', c.date, e.date) AS lag
              FROM c
              JOIN edges e ON e.kind = 'payment' AND e.target = c.receiver
              JOIN {ident(fx)} fx ON fx.currency = upper(e.currency)
              JOIN nodes n ON n.id = e.source
              WHERE datediff('day', c.date, e.date) BETWEEN 0 AND ?
                AND coalesce(e.status, '') NOT IN ('rejected', 'returned', 'cancelled')
                AND n.country IN ({marks})
                AND (e.amount / fx.per_usd) / c.value BETWEEN ? AND ?
            ), r AS (
              SELECT *, row_number() OVER (PARTITION BY i ORDER BY lag, edge_id) AS k FROM p
            )
            SELECT i, payer, edge_id, date, amount, currency, ratio FROM r WHERE k = 1
            """
        rows = fetch(
            ctx.store,
            sql,
            [window_days, *(countries or RU_AND_OCCUPIED), lo, hi],
        )
    finally:
        unregister(ctx.store, "_eu_chains")
        unregister(ctx.store, fx)
    for r in rows:
        chain = todo[int(r["i"])]
        if r["payer"] in chain.parties:
            continue
        chain.end_user = r


def end_user_step(chain: Chain) -> Step | None:
    eu = chain.end_user
    if eu is None:
        return None
    return Step(
        kind="payment",
        source=eu["payer"],
        target=chain.last.target,
        summary=f"End user {eu['payer']} paid the importer {chain.last.target} "
        f"{eu['amount']:,.0f} {eu['currency'] or ''} on {eu['date']}",
        entity_id=eu["edge_id"],
        date=eu["date"],
        amount=eu["amount"],
        currency=eu["currency"],
    )
