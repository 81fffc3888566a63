"""Helpers detectors share: reference lists, exchange rates, queries as rows, steps.

Reference lists are data: the Common High Priority List (CHPL) of HS codes ships with
shadowtrace (``simulate/data/chpl.csv``, BIS/EU/UK/Japan list of 23 February 2024).

>>> "854231" in chpl_codes()
True
>>> to_usd(880.0, "RUB", DEFAULT_FX)
10.0
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import pyarrow as pa

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.errors import ConfigError
from shadowtrace.store import Store

__all__ = [
    "DEFAULT_FX",
    "RU_AND_OCCUPIED",
    "WINDOW_SQL",
    "band",
    "chpl_codes",
    "fetch",
    "fx_param",
    "fx_table",
    "register",
    "to_usd",
    "unregister",
    "value_shifts",
    "value_sql",
    "value_width",
    "window_shifts",
]

#: The window of days the date of edge ``e`` falls in, for windows of ``?`` days: an equality
#: key that lets a join "within N days" of a party's payments use a hash join on
#: (party, window) rather than compare every pair of the party's payments.
WINDOW_SQL = "CAST(floor(datediff('day', DATE '2000-01-01', e.date) / ?) AS BIGINT)"


def window_shifts(lo: int, hi: int, width: int) -> list[int]:
    """The shifts, in windows of ``width`` days, between the windows of two dates
    ``lo`` to ``hi`` days apart (inclusive): join on ``x.wk = r.wk + shift`` for each,
    then test the days.

    >>> window_shifts(0, 10, 10)
    [0, 1]
    >>> window_shifts(-30, 30, 30)
    [-1, 0, 1]
    >>> window_shifts(-3, 45, 30)
    [-1, 0, 1, 2]
    """
    return list(range(lo // width, -(-hi // width) + 1))


def value_sql(amount: str) -> str:
    """The band of ``amount`` (an SQL expression, above zero) on a log scale, for bands
    ``?`` wide (:func:`value_width`): an equality key that lets a join "worth about the
    same" be a hash join too (:func:`value_shifts`).

    >>> value_sql("x.usd")
    'CAST(floor(ln(x.usd) / ?) AS BIGINT)'
    """
    return f"CAST(floor(ln({amount}) / ?) AS BIGINT)"


def value_width(lo: float, hi: float) -> float:
    """The width of value bands for ratios from ``lo`` to ``hi``: the band's own width on
    a log scale, so a ratio in it spans about three bands. A ``lo`` at or below zero
    (a tolerance of 100 % or more) is taken as a billionth: a band wide enough to
    hold every amount; so is a band with no width or no positive ratio in it."""
    if hi <= 0:
        return 1.0
    return max(math.log(hi / max(lo, 1e-9)), 1e-6)


def value_shifts(lo: float, hi: float, width: float) -> list[int]:
    """The shifts between the value bands (:func:`value_sql`, ``width`` wide) of two
    amounts whose ratio is between ``lo`` and ``hi``: join on ``x.vb = r.vb + shift``
    for each, then test the ratio. The band's edges are widened by a rounding error;
    a band with no positive ratio in it needs no shift (amounts are above zero).

    >>> value_shifts(0.96, 1.04, value_width(0.96, 1.04))
    [-1, 0, 1]
    >>> value_shifts(1.04, 1.19, value_width(0.96, 1.04))
    [0, 1, 2, 3]
    """
    if hi <= 0:
        return []
    a = math.log(max(lo, 1e-9)) - 1e-9
    b = math.log(hi) + 1e-9
    return list(range(math.floor(a / width), math.ceil(b / width) + 1))


#: Units of each currency per US dollar: mid rates over 2023 to mid-2025, rounded. Rates
#: moved by about ±15 % over the period; detectors compare amounts within a tolerance.
DEFAULT_FX: dict[str, float] = {
    "USD": 1.0,
    "USDT": 1.0,
    "USDC": 1.0,
    "EUR": 0.92,
    "GBP": 0.79,
    "CNY": 7.2,
    "HKD": 7.8,
    "RUB": 88.0,
    "KZT": 460.0,
    "KGS": 88.0,
    "AMD": 395.0,
    "GEL": 2.7,
    "AED": 3.67,
    "TRY": 30.0,
    "UZS": 12300.0,
}

#: Russia and the occupied territories of Ukraine that have FtM country codes.
RU_AND_OCCUPIED: list[str] = ["ru", "ua-cri", "ua-dpr", "ua-lpr"]


def register(store: Store, name: str, table: pa.Table) -> None:
    """Register an Arrow table as a relation (after finishing any pending result, which
    DuckDB requires before a registration)."""
    store.con.complete()
    store.con.register(name, table)


def unregister(store: Store, name: str) -> None:
    store.con.complete()
    store.con.unregister(name)


def band(params: Mapping[str, Any], key: str) -> tuple[float, float]:
    """A ``[low, high]`` parameter as two numbers, checked."""
    value = list(params[key])
    if len(value) != 2 or value[0] > value[1]:
        raise ConfigError(f"Parameter {key} must be [low, high] with low <= high, not {value}")
    return float(value[0]), float(value[1])


def fx_param() -> Param:
    return Param(
        dict(DEFAULT_FX),
        "Units of each currency per US dollar, used to compare amounts across currencies "
        "(default: mid rates 2023 to mid-2025).",
        minimum=1e-9,
    )


def to_usd(amount: float, currency: str | None, fx: Mapping[str, float]) -> float | None:
    rate = fx.get((currency or "").upper())
    return None if rate is None else amount / rate


def fx_table(ctx: DetectContext, name: str = "_fx") -> str:
    """Register the detector's exchange rates as a relation ``name`` (currency, per_usd)."""
    fx: Mapping[str, float] = ctx.params.get("fx_per_usd", DEFAULT_FX)
    table = pa.table(
        {
            "currency": pa.array([k.upper() for k in fx], pa.string()),
            "per_usd": pa.array([float(v) for v in fx.values()], pa.float64()),
        }
    )
    register(ctx.store, name, table)
    return name


@cache
def chpl_codes() -> frozenset[str]:
    """The HS-6 codes of the Common High Priority List."""
    text = resources.files("shadowtrace").joinpath("simulate/data/chpl.csv").read_text("utf-8")
    return frozenset(row["hs6"].strip() for row in csv.DictReader(io.StringIO(text)))


def fetch(store: Store, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows of a query as dictionaries (made from Arrow columns: about twice as fast as
    from rows, for the hundreds of thousands of rows a detector can read)."""
    rows: list[dict[str, Any]] = (
        store.con.sql(sql, params=list(params)).to_arrow_table().to_pylist()
    )
    return rows


def money(amount: float | None, currency: str | None) -> str:
    """``1,234,567 CNY``."""
    if amount is None:
        return "an unknown amount"
    return f"{amount:,.0f} {currency or ''}".strip()


def captions(store: Store, ids: Iterable[str | None]) -> dict[str, str]:
    """Display names of canonical entities (their id where they have none)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    register(store, "_cap_ids", pa.table({"id": pa.array(wanted, pa.string())}))
    try:
        rows = store.con.execute(
            "SELECT n.id, n.caption FROM nodes n JOIN _cap_ids i ON i.id = n.id"
        ).fetchall()
    finally:
        unregister(store, "_cap_ids")
    found = {str(k): str(v) for k, v in rows if v}
    return {i: found.get(i, i) for i in wanted}


def name_key(value: str) -> str | None:
    """A name reduced to the skeletons of its distinctive words, sorted: different
    spellings, scripts and word orders of one company name mostly share it.

    >>> name_key('ООО "ТАВРИЯИМПОРТ"') == name_key("TAVRIIAIMPORT OOO")
    True
    """
    from shadowtrace.resolve.normalize import name_form

    form = name_form(value, "ORG")
    if form is None:
        return None
    words = sorted(t.skeleton for t in form.tokens if t.kind in ("name", "number", "place"))
    return " ".join(words) or None


def name_keys(store: Store, ids: Iterable[str]) -> dict[str, set[str]]:
    """The name keys of every name of each canonical entity."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    register(store, "_nk_ids", pa.table({"id": pa.array(wanted, pa.string())}))
    try:
        rows = store.con.execute(
            "SELECT DISTINCT s.canonical_id, s.value FROM statements s "
            "WHERE s.prop_type = 'name' AND s.canonical_id IN (SELECT id FROM _nk_ids)"
        ).fetchall()
    finally:
        unregister(store, "_nk_ids")
    out: dict[str, set[str]] = {}
    for cid, value in rows:
        key = name_key(str(value))
        if key:
            out.setdefault(str(cid), set()).add(key)
    return out
