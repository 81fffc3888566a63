"""Work shared out to forked worker processes.

Python compares names one at a time; on a machine with more than one core the
distinct names (``entities``) and the distinct pairs of names (``scoring``) are split
into spans that worker processes work through. The workers are forked after the
data is built, so they read it from the parent's memory instead of receiving a copy;
they return plain results (numbers, strings, tuples). A worker never touches the
DuckDB connection it inherits.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["default_workers", "fork_map", "state"]

T = TypeVar("T")
R = TypeVar("R")

_STATE: Any = None


def default_workers() -> int:
    """The usable cores, at most two (the machines this is sized for)."""
    return min(2, len(os.sched_getaffinity(0)))


def state() -> Any:
    """The data ``fork_map`` handed to the workers (in a worker, or in-process)."""
    return _STATE


def fork_map(fn: Callable[[T], R], tasks: Sequence[T], data: Any, workers: int) -> list[R]:
    """``[fn(t) for t in tasks]``, on ``workers`` forked processes when there are two or
    more, each reading ``data`` through ``state()``; results keep the order of ``tasks``.
    """
    global _STATE
    _STATE = data
    try:
        if workers <= 1 or len(tasks) <= 1:
            return [fn(task) for task in tasks]
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(min(workers, len(tasks))) as pool:
            return pool.map(fn, tasks, chunksize=1)
    finally:
        _STATE = None
