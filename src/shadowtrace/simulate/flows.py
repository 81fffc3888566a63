"""Transactions of one batch: goods chains, payments and their rerouting, USDT rails,
friend transactions, app transfers, cash-yuan purchases, and the ordinary traffic
around them. Everything is generated column-wise with numpy and polars.

A batch covers a slice of the period. Orders and payment needs draw their random
numbers first, in fixed amounts, so that a policy changes only the flows it touches;
the rest of a world generated with a policy matches the world without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from shadowtrace.simulate.records import (
    Calib,
    Out,
    choose,
    days_to_date,
    mixed,
    money,
    n_str,
    seconds_to_ts,
)
from shadowtrace.simulate.world import (
    OCCUPIED,
    World,
    chpl_codes,
    goods,
    tron_addresses,
    tx_hashes,
)

__all__ = ["OCCUPIED", "BatchGen", "GoodsTable", "exact_share", "goods_table", "strata"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
CHANNELS = ("bank_agent", "usdt", "netting", "app", "cash_yuan")
REJECT_REASONS = [
    "RR04 Regulatory reason",
    "AG01 Transaction forbidden",
    "MS03 Reason not specified",
    "RC08 Compliance check failed",
]
ORDER_VALUE_USD = {
    "electronics": 60_000.0,
    "telecom": 220_000.0,
    "telecom_parts": 25_000.0,
    "mining": 700_000.0,
    "mining_parts": 40_000.0,
    "tools": 350_000.0,
    "consumer": 45_000.0,
}
# Categories of the goods an illicit order is for, as codes into GOODS_CATS.
GOODS_CATS = ("electronics", "telecom", "telecom_parts", "mining", "mining_parts", "tools")
CAT_SECTOR = ("electronics", "telecom", "telecom", "mining", "mining", "tools")


@dataclass(frozen=True)
class GoodsLine:
    """Goods of a set of orders: line index into the goods table, quantity, value, weight."""

    li: IntArray
    qty: FloatArray
    value: FloatArray
    kg: FloatArray

    def take(self, m: BoolArray | IntArray) -> GoodsLine:
        return GoodsLine(self.li[m], self.qty[m], self.value[m], self.kg[m])


@dataclass(frozen=True)
class GoodsTable:
    """Every goods line of goods.yml as columns; a category is a slice ``start[cat]``."""

    start: dict[str, int]
    count: dict[str, int]
    hs: pl.Series
    desc: pl.Series
    unit: pl.Series
    hs_arr: npt.NDArray[np.str_]
    unit_usd: FloatArray
    unit_kg: FloatArray
    chpl: BoolArray
    chpl_electronics: BoolArray  # CHPL codes among the electronics lines

    def lines(self, cat: str, u: FloatArray) -> IntArray:
        """Line indices of category ``cat``, chosen by ``u`` in [0, 1)."""
        k = np.minimum((u * self.count[cat]).astype(np.int64), self.count[cat] - 1)
        return self.start[cat] + k


@cache
def goods_table() -> GoodsTable:
    """The goods lines, read once."""
    start: dict[str, int] = {}
    count: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for cat, lines in goods().items():
        start[cat], count[cat] = len(rows), len(lines)
        rows.extend(lines)
    hs = [str(x["hs"]) for x in rows]
    codes = chpl_codes()
    electronics = {str(x["hs"]) for x in goods()["electronics"]}
    return GoodsTable(
        start=start,
        count=count,
        hs=pl.Series(hs, dtype=pl.String),
        desc=pl.Series([str(x["ru"]) for x in rows], dtype=pl.String),
        unit=pl.Series([str(x["unit"]) for x in rows], dtype=pl.String),
        hs_arr=np.asarray(hs),
        unit_usd=np.asarray([float(x["unit_usd"]) for x in rows]),
        unit_kg=np.asarray([float(x["unit_kg"]) for x in rows]),
        chpl=np.asarray([h in codes for h in hs]),
        chpl_electronics=np.asarray([h in codes and h in electronics for h in hs]),
    )


def exact_share(u: FloatArray, p: FloatArray | float, group: IntArray | None = None) -> BoolArray:
    """True for a share ``p`` of the rows, chosen by ``u``: in each ``group`` exactly the
    ``round(p * size)`` rows with the smallest ``u`` (``p`` constant within a group).

    A share drawn row by row (``u < p``) wanders by about ``sqrt(p (1 - p) / n)``; this
    keeps it on target in every batch while which rows are chosen stays random.
    """
    n = len(u)
    if n == 0:
        return np.zeros(0, dtype=bool)
    g = np.zeros(n, dtype=np.int64) if group is None else np.asarray(group, dtype=np.int64)
    pp = np.broadcast_to(np.asarray(p, dtype=np.float64), (n,))
    order = np.lexsort((u, g))
    gs = g[order]
    first = np.concatenate([[True], gs[1:] != gs[:-1]])
    starts = np.nonzero(first)[0]
    sizes = np.diff(np.append(starts, n))
    rank = np.arange(n) - np.repeat(starts, sizes)
    quota = np.floor(pp[order] * np.repeat(sizes, sizes) + 0.5)
    chosen = np.zeros(n, dtype=bool)
    chosen[order] = rank < quota
    return chosen


def strata(u: FloatArray, group: IntArray) -> FloatArray:
    """``u`` spread evenly over [0, 1) within each group: the k-th of m rows of a group
    gets a value in [k/m, (k+1)/m). Picking from a pool of size at most m/2 with it
    uses every member of the pool."""
    n = len(u)
    if n == 0:
        return u
    order = np.argsort(group, kind="stable")
    gs = group[order]
    first = np.concatenate([[True], gs[1:] != gs[:-1]])
    starts = np.nonzero(first)[0]
    sizes = np.diff(np.append(starts, n))
    rank = np.arange(n) - np.repeat(starts, sizes)
    out = np.empty(n)
    out[order] = (rank + u[order]) / np.repeat(sizes, sizes)
    return out


class BatchGen:
    """Generates the transactions of one batch into an ``Out``."""

    def __init__(self, w: World, out: Out, rng: np.random.Generator, cal: Calib) -> None:
        self.w = w
        self.out = out
        self.rng = rng
        self.cal = cal
        s = w.scenario
        self.s = s
        self.rate_cny = s.num("rub_per_cny")
        self.rate_usd = s.num("rub_per_usd")
        self.cny_usd = s.num("cny_per_usd")
        self.paper_country = w.a_paper
        self.true_country = w.a_country
        self.is_major = w.a_role == "bank_cn_major"
        pol = w.policy
        self.from_day = (
            (pol.from_date - w.scenario.date("period_start")).days + w.start
            if pol.from_date
            else 10**6
        )
        n = len(w.parties)

        def named(refs: set[str]) -> BoolArray:
            """Slots whose true id or canonical name a policy names."""
            if not refs:
                return np.zeros(n, dtype=bool)
            return np.asarray(
                [w.true_id(p.idx) in refs or p.names.canonical in refs for p in w.parties]
            )

        is_bank = np.asarray([p.kind == "bank" for p in w.parties])
        self.bank_sub = np.arange(n, dtype=np.int64)
        for i in np.nonzero(named(pol.closed("bank")) & is_bank)[0]:
            same = np.nonzero((w.a_role == w.a_role[i]) & (np.arange(n) != i))[0]
            self.bank_sub[i] = same[0] if len(same) else i
        self.bank_opened = named(pol.opened("bank")) & is_bank
        self.channels_closed = set(pol.closed("channel"))
        self.channels_opened = set(pol.opened("channel"))
        refs = set().union(*(pol.closed(k) for k in ("usdt_exchange", "otc_desk", "cash_branch")))
        self.closed_mask = named(refs)

    # ------------------------------------------------------------------ helpers
    def pick(self, pool: IntArray, u: FloatArray) -> IntArray:
        return pool[np.minimum((u * len(pool)).astype(np.int64), len(pool) - 1)]

    def resolve(self, idx: IntArray, days: IntArray) -> tuple[IntArray, BoolArray]:
        """Follow renames and substitutes; closed desks and branches are substituted too."""
        idx, blocked = self.w.resolve(idx, days)
        hit = self.closed_mask[idx] & (days >= self.from_day)
        if hit.any():
            adapt = self.rng.random(len(idx)) < self.s.num("adapt_probability")
            role_pool = {}
            for i in np.unique(idx[hit]):
                role = self.w.parties[int(i)].role
                same = [j for j in self.w.role(role).tolist() if not self.closed_mask[j]]
                if role == "branch":
                    region = self.w.parties[int(i)].region
                    same = [j for j in same if self.w.parties[j].region == region] or same
                role_pool[int(i)] = np.asarray(same or [i], dtype=np.int64)
            for i, pool in role_pool.items():
                m = hit & (idx == i)
                sub = self.pick(pool, self.rng.random(int(m.sum())))
                idx[m] = sub
            blocked |= hit & ~adapt
        return idx, blocked

    def tid(self, idx: IntArray) -> pl.Series:
        return self.w.tid(idx)

    def acc_id(self, idx: IntArray) -> pl.Series:
        return pl.select(pl.concat_str([pl.lit("acc-"), self.w.tid(idx).str.slice(4)])).to_series()

    def _acc_truth(self, idx: IntArray) -> pl.Series:
        has = self.w.col("account", idx).str.len_chars() > 0
        return pl.select(pl.when(has).then(self.acc_id(idx)).otherwise(pl.lit(None))).to_series()

    def names_for(self, idx: IntArray, latin: BoolArray) -> pl.Series:
        u = self.rng.random(len(idx))
        nat = self.w.name(idx, "native", u)
        lat = self.w.name(idx, "latin", u)
        return pl.select(pl.when(pl.Series(latin)).then(lat).otherwise(nat)).to_series()

    # ------------------------------------------------------------------ bank payments
    def bank(
        self,
        payer: IntArray,
        benef: IntArray,
        amount: FloatArray,
        currency: str | pl.Series,
        days: IntArray,
        status: BoolArray | None = None,
        purpose: str | pl.Series = "",
    ) -> IntArray:
        """Payment messages from ``payer`` to ``benef``; ``status`` True = accepted."""
        n = len(payer)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        w = self.w
        pbank = self.bank_sub[w.bank_of[payer]]
        bbank = self.bank_sub[w.bank_of[benef]]
        pbank = np.where(days >= self.from_day, pbank, w.bank_of[payer])
        bbank = np.where(days >= self.from_day, bbank, w.bank_of[benef])
        cross = self.paper_country[payer] != self.paper_country[benef]
        accepted = np.ones(n, dtype=bool) if status is None else status
        rids_guess = np.arange(self.out.rid, self.out.rid + n, dtype=np.int64)
        u = self.rng.random((n, 3))
        reason = pl.Series(REJECT_REASONS).gather(pl.Series((u[:, 0] * 4).astype(np.int64)))
        cols = {
            "message_id": n_str(mixed(rids_guess, 12), 12, "PMT"),
            "message_type": pl.select(
                pl.when(pl.Series(cross)).then(pl.lit("MT103")).otherwise(pl.lit("ED101"))
            ).to_series(),
            "value_date": days_to_date(days),
            "status": pl.select(
                pl.when(pl.Series(accepted)).then(pl.lit("accepted")).otherwise(pl.lit("rejected"))
            ).to_series(),
            "rejection_reason": pl.select(
                pl.when(pl.Series(accepted)).then(pl.lit(None)).otherwise(reason)
            ).to_series(),
            "amount": money(amount),
            "currency": currency,
            "payer_name": self.names_for(payer, cross),
            "payer_account": w.col("account", payer),
            "payer_inn": w.maybe("inn", payer, u[:, 1]),
            "payer_country": w.col("paper_country", payer),
            "payer_bank_name": w.name(pbank, "latin", np.zeros(n)),
            "payer_bank_bic": w.col("bic", pbank),
            "beneficiary_name": self.names_for(benef, cross),
            "beneficiary_account": w.col("account", benef),
            "beneficiary_inn": w.maybe("inn", benef, u[:, 2]),
            "beneficiary_country": w.col("paper_country", benef),
            "beneficiary_bank_name": w.name(bbank, "latin", np.zeros(n)),
            "beneficiary_bank_bic": w.col("bic", bbank),
            "purpose": purpose,
        }
        rids = self.out.emit(
            "bank_payments.csv",
            cols,
            {
                "payment": self.out.tx_ids(rids_guess),
                "payer": self.tid(payer),
                "beneficiary": self.tid(benef),
                "payer_account": self._acc_truth(payer),
                "beneficiary_account": self._acc_truth(benef),
                "payer_bank": self.tid(pbank),
                "beneficiary_bank": self.tid(bbank),
            },
            days,
        )
        self.cal.counts["bank_payments"] += n
        return rids

    # ------------------------------------------------------------------ goods
    def trade_orders(self, n: int, d0: int, d1: int) -> None:
        """Orders of Chinese goods: chains to end users, direct legit trade, local trade."""
        if n == 0:
            return
        _w, s = self.w, self.s
        U = self.rng.random((n, 24))
        days = d0 + (U[:, 0] * (d1 - d0)).astype(np.int64)
        ill = s.num("illicit_order_share")
        legit = s.num("legit_direct_share")
        kind = np.where(U[:, 1] < ill, 0, np.where(U[:, 1] < ill + legit, 1, 2))
        self._chains(U[kind == 0], days[kind == 0])
        self._direct(U[kind == 1], days[kind == 1])
        self._local(U[kind == 2], days[kind == 2])

    def _goods_line(self, li: IntArray, base_usd: FloatArray, u: FloatArray) -> GoodsLine:
        """Quantity, value and weight of orders for goods lines ``li`` (about ``base_usd``)."""
        g = goods_table()
        value = base_usd * np.exp(0.9 * (u - 0.5) * 3)
        qty = np.maximum(1, np.round(value / g.unit_usd[li]))
        return GoodsLine(li, qty, qty * g.unit_usd[li], qty * g.unit_kg[li])

    def _chains(self, U: FloatArray, days: IntArray) -> None:
        n = len(days)
        if n == 0:
            return
        w, s = self.w, self.s
        g = goods_table()
        eu = self.pick(w.role("end_user"), U[:, 2])
        sector = w.a_sector[eu]
        parts = U[:, 3] < s.num("parts_order_share")
        # category codes into GOODS_CATS: what each end user orders
        cat = np.select(
            [
                sector == "defence",
                sector == "telecom",
                np.isin(sector, ("quarrying", "coal_mining")),
            ],
            [0, np.where(parts, 2, 1), np.where(parts, 4, 3)],
            default=np.where(parts & (U[:, 4] < 0.3), 4, 5),
        ).astype(np.int64)
        li = np.zeros(n, dtype=np.int64)
        base = np.asarray([ORDER_VALUE_USD[c] for c in GOODS_CATS])[cat]
        mfr = np.empty(n, dtype=np.int64)
        for c in np.unique(cat).tolist():
            m = cat == c
            li[m] = g.lines(GOODS_CATS[c], U[m, 5])
            mfr[m] = self.pick(w.where("manufacturer", sector=CAT_SECTOR[c]), U[m, 7])
        line = self._goods_line(li, base, U[:, 6])
        # the chain: manufacturer, optional trader, k intermediaries, importer
        ks = s.weights("chain_intermediaries")
        k_vals = np.asarray([int(k) for k in ks])
        k_cum = np.cumsum([ks[k] for k in ks])
        k = k_vals[np.minimum(np.searchsorted(k_cum, U[:, 9]), len(k_vals) - 1)]
        use_trader = U[:, 10] < 0.5
        importers = w.role("importer")
        imp = importers[(eu * 7 + (U[:, 11] * 3).astype(np.int64)) % len(importers)]
        inter = w.role("intermediary")
        traders = w.role("cn_trader")
        max_k = int(k_vals.max())
        width = max_k + 3
        chain = np.full((n, width), -1, dtype=np.int64)
        chain[:, 0] = mfr
        col = np.ones(n, dtype=np.int64)
        tr = self.pick(traders, U[:, 12])
        chain[use_trader, 1] = tr[use_trader]
        col = np.where(use_trader, 2, 1)
        for j in range(max_k):
            has = j < k
            pick = self.pick(inter, self.rng.random(n))
            rows = np.nonzero(has)[0]
            chain[rows, col[rows]] = pick[rows]
            col = np.where(has, col + 1, col)
        chain[np.arange(n), col] = imp
        hops = col  # number of declarations = index of importer
        # days and values per position
        lag_lo, lag_hi = s.range("hop_lag_days")
        mk_lo, mk_hi = s.range("hop_markup")
        lags = lag_lo + self.rng.random((n, width)) * (lag_hi - lag_lo)
        marks = mk_lo + self.rng.random((n, width)) * (mk_hi - mk_lo)
        pos_day = days[:, None] + np.concatenate(
            [np.zeros((n, 1)), np.cumsum(lags[:, 1:], axis=1)], axis=1
        ).astype(np.int64)
        pos_val = line.value[:, None] * np.cumprod(
            np.concatenate([np.ones((n, 1)), 1 + marks[:, 1:]], axis=1), axis=1
        )
        # sanctions: resolve every party at the day it acts; a blocked party stops the order
        chain0, eu0 = chain.copy(), eu.copy()
        blocked = np.zeros(n, dtype=bool)
        rerouted = np.zeros(n, dtype=bool)

        def act(j: int) -> None:
            present = np.nonzero(chain[:, j] >= 0)[0]
            res, blk = self.resolve(chain[present, j], pos_day[present, j])
            rerouted[present] |= res != chain[present, j]
            chain[present, j] = res
            blocked[present] |= blk

        for j in range(1, width):
            act(j)
        eu_res, blk = self.resolve(eu, pos_day[np.arange(n), hops] + 10)
        blocked |= blk
        eu = eu_res
        # Electronics: the scenario's share is made in China, exactly, among the orders that
        # get through (what the calibration counts), CHPL lines and others apart. Which
        # orders get through is judged without the policy's listings, so that a policy does
        # not change the origin of orders it does not touch. Non-Chinese electronics comes
        # through Hong Kong traders as well.
        el = np.nonzero(cat == 0)[0]
        if len(el):
            cn_share = s.num("cn_share_critical_electronics")
            stopped = np.zeros(len(el), dtype=bool)
            for j in range(1, width):
                present = chain0[el, j] >= 0
                _, blk = w.resolve(chain0[el, j][present], pos_day[el, j][present], True)
                stopped[np.nonzero(present)[0][blk]] = True
            end = pos_day[el, hops[el]] + 10
            stopped |= w.resolve(eu0[el], end, without_policy=True)[1]
            group = 2 * g.chpl_electronics[li[el]] + stopped
            non_cn = el[exact_share(U[el, 8], 1 - cn_share, group)]
            mfr[non_cn] = self.pick(w.role("manufacturer_other"), U[non_cn, 7])
            chain[non_cn, 0] = mfr[non_cn]
        origin = w.a_origin[mfr]
        act(0)
        ok = ~blocked
        # declarations: one per hop (sender = position j, receiver = j+1)
        decl_rids = np.full((n, width), -1, dtype=np.int64)
        for j in range(width - 1):
            m = ok & (j < hops)
            if not m.any():
                continue
            sender, receiver = chain[m, j], chain[m, j + 1]
            rid = self.declarations(
                sender, receiver, pos_day[m, j + 1], pos_val[m, j], line.take(m), origin[m]
            )
            decl_rids[m, j] = rid
        # payments mirror the chain backwards: end user -> importer, then each buyer pays its
        # seller the invoice of its declaration.
        pay_rids = np.full((n, width), -1, dtype=np.int64)
        m = ok
        end_day = pos_day[np.arange(n), hops] + 5
        fin_val = pos_val[np.arange(n), hops - 1]
        self.bank(
            eu[m],
            chain[m, hops[m]],
            fin_val[m] * 1.12 * self.rate_usd,
            "RUB",
            end_day[m],
            purpose="Оплата по договору поставки оборудования",
        )
        for j in range(width - 1):
            mm = ok & (j < hops)
            if not mm.any():
                continue
            buyer, seller = chain[mm, j + 1], chain[mm, j]
            in_cny = self.paper_country[seller] == "cn"
            amount = pos_val[mm, j] * np.where(in_cny, self.cny_usd, 1.0)
            pay_rids[mm, j] = self.bank(
                buyer,
                seller,
                amount,
                choose(in_cny, "CNY", "USD"),
                pos_day[mm, j + 1] + 3,
                purpose="Payment for goods under contract",
            )
        # ground truth: flows and schemes
        chpl = g.chpl[line.li]
        chain_t = [
            pl.select(
                pl.when(pl.Series(chain[:, j] >= 0))
                .then(self.tid(np.maximum(chain[:, j], 0)))
                .otherwise(pl.lit(None))
            ).to_series()
            for j in range(width)
        ]
        hop_list = (
            pl.DataFrame({f"h{j}": c for j, c in enumerate([*chain_t, self.tid(eu)])})
            .select(pl.concat_list(pl.all()).list.drop_nulls())
            .to_series()
        )
        self.out.flow(
            {
                "typology": choose(chpl, "dual_use_supply", "multilayer_transshipment"),
                "channel": "goods_chain",
                "status": choose(ok, "delivered", "blocked"),
                "value_usd": pl.Series(np.where(ok, line.value, 0.0)),
                "intended_value_usd": pl.Series(line.value),
                "date": days_to_date(days),
                "source_id": self.tid(mfr),
                "sink_id": self.tid(eu),
                "hops": hop_list,
                "hs_code": g.hs.gather(line.li),
                "chpl": pl.Series(chpl),
                "illicit": True,
                "rerouted": pl.Series(rerouted),
            }
        )
        okn = np.nonzero(ok)[0]
        if len(okn):
            members = [c.gather(pl.Series(okn)) for c in chain_t] + [self.tid(eu[okn])]
            ev_decl = [(decl_rids[okn, j], "declaration") for j in range(width)]
            self.out.scheme("multilayer_transshipment", members, ev_decl)
            dm = chpl[okn]
            if dm.any():
                sub = np.nonzero(dm)[0]
                self.out.scheme(
                    "dual_use_supply",
                    [mm.gather(pl.Series(sub)) for mm in members],
                    [(decl_rids[okn[sub], j], "declaration") for j in range(width)],
                )
            # pass-through: each intermediary's money in and money out
            for j in range(1, width - 1):
                has = (chain[okn, j] >= 0) & (pay_rids[okn, j] >= 0) & (pay_rids[okn, j - 1] >= 0)
                has &= np.isin(w.a_role[np.maximum(chain[okn, j], 0)], ("intermediary", "front"))
                if has.any():
                    sel = okn[has]
                    self.out.scheme(
                        "pass_through_intermediary",
                        [
                            self.tid(chain[sel, j]),
                            self.tid(chain[sel, j - 1]),
                            self.tid(chain[sel, j + 1]),
                        ],
                        [(pay_rids[sel, j], "payment"), (pay_rids[sel, j - 1], "payment")],
                    )

    def declarations(
        self,
        sender: IntArray,
        receiver: IntArray,
        days: IntArray,
        value: FloatArray,
        line: GoodsLine,
        origin: npt.NDArray[np.str_],
    ) -> IntArray:
        """Customs declarations of goods ``line`` from ``sender`` to ``receiver``: an export
        declaration in the sender's country, or a Russian import declaration."""
        w = self.w
        g = goods_table()
        n = len(sender)
        r_pc = self.paper_country[receiver]
        imp = pl.Series(r_pc == "ru")
        s_pc = w.col("paper_country", sender)
        r_pcs = w.col("paper_country", receiver)
        u = self.rng.random((n, 3))
        rids_guess = np.arange(self.out.rid, self.out.rid + n, dtype=np.int64)
        date = days_to_date(days)
        ccd = pl.select(
            pl.when(imp)
            .then(
                pl.concat_str(
                    [
                        pl.lit("101"),
                        n_str(days % 900 + 100),
                        pl.lit("/"),
                        date.str.slice(8, 2),
                        date.str.slice(5, 2),
                        date.str.slice(2, 2),
                        pl.lit("/"),
                        n_str(mixed(rids_guess, 7), 7),
                    ]
                )
            )
            .otherwise(
                pl.concat_str(
                    [s_pc.str.to_uppercase(), pl.lit("-EX-"), n_str(mixed(rids_guess, 9), 9)]
                )
            )
        ).to_series()

        def pick(a: str, b: str, cond: pl.Series = imp) -> pl.Series:
            return pl.select(pl.when(cond).then(pl.lit(a)).otherwise(pl.lit(b))).to_series()

        transport = pl.Series(u[:, 2] < 0.6)
        rail = pick("rail", "air", pl.Series(u[:, 2] < 0.9))
        cols = {
            "declaration_number": ccd,
            "declaration_date": date,
            "direction": pick("ИМ", "ЭК"),
            "customs_procedure": pick("40", "10"),
            "reporting_country": pl.select(
                pl.when(imp).then(pl.lit("ru")).otherwise(s_pc)
            ).to_series(),
            "sender_name": self.names_for(sender, np.ones(n, dtype=bool)),
            "sender_id": w.maybe("taxid", sender, u[:, 0]),
            "sender_country": s_pc,
            "sender_address": w.col("address", sender),
            "receiver_name": self.names_for(receiver, r_pc != "ru"),
            "receiver_id": w.maybe("taxid", receiver, u[:, 1]),
            "receiver_country": r_pcs,
            "receiver_address": w.col("address", receiver),
            "trading_country": s_pc,
            "origin_country": pl.Series(origin, dtype=pl.String),
            "departure_country": s_pc,
            "destination_country": r_pcs,
            "hs_code": g.hs.gather(line.li),
            "goods_description": g.desc.gather(line.li),
            "quantity": money(line.qty, 0),
            "quantity_unit": g.unit.gather(line.li),
            "net_weight_kg": money(line.kg, 1),
            "invoice_amount": money(value),
            "invoice_currency": "USD",
            "customs_value_rub": money(value * self.rate_usd),
            "usd_rate": money(np.full(n, self.rate_usd), 4),
            "transport": pl.select(
                pl.when(transport).then(pl.lit("road")).otherwise(rail)
            ).to_series(),
        }
        rids = self.out.emit(
            "customs_declarations.csv",
            cols,
            {
                "declaration": n_str(rids_guess, 10, "cd-"),
                "sender": self.tid(sender),
                "receiver": self.tid(receiver),
            },
            days,
        )
        # calibration: direct declarations China -> occupied territories (officially none),
        # and the Chinese share of CHPL electronics declared into Russia
        cal = self.cal
        s_true, r_true = self.true_country[sender], self.true_country[receiver]
        cal.direct_cn_occupied += int(np.sum((s_true == "cn") & np.isin(r_true, OCCUPIED)))
        m = (r_pc == "ru") & g.chpl_electronics[line.li]
        cal.chpl_value_all += float(m.sum())
        cal.chpl_value_cn += float((m & (origin == "cn")).sum())
        cal.counts["customs_declarations"] += n
        return rids

    def _consumer_goods(self, n: int, u: FloatArray, u2: FloatArray) -> GoodsLine:
        g = goods_table()
        return self._goods_line(g.lines("consumer", u), np.full(n, ORDER_VALUE_USD["consumer"]), u2)

    def _direct(self, U: FloatArray, days: IntArray) -> None:
        """Civilian goods shipped China -> Russia and paid for (negatives for goods)."""
        n = len(days)
        if n == 0:
            return
        w = self.w
        mfr = self.pick(w.where("manufacturer", sector="consumer"), U[:, 2])
        buyer = self.pick(w.role("legit_importer"), U[:, 3])
        line = self._consumer_goods(n, U[:, 4], U[:, 5])
        self.declarations(mfr, buyer, days, line.value, line, np.full(n, "cn"))
        self.out.flow(
            {
                "typology": "legitimate_trade",
                "channel": "goods_direct",
                "status": "delivered",
                "value_usd": pl.Series(line.value),
                "intended_value_usd": pl.Series(line.value),
                "date": days_to_date(days),
                "source_id": self.tid(mfr),
                "sink_id": self.tid(buyer),
                "hops": pl.DataFrame({"a": self.tid(mfr), "b": self.tid(buyer)})
                .select(pl.concat_list(pl.all()))
                .to_series(),
                "hs_code": goods_table().hs.gather(line.li),
                "chpl": False,
                "illicit": False,
                "rerouted": False,
            }
        )
        self.payment_needs(buyer, mfr, line.value * self.cny_usd, days + 10, U[:, 6:], "trade")

    def _local(self, U: FloatArray, days: IntArray) -> None:
        """Chinese goods sold to buyers in transit countries who keep them (negatives)."""
        n = len(days)
        if n == 0:
            return
        w = self.w
        mfr = self.pick(w.where("manufacturer", sector=("consumer", "tools")), U[:, 2])
        buyer = self.pick(w.role("local_buyer"), U[:, 3])
        line = self._consumer_goods(n, U[:, 4], U[:, 5])
        self.declarations(mfr, buyer, days, line.value, line, np.full(n, "cn"))
        self.bank(
            buyer, mfr, line.value * self.cny_usd, "CNY", days + 12, purpose="Payment for goods"
        )

    # ------------------------------------------------------------------ payment needs
    def payment_needs(
        self,
        payer: IntArray,
        benef: IntArray,
        value_cny: FloatArray,
        days: IntArray,
        U: FloatArray,
        context: str,
    ) -> None:
        """Russian payers paying Chinese beneficiaries: attempt, rejection, rerouting."""
        n = len(payer)
        if n == 0:
            return
        w, s = self.w, self.s
        payer, blk_p = self.resolve(payer, days)
        bbank = w.bank_of[benef]
        major = self.is_major[bbank]
        # Exactly the scenario's share of attempts is rejected at major and at regional banks;
        # a bank a policy opens rejects, from the policy date, as a regional bank does.
        regional_rate = s.num("regional_bank_rejection_rate")
        rej_p = np.where(major, s.num("cn_bank_rejection_rate"), regional_rate)
        rejected = exact_share(U[:, 0], rej_p, major.astype(np.int64))
        opened = self.bank_opened[bbank] & (days >= self.from_day)
        if opened.any():
            rejected[opened] = exact_share(U[opened, 0], regional_rate)
        attempt = self.bank(
            payer,
            benef,
            value_cny,
            "CNY",
            days,
            ~rejected,
            purpose="Оплата за товар по контракту" if context == "sme" else "Payment for goods",
        )
        self.cal.attempts_major += int(major.sum())
        self.cal.rejected_major += int((major & rejected).sum())
        fee = s.num("intermediary_fee_min") + U[:, 1] * (
            s.num("intermediary_fee_max") - s.num("intermediary_fee_min")
        )
        # channel choice
        mix = dict(s.weights("reroute_channels"))
        for c in self.channels_opened:
            mix[c] = mix.get(c, 0.0) or (1.0 / len(CHANNELS))
        names_ = [c for c in CHANNELS if mix.get(c, 0) > 0]
        cum = np.cumsum([mix[c] for c in names_])
        cum = cum / cum[-1]
        ch_idx = np.minimum(np.searchsorted(cum, U[:, 2]), len(names_) - 1)
        channel = np.asarray(names_, dtype=object)[ch_idx]
        occupied_payer = np.isin(self.true_country[payer], OCCUPIED)
        channel = np.where((channel == "cash_yuan") & ~occupied_payer, "usdt", channel)
        channel = np.where((channel == "app") & (value_cny > 400_000), "bank_agent", channel)
        rdays = days + 1 + (U[:, 3] * 6).astype(np.int64)
        blocked = blk_p.copy()
        policy_moved = np.zeros(n, dtype=bool)
        if self.channels_closed:
            after = rdays >= self.from_day
            open_ = [c for c in names_ if c not in self.channels_closed] or ["bank_agent"]
            for c in self.channels_closed:
                hit = rejected & after & (channel == c)
                adapt = U[:, 4] < s.num("adapt_probability")
                sub = np.asarray(open_, dtype=object)[
                    (U[:, 5] * len(open_)).astype(np.int64) % len(open_)
                ]
                sub = np.where((sub == "cash_yuan") & ~occupied_payer, "bank_agent", sub)
                channel = np.where(hit & adapt, sub, channel)
                blocked |= hit & ~adapt
                policy_moved |= hit & adapt
        routed = rejected & ~blocked
        failed = blocked & rejected
        delivered_val = np.where(blocked & rejected, 0.0, value_cny)
        evid: list[tuple[IntArray, IntArray, str]] = []
        hop_frames: list[pl.DataFrame] = []
        for c in CHANNELS:
            m = routed & (channel == c)
            if not m.any():
                continue
            idx = np.nonzero(m)[0]
            fn = getattr(self, f"_via_{c}")
            res = fn(payer[idx], benef[idx], value_cny[idx], fee[idx], rdays[idx], U[idx])
            hops_list, rec_inst, rec_rids, ok = res
            blocked_c = ~ok
            failed[idx[blocked_c]] = True
            delivered_val[idx[blocked_c]] = 0.0
            hop_frames.append(pl.DataFrame({"i": pl.Series(idx), "hops": hops_list}))
            evid.append((idx[rec_inst], rec_rids, c))
        # flows
        direct_hops = (
            pl.DataFrame({"a": self.tid(payer), "b": self.tid(benef)})
            .select(pl.concat_list(pl.all()).alias("hops"))
            .with_columns(pl.Series("i", np.arange(n)))
        )
        if hop_frames:
            hf = pl.concat(hop_frames)
            hops_all = direct_hops.join(hf, on="i", how="left", suffix="_r").select(
                pl.coalesce("hops_r", "hops").alias("hops")
            )["hops"]
        else:
            hops_all = direct_hops["hops"]
        chan_col = np.where(rejected, channel, "bank_direct")
        illicit = rejected
        self.out.flow(
            {
                "typology": choose(rejected, "rerouted_payment", "legitimate_payment"),
                "channel": pl.Series(chan_col.tolist(), dtype=pl.String),
                "status": choose(failed, "blocked", "delivered"),
                "value_usd": pl.Series(delivered_val / self.cny_usd),
                "intended_value_usd": pl.Series(value_cny / self.cny_usd),
                "date": days_to_date(days),
                "source_id": self.tid(payer),
                "sink_id": self.tid(benef),
                "hops": hops_all,
                "hs_code": None,
                "chpl": False,
                "illicit": pl.Series(illicit),
                "rerouted": pl.Series(rejected | policy_moved),
            }
        )
        # rerouted_payment schemes: the rejected attempt plus the reroute records
        if evid:
            inst_all = np.concatenate([e[0] for e in evid])
            rid_all = np.concatenate([e[1] for e in evid])
            pays = np.unique(inst_all)
            local = np.searchsorted(pays, inst_all)
            hops_sel = hops_all.gather(pl.Series(pays))
            members = [hops_sel.list.get(k, null_on_oob=True) for k in range(8)]
            self.out.scheme(
                "rerouted_payment",
                members,
                [(attempt[pays], "payment")],
                evidence_lists=(local, rid_all, "payment"),
                label=pl.Series(channel[pays].tolist(), dtype=pl.String),
            )
            bank_m = channel[pays] == "bank_agent"
            f = fee[pays][bank_m & ~blocked[pays]]
            if len(f):
                self.cal.fee_min = min(self.cal.fee_min, float(f.min()))
                self.cal.fee_max = max(self.cal.fee_max, float(f.max()))
                self.cal.fee_count += len(f)

    def _agents(self, pool: IntArray, u: FloatArray, days: IntArray) -> tuple[IntArray, BoolArray]:
        idx = self.pick(pool, u)
        return self.resolve(idx, days)

    def _via_bank_agent(
        self,
        payer: IntArray,
        benef: IntArray,
        v: FloatArray,
        fee: FloatArray,
        days: IntArray,
        U: FloatArray,
    ) -> tuple[pl.Series, IntArray, IntArray, BoolArray]:
        n = len(payer)
        ls = self.s.weights("agent_layers")
        vals = np.asarray([int(k) for k in ls])
        cum = np.cumsum([ls[k] for k in ls])
        layers = vals[np.minimum(np.searchsorted(cum, U[:, 6]), len(vals) - 1)]
        pool = self.w.role("payment_agent")
        L = int(layers.max())
        agents = np.full((n, L), -1, dtype=np.int64)
        ok = np.ones(n, dtype=bool)
        for j in range(L):
            a, blk = self._agents(pool, self.rng.random(n), days + j)
            has = j < layers
            agents[has, j] = a[has]
            ok &= ~(blk & has)
        inst: list[IntArray] = []
        rids: list[IntArray] = []
        # payer -> agent 1: value plus the whole fee
        r = self.bank(
            payer[ok],
            agents[ok, 0],
            v[ok] * (1 + fee[ok]),
            "CNY",
            days[ok],
            purpose="Оплата по агентскому договору",
        )
        inst.append(np.nonzero(ok)[0])
        rids.append(r)
        for j in range(L):
            has = ok & (j < layers)
            last = has & (j == layers - 1)
            mid = has & ~last
            share = 1 + fee * (layers - j - 1) / np.maximum(layers, 1) * 0.5
            if mid.any():
                rids.append(
                    self.bank(
                        agents[mid, j],
                        agents[mid, j + 1],
                        v[mid] * share[mid],
                        "CNY",
                        days[mid] + j + 1,
                        purpose="Transfer under agency agreement",
                    )
                )
                inst.append(np.nonzero(mid)[0])
            if last.any():
                rids.append(
                    self.bank(
                        agents[last, j],
                        benef[last],
                        v[last],
                        "CNY",
                        days[last] + j + 2,
                        purpose="Payment for goods on behalf of client",
                    )
                )
                inst.append(np.nonzero(last)[0])
        cols = {"p": self.tid(payer)}
        for j in range(L):
            cols[f"a{j}"] = pl.select(
                pl.when(pl.Series(agents[:, j] >= 0))
                .then(self.tid(np.maximum(agents[:, j], 0)))
                .otherwise(pl.lit(None))
            ).to_series()
        cols["b"] = self.tid(benef)
        hops = pl.DataFrame(cols).select(pl.concat_list(pl.all()).list.drop_nulls()).to_series()
        return hops, np.concatenate(inst), np.concatenate(rids), ok

    def _new_wallets(self, holder: IntArray, label: str) -> tuple[IntArray, pl.Series]:
        """Fresh wallets (addresses) held by ``holder``, registered for the ground truth."""
        n = len(holder)

        addr = tron_addresses(self.rng, n)
        wid = np.arange(self.out.rid, self.out.rid + n, dtype=np.int64)  # unique within run
        self.out.rid += n
        self.out.wallets.append(
            pl.DataFrame(
                {
                    "true_id": n_str(wid, 10, "wal-"),
                    "address": addr,
                    "holder": self.tid(holder),
                    "label": label,
                }
            )
        )
        return wid, addr

    def _known_wallet(self, holder: IntArray, u: FloatArray) -> tuple[pl.Series, pl.Series]:
        """Address and true id of one known wallet of each holder."""
        k = pl.Series(self.w.wallet_of(holder, u))
        return self.w.w_address.gather(k), self.w.w_tid.gather(k)

    def usdt(
        self,
        src_addr: pl.Series,
        src_tid: pl.Series,
        dst_addr: pl.Series,
        dst_tid: pl.Series,
        amount: FloatArray,
        days: IntArray,
    ) -> IntArray:
        n = len(amount)
        if n == 0:
            return np.zeros(0, dtype=np.int64)

        secs = self.rng.integers(0, 86400, n)
        hashes = tx_hashes(self.rng, n)
        cols = {
            "tx_hash": hashes,
            "block_number": pl.Series(55_000_000 + (days - 8400) * 28_800 + secs // 3),
            "timestamp": seconds_to_ts(days, secs),
            "from_address": src_addr,
            "to_address": dst_addr,
            "amount": pl.Series(np.round(amount, 6)),
            "token": "USDT",
            "chain": "TRON",
        }
        self.cal.counts["usdt_transfers"] += n
        return self.out.emit(
            "usdt_transfers.parquet",
            cols,
            {
                "transfer": pl.select(
                    pl.concat_str([pl.lit("tx-"), hashes.str.slice(0, 16)])
                ).to_series(),
                "source_wallet": src_tid,
                "target_wallet": dst_tid,
            },
            days,
        )

    def _via_usdt(
        self,
        payer: IntArray,
        benef: IntArray,
        v: FloatArray,
        fee: FloatArray,
        days: IntArray,
        U: FloatArray,
    ) -> tuple[pl.Series, IntArray, IntArray, BoolArray]:
        w, s = self.w, self.s
        desks = w.role("otc_desk")
        ru_side = desks[~w.a_cn_side[desks]]
        cn_side = desks[w.a_cn_side[desks]]
        d_ru, b1 = self.resolve(self.pick(ru_side, U[:, 7]), days)
        d_cn, b2 = self.resolve(self.pick(cn_side, U[:, 8]), days + 2)
        ok = ~(b1 | b2)
        idx = np.nonzero(ok)[0]
        inst: list[IntArray] = []
        rids: list[IntArray] = []
        usd = v / self.cny_usd
        # 1. RUB to the Russian-side desk
        rids.append(
            self.bank(
                payer[ok],
                d_ru[ok],
                v[ok] * (1 + fee[ok]) * self.rate_cny,
                "RUB",
                days[ok],
                purpose="Оплата по договору купли-продажи",
            )
        )
        inst.append(idx)
        # 2. the rail: desk wallet -> peel chain or fan-out/fan-in -> CN-side desk wallet
        lo, hi = s.range("usdt_peel_hops")
        flo, fhi = s.range("usdt_fan_out")
        src_a, src_t = self._known_wallet(d_ru[ok], U[ok, 9])
        dst_a, dst_t = self._known_wallet(d_cn[ok], U[ok, 10])
        fan = U[ok, 11] < 0.4
        m = len(idx)
        hop_n = (lo + U[ok, 12] * (hi - lo + 1)).astype(np.int64)
        hop_n = np.where(fan, 1, hop_n)
        width = (flo + U[ok, 13] * (fhi - flo + 1)).astype(np.int64)
        width = np.where(fan, width, 1)
        # fresh intermediate wallets, held (truly) by the Russian-side desk
        per = hop_n * width
        owner = np.repeat(d_ru[ok], per)
        wid, waddr = self._new_wallets(owner, "rail")
        start = np.concatenate([[0], np.cumsum(per)[:-1]])
        day_r = np.repeat(days[ok], per) + 1
        amount = np.repeat(usd[ok] / width, per)
        inst_r = np.repeat(np.arange(m), per)
        pos = np.arange(per.sum()) - np.repeat(start, per)
        w_of = np.repeat(width, per)
        level = pos // w_of  # 0..hop_n-1
        wtid = n_str(wid, 10, "wal-")
        # edges: into level 0 from the source; level k-1 -> level k (same lane); last -> dest
        first = level == 0
        src_idx = np.nonzero(first)[0]
        r0 = self.usdt(
            src_a.gather(pl.Series(inst_r[src_idx])),
            src_t.gather(pl.Series(inst_r[src_idx])),
            waddr.gather(pl.Series(src_idx)),
            wtid.gather(pl.Series(src_idx)),
            amount[src_idx],
            day_r[src_idx],
        )
        inst.append(idx[inst_r[src_idx]])
        rids.append(r0)
        mid = np.nonzero(~first)[0]
        r1 = r2 = np.zeros(0, np.int64)
        if len(mid):
            prev = mid - w_of[mid]
            peel = 0.01 + 0.04 * self.rng.random(len(mid))
            r1 = self.usdt(
                waddr.gather(pl.Series(prev)),
                wtid.gather(pl.Series(prev)),
                waddr.gather(pl.Series(mid)),
                wtid.gather(pl.Series(mid)),
                amount[mid] * (1 - peel),
                day_r[mid] + level[mid],
            )
            inst.append(idx[inst_r[mid]])
            rids.append(r1)
            # the peeled-off amounts go to fresh side wallets of the same holder
            sid, saddr = self._new_wallets(np.repeat(d_ru[ok], per)[mid], "peel")
            r2 = self.usdt(
                waddr.gather(pl.Series(prev)),
                wtid.gather(pl.Series(prev)),
                saddr,
                n_str(sid, 10, "wal-"),
                amount[mid] * peel,
                day_r[mid] + level[mid],
            )
            inst.append(idx[inst_r[mid]])
            rids.append(r2)
        last = np.nonzero(level == np.repeat(hop_n, per) - 1)[0]
        r3 = self.usdt(
            waddr.gather(pl.Series(last)),
            wtid.gather(pl.Series(last)),
            dst_a.gather(pl.Series(inst_r[last])),
            dst_t.gather(pl.Series(inst_r[last])),
            amount[last] * 0.97,
            day_r[last] + level[last] + 1,
        )
        inst.append(idx[inst_r[last]])
        rids.append(r3)
        # 3. the CN-side desk pays the beneficiary in yuan
        r4 = self.bank(
            d_cn[ok], benef[ok], v[ok], "CNY", days[ok] + hop_n + 3, purpose="Payment for goods"
        )
        inst.append(idx)
        rids.append(r4)
        # stablecoin rail scheme
        empty = np.zeros(0, np.int64)
        mid_inst = idx[inst_r[mid]] if len(mid) else empty
        rail_inst = np.concatenate([idx[inst_r[src_idx]], mid_inst, mid_inst, idx[inst_r[last]]])
        rail_rids = np.concatenate([r0, r1 if len(mid) else empty, r2 if len(mid) else empty, r3])
        local = np.searchsorted(idx, rail_inst)
        self.out.scheme(
            "stablecoin_rail",
            [self.tid(payer[ok]), self.tid(d_ru[ok]), self.tid(d_cn[ok]), self.tid(benef[ok])],
            [(rids[0], "payment"), (r4, "payment")],
            evidence_lists=(local, rail_rids, "transfer"),
            label=choose(fan, "fan_out_fan_in", "peel_chain"),
        )
        hops = (
            pl.DataFrame(
                {
                    "p": self.tid(payer),
                    "a": self.tid(d_ru),
                    "c": self.tid(d_cn),
                    "b": self.tid(benef),
                }
            )
            .select(pl.concat_list(pl.all()))
            .to_series()
        )
        return hops, np.concatenate(inst), np.concatenate(rids), ok

    def _via_netting(
        self,
        payer: IntArray,
        benef: IntArray,
        v: FloatArray,
        fee: FloatArray,
        days: IntArray,
        U: FloatArray,
    ) -> tuple[pl.Series, IntArray, IntArray, BoolArray]:
        w, s = self.w, self.s
        brokers = self.pick(w.role("netting_broker"), U[:, 7])
        ru_ag = w.agents_ru[brokers, (U[:, 8] * 3).astype(np.int64) % 3]
        cn_ag = w.agents_cn[brokers, (U[:, 9] * 3).astype(np.int64) % 3]
        ru_ag, b1 = self.resolve(ru_ag, days)
        cn_ag, b2 = self.resolve(cn_ag, days)
        ok = ~(b1 | b2)
        idx = np.nonzero(ok)[0]
        rub = v * (1 + fee) * self.rate_cny
        r_ru = self.bank(
            payer[ok],
            ru_ag[ok],
            rub[ok],
            "RUB",
            days[ok],
            purpose="Оплата по договору оказания услуг",
        )
        dd = days + (U[:, 10] * 5).astype(np.int64) - 2
        r_cn = self.bank(cn_ag[ok], benef[ok], v[ok], "CNY", dd[ok], purpose="货款")
        # the broker's ledger (partly seized)
        led = ok & (U[:, 11] < s.num("netting_ledger_share"))
        li = np.nonzero(led[ok])[0]
        r_led = np.zeros(0, dtype=np.int64)
        if len(li):
            sel = idx[li]
            msg_ru = n_str(mixed(r_ru[li], 12), 12, "PMT")
            msg_cn = n_str(mixed(r_cn[li], 12), 12, "PMT")
            rg = np.arange(self.out.rid, self.out.rid + len(li), dtype=np.int64)
            r_led = self.out.emit(
                "netting_ledger.csv",
                {
                    "entry_no": n_str(mixed(rg, 8), 8, "N-"),
                    "entry_date": days_to_date(days[sel]),
                    "client_name": self.names_for(payer[sel], np.zeros(len(sel), dtype=bool)),
                    "client_inn": w.maybe("inn", payer[sel], self.rng.random(len(sel))),
                    "beneficiary_name": self.names_for(benef[sel], np.ones(len(sel), dtype=bool)),
                    "broker_name": self.names_for(brokers[sel], np.zeros(len(sel), dtype=bool)),
                    "amount_rub": money(rub[sel]),
                    "amount_cny": money(v[sel]),
                    "rate": money(np.full(len(sel), self.rate_cny), 4),
                    "rub_leg_ref": msg_ru,
                    "cny_leg_ref": msg_cn,
                },
                {
                    "netting": n_str(rg, 10, "tx-"),
                    "client": self.tid(payer[sel]),
                    "beneficiary": self.tid(benef[sel]),
                    "broker": self.tid(brokers[sel]),
                    "rub_leg": n_str(r_ru[li], 10, "tx-"),
                    "cny_leg": n_str(r_cn[li], 10, "tx-"),
                },
                days[sel],
            )
        local_led = np.searchsorted(idx, idx[li]) if len(li) else np.zeros(0, np.int64)
        self.out.scheme(
            "netting",
            [
                self.tid(payer[ok]),
                self.tid(ru_ag[ok]),
                self.tid(brokers[ok]),
                self.tid(cn_ag[ok]),
                self.tid(benef[ok]),
            ],
            [(r_ru, "payment"), (r_cn, "payment")],
            evidence_lists=(local_led, r_led, "netting"),
        )
        hops = (
            pl.DataFrame(
                {
                    "p": self.tid(payer),
                    "a": self.tid(ru_ag),
                    "k": self.tid(brokers),
                    "c": self.tid(cn_ag),
                    "b": self.tid(benef),
                }
            )
            .select(pl.concat_list(pl.all()))
            .to_series()
        )
        inst = np.concatenate([idx, idx])
        return hops, inst, np.concatenate([r_ru, r_cn]), ok

    def app(self, payer: IntArray, benef: IntArray, amount: FloatArray, days: IntArray) -> IntArray:
        """Alipay / WeChat transfers between the app accounts of two parties."""
        n = len(payer)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        w = self.w
        acc_p = w.col("app_account", payer)
        acc_b = w.col("app_account", benef)
        platform = pl.select(
            pl.when(acc_p.str.starts_with("wxid_"))
            .then(pl.lit("WeChat Pay"))
            .otherwise(pl.lit("Alipay"))
        ).to_series()
        rg = np.arange(self.out.rid, self.out.rid + n, dtype=np.int64)
        secs = self.rng.integers(0, 86400, n)
        u = self.rng.random(n)
        self.cal.counts["app_payments"] += n
        return self.out.emit(
            "app_payments.csv",
            {
                "platform": platform,
                "transaction_id": n_str(mixed(rg, 14), 14, "4200"),
                "created_at": seconds_to_ts(days, secs).dt.strftime("%Y-%m-%dT%H:%M:%S"),
                "payer_account_id": acc_p,
                "payer_display_name": self.names_for(payer, u < 0.5),
                "beneficiary_account_id": acc_b,
                "beneficiary_display_name": self.names_for(benef, u < 0.3),
                "amount": money(amount),
                "currency": "CNY",
            },
            {
                "payment": n_str(rg, 10, "tx-"),
                "payer_account": pl.select(
                    pl.concat_str([pl.lit("app-"), self.tid(payer).str.slice(4)])
                ).to_series(),
                "beneficiary_account": pl.select(
                    pl.concat_str([pl.lit("app-"), self.tid(benef).str.slice(4)])
                ).to_series(),
            },
            days,
        )

    def _via_app(
        self,
        payer: IntArray,
        benef: IntArray,
        v: FloatArray,
        fee: FloatArray,
        days: IntArray,
        U: FloatArray,
    ) -> tuple[pl.Series, IntArray, IntArray, BoolArray]:
        w = self.w
        agent, blk = self.resolve(self.pick(w.role("app_agent"), U[:, 7]), days)
        ok = ~blk
        idx = np.nonzero(ok)[0]
        r0 = self.bank(
            payer[ok],
            agent[ok],
            v[ok] * (1 + fee[ok]) * self.rate_cny,
            "RUB",
            days[ok],
            purpose="Перевод по договору",
        )
        pieces = np.maximum(1, np.ceil(v[ok] / 45_000).astype(np.int64))
        rep = np.repeat(np.arange(len(idx)), pieces)
        amt = np.repeat(v[ok] / pieces, pieces)
        dd = np.repeat(days[ok], pieces) + 1 + (self.rng.random(len(rep)) * 4).astype(np.int64)
        r1 = self.app(np.repeat(agent[ok], pieces), np.repeat(benef[ok], pieces), amt, dd)
        hops = (
            pl.DataFrame({"p": self.tid(payer), "a": self.tid(agent), "b": self.tid(benef)})
            .select(pl.concat_list(pl.all()))
            .to_series()
        )
        return hops, np.concatenate([idx, idx[rep]]), np.concatenate([r0, r1]), ok

    def cash(self, buyer: IntArray, branch: IntArray, cny: FloatArray, days: IntArray) -> IntArray:
        n = len(buyer)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        w = self.w
        rg = np.arange(self.out.rid, self.out.rid + n, dtype=np.int64)
        rate = self.rate_cny * (1 + 0.04 * np.sin(days / 60.0)) * 1.03
        doc = pl.select(
            pl.concat_str(
                [
                    pl.lit("паспорт "),
                    n_str(
                        (
                            w.cols["true_id"]
                            .gather(pl.Series(buyer))
                            .str.slice(4)
                            .cast(pl.Int64)
                            .to_numpy()
                            * 7919
                            % 10**10
                        ),
                        10,
                    ),
                ]
            )
        ).to_series()
        self.cal.branches.update(w.col("reg_no", branch).unique().to_list())
        self.cal.counts["cash_sales"] += n
        return self.out.emit(
            "cash_yuan_sales.csv",
            {
                "operation_id": n_str(mixed(rg, 10), 10, "KO-"),
                "operation_date": days_to_date(days),
                "branch_code": w.col("reg_no", branch),
                "branch_name": w.name(branch, "native", np.ones(n)),
                "branch_address": w.col("address", branch),
                "region": w.col("region", branch),
                "buyer_name": w.name(buyer, "native", self.rng.random(n)),
                "buyer_document": doc,
                "amount_cny": money(cny),
                "paid_rub": money(cny * rate),
                "rate": money(rate, 4),
            },
            {"sale": n_str(rg, 10, "tx-"), "buyer": self.tid(buyer), "branch": self.tid(branch)},
            days,
        )

    def _branches_for(
        self, who: IntArray, u: FloatArray, days: IntArray, spread: bool = False
    ) -> tuple[IntArray, BoolArray]:
        """A branch in the region of each buyer (any branch where the region has none).
        ``spread``: every branch of a region serves some of its buyers."""
        branches = self.w.role("branch")
        b_region = self.w.a_region[branches]
        n_regions = int(max(b_region.max(initial=-1), self.w.a_region.max(initial=-1))) + 1
        size = np.bincount(b_region[b_region >= 0], minlength=n_regions)
        order = np.argsort(b_region, kind="stable")
        start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
        reg = self.w.a_region[who]
        local = (reg >= 0) & (size[np.maximum(reg, 0)] > 0)
        group = np.where(local, reg, n_regions)
        if spread:
            u = strata(u, group)
        cnt = np.where(local, size[np.maximum(reg, 0)], len(branches))
        k = np.minimum((u * cnt).astype(np.int64), cnt - 1)
        pos = np.where(local, order[np.minimum(start[np.maximum(reg, 0)] + k, len(order) - 1)], k)
        return self.resolve(branches[pos], days)

    def _via_cash_yuan(
        self,
        payer: IntArray,
        benef: IntArray,
        v: FloatArray,
        fee: FloatArray,
        days: IntArray,
        U: FloatArray,
    ) -> tuple[pl.Series, IntArray, IntArray, BoolArray]:
        w, s = self.w, self.s
        thr = s.num("cash_reporting_threshold_rub")
        lo, hi = s.range("structuring_pieces")
        rub = v * self.rate_cny
        pieces = np.clip(np.ceil(rub / (0.9 * thr)), lo, hi).astype(np.int64)
        rep = np.repeat(np.arange(len(payer)), pieces)
        frac = 0.80 + 0.19 * self.rng.random(len(rep))
        cny = thr * frac / (self.rate_cny * 1.03 * 1.05)
        proxies = self.pick(w.role("cash_proxy"), self.rng.random(len(rep)))
        dd = np.repeat(days, pieces) + (self.rng.random(len(rep)) * 6).astype(np.int64)
        proxies, bp = self.resolve(proxies, dd)
        branch, bb = self._branches_for(np.repeat(payer, pieces), self.rng.random(len(rep)), dd)
        piece_ok = ~(bp | bb)
        ok = np.bincount(rep, weights=piece_ok, minlength=len(payer)) > 0
        r = self.cash(proxies[piece_ok], branch[piece_ok], cny[piece_ok], dd[piece_ok])
        inst = rep[piece_ok]
        idx_all = np.nonzero(ok)[0]
        local = np.searchsorted(idx_all, inst)
        members_p = (
            pl.DataFrame({"p": self.tid(proxies[piece_ok]), "i": pl.Series(local)})
            .group_by("i", maintain_order=True)
            .agg(pl.col("p").unique(maintain_order=True))
            .sort("i")
        )
        lst = members_p["p"]
        mem = [self.tid(payer[ok]), self.tid(benef[ok])] + [
            lst.list.get(k, null_on_oob=True) for k in range(6)
        ]
        self.out.scheme("cash_structuring", mem, evidence_lists=(local, r, "sale"))
        hops = (
            pl.DataFrame({"p": self.tid(payer), "b": self.tid(benef)})
            .select(pl.concat_list(pl.all()))
            .to_series()
        )
        return hops, inst, r, ok

    # ------------------------------------------------------------------ SME needs and noise
    def sme_needs(self, n: int, d0: int, d1: int) -> None:
        if n == 0:
            return
        w = self.w
        U = self.rng.random((n, 20))
        days = d0 + (U[:, 0] * (d1 - d0)).astype(np.int64)
        payer = self.pick(w.role("sme"), U[:, 1])
        pool = np.concatenate(
            [w.where("cn_trader", country="cn"), w.where("manufacturer", sector="consumer")]
        )
        pool = pool[w.a_country[pool] == "cn"]
        benef = self.pick(pool, U[:, 2])
        value = 150_000.0 * np.exp(1.1 * (U[:, 3] - 0.5) * 3)
        self.payment_needs(payer, benef, value, days, U[:, 4:], "sme")

    def domestic(self, n: int, d0: int, d1: int) -> None:
        if n == 0:
            return
        w = self.w
        U = self.rng.random((n, 5))
        days = d0 + (U[:, 0] * (d1 - d0)).astype(np.int64)
        ru = np.concatenate(
            [
                w.role("ru_company"),
                w.role("importer"),
                w.role("legit_importer"),
                w.role("sme"),
                w.role("end_user"),
            ]
        )
        cn = np.concatenate([w.role("cn_company"), w.role("manufacturer")])
        cn = cn[w.a_country[cn] == "cn"]
        is_cn = U[:, 1] < 0.3
        a = np.where(is_cn, self.pick(cn, U[:, 2]), self.pick(ru, U[:, 2]))
        b = np.where(is_cn, self.pick(cn, U[:, 3]), self.pick(ru, U[:, 3]))
        b = np.where(
            a == b, np.where(is_cn, self.pick(cn, 1 - U[:, 3]), self.pick(ru, 1 - U[:, 3])), b
        )
        amount = 300_000.0 * np.exp(1.2 * (U[:, 4] - 0.5) * 3)
        cur = pl.select(
            pl.when(pl.Series(is_cn)).then(pl.lit("CNY")).otherwise(pl.lit("RUB"))
        ).to_series()
        self.bank(a, b, amount, cur, days, purpose="Оплата по договору")

    def crypto_noise(self, n: int, d0: int, d1: int) -> None:
        """USDT transfers between retail wallets, and deposits to and withdrawals from the
        exchanges. A closed exchange loses its deposits and withdrawals from the policy date:
        users move to another exchange or an OTC desk (``adapt_probability``) or stop."""
        if n == 0:
            return
        w = self.w
        U = self.rng.random((n, 7))
        days = d0 + (U[:, 0] * (d1 - d0)).astype(np.int64)
        pool = len(w.noise_wallets)
        a = (U[:, 1] * pool).astype(np.int64)
        b = (U[:, 2] * pool).astype(np.int64)
        b = np.where(a == b, (b + 1) % pool, b)
        ex = np.asarray(w.exchange_wallets, dtype=np.int64)
        to_ex = U[:, 3] < 0.3
        from_ex = (U[:, 3] >= 0.3) & (U[:, 3] < 0.5)
        wk = ex[np.minimum((U[:, 4] * len(ex)).astype(np.int64), len(ex) - 1)]
        keep = np.ones(n, dtype=bool)
        closed = self.closed_mask[w.w_holder]
        hit = (to_ex | from_ex) & closed[wk] & (days >= self.from_day)
        if hit.any():
            service = np.isin(w.a_role[w.w_holder], ("exchange", "otc_desk")) & ~closed
            alt = np.nonzero(service)[0]
            adapt = U[:, 6] < self.s.num("adapt_probability")
            if len(alt):
                wk = np.where(hit & adapt, alt[(U[:, 5] * len(alt)).astype(np.int64)], wk)
            keep = ~hit | (adapt & (len(alt) > 0))
        wk_s = pl.Series(wk)
        ex_addr, ex_tid = w.w_address.gather(wk_s), w.w_tid.gather(wk_s)

        def side(use_ex: BoolArray, noise: IntArray) -> tuple[pl.Series, pl.Series]:
            m = pl.Series(use_ex)
            k = pl.Series(noise)
            addr = w.noise_addr.gather(k)
            tid = w.noise_tid.gather(k)
            return (
                pl.select(pl.when(m).then(ex_addr).otherwise(addr)).to_series(),
                pl.select(pl.when(m).then(ex_tid).otherwise(tid)).to_series(),
            )

        src_a, src_t = side(from_ex, a)
        dst_a, dst_t = side(to_ex, b)
        amount = 300.0 * np.exp(1.5 * (self.rng.random(n) - 0.5) * 4)
        if not keep.all():
            k = pl.Series(keep)
            src_a, src_t, dst_a, dst_t = (x.filter(k) for x in (src_a, src_t, dst_a, dst_t))
            amount, days = amount[keep], days[keep]
        self.usdt(src_a, src_t, dst_a, dst_t, amount, days)

    def app_noise(self, n: int, d0: int, d1: int) -> None:
        if n == 0:
            return
        w = self.w
        U = self.rng.random((n, 4))
        days = d0 + (U[:, 0] * (d1 - d0)).astype(np.int64)
        pool = np.concatenate([w.role("individual_cn"), w.role("cn_company")])
        a = self.pick(pool, U[:, 1])
        b = self.pick(pool, U[:, 2])
        b = np.where(a == b, self.pick(pool, 1 - U[:, 2]), b)
        self.app(a, b, 400.0 * np.exp(1.3 * (U[:, 3] - 0.5) * 4), days)

    def cash_noise(self, n: int, d0: int, d1: int) -> None:
        if n == 0:
            return
        w = self.w
        U = self.rng.random((n, 4))
        days = d0 + (U[:, 0] * (d1 - d0)).astype(np.int64)
        buyer = self.pick(w.role("individual"), U[:, 1])
        branch, blk = self._branches_for(buyer, U[:, 2], days, spread=True)
        big = U[:, 3] < 0.03  # occasional large single purchases: hard negatives
        cny = np.where(
            big, 30_000 + 15_000 * self.rng.random(n), 300 + 8_000 * self.rng.random(n) ** 2
        )
        keep = ~blk
        self.cash(buyer[keep], branch[keep], cny[keep], days[keep])
