"""Export formats. Each is an exporter class registered in ``shadowtrace.exporters``.

An exporter takes the store and a destination (a path, or ``-`` for stdout where
the format is a single stream) and writes the whole store.
"""

from __future__ import annotations

import csv
import importlib
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, TextIO

import orjson

from shadowtrace.errors import ConfigError
from shadowtrace.export.entities import entity_dicts, proxy
from shadowtrace.store import Store
from shadowtrace.store.sql import string_literal

__all__ = [
    "CSVTablesExporter",
    "Exporter",
    "FtMExporter",
    "GEXFExporter",
    "GraphMLExporter",
    "Neo4jExporter",
    "ParquetExporter",
    "StatementsExporter",
    "neutralise_formula",
]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection).

    >>> neutralise_formula('=HYPERLINK("http://x","y")')
    '\\'=HYPERLINK("http://x","y")'
    >>> neutralise_formula("-12.5")
    '-12.5'
    """
    if value.startswith(FORMULA_PREFIXES):
        try:
            float(value)
            return value  # a negative number, not a formula
        except ValueError:
            return "'" + value
    return value


@contextmanager
def text_out(dest: str) -> Iterator[TextIO]:
    if dest == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        yield fh


class Exporter:
    """Base class: ``stream`` says whether ``-`` (stdout) is allowed."""

    name: ClassVar[str] = ""
    stream: ClassVar[bool] = True
    description: ClassVar[str] = ""

    def __init__(self, stock: bool = False) -> None:
        self.stock = stock

    def export(self, store: Store, dest: str) -> int:
        raise NotImplementedError

    def check(self, dest: str) -> None:
        if dest == "-" and not self.stream:
            raise ConfigError(f"--format {self.name} writes a folder: give --out PATH")


class FtMExporter(Exporter):
    name = "ftm"
    description = "FtM entities as JSON lines (with --stock, extension schemata downcast)"

    def export(self, store: Store, dest: str) -> int:
        n = 0
        with text_out(dest) as fh:
            for data in entity_dicts(store, stock=self.stock):
                fh.write(orjson.dumps(data).decode("utf-8"))
                fh.write("\n")
                n += 1
        return n


STATEMENT_SELECT = """
SELECT s.canonical_id, s.entity_id, s.prop, s.prop_type, s.schema, s.value, s.dataset,
       s.origin, s.lang, s.original_value, CASE WHEN s.external THEN 't' ELSE 'f' END AS external,
       strftime(s.first_seen, '%Y-%m-%dT%H:%M:%S') AS first_seen,
       strftime(s.last_seen, '%Y-%m-%dT%H:%M:%S') AS last_seen, s.id,
       src.name AS source, s.source_row, s.run_id
FROM ftm_statements s LEFT JOIN sources src ON src.source_id = s.source_id
ORDER BY s.canonical_id, s.entity_id, s.prop, s.value
"""


class StatementsExporter(Exporter):
    name = "statements"
    description = "FtM statements CSV (with source, source_row and run_id appended)"

    def export(self, store: Store, dest: str) -> int:
        if dest != "-":
            store.con.execute(
                f"COPY ({STATEMENT_SELECT}) TO {string_literal(dest)} "
                "(HEADER, DELIMITER ',', FORCE_QUOTE *)"
            )
            return int(store.scalar("SELECT count(*) FROM statements"))
        cur = store.con.cursor()
        n = 0
        try:
            cur.execute(STATEMENT_SELECT)
            names = [d[0] for d in cur.description or []]
            writer = csv.writer(sys.stdout, dialect=csv.unix_dialect)
            writer.writerow(names)
            while rows := cur.fetchmany(10_000):
                writer.writerows(rows)
                n += len(rows)
        finally:
            cur.close()
        sys.stdout.flush()
        return n


class ParquetExporter(Exporter):
    name = "parquet"
    description = "statements with provenance as Parquet"

    def export(self, store: Store, dest: str) -> int:
        if dest == "-":
            raise ConfigError("--format parquet needs --out PATH")
        copy = f"COPY ({STATEMENT_SELECT}) TO {string_literal(dest)} (FORMAT parquet)"
        store.con.execute(copy)
        return int(store.scalar("SELECT count(*) FROM statements"))


class _SafeWriter:
    """A csv writer that neutralises formula-like cells."""

    def __init__(self, fh: TextIO) -> None:
        self.writer = csv.writer(fh, dialect=csv.unix_dialect)
        self.dialect = self.writer.dialect

    def writerow(self, row: Any) -> Any:
        return self.writer.writerow(
            [neutralise_formula(c) if isinstance(c, str) else c for c in row]
        )

    def writerows(self, rows: Any) -> None:
        for row in rows:
            self.writerow(row)


class CSVTablesExporter(Exporter):
    name = "csv"
    stream = False
    description = "one CSV file per schema (FtM's CSV layout), spreadsheet-safe"

    def export(self, store: Store, dest: str) -> int:
        from followthemoney.export.csv import CSVExporter

        Path(dest).mkdir(parents=True, exist_ok=True)

        class Safe(CSVExporter):
            def _open_csv_file(self, name: str) -> tuple[io.TextIOWrapper, Any]:
                handle, _ = super()._open_csv_file(name)
                return handle, _SafeWriter(handle)

        exporter = Safe(Path(dest), export_all=True)
        n = 0
        try:
            for data in entity_dicts(store, stock=self.stock):
                exporter.write(proxy(data))
                n += 1
        finally:
            exporter.finalize()
        return n


def _digraph(store: Store, stock: bool) -> Any:
    """A networkx MultiDiGraph of the store's entities, built by FtM's graph model."""
    import networkx as nx
    from followthemoney.export.graph import GraphExporter

    builder = GraphExporter()
    for data in entity_dicts(store, stock=stock):
        builder.graph.add(proxy(data))
    digraph = nx.MultiDiGraph()
    for node in builder.graph.iternodes():
        attributes = builder.get_attributes(node)
        attributes["schema"] = (
            node.schema.name if node.is_entity and node.schema else node.type.name
        )
        if node.caption is not None:
            attributes["label"] = node.caption
        digraph.add_node(node.id, **attributes)
    for edge in builder.graph.iteredges():
        attributes = builder.get_attributes(edge)
        attributes["schema"] = edge.type_name
        attributes["weight"] = str(edge.weight)
        digraph.add_edge(edge.source_id, edge.target_id, key=edge.id, **attributes)
    return digraph


class _NetworkXExporter(Exporter):
    """The entity graph written by one of networkx's line generators."""

    generator = ""  # "module:function" in networkx.readwrite

    def export(self, store: Store, dest: str) -> int:
        module, _, function = self.generator.partition(":")
        generate = getattr(importlib.import_module(f"networkx.readwrite.{module}"), function)
        graph = _digraph(store, self.stock)
        with text_out(dest) as fh:
            for line in generate(graph, prettyprint=True):
                fh.write(line + "\n")
        return int(graph.number_of_nodes())


class GEXFExporter(_NetworkXExporter):
    name = "gexf"
    description = "the entity graph for Gephi (GEXF)"
    generator = "gexf:generate_gexf"


class GraphMLExporter(_NetworkXExporter):
    name = "graphml"
    description = "the entity graph as GraphML"
    generator = "graphml:generate_graphml"


class Neo4jExporter(Exporter):
    name = "neo4j"
    stream = False
    description = "CSV files for neo4j-admin import (FtM's Neo4j layout)"

    def export(self, store: Store, dest: str) -> int:
        from followthemoney.export.neo4j import Neo4JCSVExporter

        Path(dest).mkdir(parents=True, exist_ok=True)
        exporter = Neo4JCSVExporter(Path(dest))
        n = 0
        try:
            for data in entity_dicts(store, stock=self.stock):
                exporter.write(proxy(data))
                n += 1
        finally:
            exporter.finalize()
        return n
