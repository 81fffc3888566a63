"""The statement store: one DuckDB file, no server.

Every fact is a *statement*: one row per property value, with FtM's statement
fields and the provenance of the record it was read from (source file, row,
ingest run). Later stages read only this store.

>>> from shadowtrace.store import Store
>>> with Store.open(":memory:") as store:
...     store.summary().statements
0
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import pyarrow as pa

from shadowtrace.errors import StoreError
from shadowtrace.model import extension_schemata, get_model
from shadowtrace.store.migrations import MIGRATIONS, Migration
from shadowtrace.store.sql import ident
from shadowtrace.store.views import all_view_sql

__all__ = ["DEFAULT_STORE", "Store", "StoreSummary", "streamed"]

log = logging.getLogger(__name__)

DEFAULT_STORE = "shadowtrace.duckdb"
SCHEMATA_COLUMNS = [
    "name", "label", "depth", "ancestors", "abstract", "is_edge", "edge_source", "edge_target",
    "extension", "matchable",
]  # fmt: skip
PROPERTY_COLUMNS = ["schema", "prop", "type", "range", "stub", "qname"]


@dataclass
class StoreSummary:
    path: str
    statements: int = 0
    entities: int = 0
    entity_ids: int = 0
    datasets: dict[str, int] = field(default_factory=dict)
    schemata: dict[str, int] = field(default_factory=dict)
    sources: int = 0
    runs: int = 0
    rejects: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "statements": self.statements,
            "entities": self.entities,
            "entity_ids": self.entity_ids,
            "datasets": self.datasets,
            "schemata": self.schemata,
            "sources": self.sources,
            "runs": self.runs,
            "rejects": self.rejects,
        }


MEMORY_ENV = "SHADOWTRACE_MEMORY_LIMIT"


def _default_memory_limit() -> str:
    """DuckDB's memory limit: ``$SHADOWTRACE_MEMORY_LIMIT``, else 1.5 GB.

    DuckDB spills to disk beyond its limit, so a modest default keeps every job
    within a laptop's means at a small cost in speed on very large runs; raise it
    for big resolutions or detections.
    """
    return os.environ.get(MEMORY_ENV, "1.5GB")


class Store:
    """A shadowtrace store in one DuckDB file (or ``:memory:``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only
        self._in_transaction = False

    # -- opening ---------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] = DEFAULT_STORE,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> Self:
        """Open (and create or migrate) the store at ``path``."""
        spath = str(path)
        if spath != ":memory:":
            parent = Path(spath).parent
            if not parent.exists():
                raise StoreError(f"Cannot create store {spath}: folder {parent} does not exist")
            if read_only and not Path(spath).exists():
                raise StoreError(f"No store at {spath}: run `shadowtrace ingest` first")
        config: dict[str, Any] = {
            "memory_limit": memory_limit or _default_memory_limit(),
            "preserve_insertion_order": False,
        }
        if spath == ":memory:":
            import tempfile

            # An in-memory store still needs somewhere to spill large operations.
            config["temp_directory"] = tempfile.gettempdir()
        if threads:
            config["threads"] = threads
        try:
            con = duckdb.connect(spath, read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise StoreError(f"Cannot open store {spath}: {exc}") from exc
        # Progress is tracked (the CLI draws it on stderr) but never printed by DuckDB
        # itself: stdout carries only results.
        con.execute("SET enable_progress_bar = true")
        con.execute("SET enable_progress_bar_print = false")
        store = cls(con, spath, read_only)
        if not read_only:
            store.migrate()
            store.refresh_model()
        else:
            store._check_version()
        return store

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------

    def _applied_versions(self) -> set[int]:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta_migrations'"
        ).fetchall()
        if not exists or not exists[0][0]:
            return set()
        rows = self.con.execute("SELECT version FROM meta_migrations").fetchall()
        return {int(r[0]) for r in rows}

    def _check_version(self) -> None:
        applied = self._applied_versions()
        known = {m.version for m in MIGRATIONS}
        newer = applied - known
        if newer:
            raise StoreError(
                f"Store {self.path} was written by a newer shadowtrace "
                f"(schema version {max(newer)}); upgrade shadowtrace to open it"
            )

    def migrate(self, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
        """Apply the migrations this store has not seen yet. Returns their versions."""
        self._check_version()
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS meta_migrations ("
            "version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
        )
        self.con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        applied = self._applied_versions()
        done: list[int] = []
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in applied:
                continue
            with self.transaction():
                for sql in migration.statements:
                    self.con.execute(sql)
                self.con.execute(
                    "INSERT INTO meta_migrations VALUES (?, ?, current_timestamp)",
                    [migration.version, migration.name],
                )
            log.info("Store migrated to version %d (%s)", migration.version, migration.name)
            done.append(migration.version)
        return done

    @property
    def version(self) -> int:
        return max(self._applied_versions() or {0})

    def refresh_model(self) -> None:
        """Write the FtM model (with extensions) into tables the views join on.

        Rewritten only when the model or the view definitions changed, so opening a
        store stays cheap.
        """
        model = get_model()
        views = all_view_sql()
        fingerprint = hashlib.sha1(usedforsecurity=False)
        for name in sorted(model.schemata):
            fingerprint.update(name.encode())
            for prop_name in sorted(model.schemata[name].properties):
                fingerprint.update(prop_name.encode())
        for sql in views:
            fingerprint.update(sql.encode())
        digest = fingerprint.hexdigest()
        # fetchall: a result left half-read keeps the connection busy (DuckDB 2)
        rows = self.con.execute("SELECT value FROM meta WHERE key = 'model'").fetchall()
        row = rows[0] if rows else None
        if row is not None and row[0] == digest:
            return
        extensions = extension_schemata()
        schemata = []
        props = []
        for schema in model.schemata.values():
            schemata.append(
                (
                    schema.name,
                    schema.label,
                    len(schema.schemata),
                    sorted(s.name for s in schema.schemata),
                    schema.abstract,
                    bool(schema.edge),
                    schema.edge_source,
                    schema.edge_target,
                    schema.name in extensions,
                    schema.matchable,
                )
            )
            for prop in schema.properties.values():
                props.append(
                    (
                        schema.name,
                        prop.name,
                        prop.type.name,
                        prop.range.name if prop.range is not None else None,
                        prop.stub,
                        prop.qname,
                    )
                )
        with self.transaction():
            self.con.execute(
                "CREATE OR REPLACE TABLE ftm_schemata (name VARCHAR PRIMARY KEY, label VARCHAR, "
                "depth INTEGER, ancestors VARCHAR[], abstract BOOLEAN, is_edge BOOLEAN, "
                "edge_source VARCHAR, edge_target VARCHAR, extension BOOLEAN, matchable BOOLEAN)"
            )
            self._insert_rows("ftm_schemata", schemata, SCHEMATA_COLUMNS)
            self.con.execute(
                "CREATE OR REPLACE TABLE ftm_properties (schema VARCHAR, prop VARCHAR, "
                "type VARCHAR, range VARCHAR, stub BOOLEAN, qname VARCHAR, "
                "PRIMARY KEY (schema, prop))"
            )
            self._insert_rows("ftm_properties", props, PROPERTY_COLUMNS)
            for sql in views:
                self.con.execute(sql)
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('model', ?)",
                [digest],
            )

    def _insert_rows(self, table: str, rows: list[tuple[Any, ...]], columns: list[str]) -> None:
        """Insert many rows through Arrow (DuckDB's executemany goes row by row)."""
        import pyarrow as pa

        data = pa.Table.from_pylist([dict(zip(columns, r, strict=True)) for r in rows])
        self.con.register("_rows_arrow", data)
        try:
            sql = f"INSERT INTO {ident(table)} SELECT * FROM _rows_arrow"
            self.con.execute(sql)
        finally:
            self.con.unregister("_rows_arrow")

    # -- transactions ----------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: committed when the block ends, rolled back on any error,
        including Ctrl-C. Nested use joins the outer transaction."""
        if self._in_transaction:
            yield self.con
            return
        self.con.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield self.con
        except BaseException:
            self._in_transaction = False
            try:
                self.con.execute("ROLLBACK")
            except duckdb.Error:  # pragma: no cover - connection already gone
                log.exception("Rollback failed")
            raise
        else:
            self._in_transaction = False
            self.con.execute("COMMIT")

    @contextmanager
    def scratch(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A second connection to the store's database, for the temporary tables of
        a long job (an ingest run, writing findings).

        It commits on its own: a table dropped there frees its memory and temporary
        disk at once, whereas one dropped inside a transaction is kept until the
        transaction ends (about 9 GB of temporary disk per million payment records
        when an ingest did it that way). It sees the store as last committed; its
        rows reach the store's transaction as Arrow tables or streams
        (:func:`streamed`). Closing it drops its temporary tables."""
        scratch = self.con.cursor()
        try:
            yield scratch
        finally:
            scratch.close()

    def drop_tables(self, *tables: str) -> None:
        """Drop these tables (temporary or not) where they exist; names are quoted."""
        for table in tables:
            sql = "DROP TABLE IF EXISTS " + ident(table)
            self.con.execute(sql)

    # -- reading ---------------------------------------------------------------

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.con.execute(sql, list(params)).fetchall()
        return rows[0][0] if rows else None

    def summary(self) -> StoreSummary:
        s = StoreSummary(path=self.path)
        s.statements = int(self.scalar("SELECT count(*) FROM statements"))
        s.entity_ids = int(self.scalar("SELECT count(DISTINCT entity_id) FROM statements"))
        s.entities = int(self.scalar("SELECT count(DISTINCT canonical_id) FROM statements"))
        s.datasets = dict(
            self.con.execute(
                "SELECT dataset, count(DISTINCT entity_id) FROM statements "
                "GROUP BY dataset ORDER BY dataset"
            ).fetchall()
        )
        s.schemata = dict(
            self.con.execute(
                "SELECT schema, count(*) FROM entities GROUP BY schema ORDER BY 2 DESC, 1"
            ).fetchall()
        )
        s.sources = int(self.scalar("SELECT count(*) FROM sources"))
        s.runs = int(self.scalar("SELECT count(*) FROM runs"))
        s.rejects = int(self.scalar("SELECT count(*) FROM rejects"))
        return s

    def next_id(self, table: str, column: str) -> int:
        sql = f"SELECT coalesce(max({ident(column)}), 0) + 1 FROM {ident(table)}"
        return int(self.scalar(sql))


@contextmanager
def streamed(rows: duckdb.DuckDBPyRelation) -> Iterator[pa.RecordBatchReader]:
    """A query's rows (typically on :meth:`Store.scratch`) as an Arrow stream, for the
    store's transaction to read by the Python name the block binds it to (DuckDB's
    replacement scan: an Arrow object *registered* inside a transaction is kept
    until the transaction ends). Closing it at the end, or on error, frees the
    connection that runs the query for its next one."""
    reader = rows.to_arrow_reader()
    try:
        yield reader
    finally:
        reader.close()
