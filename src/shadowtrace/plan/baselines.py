"""Naive ways to choose targets, to compare a plan with: the K targets of highest degree,
betweenness or flow, and K targets at random, from the same candidates as the plan.

Measures are taken on the network of entities as the records show it (without the
super-source and super-sink, and without the arcs that model adaptation):
an entity's degree is the number of distinct counterparties it has, its flow the value
it receives (or, for a first exporter, sends), and its betweenness the share of shortest
paths between other entities through it (Brandes' algorithm, rustworkx). A channel is
measured by its arcs: the counterparties they join, the value they carry and the
betweenness of their ends' shortest paths through them.

>>> from shadowtrace.plan.network import Target, network_from_arcs
>>> arcs = [("a", "b", 5.0, "g"), ("b", "c", 5.0, "g"), ("a", "d", 1.0, "g"),
...         ("d", "c", 1.0, "g"), ("e", "d", 1.0, "g")]
>>> targets = [Target(x, "entity", "sanction", None, x) for x in "bd"]
>>> net = network_from_arcs(arcs, ["a", "e"], ["c"], targets)
>>> [net.targets[i].id for i in top_flow(net, 1)], [net.targets[i].id for i in top_degree(net, 1)]
(['b'], ['d'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import rustworkx as rx

from shadowtrace.plan.network import ADAPTATION_KINDS, FlowNetwork

_SKIP = ("entity", "source", "sink", *ADAPTATION_KINDS)

__all__ = [
    "BASELINES",
    "betweenness_scores",
    "degree_scores",
    "flow_scores",
    "random_targets",
    "top_betweenness",
    "top_degree",
    "top_flow",
]

FloatArray = npt.NDArray[np.float64]


def _entity_graph(net: FlowNetwork) -> tuple[FloatArray, FloatArray, list[set[int]]]:
    """Per target: value in, value out, and counterparties (entity nodes: split halves
    and layers merged; other nodes as they are)."""
    n_t = len(net.targets)
    # a node's group: the target that owns its split arc, else the node itself
    group = np.arange(net.n_nodes, dtype=np.int64) + n_t
    ent = np.nonzero((net.arc_target >= 0) & (np.asarray(net.arc_kind) == "entity"))[0]
    group[net.tail[ent]] = net.arc_target[ent]
    group[net.head[ent]] = net.arc_target[ent]
    value_in = np.zeros(n_t)
    value_out = np.zeros(n_t)
    neighbours: list[set[int]] = [set() for _ in range(n_t)]
    kinds = net.arc_kind
    for a in range(net.n_arcs):
        kind = kinds[a]
        if kind in _SKIP:
            continue
        gu, gv = int(group[net.tail[a]]), int(group[net.head[a]])
        cap = float(net.capacity[a])
        if gu < n_t:
            value_out[gu] += cap
            neighbours[gu].add(gv)
        if gv < n_t:
            value_in[gv] += cap
            neighbours[gv].add(gu)
        owner = int(net.arc_target[a])
        if owner >= 0:  # a channel's arc
            value_in[owner] += cap
            neighbours[owner].update((gu, gv))
    return value_in, value_out, neighbours


def flow_scores(net: FlowNetwork) -> FloatArray:
    """Observed value through each target: what it receives, or sends if more."""
    value_in, value_out, _ = _entity_graph(net)
    return np.maximum(value_in, value_out)


def degree_scores(net: FlowNetwork) -> FloatArray:
    """Distinct counterparties of each target."""
    _, _, neighbours = _entity_graph(net)
    return np.asarray([len(x) for x in neighbours], dtype=np.float64)


def betweenness_scores(net: FlowNetwork) -> FloatArray:
    """Betweenness of each target in the directed entity graph (channels: the largest
    betweenness of an arc they own, as edge betweenness)."""
    n_t = len(net.targets)
    group = np.arange(net.n_nodes, dtype=np.int64) + n_t
    kinds = np.asarray(net.arc_kind)
    ent = np.nonzero((net.arc_target >= 0) & (kinds == "entity"))[0]
    group[net.tail[ent]] = net.arc_target[ent]
    group[net.head[ent]] = net.arc_target[ent]
    keep = ~np.isin(kinds, _SKIP)
    gu, gv = group[net.tail[keep]], group[net.head[keep]]
    owners = net.arc_target[keep]
    ids, inverse = np.unique(np.concatenate([gu, gv]), return_inverse=True)
    g = rx.PyDiGraph(multigraph=False)
    g.add_nodes_from(ids.tolist())
    m = len(gu)
    edges = sorted(
        {(int(a), int(b)) for a, b in zip(inverse[:m], inverse[m:], strict=True) if a != b}
    )
    g.add_edges_from_no_data(edges)
    scores = np.zeros(n_t)
    if g.num_nodes() > 2:
        node_bc = rx.digraph_betweenness_centrality(g, normalized=True)
        for node, value in node_bc.items():
            gid = int(ids[node])
            if gid < n_t:
                scores[gid] = value
        if (owners >= 0).any():
            edge_bc = rx.digraph_edge_betweenness_centrality(g)
            index = {g.get_edge_endpoints_by_index(e): v for e, v in edge_bc.items()}
            norm = max(1.0, (g.num_nodes() - 1) * (g.num_nodes() - 2))
            for a, b, o in zip(inverse[:m], inverse[m:], owners, strict=True):
                if o >= 0 and a != b:
                    value = index.get((int(a), int(b)), 0.0) / norm
                    scores[o] = max(scores[o], value)
    return scores


def _top(scores: FloatArray, k: int, candidates: Sequence[int] | None) -> list[int]:
    allowed = np.zeros(len(scores), dtype=bool)
    allowed[list(candidates) if candidates is not None else slice(None)] = True
    masked = np.where(allowed, scores, -np.inf)
    order = np.argsort(-masked, kind="stable")
    return [int(i) for i in order[:k] if np.isfinite(masked[i])]


def top_degree(net: FlowNetwork, k: int, candidates: Sequence[int] | None = None) -> list[int]:
    """The ``k`` targets with the most counterparties."""
    return _top(degree_scores(net), k, candidates)


def top_betweenness(net: FlowNetwork, k: int, candidates: Sequence[int] | None = None) -> list[int]:
    """The ``k`` targets of highest betweenness."""
    return _top(betweenness_scores(net), k, candidates)


def top_flow(net: FlowNetwork, k: int, candidates: Sequence[int] | None = None) -> list[int]:
    """The ``k`` targets through which the most value passes."""
    return _top(flow_scores(net), k, candidates)


def random_targets(
    net: FlowNetwork, k: int, seed: int, candidates: Sequence[int] | None = None
) -> list[int]:
    """``k`` targets drawn uniformly without replacement."""
    pool = np.asarray(
        list(candidates) if candidates is not None else range(len(net.targets)), dtype=np.int64
    )
    rng = np.random.default_rng(seed)
    return [int(x) for x in rng.choice(pool, size=min(k, len(pool)), replace=False)]


#: The deterministic baselines by name.
BASELINES: dict[str, Callable[[FlowNetwork, int, Sequence[int] | None], list[int]]] = {
    "top-degree": top_degree,
    "top-betweenness": top_betweenness,
    "top-flow": top_flow,
}
