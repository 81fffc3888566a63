"""Goods lines of the simulated trade as columns: HS code, description, unit, unit value
and weight, and whether the code is on the Common High Priority List."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from shadowtrace.simulate.world import chpl_codes, goods

__all__ = ["GoodsLine", "GoodsTable", "goods_table"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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
