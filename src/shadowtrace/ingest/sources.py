"""Read source tables into DuckDB.

Every reader produces the same thing: a temporary table with a ``_row`` column
(the 1-based record number in the file, header not counted) and one VARCHAR
column per source column, cleaned as FtM cleans source values
(:func:`shadowtrace.ingest.clean.sanitize_sql`). Records that cannot be parsed
are not lost: they go to a rejects table with their record number, the field and
the reason.

The readers are columnar: CSV and Parquet are read by DuckDB, spreadsheets by
fastexcel into Arrow. SQL databases are read through SQLAlchemy in batches.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from followthemoney.util import sanitize_text

from shadowtrace.errors import IngestError, MappingError
from shadowtrace.ingest.clean import sanitize_sql
from shadowtrace.ingest.mapping import SourceSpec
from shadowtrace.store.sql import ident, string_literal

__all__ = [
    "LoadedTable",
    "detect_encoding",
    "load_csv",
    "load_parquet",
    "load_sql",
    "load_xlsx",
    "safe_url",
]

log = logging.getLogger(__name__)

#: DuckDB's CSV reader rejects lines longer than this (with a counted reject).
MAX_LINE_SIZE = 64 * 1024 * 1024
SQL_BATCH = 10_000


@dataclass
class LoadedTable:
    """A source table loaded into DuckDB."""

    table: str
    columns: list[str]
    rows_in: int
    rejects: str | None = None  # temp table (source_row, field, reason, raw)


def _utf8_valid(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(4 * 1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path, declared: str | None = None) -> str:
    """The text encoding of a file: declared, from its byte-order mark, UTF-8 if
    it decodes as such, else a statistical guess (``charset_normalizer`` through
    normality)."""
    if declared:
        try:
            return codecs.lookup(declared).name
        except LookupError as exc:
            raise MappingError(f"Unknown encoding {declared!r} for {path}") from exc
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _utf8_valid(path):
        return "utf-8"
    from normality import predict_encoding

    guess = predict_encoding(head, default="cp1251")
    try:
        name = codecs.lookup(guess).name
    except LookupError:
        name = "cp1251"
    return "utf-8" if name in ("ascii", "utf-8") else name


def _transcode(path: Path, encoding: str, tmpdir: Path) -> Path:
    out = tmpdir / (path.name + ".utf8.csv")
    with (
        path.open("r", encoding=encoding, errors="strict", newline="") as src,
        out.open("w", encoding="utf-8", newline="") as dst,
    ):
        while chunk := src.read(4 * 1024 * 1024):
            dst.write(chunk)
    return out


def _sanitized_select(columns: list[str], source: str, row_expr: str) -> str:
    cols = ", ".join(f"{sanitize_sql(ident(c))} AS {ident(c)}" for c in columns)
    sep = ", " if cols else ""
    return f"SELECT {row_expr} AS _row{sep}{cols} FROM {source}"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    return [str(r[0]) for r in rows]


def load_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    tmpdir: Path,
    spec: SourceSpec | None = None,
    display: str | None = None,
) -> LoadedTable:
    """Load a CSV file. Ragged or unparseable records become rejects."""
    display = display or str(path)
    if path.stat().st_size == 0:
        raise IngestError("the file is empty (no header row)", file=display)
    encoding = detect_encoding(path, spec.encoding if spec else None)
    read_path = path
    duck_encoding = "utf-8"
    if encoding == "utf-16":
        duck_encoding = "utf-16"
    elif encoding != "utf-8":
        try:
            read_path = _transcode(path, encoding, tmpdir)
        except UnicodeDecodeError as exc:
            raise IngestError(
                f"cannot decode the file as {encoding} at byte {exc.start}", file=display
            ) from exc
        log.info("%s: read as %s", display, encoding)
    options = [
        "all_varchar = true",
        "header = true",
        "store_rejects = true",
        f"rejects_table = {string_literal(table + '_rej')}",
        f"rejects_scan = {string_literal(table + '_scan')}",
        "strict_mode = true",
        f"max_line_size = {MAX_LINE_SIZE}",
        f"encoding = {string_literal(duck_encoding)}",
        "compression = 'auto'",
    ]
    if spec is not None and spec.delimiter:
        options.append(f"delim = {string_literal(spec.delimiter)}")
    reader = f"read_csv({string_literal(str(read_path))}, {', '.join(options)})"
    raw = table + "_raw"
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {ident(raw)} AS "
            f"SELECT row_number() OVER () AS _good, * FROM {reader}"
        )
    except duckdb.Error as exc:
        raise IngestError(f"cannot read as CSV: {_first_line(exc)}", file=display) from exc
    columns = [c for c in _columns(con, raw) if c != "_good"]
    # Record numbers: DuckDB reports rejected records by line (the header being
    # line 1); good records keep their order. Interleave the two.
    rej = con.execute(
        f"SELECT DISTINCT line - 1 AS source_row FROM {ident(table + '_rej')} ORDER BY 1"
    ).fetchall()
    rejected = [int(r[0]) for r in rej]
    count = f"SELECT count(*) FROM {ident(raw)}"
    good = int(con.execute(count).fetchall()[0][0])
    total = good + len(rejected)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ident(table + '_rows')} AS "
        f"SELECT rec, row_number() OVER (ORDER BY rec) AS _good FROM range(1, {total + 1}) t(rec) "
        f"WHERE rec NOT IN (SELECT line - 1 FROM {ident(table + '_rej')})"
    )
    source = (
        f"{ident(raw)} r JOIN {ident(table + '_rows')} n ON n._good = r._good"
        if rejected
        else ident(raw)
    )
    row_expr = "n.rec" if rejected else "r._good"
    if not rejected:
        source = f"{ident(raw)} r"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ident(table)} AS "
        + _sanitized_select(columns, source, row_expr)
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ident(table + '_rejects')} AS "
        f"SELECT line - 1 AS source_row, column_name AS field, "
        f"error_type || ': ' || error_message AS reason, csv_line AS raw "
        f"FROM {ident(table + '_rej')}"
    )
    for suffix in ("_raw", "_rows", "_rej", "_scan"):
        drop = "DROP TABLE IF EXISTS " + ident(table + suffix)
        con.execute(drop)
    return LoadedTable(table, columns, total, rejects=table + "_rejects")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _ftm_text_sql(column: str, dtype: str) -> str:
    """SQL rendering a typed column as FtM's ``sanitize_text`` renders Python values."""
    col = ident(column)
    d = dtype.upper()
    if d in ("FLOAT", "DOUBLE", "REAL"):
        # format(value, ".3f").rstrip("0").rstrip(".")
        return f"rtrim(rtrim(printf('%.3f', {col}), '0'), '.')"
    if d == "DATE":
        return f"strftime({col}, '%Y-%m-%d')"
    if d.startswith("TIMESTAMP"):
        base = f"strftime({col}, '%Y-%m-%dT%H:%M:%S')"
        micro = f"microsecond({col}) % 1000000"
        return (
            f"CASE WHEN {micro} = 0 THEN {base} "
            f"ELSE {base} || '.' || lpad(CAST({micro} AS VARCHAR), 6, '0') END"
        )
    if d == "BOOLEAN":
        return f"CASE WHEN {col} THEN 'True' ELSE 'False' END"
    if d.endswith("[]") or d.startswith(("STRUCT", "MAP", "LIST")):
        return f"CAST(to_json({col}) AS VARCHAR)"
    return f"CAST({col} AS VARCHAR)"


def _load_typed(con: duckdb.DuckDBPyConnection, source: str, table: str, row_expr: str) -> None:
    """Create ``table`` from a typed relation: every column as FtM text, sanitised."""
    describe = "DESCRIBE SELECT * FROM " + source  # a relation composed by the caller
    desc = con.execute(describe).fetchall()
    parts = []
    for name, dtype, *_ in desc:
        if name in ("_row", "file_row_number"):
            continue
        parts.append(f"{sanitize_sql(_ftm_text_sql(str(name), str(dtype)))} AS {ident(str(name))}")
    cols = (", " + ", ".join(parts)) if parts else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ident(table)} AS SELECT {row_expr} AS _row{cols} "
        f"FROM {source}"
    )


def load_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, display: str | None = None
) -> LoadedTable:
    display = display or str(path)
    source = f"read_parquet({string_literal(str(path))}, file_row_number = true)"
    try:
        _load_typed(con, source, table, "file_row_number + 1")
    except duckdb.Error as exc:
        raise IngestError(f"cannot read as Parquet: {_first_line(exc)}", file=display) from exc
    columns = [c for c in _columns(con, table) if c != "_row"]
    count = "SELECT count(*) FROM " + ident(table)
    rows = int(con.execute(count).fetchall()[0][0])
    return LoadedTable(table, columns, rows)


def load_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    sheet: str | None = None,
    display: str | None = None,
) -> LoadedTable:
    """Load one sheet of a spreadsheet (the first unless named)."""
    import fastexcel

    display = display or str(path)
    try:
        reader = fastexcel.read_excel(str(path))
        names = reader.sheet_names
        target: str | int = 0
        if sheet is not None:
            if sheet not in names:
                raise IngestError(f"no sheet {sheet!r} (sheets: {', '.join(names)})", file=display)
            target = sheet
        data = reader.load_sheet(target).to_arrow()
    except fastexcel.FastExcelError as exc:
        raise IngestError(f"cannot read as a spreadsheet: {exc}", file=display) from exc
    index = pa.array(range(1, data.num_rows + 1), pa.int64())
    data = data.append_column("_row", index)
    view = table + "_arrow"
    con.register(view, data)
    try:
        _load_typed(con, ident(view), table, "_row")
    finally:
        con.unregister(view)
    columns = [c for c in _columns(con, table) if c != "_row"]
    return LoadedTable(table, columns, data.num_rows)


def safe_url(url: str) -> str:
    """A database URL fit to show and store: the password hidden."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"//[^@/]*@", "//***@", url)


def expand_database_url(url: str, where: str) -> str:
    expanded = os.path.expandvars(url)
    missing = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", expanded)
    if missing:
        raise MappingError(f"{where}: environment variable {missing[0]} is not set")
    return expanded


def load_sql(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    refs: Iterable[str],
    table: str,
    url: str,
) -> LoadedTable:
    """Run the mapping's query (tables, joins) against a SQL database and load the
    referenced columns, in batches."""
    from sqlalchemy import MetaData, Table, create_engine, select
    from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    display = safe_url(url)
    try:
        engine = create_engine(url, poolclass=NullPool)
    except (SQLAlchemyError, ValueError) as exc:
        raise IngestError(f"cannot open database: {exc}", file=display) from exc
    meta = MetaData()
    columns: dict[str, Any] = {}
    aliases = []
    try:
        for name, alias in spec.tables:
            tbl = Table(name, meta, autoload_with=engine)
            aliased = tbl.alias(alias)
            aliases.append(aliased)
            for col in aliased.columns:
                columns.setdefault(f"{alias}.{col.name}", col)
                columns.setdefault(col.name, col)
    except NoSuchTableError as exc:
        raise IngestError(f"no table {exc}", file=display) from exc
    except SQLAlchemyError as exc:
        raise IngestError(f"cannot read database: {exc}", file=display) from exc
    wanted = sorted(set(refs))
    for ref in wanted:
        if ref not in columns:
            raise MappingError(f"{display}: the query has no column {ref!r}")
    query = select(*[columns[r] for r in wanted]).select_from(*aliases)
    for left, right in spec.joins:
        if left not in columns or right not in columns:
            raise MappingError(f"{display}: join on unknown column {left!r} or {right!r}")
        query = query.where(columns[left] == columns[right])
    schema = pa.schema([("_row", pa.int64())] + [(r, pa.string()) for r in wanted])
    created = False
    rows = 0

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal rows
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(query)
            while chunk := result.fetchmany(SQL_BATCH):
                cols: list[list[Any]] = [list(range(rows + 1, rows + len(chunk) + 1))]
                for i in range(len(wanted)):
                    cols.append([sanitize_text(r[i]) for r in chunk])
                rows += len(chunk)
                yield pa.RecordBatch.from_arrays(
                    [pa.array(c, type=f.type) for c, f in zip(cols, schema, strict=True)],
                    schema=schema,
                )

    try:
        for batch in batches():
            view = table + "_batch"
            con.register(view, pa.Table.from_batches([batch]))
            try:
                if not created:
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE {ident(table)} AS FROM {ident(view)}"
                    )
                    created = True
                else:
                    append = f"INSERT INTO {ident(table)} FROM {ident(view)}"
                    con.execute(append)
            finally:
                con.unregister(view)
    except SQLAlchemyError as exc:
        raise IngestError(f"query failed: {exc}", file=display) from exc
    finally:
        engine.dispose()
    if not created:
        cols_sql = ", ".join(f"{ident(r)} VARCHAR" for r in wanted)
        create = f"CREATE OR REPLACE TEMP TABLE {ident(table)} (_row BIGINT, {cols_sql})"
        con.execute(create)
    return LoadedTable(table, wanted, rows)


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="shadowtrace-")
