"""Readers for FollowTheMoney's own formats: entities as JSON lines, statements as CSV.

Both are read by DuckDB in bulk. A JSON lines file is read as lines of text so
that a malformed line is a counted reject with its line number, not a failed run.

FtM's formats hold values that were cleaned when they were made, and a statement's
id is a hash of its value: re-cleaning would change both (FtM's address cleaning,
for one, is not idempotent). So values are *validated* by their type, not
rewritten, except for code-like types whose canonical form is unambiguous
(countries, dates, phones, e-mails ...), which are normalised: a hand-written
``"country": ["Germany"]`` is stored as ``de``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from shadowtrace.errors import IngestError
from shadowtrace.ingest.clean import (
    SQL_CLEANED_TYPES,
    clean_distinct,
    clean_sql,
    needs_python_clean,
)
from shadowtrace.ingest.compile import MAX_TEXT_CHARS, MAX_VALUE_CHARS
from shadowtrace.ingest.sources import MAX_LINE_SIZE, LoadedTable, _first_line
from shadowtrace.store.sql import ident, string_literal

__all__ = [
    "NORMALISED_TYPES",
    "STATEMENT_COLUMNS",
    "is_statements_header",
    "read_ftm_json",
    "read_statements",
]

#: Types whose values are rewritten to their canonical form on reading FtM files.
NORMALISED_TYPES = frozenset(
    {"country", "language", "topic", "gender", "date", "phone", "email", "url", "ip", "mimetype"}
)

STATEMENT_COLUMNS = frozenset({"entity_id", "prop", "schema", "value"})
#: The origin of the statements of FtM entities read from JSON.
FTM_ORIGIN = "ftm"
_LIMIT = f"CASE WHEN prop_type IN ('text', 'html') THEN {MAX_TEXT_CHARS} ELSE {MAX_VALUE_CHARS} END"


def is_statements_header(columns: list[str]) -> bool:
    return set(columns) >= STATEMENT_COLUMNS


def _clean_into_raw(
    con: duckdb.DuckDBPyConnection, table: str, src: int, keep_seen: bool = False
) -> None:
    """Clean ``table`` (source_row, origin, entity_id, schema, prop, prop_type, raw,
    lang, original_value, first_seen, last_seen, external) into ``_raw``/``_rej``."""
    t = ident(table)
    distinct_types = f"SELECT DISTINCT prop_type FROM {t}"
    python_types = sorted(
        {str(r[0]) for r in con.execute(distinct_types).fetchall() if needs_python_clean(str(r[0]))}
    )
    # Name and address values are validated in SQL and kept verbatim.
    cases = [
        f"WHEN v.prop_type = {string_literal(t)} THEN "
        f"CASE WHEN {clean_sql(t, 'v.raw')} IS NULL THEN NULL ELSE v.raw END"
        for t in sorted(SQL_CLEANED_TYPES)
    ]
    join = ""
    if python_types:
        types_sql = ", ".join(string_literal(x) for x in python_types)
        con.execute(
            "CREATE OR REPLACE TEMP VIEW _tocleanv AS "
            f"SELECT prop_type, raw, NULL::VARCHAR AS fmt, "
            f"FALSE AS fuzzy FROM {t} WHERE prop_type IN ({types_sql})"
        )
        clean_distinct(con, "_tocleanv", "_cleaned")
        join = (
            "LEFT JOIN _cleaned c ON c.prop_type = v.prop_type AND c.raw = v.raw AND c.fmt IS NULL"
        )
        normalised = ", ".join(string_literal(x) for x in sorted(NORMALISED_TYPES))
        cases.append(f"WHEN v.prop_type IN ({normalised}) THEN c.value")
        cases.append(f"WHEN v.prop_type IN ({types_sql}) AND c.value IS NULL THEN NULL")
    value = "CASE " + " ".join(cases) + " ELSE v.raw END"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _jclean AS SELECT v.*, {value} AS value FROM {t} v {join}"
    )
    con.execute(
        f"INSERT INTO _rej SELECT {src}, source_row, prop, "
        f"'cannot be read as ' || prop_type || ' (' || schema || '.' || prop || ')', raw, 'value' "
        f"FROM _jclean WHERE value IS NULL OR value = ''"
    )
    con.execute(
        f"INSERT INTO _rej SELECT {src}, source_row, prop, 'value of ' || length(value) || "
        f"' characters is longer than the limit of ' || {_LIMIT}, left(raw, 1000) || '…', 'value' "
        f"FROM _jclean WHERE length(value) > {_LIMIT}"
    )
    seen = "first_seen, last_seen" if keep_seen else "NULL, NULL"
    con.execute(
        f"INSERT INTO _raw SELECT {src}, source_row, origin, entity_id, schema, prop, prop_type, "
        f"value, CASE WHEN original_value IS NOT NULL THEN original_value "
        f"WHEN raw <> value THEN raw END, lang, {seen}, coalesce(external, FALSE), dataset "
        f"FROM _jclean WHERE value IS NOT NULL AND value <> '' AND length(value) <= {_LIMIT}"
    )
    con.execute("DROP TABLE IF EXISTS _jclean")
    con.execute("DROP TABLE IF EXISTS _cleaned")
    con.execute("DROP VIEW IF EXISTS _tocleanv")


def read_ftm_json(
    con: duckdb.DuckDBPyConnection, path: Path, src: int, display: str, dataset: str
) -> LoadedTable:
    """Read FtM entities, one JSON object a line (``.json``, ``.ijson``, gzip too)."""
    reader = (
        f"read_csv({string_literal(str(path))}, columns = {{'line': 'VARCHAR'}}, "
        # Control characters cannot occur unescaped in valid JSON: as a delimiter
        # they keep every line whole.
        f"delim = {string_literal(chr(0x1F) + chr(0x1E))}, quote = '', escape = '', "
        "header = false, auto_detect = false, "
        f"strict_mode = false, max_line_size = {MAX_LINE_SIZE}, compression = 'auto')"
    )
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _jl AS "
            f"SELECT row_number() OVER () AS source_row, line FROM {reader}"
        )
    except duckdb.Error as exc:
        raise IngestError(f"cannot read as JSON lines: {_first_line(exc)}", file=display) from exc
    con.execute("DELETE FROM _jl WHERE line IS NULL OR trim(line) = ''")
    rows_in = int(con.execute("SELECT count(*) FROM _jl").fetchall()[0][0])
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _jv AS SELECT source_row, line, "
        "CASE WHEN NOT json_valid(line) THEN 'malformed JSON' "
        "WHEN json_type(line::JSON) <> 'OBJECT' THEN 'not a JSON object' END AS problem FROM _jl"
    )
    con.execute(
        f"INSERT INTO _rej SELECT {src}, source_row, NULL, problem, left(line, 10000), 'row' "
        "FROM _jv WHERE problem IS NOT NULL"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _je AS SELECT source_row, "
        "line::JSON ->> '$.id' AS entity_id, line::JSON ->> '$.schema' AS schema, "
        "line::JSON -> '$.properties' AS props, line FROM _jv WHERE problem IS NULL"
    )
    checks = [
        ("id", "entity_id IS NULL OR trim(entity_id) = ''", "'no entity id'"),
        ("schema", "schema IS NULL", "'no schema'"),
        (
            "schema",
            "schema NOT IN (SELECT name FROM ftm_schemata)",
            "'unknown schema ' || schema",
        ),
        (
            "schema",
            "schema IN (SELECT name FROM ftm_schemata WHERE abstract)",
            "'schema ' || schema || ' is abstract'",
        ),
        (
            "properties",
            "props IS NOT NULL AND json_type(props) <> 'OBJECT'",
            "'properties is not a JSON object'",
        ),
        ("id", "length(entity_id) > 1024", "'entity id longer than 1,024 characters'"),
    ]
    for field, cond, reason in checks:
        con.execute(
            f"INSERT INTO _rej SELECT {src}, source_row, {string_literal(field)}, {reason}, "
            f"left(line, 10000), 'row' FROM _je WHERE {cond}"
        )
        delete = f"DELETE FROM _je WHERE {cond}"  # cond: a fixed expression above
        con.execute(delete)
    # One row per (entity, property, value).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _jp AS SELECT source_row, entity_id, schema, k AS prop, "
        "props -> k AS vals FROM _je, unnest(json_keys(props)) t(k) WHERE props IS NOT NULL"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _jpt AS SELECT j.*, p.type AS prop_type, p.stub "
        "FROM _jp j LEFT JOIN ftm_properties p ON p.schema = j.schema AND p.prop = j.prop"
    )
    con.execute(
        f"INSERT INTO _rej SELECT {src}, source_row, prop, "
        "CASE WHEN prop_type IS NULL THEN 'unknown property ' || schema || '.' || prop "
        "ELSE 'reverse property ' || schema || '.' || prop || ' cannot be set' END, "
        "left(CAST(vals AS VARCHAR), 10000), 'value' FROM _jpt WHERE prop_type IS NULL OR stub"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _jvals AS "
        f"SELECT source_row, {string_literal(FTM_ORIGIN)} AS origin, entity_id, schema, prop, "
        "prop_type, "
        "CASE WHEN json_type(v) = 'VARCHAR' THEN v ->> '$' ELSE CAST(v AS VARCHAR) END AS raw, "
        "NULL::VARCHAR AS lang, NULL::VARCHAR AS original_value, NULL::TIMESTAMP AS first_seen, "
        "NULL::TIMESTAMP AS last_seen, FALSE AS external, ? AS dataset "
        "FROM (SELECT *, unnest(CASE WHEN json_type(vals) = 'ARRAY' "
        "THEN json_extract(vals, '$[*]') "
        "ELSE [vals] END) AS v FROM _jpt WHERE prop_type IS NOT NULL AND NOT stub) "
        "WHERE json_type(v) <> 'NULL'",
        [dataset],
    )
    con.execute(
        f"INSERT INTO _jvals SELECT source_row, {string_literal(FTM_ORIGIN)}, entity_id, schema, "
        "'id', 'id', entity_id, NULL, NULL, NULL, NULL, FALSE, ? FROM _je",
        [dataset],
    )
    _clean_into_raw(con, "_jvals", src)
    for name in ("_jl", "_jv", "_je", "_jp", "_jpt", "_jvals"):
        sql = f"DROP TABLE IF EXISTS {name}"
        con.execute(sql)
    return LoadedTable("_jl", [], rows_in)


def read_statements(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedTable,
    src: int,
    dataset: str,
) -> None:
    """Turn a loaded FtM statements CSV (see :func:`load_csv`) into raw statements.

    Each row keeps its own dataset, language, origin and times seen when it has
    them; ``dataset`` fills in where the file has none.
    """
    t = ident(loaded.table)
    cols = set(loaded.columns)

    def col(name: str, cast: str = "VARCHAR") -> str:
        return f"TRY_CAST({ident(name)} AS {cast})" if name in cols else f"NULL::{cast}"

    con.execute(
        "CREATE OR REPLACE TEMP TABLE _sv AS SELECT _row AS source_row, "
        f"coalesce({col('origin')}, 'statements') AS origin, {ident('entity_id')} AS entity_id, "
        f"{ident('schema')} AS schema, {ident('prop')} AS prop, {ident('value')} AS raw, "
        f"{col('lang')} AS lang, {col('original_value')} AS original_value, "
        f"{col('first_seen', 'TIMESTAMP')} AS first_seen, "
        f"{col('last_seen', 'TIMESTAMP')} AS last_seen, "
        f"coalesce(lower({col('external')}) IN ('true', 't', '1', 'yes'), FALSE) AS external, "
        f"coalesce({col('dataset')}, {string_literal(dataset)}) AS dataset "
        f"FROM {t}"
    )
    checks = [
        ("entity_id", "entity_id IS NULL", "'no entity id'"),
        ("schema", "schema IS NULL OR schema NOT IN (SELECT name FROM ftm_schemata)",
         "'unknown schema ' || coalesce(schema, '(none)')"),
        ("prop", "prop IS NULL OR (prop <> 'id' AND NOT EXISTS (SELECT 1 FROM ftm_properties p "
         "WHERE p.schema = _sv.schema AND p.prop = _sv.prop AND NOT p.stub))",
         "'unknown property ' || schema || '.' || coalesce(prop, '(none)')"),
        ("value", "raw IS NULL", "'no value'"),
    ]  # fmt: skip
    for field, cond, reason in checks:
        con.execute(
            f"INSERT INTO _rej SELECT {src}, source_row, {string_literal(field)}, {reason}, "
            f"NULL, 'row' FROM _sv WHERE {cond}"
        )
        sql = f"DELETE FROM _sv WHERE {cond}"
        con.execute(sql)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _svt AS "
        "SELECT s.source_row, s.origin, s.entity_id, s.schema, "
        "s.prop, CASE WHEN s.prop = 'id' THEN 'id' ELSE p.type END AS prop_type, s.raw, s.lang, "
        "s.original_value, s.first_seen, s.last_seen, s.external, s.dataset "
        "FROM _sv s LEFT JOIN ftm_properties p ON p.schema = s.schema AND p.prop = s.prop"
    )
    _clean_into_raw(con, "_svt", src, keep_seen=True)
    con.execute("DROP TABLE IF EXISTS _sv")
    con.execute("DROP TABLE IF EXISTS _svt")
