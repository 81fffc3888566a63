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
    "REJECT_COLUMNS",
    "max_value_chars",
    "raw_columns",
    "run_query",
]

#: Columns of the run's raw statement table (the types in braces: see
#: :func:`raw_columns`).
RAW_COLUMNS = (
    "src INTEGER, source_row BIGINT, origin {origin}, entity_id VARCHAR, schema {schema}, "
    "prop {prop}, prop_type {type}, value VARCHAR, original_value VARCHAR, lang VARCHAR, "
    "first_seen TIMESTAMP, last_seen TIMESTAMP, external BOOLEAN, dataset {dataset}"
)
#: Columns of the run's table of records whose statements an earlier record of the
#: chunk already made (same entity, same values): provenance only.
SEEN_COLUMNS = "src INTEGER, source_row BIGINT, origin {origin}, entity_id VARCHAR, schema {schema}"
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


def raw_columns(
    con: duckdb.DuckDBPyConnection,
    origins: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
) -> tuple[str, str]:
    """The columns of the run's raw statement table and of its table of records
    seen, with the store's schemata, property names and types as ENUMs, and the
    origins and datasets too when the run knows all of them before it reads
    (``None``: any string).

    A raw statement names its schema, property and type among a few hundred known
    values (readers reject the others before they get here): as an ENUM each takes
    one or two bytes rather than a string, which keeps the millions of rows of a
    chunk smaller in memory, and groups and compares them as small integers."""
    schemata, props, types = con.execute(
        "SELECT (SELECT list(name ORDER BY name) FROM ftm_schemata), "
        "(SELECT list(DISTINCT prop ORDER BY prop) FROM ftm_properties), "
        "(SELECT list(DISTINCT type ORDER BY type) FROM ftm_properties)"
    ).fetchall()[0]
    enums = {
        "schema": _enum_sql(schemata or []),
        "prop": _enum_sql(sorted({*(props or []), "id"})),
        "type": _enum_sql(sorted({*(types or []), "id"})),
        "origin": "VARCHAR" if origins is None else _enum_sql(sorted(set(origins))),
        "dataset": "VARCHAR" if datasets is None else _enum_sql(sorted(set(datasets))),
    }
    return RAW_COLUMNS.format(**enums), SEEN_COLUMNS.format(**enums)


def _enum_sql(values: Sequence[str]) -> str:
    return f"ENUM({', '.join(string_literal(v) for v in values)})"


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
    entity: EntitySpec, ent: int, dataset: str, source: str, where: str, signature: list[str]
) -> str:
    """SELECT (_row, ent, entity_id, sig) for mapping entity number ``ent``, for the
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
    head = f"_row, {int(ent)} AS ent"
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


#: An empty relation of the shape step 3 unnests, for a query without values.
_NO_VALUES = (
    "SELECT NULL::BIGINT AS _row, NULL::INTEGER AS ent, "
    "{'slot': NULL::INTEGER, 'vals': NULL::VARCHAR[]} AS v WHERE FALSE"
)


@dataclass(frozen=True)
class _Slot:
    """One property mapping of one mapping entity (or the references and
    ``namesMentioned`` it makes)."""

    ent: int
    origin: str
    schema: str
    prop: str
    prop_type: str
    field: str
    fmt: str | None = None
    fuzzy: bool = False
    value: bool = True  # read from the source (not a reference or a mention)

    @property
    def limit(self) -> int:
        return max_value_chars(self.prop_type)


def _sql_list(values: Sequence[str | int | bool | None]) -> str:
    items = []
    for v in values:
        if v is None:
            items.append("NULL")
        elif isinstance(v, bool):
            items.append("TRUE" if v else "FALSE")
        elif isinstance(v, int):
            items.append(str(int(v)))
        else:
            items.append(string_literal(v))
    return "[" + ", ".join(items) + "]"


class _Slots:
    """Small numbers for what each value of a query is: its mapping entity (``ent``,
    1-based) and its property mapping (``slot``, 1-based).

    The tables of a query run carry these numbers rather than the names, types and
    formats they stand for: narrower rows to write and read, and joins on integers.
    The names come back (``list_extract`` over a constant list) only where they are
    written out."""

    def __init__(self, query: QuerySpec) -> None:
        model = get_model()
        self.entities = list(query.entities)
        self._ent = {e.name: i + 1 for i, e in enumerate(query.entities)}
        self.slots: list[_Slot] = []
        self._values: dict[str, list[tuple[int, PropertySpec]]] = {}
        self._refs: dict[tuple[str, str], int] = {}
        self._mentions: dict[str, int] = {}
        for entity in query.entities:
            schema = model.get(entity.schema)
            assert schema is not None
            for prop in entity.properties:
                if prop.entity is not None:
                    slot = self._make(entity, prop.prop, "entity", prop.prop, value=False)
                    self._refs[(entity.name, prop.prop)] = self._add(slot)
                    continue
                model_prop = schema.get(prop.prop)
                assert model_prop is not None
                field = ", ".join(prop.refs) if prop.refs else prop.prop
                fmt = prop.format or model_prop.format
                slot = self._make(entity, prop.prop, prop.prop_type, field, fmt, prop.fuzzy)
                self._values.setdefault(entity.name, []).append((self._add(slot), prop))
            has_refs = any(p.entity is not None for p in entity.properties)
            if has_refs and schema.get("namesMentioned") is not None:
                slot = self._make(entity, "namesMentioned", "name", "namesMentioned", value=False)
                self._mentions[entity.name] = self._add(slot)
        self._repeatable = _repeatable(query)

    def _make(
        self,
        entity: EntitySpec,
        prop: str,
        prop_type: str,
        field: str,
        fmt: str | None = None,
        fuzzy: bool = False,
        value: bool = True,
    ) -> _Slot:
        ent = self._ent[entity.name]
        return _Slot(ent, entity.name, entity.schema, prop, prop_type, field, fmt, fuzzy, value)

    def _add(self, slot: _Slot) -> int:
        self.slots.append(slot)
        return len(self.slots)

    def ent(self, name: str) -> int:
        return self._ent[name]

    def values_of(self, name: str) -> list[tuple[int, PropertySpec]]:
        """(slot, mapping) of the properties of entity ``name`` read from the source."""
        return self._values.get(name, [])

    def reference(self, name: str, prop: PropertySpec) -> int:
        return self._refs[(name, prop.prop)]

    def mentions(self, name: str) -> int | None:
        """The slot of entity ``name``'s ``namesMentioned``, if it makes one."""
        return self._mentions.get(name)

    def names_of(self, name: str) -> list[int]:
        """The slots of entity ``name`` whose values are names."""
        return [
            i for i, s in enumerate(self.slots, 1) if s.origin == name and s.prop_type == "name"
        ]

    def slots_of(self, name: str, prop: str) -> list[int]:
        return [i for i, s in enumerate(self.slots, 1) if s.origin == name and s.prop == prop]

    def by_type(self, types: frozenset[str] | None) -> list[tuple[str, list[int]]]:
        """The value slots of each type in ``types`` or, for None, of each type that
        FtM cleans and SQL does not."""
        found: dict[str, list[int]] = {}
        for i, s in enumerate(self.slots, 1):
            if not s.value:
                continue
            wanted = s.prop_type in types if types is not None else needs_python_clean(s.prop_type)
            if wanted:
                found.setdefault(s.prop_type, []).append(i)
        return sorted(found.items())

    def repeatable(self) -> list[int]:
        """Slots that can hold one value twice in one record (see :func:`_repeatable`)."""
        return [i for i, s in enumerate(self.slots, 1) if (s.origin, s.prop) in self._repeatable]

    @staticmethod
    def in_list(slots: Sequence[int]) -> str:
        return ", ".join(str(int(i)) for i in slots)

    def of(self, attr: str, expr: str, entity: bool = False) -> str:
        """SQL for attribute ``attr`` of the slot (or, with ``entity``, the mapping
        entity) numbered by ``expr``."""
        if entity:
            values = [e.name if attr == "origin" else getattr(e, attr) for e in self.entities]
        else:
            values = [getattr(s, attr) for s in self.slots]
        return f"list_extract({_sql_list(values)}, {expr})"


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
    colset = set(columns)
    _check_columns(query, colset, display)
    n = _Names(prefix)
    where = _filter_sql(query, colset)
    if rows is not None:
        where = f"_row BETWEEN {int(rows[0])} AND {int(rows[1])} AND {where}"
    src_t = ident(source_table)
    s = _Slots(query)

    sql = f"INSERT INTO _passed SELECT {src}, _row FROM {src_t} WHERE {where}"
    con.execute(sql)

    # 2. ids, and for each the first record that makes the same statements (``rep``):
    # the party of a million donations is mapped once, and read from a million rows.
    by_name = {entity.name: entity for entity in query.entities}
    selects = [
        _id_select(entity, s.ent(entity.name), dataset, src_t, where, _signature(entity, by_name))
        for entity in query.entities
    ]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {n.ids} AS WITH i AS (SELECT * FROM ("
        + " UNION ALL ".join(selects)
        + ")), r AS (SELECT ent, entity_id, sig, min(_row) AS rep FROM i GROUP BY ALL) "
        "SELECT i._row, i.ent, i.entity_id, r.rep FROM i JOIN r USING (ent, entity_id, sig)"
    )

    # 3. raw values of the non-reference properties, read once per entity (its
    # ``rep`` record); empty values are no values
    selects = []
    for entity in query.entities:
        structs = [
            f"{{'slot': {slot}, 'vals': {_values_sql(prop)}}}"
            for slot, prop in s.values_of(entity.name)
        ]
        if not structs:
            continue
        ent = s.ent(entity.name)
        selects.append(
            f"SELECT _row, {ent} AS ent, unnest([{', '.join(structs)}]) AS v "
            f"FROM {src_t} WHERE {where} AND _row IN "
            f"(SELECT rep FROM {n.ids} WHERE ent = {ent} AND _row = rep)"
        )
    body = " UNION ALL ".join(selects) if selects else _NO_VALUES
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {n.vals} AS SELECT * FROM (SELECT u._row, "
        "u.ent::UTINYINT AS ent, u.v.slot::USMALLINT AS slot, unnest(u.v.vals) AS raw "
        f"FROM ({body}) u) WHERE raw <> ''"
    )

    # 4. clean: in SQL for the types ported to it, in Python (once per distinct value)
    # for the others that FtM really cleans
    cases = [
        f"WHEN v.slot IN ({s.in_list(slots)}) THEN {clean_sql(t, 'v.raw')}"
        for t, slots in s.by_type(SQL_CLEANED_TYPES)
    ]
    python = [slot for _, slots in s.by_type(None) for slot in slots]
    join = ""
    if python:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {n.tocleanv} AS SELECT {s.of('prop_type', 'slot')} "
            f"AS prop_type, raw, {s.of('fmt', 'slot')} AS fmt, {s.of('fuzzy', 'slot')} AS "
            f"fuzzy FROM {n.vals} WHERE slot IN ({s.in_list(python)})"
        )
        clean_distinct(con, n.tocleanv, n.cleaned)
        join = (
            f"LEFT JOIN {n.cleaned} c ON c.prop_type = {s.of('prop_type', 'v.slot')} "
            f"AND c.raw = v.raw AND c.fmt IS NOT DISTINCT FROM {s.of('fmt', 'v.slot')} "
            f"AND c.fuzzy = {s.of('fuzzy', 'v.slot')}"
        )
        cases.append(f"WHEN v.slot IN ({s.in_list(python)}) THEN c.value")
    value = "CASE " + " ".join(cases) + " ELSE v.raw END" if cases else "v.raw"
    # ``ok``: the value can be read as its type and is not too long. The others are
    # rejected below and never used.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {n.clean} AS SELECT *, value IS NOT NULL AND "
        f"length(value) <= {s.of('limit', 'slot')} AS ok FROM (SELECT v._row, v.ent, v.slot, "
        f"v.raw, {value} AS value FROM {n.vals} v {join})"
    )
    # Values that cannot be read as their type, or are too long, are rejected, in
    # every record that holds them (not only the first).
    con.execute(
        f"INSERT INTO _rej SELECT {src}, i._row, b.field, b.reason, b.raw, 'value' FROM ("
        f"SELECT _row, ent, {s.of('field', 'slot')} AS field, CASE WHEN value IS NULL THEN "
        f"'cannot be read as ' || {s.of('prop_type', 'slot')} || ' (' || "
        f"{s.of('origin', 'slot')} || '.' || {s.of('prop', 'slot')} || ')' ELSE 'value of ' "
        f"|| length(value) || ' characters is longer than the limit of ' || "
        f"{s.of('limit', 'slot')} || ' (' || {s.of('origin', 'slot')} || '.' || "
        f"{s.of('prop', 'slot')} || ')' END AS reason, CASE WHEN value IS NULL THEN raw "
        f"ELSE left(raw, 1000) || '…' END AS raw FROM {n.clean} WHERE NOT ok) b "
        f"JOIN {n.ids} i ON i.rep = b._row AND i.ent = b.ent"
    )

    # 5. required properties and references, in dependency order
    for entity in query.entities:
        ent = s.ent(entity.name)
        for prop in entity.properties:
            if not prop.required:
                continue
            if prop.entity is None:
                con.execute(
                    f"DELETE FROM {n.ids} i WHERE i.ent = {ent} AND NOT EXISTS (SELECT 1 "
                    f"FROM {n.clean} c WHERE c._row = i.rep AND c.ent = {ent} AND c.ok "
                    f"AND c.slot IN ({s.in_list(s.slots_of(entity.name, prop.prop))}))"
                )
            else:
                con.execute(
                    f"DELETE FROM {n.ids} i WHERE i.ent = {ent} AND NOT EXISTS ("
                    f"SELECT 1 FROM {n.ids} x WHERE x._row = i._row "
                    f"AND x.ent = {s.ent(prop.entity)})"
                )
        for prop in entity.properties:
            if prop.entity is None:
                continue
            target = s.ent(prop.entity)
            con.execute(
                f"INSERT INTO {n.clean} SELECT e._row, {ent}, {s.reference(entity.name, prop)}, "
                f"x.entity_id, x.entity_id, TRUE FROM {n.ids} e JOIN {n.ids} x "
                f"ON x._row = e._row AND x.ent = {target} WHERE e.ent = {ent} AND e._row = e.rep"
            )
            mentions = s.mentions(entity.name)
            names = s.names_of(prop.entity)
            if mentions is not None and names:
                con.execute(
                    f"INSERT INTO {n.clean} SELECT e._row, {ent}, {mentions}, c.value, "
                    f"c.value, TRUE FROM {n.ids} e JOIN {n.ids} x ON x._row = e._row "
                    f"AND x.ent = {target} JOIN {n.clean} c ON c._row = x.rep AND "
                    f"c.ent = {target} AND c.ok AND c.slot IN ({s.in_list(names)}) "
                    f"WHERE e.ent = {ent} AND e._row = e.rep"
                )

    # 6. the statements of the entities that were made, each at most once per record
    # (the merge counts on it): only properties that can have several values in one
    # record can repeat one, and only those are made distinct.
    clean = f"(SELECT * FROM {n.clean} WHERE ok)"
    repeatable = s.in_list(s.repeatable())
    if repeatable:
        clean = (
            f"(SELECT * FROM {n.clean} WHERE ok AND slot NOT IN ({repeatable}) UNION ALL "
            f"SELECT DISTINCT ON (_row, ent, {s.of('prop', 'slot')}, value) * FROM {n.clean} "
            f"WHERE ok AND slot IN ({repeatable}))"
        )
    # Each entity's statements and its id, from its first record (``rep``).
    con.execute(
        f"INSERT INTO _raw SELECT {src}, i._row, {s.of('origin', 'i.ent', entity=True)}, "
        f"i.entity_id, {s.of('schema', 'i.ent', entity=True)}, {s.of('prop', 'c.slot')}, "
        f"{s.of('prop_type', 'c.slot')}, c.value, CASE WHEN c.raw <> c.value THEN c.raw END, "
        f"NULL, NULL, NULL, FALSE, {string_literal(dataset)} FROM {clean} c "
        f"JOIN (SELECT _row, ent, entity_id FROM {n.ids} WHERE _row = rep) i "
        f"ON i._row = c._row AND i.ent = c.ent UNION ALL SELECT {src}, _row, "
        f"{s.of('origin', 'ent', entity=True)}, entity_id, {s.of('schema', 'ent', entity=True)}, "
        f"'id', 'id', entity_id, NULL, NULL, NULL, NULL, FALSE, {string_literal(dataset)} "
        f"FROM {n.ids} WHERE _row = rep"
    )
    # The other records each entity was read from: its provenance, no new statement.
    con.execute(
        f"INSERT INTO _seen SELECT {src}, _row, {s.of('origin', 'ent', entity=True)}, "
        f"entity_id, {s.of('schema', 'ent', entity=True)} FROM {n.ids} WHERE _row <> rep"
    )
    for name in ("ids", "vals", "clean", "cleaned"):
        sql = f"DROP TABLE IF EXISTS {getattr(n, name)}"
        con.execute(sql)
    sql = f"DROP VIEW IF EXISTS {n.tocleanv}"
    con.execute(sql)
