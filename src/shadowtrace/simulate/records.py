"""Emitting records in bulk: each source file's rows with their hidden ground truth.

Generators call ``Out.emit`` with whole columns. Hidden columns carry the true id of
every entity a row produces (``_t_<origin>``), its day (``_day``, for sorting) and a
record id (``_rid``) that schemes cite as evidence; the writer strips them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["Calib", "Out", "choose", "days_to_date", "money", "n_str", "seconds_to_ts"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_UNIX_OFFSET = 10957  # days from 1970-01-01 to 2000-01-01
_MIX = 982451653  # a prime, coprime to 10: multiplying permutes the residues mod 10**k


def days_to_date(days: IntArray) -> pl.Series:
    """ISO dates (YYYY-MM-DD) for generator days."""
    return (
        pl.Series((np.asarray(days) + _UNIX_OFFSET).astype(np.int32)).cast(pl.Date).cast(pl.String)
    )


def seconds_to_ts(days: IntArray, seconds: IntArray) -> pl.Series:
    secs = (np.asarray(days, dtype=np.int64) + _UNIX_OFFSET) * 86400 + seconds
    return pl.Series(secs * 1000).cast(pl.Datetime("ms"))


def money(x: FloatArray, decimals: int = 2) -> pl.Series:
    """Fixed-point decimal strings (deterministic formatting)."""
    scale = 10**decimals
    units = np.rint(np.asarray(x, dtype=np.float64) * scale).astype(np.int64)
    whole = pl.Series(units // scale).cast(pl.String)
    if decimals == 0:
        return whole
    frac = pl.Series(units % scale).cast(pl.String).str.zfill(decimals)
    return pl.select(pl.concat_str([whole, pl.lit("."), frac])).to_series()


def n_str(x: IntArray, width: int = 0, prefix: str = "") -> pl.Series:
    s = pl.Series(np.asarray(x, dtype=np.int64)).cast(pl.String)
    if width:
        s = s.str.zfill(width)
    if prefix:
        s = pl.select(pl.concat_str([pl.lit(prefix), s])).to_series()
    return s


def choose(mask: npt.NDArray[np.bool_], yes: str, no: str) -> pl.Series:
    """``yes`` where ``mask`` holds, else ``no``, as a string column."""
    return pl.Series([no, yes], dtype=pl.String).gather(np.asarray(mask, dtype=np.int64))


def mixed(rid: IntArray, digits: int = 12) -> IntArray:
    """A reference number derived from a record id, unique but not sequential-looking."""
    mod = 10**digits
    out: IntArray = (np.asarray(rid, dtype=np.int64) * _MIX + 104729) % mod
    return out


@dataclass
class Calib:
    """Running totals for the calibration report, taken from the emitted records."""

    attempts_major: int = 0
    rejected_major: int = 0
    fee_min: float = float("inf")
    fee_max: float = float("-inf")
    fee_count: int = 0
    branches: set[str] = field(default_factory=set)
    base_stations_cn: int = 0
    direct_cn_occupied: int = 0
    chpl_value_cn: float = 0.0
    chpl_value_all: float = 0.0
    investment_2025_rub: float = 0.0
    tonnes: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    dprk_official: int = 0
    dprk_total: int = 0
    dprk_requested: int = 0
    dprk_revenue_usd_2024: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Out:
    """Everything one batch emits: record frames per file, flows, schemes, evidence."""

    def __init__(self, rid0: int, batch: int) -> None:
        self.rid = rid0
        self.batch = batch
        self.frames: dict[str, list[pl.DataFrame]] = defaultdict(list)
        self.flows: list[pl.DataFrame] = []
        self.schemes: list[pl.DataFrame] = []
        self.evidence: list[pl.DataFrame] = []
        self.wallets: list[pl.DataFrame] = []
        self.scheme_n = 0
        self.flow_n = 0

    def emit(
        self,
        file: str,
        columns: dict[str, Any],
        truth: dict[str, Any],
        days: IntArray,
    ) -> IntArray:
        """Add rows to ``file``. ``truth`` maps origin -> true ids (None: no entity)."""
        n = len(days)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        rids = np.arange(self.rid, self.rid + n, dtype=np.int64)
        self.rid += n
        data: dict[str, Any] = {}
        for name, col in columns.items():
            data[name] = _series(name, col, n)
        for origin, col in truth.items():
            data[f"_t_{origin}"] = _series(origin, col, n).cast(pl.String)
        data["_day"] = pl.Series(np.asarray(days, dtype=np.int64))
        data["_rid"] = pl.Series(rids)
        self.frames[file].append(pl.DataFrame(data))
        return rids

    def tx_ids(self, rids: IntArray) -> pl.Series:
        return n_str(rids, 10, "tx-")

    def scheme(
        self,
        typology: str,
        members: list[pl.Series],
        evidence: list[tuple[IntArray, str]] | None = None,
        evidence_lists: tuple[IntArray, IntArray, str] | None = None,
        label: pl.Series | None = None,
    ) -> pl.Series:
        """Scheme instances, one per row of the ``members`` columns.

        ``evidence``: per-instance record ids (one array per evidence column, aligned with
        the instances) with the origin cited. ``evidence_lists``: (instance index,
        record id, origin) for evidence of varying length.
        """
        n = len(members[0])
        if n == 0:
            return pl.Series([], dtype=pl.String)
        ids = n_str(np.arange(self.scheme_n, self.scheme_n + n), 8, f"{typology}-{self.batch:04d}-")
        self.scheme_n += n
        frame = pl.DataFrame({f"m{i}": m.cast(pl.String) for i, m in enumerate(members)})
        mem = frame.select(
            pl.concat_list(pl.all())
            .list.drop_nulls()
            .list.unique(maintain_order=True)
            .alias("members")
        ).to_series()
        data = {"scheme_id": ids, "typology": pl.Series([typology] * n), "members": mem}
        data["label"] = label if label is not None else pl.Series([""] * n)
        self.schemes.append(pl.DataFrame(data))
        ev: list[pl.DataFrame] = []
        for rids, origin in evidence or []:
            keep = rids >= 0
            ev.append(
                pl.DataFrame(
                    {
                        "scheme_id": ids.filter(pl.Series(keep)),
                        "_rid": pl.Series(rids[keep]),
                        "origin": pl.Series([origin] * int(keep.sum()), dtype=pl.String),
                    }
                )
            )
        if evidence_lists is not None:
            inst, rids, origin = evidence_lists
            ev.append(
                pl.DataFrame(
                    {
                        "scheme_id": ids.gather(pl.Series(inst)),
                        "_rid": pl.Series(rids),
                        "origin": pl.Series([origin] * len(rids), dtype=pl.String),
                    }
                )
            )
        if ev:
            self.evidence.append(pl.concat(ev))
        return ids

    def flow(self, columns: dict[str, Any]) -> None:
        n = next(len(v) for v in columns.values() if isinstance(v, pl.Series | np.ndarray))
        if n == 0:
            return
        ids = n_str(np.arange(self.flow_n, self.flow_n + n), 8, f"flow-{self.batch:04d}-")
        self.flow_n += n
        data = {"flow_id": ids}
        for k, v in columns.items():
            data[k] = _series(k, v, n)
        self.flows.append(pl.DataFrame(data))


def _series(name: str, col: Any, n: int) -> pl.Series:
    if isinstance(col, pl.Series):
        return col.alias(name)
    if isinstance(col, str) or col is None:
        return pl.Series(name, [col] * n, dtype=pl.String)
    if isinstance(col, bool | int | float):
        return pl.Series(name, [col] * n)
    if isinstance(col, np.ndarray):
        return pl.Series(name, col)
    return pl.Series(name, col)
