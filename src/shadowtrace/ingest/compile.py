"""Run a mapping query over a loaded table, in SQL.

``ftm map`` maps one record at a time through Python objects. Here a query of a
mapping becomes a handful of SQL statements over the whole table:

1. the rows that pass the query's filters;
2. each entity's id per row: ``sha1(dataset + key_literal + sorted key values)``,
   exactly as followthemoney computes it;
3. each property's raw values per row (columns, literals, templates, join, split),
   unnested into one row per value;
4. type cleaning of the distinct raw values (see :mod:`shadowtrace.ingest.clean`);
5. ``required`` properties and entity references, in dependency order, and the
   names of referenced entities inlined into ``namesMentioned`` as FtM does.

Records that would make the same statements for an entity (the party named in a
million donations, the same address on every row of a company) are mapped once:
each entity row remembers the first such record (``rep``), and the others are only
recorded as places the entity was read from (``_seen``), with any reject of the
shared values repeated for each of them.

The output rows are appended to the run's raw statement table with their record
number and the name of the mapping entity that made them (the ``origin``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from shadowtrace.errors import MappingError
from shadowtrace.ingest.clean import (
    SQL_CLEANED_TYPES,
    clean_distinct,
    clean_sql,
    needs_python_clean,
    strip_sql,
)
from shadowtrace.ingest.mapping import TEMPLATE_REF, EntitySpec, PropertySpec, QuerySpec
from shadowtrace.model import get_model
from shadowtrace.store.sql import ident, string_literal

__all__ = [
    "MAX_VALUE_CHARS",
    "RAW_COLUMNS",
    "REJECT_COLUMNS",
    "SEEN_COLUMNS",
    "max_value_chars",
    "run_query",
]

#: Columns of the run's raw statement table.
RAW_COLUMNS = (
    "src INTEGER, source_row BIGINT, origin VARCHAR, entity_id VARCHAR, schema VARCHAR, "
    "prop VARCHAR, prop_type VARCHAR, value VARCHAR, original_value VARCHAR, lang VARCHAR, "
    "first_seen TIMESTAMP, last_seen TIMESTAMP, external BOOLEAN, dataset VARCHAR"
)
#: Columns of the run's table of records whose statements an earlier record of the
#: chunk already made (same entity, same values): provenance only.
SEEN_COLUMNS = "src INTEGER, source_row BIGINT, origin VARCHAR, entity_id VARCHAR, schema VARCHAR"
#: Columns of the run's reject table.
REJECT_COLUMNS = (
    "src INTEGER, source_row BIGINT, field VARCHAR, reason VARCHAR, raw VARCHAR, kind VARCHAR"
)

#: Longest value stored, in characters. Longer values are rejected (and kept in
#: the rejects table): FtM's own limits are 65,000 characters for most types and
#: 30 MB for text; nothing downstream (resolution, reports) should have to
#: swallow a 10 MB name.
MAX_VALUE_CHARS = 65_000
MAX_TEXT_CHARS = 30 * 1024 * 1024


def max_value_chars(prop_type: str) -> int:
    return MAX_TEXT_CHARS if prop_type in ("text", "html") else MAX_VALUE_CHARS


@dataclass
class _Names:
    """Names of the temp tables of one query run."""

    prefix: str

    def __getattr__(self, item: str) -> str:
        return ident(f"{self.prefix}_{item}")


def _filter_sql(query: QuerySpec, columns: set[str]) -> str:
    """WHERE clause for ``filters`` / ``filters_not`` with FtM's semantics:
    a record passes when its value is (not) among the listed values, a missing
    value counting as null."""
    parts = []
    for negate, filters in ((False, query.filters), (True, query.filters_not)):
        for col, values in filters:
            if col not in columns:
                raise MappingError(f"filter on column {col!r}, which the source does not have")
            c = ident(col)
            texts = [v for v in values if v is not None]
            terms = []
            if texts:
                terms.append(f"{c} IN ({', '.join(string_literal(v) for v in texts)})")
            if None in values:
                terms.append(f"{c} IS NULL")
            test = "(" + " OR ".join(terms) + ")" if terms else "FALSE"
            parts.append(f"NOT coalesce({test}, FALSE)" if negate else f"coalesce({test}, FALSE)")
    return " AND ".join(parts) if parts else "TRUE"


MAX_NETWORK_KEYS = 8


def _signature(entity: EntitySpec, entities: dict[str, EntitySpec]) -> list[str]:
    """The source columns that decide every statement ``entity`` makes in a record:
    its keys and property columns, and those of the entities it refers to (their
    ids, names and whether they are made at all), transitively."""
    columns: set[str] = set()
    todo, seen = [entity.name], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in entities:
            continue
        seen.add(name)
        columns |= entities[name].refs
        todo.extend(entities[name].dependencies)
    return sorted(columns)


def _id_select(
    entity: EntitySpec, dataset: str, source: str, where: str, signature: list[str]
) -> str:
    """SELECT (_row, origin, schema, entity_id, sig) for one mapping entity, for the
    records where it has an id; ``sig`` holds the values of the columns that decide
    the entity's statements.

    followthemoney's id: ``sha1(dataset + key_literal + the sorted non-empty key
    values, concatenated)``; none when every key is empty. Sorting a handful of
    keys with a sorting network of ``least``/``greatest`` (empty strings sort first
    and add nothing, like FtM's empty keys) is cheaper than list functions. Records
    without an id are filtered on the keys, never on the id: a filter on the id
    would be pushed down and hash every key twice.
    """
    # A 64-bit hash, compared only between rows of the same entity id.
    sig = f"hash({', '.join(ident(c) for c in signature)}) AS sig" if signature else "0 AS sig"
    head = (
        f"_row, {string_literal(entity.name)} AS origin, {string_literal(entity.schema)} AS schema"
    )
    if entity.id_column is not None:
        col = ident(entity.id_column)
        return (
            f"SELECT {head}, {col}::VARCHAR AS entity_id, {sig} FROM {source} "
            f"WHERE {where} AND {col} IS NOT NULL AND {col}::VARCHAR <> ''"
        )
    seed = string_literal(dataset + (entity.key_literal or ""))
    keys = [ident(k) for k in entity.keys]
    if len(keys) == 1:
        return (
            f"SELECT {head}, sha1({seed} || {keys[0]}) AS entity_id, {sig} FROM {source} "
            f"WHERE {where} AND {keys[0]} IS NOT NULL"
        )
    if len(keys) > MAX_NETWORK_KEYS:
        present = f"list_filter([{', '.join(keys)}], lambda x: x IS NOT NULL)"
        return (
            f"SELECT {head}, sha1({seed} || array_to_string(list_sort({present}), '')) "
            f"AS entity_id, {sig} FROM {source} WHERE {where} "
            f"AND coalesce({', '.join(keys)}) IS NOT NULL"
        )
    k = len(keys)
    names = [f"k{i}" for i in range(k)]
    inner = ", ".join(f"coalesce({key}, '') AS k{i}" for i, key in enumerate(keys))
    some = " OR ".join(f"{key} <> ''" for key in keys)
    layer = (
        f"SELECT _row, sig, {inner} FROM (SELECT *, {sig} FROM {source} WHERE {where} AND ({some}))"
    )
    for round_ in range(k):  # odd-even transposition sort: k rounds sort k values
        cols = []
        i = 0
        while i < k:
            if i % 2 == round_ % 2 and i + 1 < k:
                a, b = names[i], names[i + 1]
                cols.append(f"least({a}, {b}) AS {a}")
                cols.append(f"greatest({a}, {b}) AS {b}")
                i += 2
            else:
                cols.append(names[i])
                i += 1
        layer = f"SELECT _row, sig, {', '.join(cols)} FROM ({layer})"
    joined = " || ".join(names)
    return f"SELECT {head}, sha1({seed} || {joined}) AS entity_id, sig FROM ({layer})"


def _template_sql(template: str) -> str:
    parts: list[str] = []
    pos = 0
    for match in TEMPLATE_REF.finditer(template):
        if match.start() > pos:
            parts.append(string_literal(template[pos : match.start()]))
        parts.append(f"coalesce({ident(match.group(1))}, '')")
        pos = match.end()
    if pos < len(template):
        parts.append(string_literal(template[pos:]))
    joined = " || ".join(parts) if parts else "''"
    return strip_sql("(" + joined + ")")


def _values_sql(prop: PropertySpec) -> str:
    """A VARCHAR[] of the raw values of one property mapping for one row."""
    if prop.template is not None:
        return f"[{_template_sql(prop.template)}]"
    items = [string_literal(v) for v in prop.literals] + [ident(c) for c in prop.columns]
    values = f"list_filter([{', '.join(items)}]::VARCHAR[], lambda x: x IS NOT NULL)"
    if prop.join is not None:
        values = f"[array_to_string({values}, {string_literal(prop.join)})]"
    if prop.split is not None:
        sep = string_literal(prop.split)
        values = f"flatten(list_transform({values}, lambda x: string_split(x, {sep})))"
    return values


def _repeatable(query: QuerySpec) -> set[tuple[str, str]]:
    """(entity, property) pairs of ``query`` that can hold one value twice in one
    record: several columns or literals, a split, or names inlined from several
    referenced entities (or several names of one)."""
    model = get_model()
    pairs: set[tuple[str, str]] = set()
    for entity in query.entities:
        schema = model.get(entity.schema)
        refs = [p for p in entity.properties if p.entity is not None]
        if refs and schema is not None and schema.get("namesMentioned") is not None:
            pairs.add((entity.name, "namesMentioned"))
        for prop in entity.properties:
            if prop.entity is not None or prop.template is not None:
                continue
            if prop.split is not None or (
                prop.join is None and len(prop.columns) + len(prop.literals) > 1
            ):
                pairs.add((entity.name, prop.prop))
    return pairs


def _check_columns(query: QuerySpec, columns: set[str], display: str) -> None:
    missing = sorted(query.refs - columns)
    if missing:
        have = ", ".join(sorted(columns)[:30])
        raise MappingError(
            f"{display}: the mapping uses column(s) {', '.join(repr(m) for m in missing)}, "
            f"which the source does not have (it has: {have})"
        )


def run_query(
    con: duckdb.DuckDBPyConnection,
    query: QuerySpec,
    source_table: str,
    columns: Sequence[str],
    src: int,
    dataset: str,
    prefix: str,
    display: str,
    rows: tuple[int, int] | None = None,
) -> None:
    """Map ``source_table`` (records ``rows``, inclusive, if given) through ``query``;
    append to ``_raw``, ``_seen``, ``_rej`` and ``_passed``."""
    model = get_model()
    colset = set(columns)
    _check_columns(query, colset, display)
    n = _Names(prefix)
    where = _filter_sql(query, colset)
    if rows is not None:
        where = f"_row BETWEEN {int(rows[0])} AND {int(rows[1])} AND {where}"
    src_t = ident(source_table)

    sql = f"INSERT INTO _passed SELECT DISTINCT {src}, _row FROM {src_t} WHERE {where}"
    con.execute(sql)

    # 2. ids, and for each the first record that makes the same statements (``rep``):
    # the party of a million donations is mapped once, and read from a million rows.
    by_name = {entity.name: entity for entity in query.entities}
    selects = [
        _id_select(entity, dataset, src_t, where, _signature(entity, by_name))
        for entity in query.entities
    ]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {n.ids} AS WITH i AS (SELECT * FROM ("
        + " UNION ALL ".join(selects)
        + ")), r AS (SELECT origin, entity_id, "
        "sig, min(_row) AS rep FROM i GROUP BY ALL) SELECT i._row, i.origin, i.schema, "
        "i.entity_id, r.rep FROM i JOIN r USING (origin, entity_id, sig)"
    )

    # 3. raw values of the non-reference properties
    selects = []
    for entity in query.entities:
        schema = model.get(entity.schema)
        assert schema is not None
        structs = []
        for prop in entity.properties:
            if prop.entity is not None:
                continue
            model_prop = schema.get(prop.prop)
            assert model_prop is not None
            fmt = prop.format or model_prop.format
            field = ", ".join(prop.refs) if prop.refs else prop.prop
            structs.append(
                "{"
                f"'prop': {string_literal(prop.prop)}, "
                f"'prop_type': {string_literal(prop.prop_type)}, "
                f"'field': {string_literal(field)}, "
                f"'vals': {_values_sql(prop)}, "
                f"'fmt': {string_literal(fmt) if fmt else 'NULL::VARCHAR'}, "
                f"'fuzzy': {'TRUE' if prop.fuzzy else 'FALSE'}"
                "}"
            )
        if not structs:
            continue
        origin = string_literal(entity.name)
        selects.append(
            f"SELECT _row, {origin} AS origin, unnest([{', '.join(structs)}]) AS v "
            f"FROM {src_t} WHERE {where} AND _row IN "
            f"(SELECT rep FROM {n.ids} WHERE origin = {origin} AND _row = rep)"
        )
    if selects:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {n.vals} AS "
            f"SELECT u._row, u.origin, u.v.prop AS prop, u.v.prop_type AS prop_type, "
            f"u.v.field AS field, unnest(u.v.vals) AS raw, u.v.fmt AS fmt, u.v.fuzzy AS fuzzy "
            f"FROM ({' UNION ALL '.join(selects)}) u"
        )
        sql = f"DELETE FROM {n.vals} WHERE raw IS NULL OR raw = ''"
        con.execute(sql)
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {n.vals} (_row BIGINT, origin VARCHAR, prop VARCHAR, "
            "prop_type VARCHAR, field VARCHAR, raw VARCHAR, fmt VARCHAR, fuzzy BOOLEAN)"
        )

    # 4. clean distinct values of the types FtM really cleans
    python_types = sorted(
        {
            t
            for (t,) in con.execute("SELECT DISTINCT prop_type FROM " + n.vals).fetchall()
            if needs_python_clean(str(t))
        }
    )
    cases = [
        f"WHEN v.prop_type = {string_literal(t)} THEN {clean_sql(t, 'v.raw')}"
        for t in sorted(SQL_CLEANED_TYPES)
    ]
    join = ""
    if python_types:
        types_sql = ", ".join(string_literal(t) for t in python_types)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {n.tocleanv} AS SELECT prop_type, raw, fmt, fuzzy "
            f"FROM {n.vals} WHERE prop_type IN ({types_sql})"
        )
        clean_distinct(con, n.tocleanv, n.cleaned)
        join = (
            f"LEFT JOIN {n.cleaned} c ON c.prop_type = v.prop_type AND c.raw = v.raw "
            f"AND c.fmt IS NOT DISTINCT FROM v.fmt AND c.fuzzy = v.fuzzy"
        )
        cases.append(f"WHEN v.prop_type IN ({types_sql}) THEN c.value")
    value = "CASE " + " ".join(cases) + " ELSE v.raw END"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {n.clean} AS SELECT v._row, v.origin, v.prop, v.prop_type, "
        f"v.field, v.raw, {value} AS value FROM {n.vals} v {join}"
    )
    # Values that cannot be read as their type, or are too long, are rejected, in
    # every record that holds them (not only the first).
    limit = (
        f"CASE WHEN prop_type IN ('text', 'html') THEN {MAX_TEXT_CHARS} ELSE {MAX_VALUE_CHARS} END"
    )
    con.execute(
        f"INSERT INTO _rej SELECT {src}, i._row, b.field, b.reason, b.raw, 'value' FROM ("
        f"SELECT _row, origin, field, 'cannot be read as ' || prop_type || ' (' || origin || '.' "
        f"|| prop || ')' AS reason, raw FROM {n.clean} WHERE value IS NULL UNION ALL "
        f"SELECT _row, origin, field, 'value of ' || length(value) || ' characters is longer "
        f"than the limit of ' || {limit} || ' (' || origin || '.' || prop || ')' AS reason, "
        f"left(raw, 1000) || '…' FROM {n.clean} WHERE length(value) > {limit}) b "
        f"JOIN {n.ids} i ON i.rep = b._row AND i.origin = b.origin"
    )
    sql = f"DELETE FROM {n.clean} WHERE value IS NULL OR length(value) > {limit}"
    con.execute(sql)

    # 5. required properties and references, in dependency order
    for entity in query.entities:
        origin = string_literal(entity.name)
        for prop in entity.properties:
            if not prop.required:
                continue
            if prop.entity is None:
                con.execute(
                    f"DELETE FROM {n.ids} i WHERE i.origin = {origin} AND NOT EXISTS ("
                    f"SELECT 1 FROM {n.clean} c WHERE c._row = i.rep AND c.origin = {origin} "
                    f"AND c.prop = {string_literal(prop.prop)})"
                )
            else:
                con.execute(
                    f"DELETE FROM {n.ids} i WHERE i.origin = {origin} AND NOT EXISTS ("
                    f"SELECT 1 FROM {n.ids} x WHERE x._row = i._row "
                    f"AND x.origin = {string_literal(prop.entity)})"
                )
        schema = model.get(entity.schema)
        assert schema is not None
        mentions = schema.get("namesMentioned") is not None
        for prop in entity.properties:
            if prop.entity is None:
                continue
            target = string_literal(prop.entity)
            con.execute(
                f"INSERT INTO {n.clean} SELECT e._row, {origin}, {string_literal(prop.prop)}, "
                f"'entity', {string_literal(prop.prop)}, x.entity_id, x.entity_id "
                f"FROM {n.ids} e JOIN {n.ids} x ON x._row = e._row AND x.origin = {target} "
                f"WHERE e.origin = {origin} AND e._row = e.rep"
            )
            if mentions:
                con.execute(
                    f"INSERT INTO {n.clean} SELECT e._row, {origin}, 'namesMentioned', 'name', "
                    f"'namesMentioned', c.value, c.value "
                    f"FROM {n.ids} e JOIN {n.ids} x ON x._row = e._row AND x.origin = {target} "
                    f"JOIN {n.clean} c ON c._row = x.rep AND c.origin = {target} "
                    f"AND c.prop_type = 'name' WHERE e.origin = {origin} AND e._row = e.rep"
                )

    # 6. the statements of the entities that were made, each at most once per record
    # (the merge counts on it): only properties that can have several values in one
    # record can repeat one, and only those are made distinct.
    repeatable = " OR ".join(
        f"(origin = {string_literal(origin)} AND prop = {string_literal(prop)})"
        for origin, prop in sorted(_repeatable(query))
    )
    clean = n.clean
    if repeatable:
        clean = (
            f"(SELECT * FROM {n.clean} WHERE NOT ({repeatable}) UNION ALL "
            f"SELECT DISTINCT ON (_row, origin, prop, value) * FROM {n.clean} "
            f"WHERE {repeatable})"
        )
    con.execute(
        f"INSERT INTO _raw SELECT {src}, i._row, i.origin, i.entity_id, i.schema, c.prop, "
        f"c.prop_type, c.value, CASE WHEN c.raw <> c.value THEN c.raw END, "
        f"NULL, NULL, NULL, FALSE, "
        f"{string_literal(dataset)} "
        f"FROM {clean} c JOIN {n.ids} i ON i._row = c._row AND i.origin = c.origin"
    )
    con.execute(
        f"INSERT INTO _raw SELECT {src}, _row, origin, entity_id, schema, 'id', 'id', entity_id, "
        f"NULL, NULL, NULL, NULL, FALSE, {string_literal(dataset)} FROM {n.ids} WHERE _row = rep"
    )
    # The other records each entity was read from: its provenance, no new statement.
    con.execute(
        f"INSERT INTO _seen SELECT {src}, _row, origin, entity_id, schema FROM {n.ids} "
        "WHERE _row <> rep"
    )
    for name in ("ids", "vals", "clean", "cleaned"):
        sql = f"DROP TABLE IF EXISTS {getattr(n, name)}"
        con.execute(sql)
    sql = f"DROP VIEW IF EXISTS {n.tocleanv}"
    con.execute(sql)
