"""Max-flow interdiction: which K targets, removed, cut the most flow from ``S`` to ``T``.

Two solvers behind one function, :func:`interdict`:

* **exact**: Wood's (1993) integer program, solved with HiGHS (``highspy``) under a
  time limit and started from the heuristic's answer. By max-flow/min-cut duality,
  the flow left after removing a set of targets is the capacity of the cheapest
  ``S``-``T`` cut whose removed arcs cost nothing::

      min  sum_a c_a b_a
      s.t. p_u - p_v + b_a + g_a >= 0   for every arc a = (u, v)
           g_a <= x_t                   for every arc a that target t removes (g_a = 0 otherwise)
           p_T - p_S >= 1,  sum_t x_t <= K
           p, x binary;  b, g >= 0

  ``p_v = 1`` puts node ``v`` on the sink side. HiGHS reports the bound it proved, so
  the answer comes with its gap (0 when optimal).
* **heuristic**: greedy on recomputed max-flow, then local search by swaps. The flow a
  target carries in a maximum flow bounds what removing it can cut, so each greedy
  step evaluates targets in order of that bound and stops as soon as no bound can beat
  the best cut found (lazy greedy). Max-flows are linear programs re-solved from the
  previous basis, so each evaluation costs milliseconds. Its gap is measured against an
  upper bound on the cut: the K largest target flows of one maximum flow.

``interdict`` uses the exact program when the network is small enough
(``exact_max_arcs``) and the heuristic beyond, and says which it used.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import highspy
import numpy as np
import numpy.typing as npt

from shadowtrace.plan.network import FlowNetwork

__all__ = [
    "FlowSolver",
    "InterdictionResult",
    "MaxFlow",
    "greedy",
    "interdict",
    "local_search",
    "max_flow",
    "parallel_groups",
    "wood_mip",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Method = Literal["auto", "exact", "heuristic"]


@dataclass(frozen=True)
class MaxFlow:
    """A maximum flow: its value and the flow on every arc."""

    value: float
    arc_flow: FloatArray

    def through(self, net: FlowNetwork) -> FloatArray:
        """Flow each target carries: on its split arcs (an entity) or all its arcs (a channel)."""
        out = np.zeros(len(net.targets))
        owned = net.arc_target >= 0
        np.add.at(out, net.arc_target[owned], self.arc_flow[owned])
        return out


def _finite_caps(net: FlowNetwork) -> FloatArray:
    """Capacities with ``inf`` replaced by a bound no flow can reach."""
    cap = net.capacity.copy()
    finite = np.isfinite(cap)
    big = float(cap[finite].sum()) * 2 + 1.0 if finite.any() else 1.0
    cap[~finite] = big
    return cap


class FlowSolver:
    """Maximum flows of one network as a linear program kept warm between solves.

    Removing targets sets the upper bounds of their arcs to zero; the next solve
    starts from the last basis, so a sequence of small changes is cheap.
    """

    def __init__(self, net: FlowNetwork) -> None:
        self.net = net
        self.cap = _finite_caps(net)
        n, m = net.n_nodes, net.n_arcs
        inner = np.ones(n, dtype=bool)
        inner[[net.source, net.sink]] = False
        row_of = np.full(n, -1, dtype=np.int64)
        row_of[inner] = np.arange(int(inner.sum()))
        # column a: +1 at its head's row, -1 at its tail's row (flow conservation)
        rows = np.stack([row_of[net.head], row_of[net.tail]], axis=1)
        vals = np.stack([np.ones(m), -np.ones(m)], axis=1)
        keep = rows >= 0
        start = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
        lp = highspy.HighsLp()
        lp.num_col_ = m
        lp.num_row_ = int(inner.sum())
        lp.col_cost_ = (net.tail == net.source).astype(np.float64) - (
            net.head == net.source
        ).astype(np.float64)
        lp.col_lower_ = np.zeros(m)
        lp.col_upper_ = self.cap.copy()
        lp.row_lower_ = np.zeros(lp.num_row_)
        lp.row_upper_ = np.zeros(lp.num_row_)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = start
        lp.a_matrix_.index_ = rows[keep].astype(np.int32)
        lp.a_matrix_.value_ = vals[keep]
        lp.sense_ = highspy.ObjSense.kMaximize
        self.h = _highs()
        # primal simplex suits max-flow; re-solves after bound changes run warm
        self.h.setOptionValue("simplex_strategy", 4)
        self.h.passModel(lp)
        self.removed: set[int] = set()
        self.solves = 0
        self._arcs: list[IntArray] = [net.arcs_of(i) for i in range(len(net.targets))]

    def arcs(self, targets: Sequence[int]) -> IntArray:
        if not targets:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate([self._arcs[t] for t in targets]))

    def _set(self, arcs: IntArray, upper: FloatArray) -> None:
        if len(arcs):
            idx = arcs.astype(np.int32)
            self.h.changeColsBounds(len(idx), idx, np.zeros(len(idx)), upper)

    def set_removed(self, targets: Sequence[int]) -> None:
        """Remove exactly these targets (restoring any others)."""
        want = set(targets)
        back = self.arcs(sorted(self.removed - want))
        if len(back):
            still = self.arcs(sorted(want))
            back = np.setdiff1d(back, still)
            self._set(back, self.cap[back])
        cut = self.arcs(sorted(want))
        self._set(cut, np.zeros(len(cut)))
        self.removed = want

    def solve(self) -> float:
        self.h.run()
        self.solves += 1
        status = self.h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:  # pragma: no cover - solver failure
            raise RuntimeError(f"max-flow LP not solved: {self.h.modelStatusToString(status)}")
        return max(0.0, float(self.h.getInfo().objective_function_value))

    def flow(self) -> MaxFlow:
        value = self.solve()
        x = np.asarray(self.h.getSolution().col_value, dtype=np.float64)
        return MaxFlow(value, np.clip(x, 0.0, None))

    def value_without(self, targets: Sequence[int]) -> float:
        self.set_removed(targets)
        return self.solve()


def _highs() -> Any:
    """A silent HiGHS instance (highspy ships no type hints)."""
    h = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy has no annotations
    h.silent()
    return h


def max_flow(net: FlowNetwork, removed: Sequence[int] = ()) -> MaxFlow:
    """The maximum flow from ``S`` to ``T`` with the ``removed`` targets taken out."""
    solver = FlowSolver(net)
    solver.set_removed(removed)
    return solver.flow()


@dataclass
class InterdictionResult:
    """What an interdiction chose and how good it is.

    ``cut`` is the flow removed in the network (``base - residual``); ``bound`` an
    upper bound on the best possible cut; ``gap = (bound - cut) / bound``.
    """

    chosen: list[int]
    base: float
    residual: float
    method: str
    solver: str
    bound: float
    seconds: float
    marginal: list[float] = field(default_factory=list)
    through: list[float] = field(default_factory=list)
    status: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def cut(self) -> float:
        return max(0.0, self.base - self.residual)

    @property
    def gap(self) -> float:
        if self.bound <= 0:
            return 0.0
        return max(0.0, (self.bound - self.cut) / self.bound)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": list(self.chosen),
            "base": self.base,
            "residual": self.residual,
            "cut": self.cut,
            "method": self.method,
            "solver": self.solver,
            "bound": self.bound,
            "gap": self.gap,
            "seconds": self.seconds,
            "status": self.status,
            **self.details,
        }


def _upper_bound(through: FloatArray, k: int, base: float) -> float:
    """No K targets cut more than the K largest flows they carry in one maximum flow."""
    top = np.sort(through)[::-1][:k]
    return float(min(base, top.sum()))


def parallel_groups(net: FlowNetwork) -> list[list[int]]:
    """Targets that stand in for one another: split nodes with the same predecessors and
    the same successors (the hubs of interchangeable channels, say). Removing one of
    them moves its flow to the others, so only removing them together cuts anything,
    which a greedy that adds one target at a time cannot see."""
    kinds = np.asarray(net.arc_kind, dtype=object)
    split = np.nonzero((net.arc_target >= 0) & (kinds == "entity"))[0]
    if not len(split):
        return []
    ins: dict[int, list[int]] = {}
    outs: dict[int, list[int]] = {}
    for a in range(net.n_arcs):
        if kinds[a] in ("entity", "substitute"):
            continue
        ins.setdefault(int(net.head[a]), []).append(int(net.tail[a]))
        outs.setdefault(int(net.tail[a]), []).append(int(net.head[a]))
    keys: dict[int, list[tuple[frozenset[int], frozenset[int]]]] = {}
    for a in split.tolist():
        u, v = int(net.tail[a]), int(net.head[a])
        key = (frozenset(ins.get(u, ())), frozenset(outs.get(v, ())))
        keys.setdefault(int(net.arc_target[a]), []).append(key)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for t, ks in keys.items():
        if all(k[0] and k[1] for k in ks):
            groups.setdefault(tuple(sorted(ks, key=hash)), []).append(t)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def greedy(
    net: FlowNetwork,
    k: int,
    *,
    solver: FlowSolver | None = None,
    candidates: Sequence[int] | None = None,
    time_limit: float | None = None,
    groups: Sequence[Sequence[int]] | None = None,
) -> tuple[list[int], list[float]]:
    """Lazy greedy on recomputed max-flow: the targets and the cut each one added.

    Besides single targets, each step weighs removing a whole group of parallel
    targets (:func:`parallel_groups`) by its cut per target, and takes it when that
    beats the best single target and the budget allows."""
    fs = solver or FlowSolver(net)
    allowed = np.zeros(len(net.targets), dtype=bool)
    allowed[list(candidates) if candidates is not None else slice(None)] = True
    group_list = [list(g) for g in (groups if groups is not None else parallel_groups(net))]
    group_list = [[t for t in g if allowed[t]] for g in group_list]
    group_list = [g for g in group_list if len(g) > 1]
    chosen: list[int] = []
    gains: list[float] = []
    started = time.perf_counter()
    fs.set_removed([])
    while len(chosen) < min(k, int(allowed.sum())):
        current = fs.flow()
        if current.value <= 1e-9:
            break
        bound = current.through(net)
        bound[~allowed] = -1.0
        bound[chosen] = -1.0
        order = np.argsort(-bound, kind="stable")
        best, best_gain = -1, -1.0
        for t in order.tolist():
            if bound[t] <= 0 or bound[t] <= best_gain + 1e-9:
                break
            gain = current.value - fs.value_without([*chosen, t])
            if gain > best_gain + 1e-9:
                best, best_gain = t, gain
            if time_limit is not None and time.perf_counter() - started > time_limit:
                break
        best_group: list[int] = []
        best_rate = best_gain
        # Each group's members still standing, those carrying the most flow first, as
        # many as the budget allows. Removing them cuts at most the flow through them
        # now, so groups are tried best bound first and the rest skipped once the bound
        # cannot beat the best rate found (the same lazy rule as for single targets).
        standing = []
        for g in group_list:
            rest = sorted((t for t in g if t not in chosen), key=lambda t: -bound[t])
            rest = rest[: k - len(chosen)]
            if len(rest) >= 2:
                standing.append((float(bound[rest].clip(0).sum()) / len(rest), rest))
        standing.sort(key=lambda item: -item[0])
        for rate_bound, rest in standing:
            if rate_bound <= best_rate + 1e-9:
                break
            gain = current.value - fs.value_without([*chosen, *rest])
            if gain / len(rest) > best_rate + 1e-9:
                best_group, best_rate = rest, gain / len(rest)
            if time_limit is not None and time.perf_counter() - started > time_limit:
                break
        fs.set_removed(chosen)
        if best_group:
            chosen.extend(best_group)
            gains.extend([best_rate] * len(best_group))
        elif best >= 0:
            chosen.append(best)
            gains.append(best_gain)
        else:
            break
        fs.set_removed(chosen)
    return chosen, gains


def local_search(
    net: FlowNetwork,
    chosen: list[int],
    *,
    solver: FlowSolver | None = None,
    candidates: Sequence[int] | None = None,
    pool: int = 20,
    time_limit: float = 30.0,
) -> tuple[list[int], float, int]:
    """Swap a chosen target for one outside while that lowers the residual flow.

    Outside targets are tried in order of the flow they carry in the current maximum
    flow, the ``pool`` largest. Returns the targets, the residual and the swaps made.
    """
    fs = solver or FlowSolver(net)
    allowed = np.zeros(len(net.targets), dtype=bool)
    allowed[list(candidates) if candidates is not None else slice(None)] = True
    best = list(chosen)
    residual = fs.value_without(best)
    swaps = 0
    started = time.perf_counter()
    improved = True
    while improved and time.perf_counter() - started < time_limit:
        improved = False
        current = fs.flow() if fs.removed == set(best) else None
        if current is None:
            fs.set_removed(best)
            current = fs.flow()
        through = current.through(net)
        through[~allowed] = -1
        through[best] = -1
        outside = [int(t) for t in np.argsort(-through, kind="stable")[:pool] if through[t] > 0]
        for i in range(len(best)):
            for u in outside:
                if u in best:
                    continue
                trial = [*best[:i], u, *best[i + 1 :]]
                value = fs.value_without(trial)
                if value < residual - 1e-6 * max(1.0, residual):
                    best, residual = trial, value
                    swaps += 1
                    improved = True
                    break
                if time.perf_counter() - started > time_limit:
                    break
            if improved or time.perf_counter() - started > time_limit:
                break
    fs.set_removed(best)
    return best, residual, swaps


def wood_mip(
    net: FlowNetwork,
    k: int,
    *,
    time_limit: float = 60.0,
    start: Sequence[int] | None = None,
    candidates: Sequence[int] | None = None,
    mip_gap: float = 1e-6,
    relax: bool = False,
) -> tuple[list[int], float, float, str]:
    """Solve Wood's interdiction program. Returns the chosen targets, the residual flow
    of the best solution, the proven lower bound on the residual, and the status.
    ``relax=True`` solves its linear relaxation, whose value bounds the residual from
    below (targets: those the relaxation removes by half or more)."""
    n, m = net.n_nodes, net.n_arcs
    nt = len(net.targets)
    cap = _finite_caps(net)
    owned = net.arc_target >= 0
    allowed = np.zeros(nt, dtype=bool)
    allowed[list(candidates) if candidates is not None else slice(None)] = True
    # columns: p (n, binary), b (m), g (one per owned arc), x (nt, binary)
    own_arcs = np.nonzero(owned)[0]
    ng = len(own_arcs)
    g_of = np.full(m, -1, dtype=np.int64)
    g_of[own_arcs] = np.arange(ng)
    col_p, col_b, col_g, col_x = 0, n, n + m, n + m + ng
    ncol = n + m + ng + nt
    cost = np.zeros(ncol)
    cost[col_b : col_b + m] = cap
    lower = np.zeros(ncol)
    upper = np.ones(ncol)
    upper[col_b : col_b + m] = np.inf
    upper[col_g : col_g + ng] = 1.0
    upper[col_x : col_x + nt] = allowed.astype(np.float64)
    lower[col_p + net.sink] = 1.0
    upper[col_p + net.source] = 0.0
    integrality = np.zeros(ncol, dtype=np.int64)
    integrality[col_p : col_p + n] = 1
    integrality[col_x : col_x + nt] = 1
    if relax:
        integrality[:] = 0
    h = _highs()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("threads", 1)
    h.addVars(ncol, lower, upper)
    h.changeColsCost(ncol, np.arange(ncol, dtype=np.int32), cost)
    # HighsVarType: 0 continuous, 1 integer
    h.changeColsIntegrality(ncol, np.arange(ncol, dtype=np.int32), integrality.astype(np.uint8))
    # arc rows: p_u - p_v + b_a (+ g_a) >= 0
    has_g = g_of >= 0
    per_row = 3 + has_g.astype(np.int64)
    r_start = np.concatenate([[0], np.cumsum(per_row)[:-1]]).astype(np.int32)
    r_index = np.empty(int(per_row.sum()), dtype=np.int64)
    r_value = np.empty(len(r_index))
    r_index[r_start] = col_p + net.tail
    r_value[r_start] = 1.0
    r_index[r_start + 1] = col_p + net.head
    r_value[r_start + 1] = -1.0
    r_index[r_start + 2] = col_b + np.arange(m)
    r_value[r_start + 2] = 1.0
    g_pos = r_start[has_g] + 3
    r_index[g_pos] = col_g + g_of[has_g]
    r_value[g_pos] = 1.0
    h.addRows(
        m,
        np.zeros(m),
        np.full(m, np.inf),
        len(r_index),
        r_start,
        r_index.astype(np.int32),
        r_value,
    )
    # g_a - x_t <= 0
    if ng:
        idx = np.stack([col_g + np.arange(ng), col_x + net.arc_target[own_arcs]], axis=1).ravel()
        val = np.tile([1.0, -1.0], ng)
        h.addRows(
            ng,
            np.full(ng, -np.inf),
            np.zeros(ng),
            2 * ng,
            (np.arange(ng) * 2).astype(np.int32),
            idx.astype(np.int32),
            val,
        )
    # budget
    h.addRow(-np.inf, float(k), nt, (col_x + np.arange(nt)).astype(np.int32), np.ones(nt))
    if start and not relax:
        sol = _wood_start(net, list(start), ncol, col_p, col_b, col_g, col_x, g_of)
        hs = highspy.HighsSolution()
        hs.col_value = sol
        hs.value_valid = True
        h.setSolution(hs)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    if relax:
        value = float(info.objective_function_value)
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            value = 0.0  # no proven bound within the time limit
        x = np.asarray(h.getSolution().col_value)[col_x : col_x + nt]
        return [int(i) for i in np.nonzero(x >= 0.5)[0]], value, value, status
    if info.primal_solution_status == 0:  # no feasible solution found
        return list(start or []), math.inf, float(info.mip_dual_bound), status
    x = np.asarray(h.getSolution().col_value)[col_x : col_x + nt]
    chosen = [int(i) for i in np.nonzero(x > 0.5)[0]]
    return chosen, float(info.objective_function_value), float(info.mip_dual_bound), status


def _wood_start(
    net: FlowNetwork,
    chosen: list[int],
    ncol: int,
    col_p: int,
    col_b: int,
    col_g: int,
    col_x: int,
    g_of: IntArray,
) -> FloatArray:
    """A feasible solution of Wood's program for the targets ``chosen``: the sink side
    of a minimum cut of the network without them."""
    solver = FlowSolver(net)
    solver.set_removed(chosen)
    flow = solver.flow()
    cap = solver.cap.copy()
    cap[solver.arcs(chosen)] = 0.0
    residual = cap - flow.arc_flow
    # nodes reachable from S in the residual graph are on the source side
    n = net.n_nodes
    adj: list[list[int]] = [[] for _ in range(n)]
    for a in range(net.n_arcs):
        u, v = int(net.tail[a]), int(net.head[a])
        if residual[a] > 1e-9 * max(1.0, cap[a]):
            adj[u].append(v)
        if flow.arc_flow[a] > 1e-9 * max(1.0, cap[a]):
            adj[v].append(u)
    seen = np.zeros(n, dtype=bool)
    stack = [net.source]
    seen[net.source] = True
    while stack:
        u = stack.pop()
        for v in adj[u]:
            if not seen[v]:
                seen[v] = True
                stack.append(v)
    sol = np.zeros(ncol)
    p = (~seen).astype(np.float64)
    sol[col_p : col_p + n] = p
    removed = np.zeros(len(net.targets), dtype=bool)
    removed[chosen] = True
    for a in range(net.n_arcs):
        u, v = int(net.tail[a]), int(net.head[a])
        if p[u] - p[v] < 0:  # arc from source side to sink side
            t = int(net.arc_target[a])
            if t >= 0 and removed[t]:
                sol[col_g + int(g_of[a])] = 1.0
            else:
                sol[col_b + a] = 1.0
    sol[col_x + np.asarray(chosen, dtype=np.int64)] = 1.0
    return sol


def interdict(
    net: FlowNetwork,
    k: int,
    *,
    method: Method = "auto",
    time_limit: float = 120.0,
    exact_max_arcs: int = 20_000,
    candidates: Sequence[int] | None = None,
    swap_pool: int = 20,
) -> InterdictionResult:
    """Choose ``k`` targets of ``net`` whose removal cuts the most ``S``-``T`` flow.

    ``method="auto"`` solves Wood's program exactly when the network has at most
    ``exact_max_arcs`` arcs and uses the heuristic beyond; the result says which, and
    the gap.

    >>> from shadowtrace.plan.network import Target, network_from_arcs
    >>> arcs = [("s1", "a", 4, "g"), ("s1", "b", 3, "g"), ("a", "t1", 4, "g"),
    ...         ("b", "t1", 3, "g")]
    >>> targets = [Target(x, "entity", "sanction", None, x) for x in ("a", "b")]
    >>> net = network_from_arcs(arcs, ["s1"], ["t1"], targets)
    >>> res = interdict(net, 1, method="exact")
    >>> [net.targets[i].id for i in res.chosen], res.cut, res.gap
    (['a'], 4.0, 0.0)
    """
    started = time.perf_counter()
    solver = FlowSolver(net)
    base_flow = solver.flow()
    base = base_flow.value
    through0 = base_flow.through(net)
    use_exact = method == "exact" or (method == "auto" and net.n_arcs <= exact_max_arcs)
    bound = _upper_bound(np.where(_allowed(net, candidates), through0, 0.0), k, base)
    details: dict[str, Any] = {}
    if use_exact:
        chosen, mip_res, dual, status = wood_mip(
            net, k, time_limit=time_limit, candidates=candidates
        )
        residual = solver.value_without(chosen) if math.isfinite(mip_res) else base
        details["mip_dual_bound"] = dual
        if status != "Optimal":
            # stopped by the time limit: the heuristic may still do better
            left = max(1.0, time_limit - (time.perf_counter() - started))
            h_chosen, _ = greedy(net, k, solver=solver, candidates=candidates, time_limit=left)
            h_chosen, h_res, swaps = local_search(
                net,
                h_chosen,
                solver=solver,
                candidates=candidates,
                pool=swap_pool,
                time_limit=left,
            )
            details |= {"heuristic_residual": h_res, "swaps": swaps}
            if h_res < residual - 1e-9 * max(1.0, residual):
                chosen, residual = h_chosen, h_res
                details["better"] = "heuristic"
        bound = min(bound, max(0.0, base - dual))
        result = InterdictionResult(
            chosen=chosen,
            base=base,
            residual=residual,
            method="exact",
            solver="HiGHS MIP (Wood 1993)",
            bound=max(bound, base - residual),
            seconds=0.0,
            status=status,
            details=details,
        )
    else:
        chosen, _ = greedy(net, k, solver=solver, candidates=candidates, time_limit=time_limit)
        left = max(1.0, time_limit - (time.perf_counter() - started))
        chosen, residual, swaps = local_search(
            net, chosen, solver=solver, candidates=candidates, pool=swap_pool, time_limit=left
        )
        details["swaps"] = swaps
        # the linear relaxation of Wood's program bounds the best cut from above
        left = max(1.0, time_limit - (time.perf_counter() - started))
        _, _, lp_residual, lp_status = wood_mip(
            net, k, time_limit=min(left, 120.0), candidates=candidates, relax=True
        )
        if lp_status == "Optimal":
            bound = min(bound, max(0.0, base - lp_residual))
            details["bound_from"] = "linear relaxation of Wood's program"
        else:
            details["bound_from"] = "largest target flows of one maximum flow"
        result = InterdictionResult(
            chosen=chosen,
            base=base,
            residual=residual,
            method="heuristic",
            solver="greedy on recomputed max-flow (HiGHS LP) + swap local search",
            bound=max(bound, base - residual),
            seconds=0.0,
            status="heuristic",
            details=details,
        )
    result.marginal, result.through = _attribution(net, solver, chosen, through0)
    result.details["lp_solves"] = solver.solves
    result.seconds = time.perf_counter() - started
    return result


def _allowed(net: FlowNetwork, candidates: Sequence[int] | None) -> npt.NDArray[np.bool_]:
    allowed = np.zeros(len(net.targets), dtype=bool)
    allowed[list(candidates) if candidates is not None else slice(None)] = True
    return allowed


def _attribution(
    net: FlowNetwork, solver: FlowSolver, chosen: list[int], through0: FloatArray
) -> tuple[list[float], list[float]]:
    """The cut each chosen target adds in the order given, and the flow it carried
    before anything was removed."""
    marginal: list[float] = []
    prev = solver.value_without([])
    for i in range(len(chosen)):
        value = solver.value_without(chosen[: i + 1])
        marginal.append(max(0.0, prev - value))
        prev = value
    return marginal, [float(through0[t]) for t in chosen]
