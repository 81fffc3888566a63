"""The graph over resolved entities: columnar edges in the store for joins, and an
in-memory graph (rustworkx) for path, flow and community algorithms.

``build_edges(store)`` writes the ``edges`` and ``nodes`` tables from the typed views;
``Graph.load(store, kinds)`` loads some kinds of edges for algorithms.
"""

from shadowtrace.graph.edges import (
    EDGE_KINDS,
    STRUCTURAL_KINDS,
    EdgeReport,
    build_edges,
    edges_current,
    ensure_edges,
)
from shadowtrace.graph.graph import Graph

__all__ = [
    "EDGE_KINDS",
    "STRUCTURAL_KINDS",
    "EdgeReport",
    "Graph",
    "build_edges",
    "edges_current",
    "ensure_edges",
]
