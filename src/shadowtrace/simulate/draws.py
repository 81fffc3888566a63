"""Draws that hold a share or a spread exactly in every batch, not only on average."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["exact_share", "strata"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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
