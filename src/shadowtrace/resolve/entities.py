"""The entities resolution works on, analysed in bulk: SQL over the store, and Python
once per *distinct* value (never per statement, never per entity).

Which entities are resolved: parties (``LegalEntity`` and its descendants: persons,
companies, organisations, public bodies), accounts and wallets (``BankAccount``,
``UserAccount``, ``CryptoWallet``) and registered assets that carry identities of their
own (``Vehicle`` and its descendants: vessels, aircraft; ``Security``). Records of
events (payments, customs declarations, contracts …) and inventory items are each
one thing of their own and are not resolved.

``analyse(store)`` fills temporary tables keyed by ``eno``, an integer per entity id
in id order (so ``a.eno < b.eno`` exactly when ``a.entity_id < b.entity_id``):

``_rs_ent(eno, entity_id, schema, ntype)``
    the resolvable entities, with the deepest schema of their statements;
``_rs_name(eno, value, fid, fkey, compact)``
    their names in compare form: at most ``MAX_NAMES`` distinct forms out of the
    first ``MAX_RAW_NAMES`` names (in value order), persons' first, middle and last
    names joined into full names; ``fid`` numbers the distinct forms;
``_rs_ident(eno, scheme, value, valid, strong, personal)``, ``_rs_country(eno, code)``,
``_rs_date(eno, prop, day)``, ``_rs_addr(eno, address)``, ``_rs_contact(eno, contact)``
    the supporting properties in compare form.

The rules are those of ``compare.prepare`` for one entity, so the bulk scores equal
``compare(prepare(a), prepare(b))`` (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from shadowtrace.resolve import parallel
from shadowtrace.resolve.normalize import (
    PROP_SCHEMES,
    NameForm,
    NameType,
    Token,
    clean_text,
    name_forms,
    normalize_address_text,
    normalize_identifier,
    normalize_phone,
)
from shadowtrace.store import Store
from shadowtrace.store.sql import string_literal

__all__ = [
    "COUNTRY_PROPS",
    "DATE_PROPS",
    "MAX_NAMES",
    "MAX_RAW_NAMES",
    "MAX_VALUES",
    "NAME_PROPS",
    "RESOLVED_ROOTS",
    "Analysed",
    "analyse",
    "drop_tables",
]

RESOLVED_ROOTS: Final = (
    "LegalEntity",
    "BankAccount",
    "UserAccount",
    "CryptoWallet",
    "Vehicle",
    "Security",
)
"""An entity is resolved when its schema is one of these or descends from one."""

NAME_PROPS: Final = ("name", "alias", "previousName", "abbreviation")
PERSON_PARTS: Final = {
    "first": ("firstName",),
    "middle": ("middleName", "fatherName", "secondName"),
    "last": ("lastName",),
}
COUNTRY_PROPS: Final = (
    "country",
    "jurisdiction",
    "nationality",
    "citizenship",
    "mainCountry",
    "birthCountry",
    "flag",
)
DATE_PROPS: Final = ("birthDate", "incorporationDate", "buildDate")
CONTACT_PROPS: Final = ("phone", "email")
MAX_NAMES: Final = 8
"""At most this many distinct name forms of one entity take part in a comparison."""
MAX_RAW_NAMES: Final = 16
"""… chosen from at most this many of its names (the first in value order)."""
MAX_VALUES: Final = 50
"""At most this many addresses, phones or e-mails of one entity (the first in value order)."""

TABLES: Final = (
    "_rs_ent",
    "_rs_st",
    "_rs_name",
    "_rs_ident",
    "_rs_country",
    "_rs_date",
    "_rs_addr",
    "_rs_contact",
)


@dataclass
class Analysed:
    """What ``analyse`` found: counts and the name forms by ``fid``."""

    entities: int
    forms: list[NameForm]
    timings: dict[str, float]


def drop_tables(store: Store, tables: Iterable[str] = TABLES) -> None:
    store.drop_tables(*tables)


def _register(store: Store, name: str, columns: dict[str, pa.Array]) -> None:
    store.con.register(name, pa.table(columns))


def _map_distinct(
    store: Store,
    sql: str,
    fn: Callable[..., Any],
    out: dict[str, pa.DataType],
    params: Sequence[Any] = (),
) -> pa.Table:
    """Apply ``fn`` to each row of ``sql`` (distinct string columns ``in0``, ``in1`` …).

    ``fn`` takes the row's columns and returns a tuple of the ``out`` columns, or
    None to drop the row.
    """
    cursor = store.con.execute(sql, list(params))
    width = len(cursor.description or ())
    inputs: list[tuple[Any, ...]] = []
    results: list[tuple[Any, ...]] = []
    for row in cursor.fetchall():
        found = fn(*row)
        if found is not None:
            inputs.append(row)
            results.append(found)
    columns: dict[str, pa.Array] = {}
    for i in range(width):
        columns[f"in{i}"] = pa.array([r[i] for r in inputs], pa.string())
    for j, (name, dtype) in enumerate(out.items()):
        columns[name] = pa.array([r[j] for r in results], dtype)
    return pa.table(columns)


def _entities(store: Store) -> int:
    con = store.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_ent AS "
        "WITH deepest AS ("
        "  SELECT s.entity_id, arg_max(s.schema, m.depth) AS schema "
        "  FROM statements s JOIN ftm_schemata m ON m.name = s.schema GROUP BY s.entity_id"
        ") "
        "SELECT (row_number() OVER (ORDER BY d.entity_id))::INTEGER AS eno, d.entity_id, "
        "d.schema, CASE "
        "  WHEN list_contains(m.ancestors, 'Person') THEN 'PER' "
        "  WHEN list_contains(m.ancestors, 'Organization') THEN 'ORG' "
        "  WHEN list_has_any(m.ancestors, ['Vessel', 'Asset', 'Airplane']) THEN 'OBJ' "
        "  ELSE 'ENT' END AS ntype "
        "FROM deepest d JOIN ftm_schemata m ON m.name = d.schema "
        "WHERE list_has_any(m.ancestors, ?) ORDER BY eno",
        [list(RESOLVED_ROOTS)],
    )
    props = sorted(
        {
            *NAME_PROPS,
            *(p for parts in PERSON_PARTS.values() for p in parts),
            *COUNTRY_PROPS,
            *DATE_PROPS,
            *CONTACT_PROPS,
            "address",
            *PROP_SCHEMES,
        }
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_st AS "
        "SELECT DISTINCT e.eno, s.prop, s.value FROM statements s "
        "JOIN _rs_ent e ON e.entity_id = s.entity_id WHERE list_contains(?, s.prop)",
        [props],
    )
    return int(con.execute("SELECT count(*) FROM _rs_ent").fetchall()[0][0])


def _first(prop_sql: str, limit: int) -> str:
    """SQL: the first ``limit`` distinct values (in value order) of props per entity."""
    return (
        "SELECT eno, value FROM ("
        "  SELECT eno, value, row_number() OVER (PARTITION BY eno ORDER BY value) AS rn "
        f"  FROM (SELECT DISTINCT eno, value FROM _rs_st WHERE {prop_sql})"
        f") WHERE rn <= {int(limit)}"
    )


def _in(props: Iterable[str]) -> str:
    """SQL: ``prop`` is one of ``props`` (constants of this module, quoted as literals)."""
    return f"prop IN ({', '.join(string_literal(p) for p in props)})"


class _Interner:
    """One object per distinct token and per distinct name form (saves memory at scale)."""

    def __init__(self) -> None:
        self.tokens: dict[Token, Token] = {}
        self.forms: dict[tuple[str, frozenset[str], tuple[Token, ...]], int] = {}
        self.by_id: list[NameForm] = []

    def add(self, form: NameForm) -> int:
        tokens = tuple(self.tokens.setdefault(t, t) for t in form.tokens)
        key = (form.name_type, form.scripts, tokens)
        fid = self.forms.get(key)
        if fid is None:
            fid = len(self.by_id)
            self.forms[key] = fid
            self.by_id.append(
                NameForm(
                    original=form.original,
                    name_type=form.name_type,
                    tokens=tokens,
                    scripts=form.scripts,
                )
            )
        return fid


_NAME_CHUNK: Final = 10_000
_NAME_PARALLEL_MIN: Final = 20_000
"""Fewer distinct names than this are analysed in-process (forking costs more)."""

PackedToken = tuple[str, str, str, str, tuple[str, ...], int | None, str]
Packed = tuple[tuple[str, ...], tuple[PackedToken, ...]]


def _pack(form: NameForm) -> Packed:
    return (
        tuple(sorted(form.scripts)),
        tuple(
            (t.text, t.skeleton, t.phonetic, t.kind, tuple(sorted(t.symbols)), t.number, t.native)
            for t in form.tokens
        ),
    )


def _analyse_span(task: tuple[NameType, int, int]) -> list[Packed | None]:
    """Worker: the compare forms of names ``start:end`` of one type, packed as tuples."""
    ntype, start, end = task
    batch: list[str] = parallel.state()[ntype][start:end]
    return [None if f is None else _pack(f) for f in name_forms(batch, ntype)]


class _Decoder:
    """Rebuild packed forms, one ``Token`` object per distinct token."""

    def __init__(self) -> None:
        self.tokens: dict[PackedToken, Token] = {}
        self.scripts: dict[tuple[str, ...], frozenset[str]] = {}

    def form(self, value: str, ntype: NameType, packed: Packed) -> NameForm:
        scripts = self.scripts.get(packed[0])
        if scripts is None:
            scripts = self.scripts[packed[0]] = frozenset(packed[0])
        tokens = []
        for item in packed[1]:
            token = self.tokens.get(item)
            if token is None:
                text, skel, phonetic, kind, symbols, number, native = item
                token = self.tokens[item] = Token(
                    text,
                    skel,
                    phonetic,
                    kind,  # type: ignore[arg-type]
                    frozenset(symbols),
                    number,
                    native,
                )
            tokens.append(token)
        return NameForm(original=value, name_type=ntype, tokens=tuple(tokens), scripts=scripts)


def _names(store: Store, workers: int | None = None) -> list[NameForm]:
    con = store.con
    first = PERSON_PARTS["first"]
    middle = PERSON_PARTS["middle"]
    last = PERSON_PARTS["last"]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_rawname AS "
        "WITH f AS (" + _first(_in(first), 2) + "), "
        "m AS (" + _first(_in(middle), 1) + "), "
        "l AS (" + _first(_in(last), 2) + "), "
        "full_names AS ("
        "  SELECT f.eno, f.value || ' ' || coalesce(m.value || ' ', '') || l.value AS value "
        "  FROM f JOIN l ON l.eno = f.eno LEFT JOIN m ON m.eno = f.eno "
        "  SEMI JOIN _rs_ent e ON e.eno = f.eno AND e.ntype = 'PER'"
        "), "
        "raw AS ("
        "  SELECT eno, value FROM _rs_st WHERE " + _in(NAME_PROPS) + " "
        "  UNION SELECT eno, value FROM full_names"
        ") "
        "SELECT eno, value FROM ("
        "  SELECT eno, value, row_number() OVER (PARTITION BY eno ORDER BY value) AS rn "
        "  FROM raw"
        f") WHERE rn <= {MAX_RAW_NAMES}"
    )
    interner = _Interner()
    values: list[str] = []
    ntypes: list[str] = []
    fids: list[int] = []
    keys: list[str] = []
    compacts: list[str] = []
    batches: dict[NameType, list[str]] = {}
    ntypes_all: tuple[NameType, ...] = ("PER", "ORG", "ENT", "OBJ")
    for ntype in ntypes_all:
        rows = con.execute(
            "SELECT DISTINCT r.value FROM _rs_rawname r JOIN _rs_ent e ON e.eno = r.eno "
            "WHERE e.ntype = ? ORDER BY 1",
            [ntype],
        ).fetchall()
        batches[ntype] = [str(r[0]) for r in rows]
    tasks = [
        (ntype, start, min(start + _NAME_CHUNK, len(batch)))
        for ntype, batch in batches.items()
        for start in range(0, len(batch), _NAME_CHUNK)
    ]
    total = sum(len(b) for b in batches.values())
    if workers is None:
        workers = parallel.default_workers()
    if total < _NAME_PARALLEL_MIN:
        workers = 1
    if workers > 1:
        # Load what every worker needs once, in the parent, for the workers to share.
        for ntype in ntypes_all:
            if batches[ntype]:
                name_forms(["x"], ntype)
    results = parallel.fork_map(_analyse_span, tasks, batches, workers)
    decoder = _Decoder()
    for (ntype, start, _), packed in zip(tasks, results, strict=True):
        batch = batches[ntype]
        for offset, item in enumerate(packed):
            if item is None:
                continue
            form = decoder.form(batch[start + offset], ntype, item)
            values.append(batch[start + offset])
            ntypes.append(ntype)
            fids.append(interner.add(form))
            keys.append(form.key)
            compacts.append(form.compact)
    _register(
        store,
        "_rs_forms_arrow",
        {
            "value": pa.array(values, pa.string()),
            "ntype": pa.array(ntypes, pa.string()),
            "fid": pa.array(fids, pa.int32()),
            "fkey": pa.array(keys, pa.string()),
            "compact": pa.array(compacts, pa.string()),
        },
    )
    # Per entity: the first form of each compare key, then the first MAX_NAMES of those.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_name AS "
        "SELECT eno, value, fid, fkey, compact FROM ("
        "  SELECT eno, value, fid, fkey, compact, "
        "    row_number() OVER (PARTITION BY eno ORDER BY value) AS rn FROM ("
        "    SELECT r.eno, r.value, f.fid, f.fkey, f.compact, "
        "      row_number() OVER (PARTITION BY r.eno, f.fkey ORDER BY r.value) AS dup "
        "    FROM _rs_rawname r JOIN _rs_ent e ON e.eno = r.eno "
        "    JOIN _rs_forms_arrow f ON f.value = r.value AND f.ntype = e.ntype"
        "  ) WHERE dup = 1"
        f") WHERE rn <= {MAX_NAMES}"
    )
    con.unregister("_rs_forms_arrow")
    con.execute("DROP TABLE _rs_rawname")
    return interner.by_id


def _identifier(prop: str, value: str) -> tuple[str, str, bool] | None:
    found = normalize_identifier(value, PROP_SCHEMES.get(prop))
    return None if found is None else (found.scheme, found.value, found.valid)


def _identifiers(store: Store) -> None:
    from shadowtrace.resolve.normalize import PERSONAL_SCHEMES, STRONG_SCHEMES

    table = _map_distinct(
        store,
        "SELECT DISTINCT prop, value FROM _rs_st WHERE " + _in(PROP_SCHEMES),
        _identifier,
        {"scheme": pa.string(), "norm": pa.string(), "valid": pa.bool_()},
    )
    store.con.register("_rs_ident_arrow", table)
    store.con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_ident AS "
        "SELECT DISTINCT s.eno, t.scheme, t.norm AS value, t.valid, "
        "  t.valid AND list_contains(?, t.scheme) AS strong, "
        "  list_contains(?, t.scheme) AS personal "
        "FROM _rs_st s JOIN _rs_ident_arrow t ON t.in0 = s.prop AND t.in1 = s.value",
        [sorted(STRONG_SCHEMES), sorted(PERSONAL_SCHEMES)],
    )
    store.con.unregister("_rs_ident_arrow")


def _country(value: str) -> tuple[str] | None:
    return (value.lower()[:2],) if len(value.strip()) >= 2 else None


def _date(value: str) -> tuple[str] | None:
    return (clean_text(value, 10),) if value else None


def _address(value: str) -> tuple[str] | None:
    found = normalize_address_text(value)
    return (found,) if found else None


def _phone(value: str, hint: str | None) -> tuple[str] | None:
    found = normalize_phone(value, hint)
    return (f"phone:{found}",) if found else None


def _email(value: str) -> tuple[str] | None:
    email = clean_text(value, 254).lower()
    return (f"email:{email}",) if "@" in email else None


def _value_table(
    store: Store, table: str, source: str, fn: Callable[[str], tuple[str] | None], column: str
) -> None:
    """``table(eno, column)``: ``fn`` of each value of ``source`` (``eno, value`` rows)."""
    con = store.con
    mapped = _map_distinct(
        store, f"SELECT DISTINCT value FROM ({source})", fn, {column: pa.string()}
    )
    con.register("_rs_map_arrow", mapped)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT DISTINCT s.eno, t.{column} FROM ({source}) s "
        "JOIN _rs_map_arrow t ON t.in0 = s.value"
    )
    con.unregister("_rs_map_arrow")


def _support(store: Store) -> None:
    con = store.con
    countries = f"SELECT eno, value FROM _rs_st WHERE {_in(COUNTRY_PROPS)}"
    _value_table(store, "_rs_country", countries, _country, "code")
    addresses = _first(_in(["address"]), MAX_VALUES)
    _value_table(store, "_rs_addr", addresses, _address, "address")
    dates = _map_distinct(
        store,
        f"SELECT DISTINCT value FROM _rs_st WHERE {_in(DATE_PROPS)}",
        _date,
        {"day": pa.string()},
    )
    con.register("_rs_map_arrow", dates)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_date AS "
        "SELECT DISTINCT s.eno, s.prop, t.day FROM _rs_st s "
        f"JOIN _rs_map_arrow t ON t.in0 = s.value WHERE s.{_in(DATE_PROPS)}"
    )
    con.unregister("_rs_map_arrow")
    # Phones are read in the country of the entity's first country code.
    phones_sql = (
        "SELECT p.eno, p.value, h.hint FROM (" + _first(_in(["phone"]), MAX_VALUES) + ") p "
        "LEFT JOIN (SELECT eno, min(code) AS hint FROM _rs_country GROUP BY eno) h "
        "ON h.eno = p.eno"
    )
    phones = _map_distinct(
        store, f"SELECT DISTINCT value, hint FROM ({phones_sql})", _phone, {"contact": pa.string()}
    )
    emails = _map_distinct(
        store,
        "SELECT DISTINCT value FROM (" + _first(_in(["email"]), MAX_VALUES) + ")",
        _email,
        {"contact": pa.string()},
    )
    con.register("_rs_phone_arrow", phones)
    con.register("_rs_email_arrow", emails)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_contact AS "
        f"SELECT DISTINCT p.eno, t.contact FROM ({phones_sql}) p "
        "JOIN _rs_phone_arrow t ON t.in0 = p.value AND t.in1 IS NOT DISTINCT FROM p.hint "
        "UNION "
        "SELECT DISTINCT e.eno, t.contact FROM (" + _first(_in(["email"]), MAX_VALUES) + ") e "
        "JOIN _rs_email_arrow t ON t.in0 = e.value"
    )
    con.unregister("_rs_phone_arrow")
    con.unregister("_rs_email_arrow")


def analyse(
    store: Store, step: Callable[[str], None] | None = None, workers: int | None = None
) -> Analysed:
    """Fill the ``_rs_*`` tables (see the module docstring).

    ``workers``: processes that analyse names (default: the usable cores, at most two).
    """
    import time

    timings: dict[str, float] = {}
    mark = time.perf_counter()

    def done(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[name] = round(now - mark, 3)
        mark = now
        if step is not None:
            step(name)

    count = _entities(store)
    done("entities")
    forms = _names(store, workers)
    done("names")
    _identifiers(store)
    _support(store)
    store.con.execute("DROP TABLE IF EXISTS _rs_st")
    done("properties")
    return Analysed(entities=count, forms=forms, timings=timings)
