"""An in-memory graph of some edge kinds, for algorithms (rustworkx behind a small interface).

Nodes are canonical ids; each edge keeps its row's kind and value. Detectors ask for
the kinds they need, so a sanctions-proximity search does not load ten million
payments.

>>> g = Graph.from_edges([("a", "b", "ownership", None), ("b", "c", "directorship", None)])
>>> hops = g.within(["a"], 2)
>>> hops["c"].distance, hops["c"].path, hops["c"].kinds
(2, ('a', 'b', 'c'), ('ownership', 'directorship'))
>>> g.components()
[['a', 'b', 'c']]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import rustworkx as rx

from shadowtrace.errors import ConfigError
from shadowtrace.graph.edges import EDGE_KINDS
from shadowtrace.store import Store

__all__ = ["Graph", "Hop"]


@dataclass(frozen=True)
class Hop:
    """How a node was reached: hops from the nearest origin, the path and edge kinds."""

    distance: int
    origin: str
    path: tuple[str, ...]
    kinds: tuple[str, ...]


class Graph:
    """A directed multigraph over canonical ids (edge payload: kind and value)."""

    def __init__(self, ids: Sequence[str], edges: Iterable[tuple[int, int, int]],
                 kinds: Sequence[str], values: Sequence[str | None]) -> None:  # fmt: skip
        self.ids = list(ids)
        self.index = {node: i for i, node in enumerate(self.ids)}
        self.kinds = list(kinds)
        self.values = list(values)
        self.graph: rx.PyDiGraph = rx.PyDiGraph(multigraph=True)
        self.graph.add_nodes_from(self.ids)
        self.graph.add_edges_from(list(edges))

    # -- building ---------------------------------------------------------------

    @classmethod
    def from_edges(cls, rows: Iterable[tuple[str, str, str, str | None]]) -> Graph:
        """A graph from ``(source, target, kind, value)`` rows."""
        ids: dict[str, int] = {}
        triples: list[tuple[int, int, int]] = []
        kinds: list[str] = []
        values: list[str | None] = []
        for source, target, kind, value in rows:
            s = ids.setdefault(source, len(ids))
            t = ids.setdefault(target, len(ids))
            triples.append((s, t, len(kinds)))
            kinds.append(kind)
            values.append(value)
        return cls(list(ids), triples, kinds, values)

    @classmethod
    def load(cls, store: Store, kinds: Iterable[str]) -> Graph:
        """The edges of ``kinds`` from the store's ``edges`` table."""
        wanted = sorted(set(kinds))
        unknown = [k for k in wanted if k not in EDGE_KINDS]
        if unknown:
            raise ConfigError(f"Unknown edge kinds {unknown}; known: {', '.join(EDGE_KINDS)}")
        if not wanted:
            return cls([], [], [], [])
        marks = ", ".join("?" for _ in wanted)
        store.con.complete()
        table = store.con.sql(
            f"SELECT source, target, kind, value FROM edges WHERE kind IN ({marks})",
            params=wanted,
        ).to_arrow_table()
        src = np.asarray(table.column("source").to_pylist(), dtype=object)
        dst = np.asarray(table.column("target").to_pylist(), dtype=object)
        ids, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
        n = len(src)
        triples = zip(inverse[:n].tolist(), inverse[n:].tolist(), range(n), strict=True)
        return cls(
            ids.tolist(),
            triples,
            table.column("kind").to_pylist(),
            table.column("value").to_pylist(),
        )

    # -- queries ----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def edge_count(self) -> int:
        return int(self.graph.num_edges())

    def within(
        self,
        origins: Iterable[str],
        max_hops: int,
        kinds: Iterable[str] | None = None,
        directed: bool = False,
    ) -> dict[str, Hop]:
        """Nodes within ``max_hops`` of any origin (origins themselves left out), each with
        its distance, nearest origin and one shortest path. Undirected unless ``directed``."""
        if isinstance(max_hops, bool) or not isinstance(max_hops, int) or max_hops < 0:
            raise ConfigError(f"max_hops must be a non-negative integer, not {max_hops!r}")
        allowed = None if kinds is None else set(kinds)
        g = self.graph
        start = [self.index[o] for o in dict.fromkeys(origins) if o in self.index]
        parent: dict[int, tuple[int, int] | None] = dict.fromkeys(start)
        depth = dict.fromkeys(start, 0)
        queue = deque(start)
        while queue:
            node = queue.popleft()
            if depth[node] >= max_hops:
                continue
            edges = list(g.out_edges(node))
            if not directed:
                edges += [(t, s, p) for s, t, p in g.in_edges(node)]
            for _, nxt, payload in edges:
                if nxt in depth or (allowed is not None and self.kinds[payload] not in allowed):
                    continue
                depth[nxt] = depth[node] + 1
                parent[nxt] = (node, payload)
                queue.append(nxt)
        out: dict[str, Hop] = {}
        for node, d in depth.items():
            if d == 0:
                continue
            path = [node]
            kinds_: list[str] = []
            step = parent[node]
            while step is not None:
                prev, payload = step
                kinds_.append(self.kinds[payload])
                path.append(prev)
                step = parent[prev]
            path.reverse()
            kinds_.reverse()
            out[self.ids[node]] = Hop(
                d, self.ids[path[0]], tuple(self.ids[i] for i in path), tuple(kinds_)
            )
        return out

    def components(self, min_size: int = 1) -> list[list[str]]:
        """Weakly connected components (sorted ids), largest first."""
        comps = [sorted(self.ids[i] for i in c) for c in rx.weakly_connected_components(self.graph)]
        comps = [c for c in comps if len(c) >= min_size]
        comps.sort(key=lambda c: (-len(c), c[0]))
        return comps

    def edges_between(self, source: str, target: str) -> list[tuple[str, str | None]]:
        """The (kind, value) of every edge from ``source`` to ``target``."""
        s, t = self.index.get(source), self.index.get(target)
        if s is None or t is None:
            return []
        if not self.graph.has_edge(s, t):
            return []
        return [(self.kinds[p], self.values[p]) for p in self.graph.get_all_edge_data(s, t)]

    def cycles(self, limit: int = 1000, min_length: int = 2) -> list[list[str]]:
        """Up to ``limit`` elementary directed cycles of at least ``min_length`` nodes (for
        example circular ownership; a node's edge to itself is a cycle of one)."""
        found: list[list[str]] = []
        for cycle in rx.simple_cycles(self.graph):
            if len(cycle) < min_length:
                continue
            found.append([self.ids[i] for i in cycle])
            if len(found) >= limit:
                break
        return found

    def longest_paths(self, min_length: int) -> list[list[str]]:
        """Maximal directed paths of at least ``min_length`` edges in an acyclic graph,
        one per sink reached from a source (for example layered ownership chains)."""
        g = self.graph
        if not rx.is_directed_acyclic_graph(g):
            # leave out the edges inside cycles (reported by ``cycles``), keep the rest
            g = g.copy()
            for component in rx.strongly_connected_components(g):
                members = set(component)
                for node in component:
                    for _, target, _ in list(g.out_edges(node)):
                        if target in members and g.has_edge(node, target):
                            g.remove_edges_from(
                                [(node, target)] * len(g.get_all_edge_data(node, target))
                            )
        order = rx.topological_sort(g)
        best: dict[int, tuple[int, int]] = {}  # node -> (length, predecessor)
        for node in order:
            length, _ = best.get(node, (0, -1))
            for succ in set(g.successor_indices(node)):
                if best.get(succ, (-1, -1))[0] < length + 1:
                    best[succ] = (length + 1, node)
        paths: list[list[str]] = []
        for node in order:
            if g.out_degree(node) or best.get(node, (0, -1))[0] < min_length:
                continue
            path = [node]
            while best.get(path[-1], (0, -1))[1] >= 0:
                path.append(best[path[-1]][1])
            path.reverse()
            paths.append([self.ids[i] for i in path])
        return paths
