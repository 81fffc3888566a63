"""Export the store: FtM entities or statements, CSV, GEXF, GraphML, Neo4j, Parquet.

>>> from shadowtrace.export import exporters
>>> sorted(exporters())[:3]
['csv', 'ftm', 'gexf']
"""

from __future__ import annotations

from typing import Any

from shadowtrace.errors import ConfigError
from shadowtrace.registry import load_group
from shadowtrace.store import Store

__all__ = ["export", "exporters"]


def exporters() -> dict[str, Any]:
    return load_group("shadowtrace.exporters")


def export(store: Store, format: str, dest: str, stock: bool = False) -> int:
    """Write the store to ``dest`` (``-`` for stdout) in ``format``; returns a count."""
    known = exporters()
    if format not in known:
        raise ConfigError(f"Unknown export format {format!r}: use one of {', '.join(known)}")
    exporter = known[format](stock=stock)
    exporter.check(dest)
    return int(exporter.export(store, dest))
