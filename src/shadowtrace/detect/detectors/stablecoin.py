"""Stablecoin rails: USDT fan-out / fan-in and peel chains between OTC desks that link
trading companies.

A *pass-through wallet* receives at most ``max_in`` transfers, sends at most
``max_out``, forwards between ``forward_share`` of what it received, and empties
within ``max_dwell_days``: a wallet used once to move money on. Pass-through wallets
that send to each other form a chain; a chain's *entry* is the wallet that paid into
it and its *exit* the outside wallet that received the most from it. Chains with the
same entry and exit, started on the same day, are one rail:

* a *fan-out / fan-in*: ``min_fan`` or more parallel wallets between entry and exit;
* a *peel chain*: ``min_peel`` or more wallets in a row, each peeling a little off.

Rails worth at least ``min_value_usd`` are findings. The holders of the entry and exit
wallets (an OTC desk's labelled wallets, for example) and the bank payments around the
rail (a company paying the entry desk, the exit desk paying a supplier, within
``desk_window_days`` and amounts in ``desk_ratio`` of the rail's value) complete the
chain from trading company to trading company.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import (
    band,
    captions,
    fetch,
    fx_param,
    fx_table,
    money,
    register,
    unregister,
)
from shadowtrace.detect.finding import Finding, Step
from shadowtrace.store.sql import ident

__all__ = ["StablecoinRails"]


class StablecoinRails:
    name = "stablecoin_rail"
    title = "Stablecoin rails"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        "currencies": Param(["USDT", "USDC"], "Tokens whose transfers are searched."),
        "max_in": Param(2, "Most transfers a pass-through wallet receives.", 1, 100),
        "max_out": Param(3, "Most transfers a pass-through wallet sends.", 1, 100),
        "forward_share": Param(
            [0.9, 1.05],
            "Band of (sent / received) of a pass-through wallet (a little above 1 allows for "
            "a small balance the wallet already held).",
            0.0,
            10.0,
            length=2,
            ordered=True,
        ),
        "max_dwell_days": Param(3, "Days within which a pass-through wallet empties.", 0),
        "min_fan": Param(2, "Fewest parallel wallets of a fan-out / fan-in.", 2, 1000),
        "min_peel": Param(2, "Fewest wallets in a row of a peel chain.", 2, 1000),
        "min_value_usd": Param(1000.0, "Smallest rail worth reporting, in US dollars.", 0.0),
        "desk_window_days": Param(10, "Days around the rail to look for the bank legs.", 0),
        "desk_ratio": Param(
            [0.95, 1.25],
            "Band of (bank leg in USD) / (rail value) for the payments around the rail.",
            0.0,
            length=2,
            ordered=True,
        ),
        "max_steps": Param(60, "Most transfers listed as steps of one finding.", 1, 10000),
        "fx_per_usd": fx_param(),
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        rails = _rails(ctx, p)
        if not rails:
            return []
        _holders_and_legs(ctx, rails, p)
        ids = {x for r in rails for x in (r["entry_holder"], r["exit_holder"]) if x}
        ids |= {leg["source"] for r in rails for leg in r["legs"]}
        ids |= {leg["target"] for r in rails for leg in r["legs"]}
        wallets = {x for r in rails for t in r["transfers"] for x in (t["source"], t["target"])}
        names = captions(ctx.store, ids | wallets)
        step_lists: list[list[Step]] = []
        for r in rails:
            steps: list[Step] = []
            first_legs = [leg for leg in r["legs"] if leg["side"] == "in"]
            last_legs = [leg for leg in r["legs"] if leg["side"] == "out"]
            for leg in first_legs:
                steps.append(_pay_step(leg, f"{names.get(leg['source'])} paid the entry desk "
                                            f"{names.get(leg['target'])}"))  # fmt: skip
            if r["entry_holder"]:
                steps.append(_holder_step(r["entry_holder"], r["entry"], names))
            for t in r["transfers"][: p["max_steps"]]:
                steps.append(
                    Step(
                        kind="transfer",
                        source=t["source"],
                        target=t["target"],
                        summary=f"{t['amount']:,.2f} {t['currency']} from "
                        f"{names.get(t['source'], t['source'])} to "
                        f"{names.get(t['target'], t['target'])}",
                        entity_id=t["edge_id"],
                        date=t["date"],
                        amount=t["amount"],
                        currency=t["currency"],
                    )
                )
            if r["exit_holder"]:
                steps.append(_holder_step(r["exit_holder"], r["exit"], names))
            for leg in last_legs:
                steps.append(_pay_step(leg, f"The exit desk {names.get(leg['source'])} paid "
                                            f"{names.get(leg['target'])}"))  # fmt: skip
            step_lists.append(steps)
        out = []
        for r, steps in zip(rails, step_lists, strict=True):
            score = 0.6
            score += 0.1 if r["entry_holder"] else 0.0
            score += 0.1 if r["exit_holder"] else 0.0
            score += 0.1 if r["legs"] else 0.0
            score += 0.05 * min(2, max(r["width"], r["length"]) - 2)
            label = "fan-out / fan-in" if r["pattern"] == "fan_out_fan_in" else "peel chain"
            parties = [r["entry_holder"], r["exit_holder"]]
            parties += [x for leg in r["legs"] for x in (leg["source"], leg["target"])]
            entities = [x for x in parties if x] + [r["entry"], r["exit"]]
            out.append(
                Finding.make(
                    self.name,
                    score,
                    f"USDT {label} of {r['value']:,.0f} from "
                    f"{names.get(r['entry_holder'] or r['entry'])} to "
                    f"{names.get(r['exit_holder'] or r['exit'])}",
                    tuple(dict.fromkeys(entities)),
                    tuple(steps),
                    explanation=(
                        f"{r['value']:,.0f} {r['currency']} left wallet "
                        f"{names.get(r['entry'], r['entry'])} on {r['date']} and reached "
                        f"{names.get(r['exit'], r['exit'])} through {r['wallets']} wallets "
                        f"used once ({label}: {r['width']} wide, {r['length']} deep)."
                    ),
                    metrics={
                        "value": float(r["value"]),
                        "wallets": float(r["wallets"]),
                        "width": float(r["width"]),
                        "length": float(r["length"]),
                        "bank_legs": float(len(r["legs"])),
                    },
                )
            )
        return out


def _rails(ctx: DetectContext, p: dict[str, Any]) -> list[dict[str, Any]]:
    con = ctx.store.con
    currencies = [c.upper() for c in p["currencies"]] or [""]
    marks = ", ".join("?" for _ in currencies)
    lo, hi = band(p, "forward_share")
    sql = f"""
        CREATE OR REPLACE TEMP TABLE _sc_t AS
        SELECT edge_id, source, target, coalesce(ts, CAST(date AS TIMESTAMP)) AS ts,
               CAST(date AS VARCHAR) AS date, amount, currency
        FROM edges
        WHERE kind = 'transfer' AND amount > 0 AND currency IN ({marks})
          AND coalesce(ts, CAST(date AS TIMESTAMP)) IS NOT NULL
        """
    con.execute(
        sql,
        currencies,
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _sc_pt AS
        WITH i AS (SELECT target AS w, count(*) AS n_in, sum(amount) AS s_in, min(ts) AS t_in
                   FROM _sc_t GROUP BY target),
             o AS (SELECT source AS w, count(*) AS n_out, sum(amount) AS s_out,
                          min(ts) AS t_first, max(ts) AS t_last
                   FROM _sc_t GROUP BY source)
        SELECT i.w FROM i JOIN o ON o.w = i.w
        WHERE i.n_in <= ? AND o.n_out <= ? AND o.s_out / i.s_in BETWEEN ? AND ?
          AND o.t_first >= i.t_in AND datediff('day', i.t_in, o.t_last) <= ?
        """,
        [p["max_in"], p["max_out"], lo, hi, p["max_dwell_days"]],
    )
    rows = fetch(
        ctx.store,
        """
        SELECT t.edge_id, t.source, t.target, t.ts, t.date, t.amount, t.currency,
               s.w IS NOT NULL AS src_pt, d.w IS NOT NULL AS dst_pt
        FROM _sc_t t
        LEFT JOIN _sc_pt s ON s.w = t.source
        LEFT JOIN _sc_pt d ON d.w = t.target
        WHERE s.w IS NOT NULL OR d.w IS NOT NULL
        ORDER BY t.ts, t.edge_id
        """,
    )
    for t in ("_sc_t", "_sc_pt"):
        drop = f"DROP TABLE IF EXISTS {ident(t)}"
        con.execute(drop)
    # chains: pass-through wallets joined by transfers between them (union-find)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        if r["src_pt"]:
            find(r["source"])
        if r["dst_pt"]:
            find(r["target"])
        if r["src_pt"] and r["dst_pt"]:
            a, b = find(r["source"]), find(r["target"])
            if a != b:
                parent[max(a, b)] = min(a, b)
    chains: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"transfers": [], "entries": [], "exits": defaultdict(float), "wallets": set()}
    )
    for r in rows:
        key = find(r["target"]) if r["dst_pt"] else find(r["source"])
        c = chains[key]
        c["transfers"].append(r)
        if r["dst_pt"]:
            c["wallets"].add(r["target"])
        if r["src_pt"]:
            c["wallets"].add(r["source"])
        if not r["src_pt"]:
            c["entries"].append(r)
        if not r["dst_pt"]:
            c["exits"][r["target"]] += float(r["amount"])
    # rails: chains with the same entry, exit and start day
    rails: dict[tuple[str, str, str], dict[str, Any]] = {}
    for c in chains.values():
        if not c["entries"] or not c["exits"]:
            continue
        entry = c["entries"][0]
        exit_ = max(c["exits"].items(), key=lambda kv: (kv[1], kv[0]))[0]
        rail = rails.setdefault(
            (entry["source"], exit_, str(entry["date"])),
            {
                "entry": entry["source"],
                "exit": exit_,
                "date": str(entry["date"]),
                "currency": entry["currency"],
                "transfers": [],
                "width": 0,
                "length": 0,
                "value": 0.0,
                "wallets": 0,
            },
        )
        rail["transfers"].extend(c["transfers"])
        rail["width"] += 1
        rail["length"] = max(rail["length"], _depth(c))
        rail["value"] += sum(float(t["amount"]) for t in c["entries"])
        rail["wallets"] += len(c["wallets"])
    out = []
    for rail in rails.values():
        if rail["value"] < p["min_value_usd"]:
            continue
        if rail["width"] >= p["min_fan"]:
            rail["pattern"] = "fan_out_fan_in"
        elif rail["length"] >= p["min_peel"]:
            rail["pattern"] = "peel_chain"
        else:
            continue
        rail["transfers"].sort(key=lambda t: (t["ts"], t["edge_id"]))
        out.append(rail)
    out.sort(key=lambda r: (r["date"], r["entry"], r["exit"]))
    return out


def _depth(chain: dict[str, Any]) -> int:
    """Wallets in the longest run of pass-through wallets of a chain."""
    nxt: dict[str, list[str]] = defaultdict(list)
    for t in chain["transfers"]:
        if t["src_pt"] and t["dst_pt"]:
            nxt[t["source"]].append(t["target"])
    heads = {t["target"] for t in chain["entries"]}
    best = 0
    for head in heads:
        depth, frontier, seen = 1, [head], {head}
        while True:
            following = [n for f in frontier for n in nxt.get(f, []) if n not in seen]
            if not following:
                break
            seen.update(following)
            depth += 1
            frontier = following
        best = max(best, depth)
    return best


def _holders_and_legs(ctx: DetectContext, rails: list[dict[str, Any]], p: dict[str, Any]) -> None:
    store = ctx.store
    holders = dict(
        store.con.execute(
            "SELECT target, min(source) FROM edges WHERE kind = 'wallet_holder' GROUP BY target"
        ).fetchall()
    )
    for r in rails:
        r["entry_holder"] = holders.get(r["entry"])
        r["exit_holder"] = holders.get(r["exit"])
        r["legs"] = []
    todo = [(i, r) for i, r in enumerate(rails) if r["entry_holder"] or r["exit_holder"]]
    if not todo:
        return
    register(
        store,
        "_sc_rails",
        pa.table(
            {
                "i": pa.array([i for i, _ in todo], pa.int64()),
                "entry_holder": pa.array([r["entry_holder"] for _, r in todo], pa.string()),
                "exit_holder": pa.array([r["exit_holder"] for _, r in todo], pa.string()),
                "date": pa.array([r["date"][:10] for _, r in todo], pa.string()),
                "value": pa.array([float(r["value"]) for _, r in todo], pa.float64()),
            }
        ),
    )
    fx = fx_table(ctx, "_sc_fx")
    lo, hi = band(p, "desk_ratio")
    try:
        sql = f"""
            WITH r AS (SELECT i, entry_holder, exit_holder, CAST(date AS DATE) AS date, value
                       FROM _sc_rails),
            c AS (
              SELECT r.i, 'in' AS side, e.edge_id, e.source, e.target,
                     CAST(e.date AS VARCHAR) AS date, e.amount, e.currency,
                     abs(datediff('day', e.date, r.date)) AS gap
              FROM r JOIN edges e ON e.kind = 'payment' AND e.target = r.entry_holder
              JOIN {ident(fx)} fx ON fx.currency = e.currency
              WHERE datediff('day', e.date, r.date) BETWEEN 0 AND ?
                AND (e.amount / fx.per_usd) / r.value BETWEEN ? AND ?
                AND coalesce(e.status, '') <> 'rejected'
              UNION ALL
              SELECT r.i, 'out', e.edge_id, e.source, e.target, CAST(e.date AS VARCHAR),
                     e.amount, e.currency, abs(datediff('day', r.date, e.date))
              FROM r JOIN edges e ON e.kind = 'payment' AND e.source = r.exit_holder
              JOIN {ident(fx)} fx ON fx.currency = e.currency
              WHERE datediff('day', r.date, e.date) BETWEEN 0 AND ?
                AND (e.amount / fx.per_usd) / r.value BETWEEN ? AND ?
                AND coalesce(e.status, '') <> 'rejected'
            ), k AS (
              SELECT *, row_number() OVER (PARTITION BY i, side ORDER BY gap, edge_id) AS n
              FROM c
            )
            SELECT * FROM k WHERE n = 1 ORDER BY i, side
            """
        legs = fetch(
            store,
            sql,
            [p["desk_window_days"], lo, hi, p["desk_window_days"], 1 / hi if hi else 0, 1 / lo
             if lo else 1e9],
        )  # fmt: skip
    finally:
        unregister(store, "_sc_rails")
        unregister(store, fx)
    for leg in legs:
        rails[int(leg["i"])]["legs"].append(leg)


def _holder_step(holder: str, wallet: str, names: dict[str, str]) -> Step:
    return Step(
        kind="wallet_holder",
        source=holder,
        target=wallet,
        summary=f"Wallet {names.get(wallet, wallet)} is held by {names.get(holder, holder)}",
        entity_id=wallet,
    )


def _pay_step(leg: dict[str, Any], summary: str) -> Step:
    return Step(
        kind="payment",
        source=str(leg["source"]),
        target=str(leg["target"]),
        summary=f"{summary}: {money(leg['amount'], leg['currency'])}",
        entity_id=str(leg["edge_id"]),
        date=leg["date"],
        amount=leg["amount"],
        currency=leg["currency"],
    )
