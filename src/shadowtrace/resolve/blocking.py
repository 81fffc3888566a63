"""Candidate generation in SQL on the statement store.

Comparing every entity with every other is quadratic; blocking proposes only the
pairs that share something rare:

* a name token in compare form (its transliteration skeleton, so "Treyd", "Trejd"
  and "Трейд" block together; Chinese through pinyin),
* a normalised identifier (INN, OGRN, USCC, LEI, IMO, IBAN, wallet …),
* a phone number or e-mail address.

The keys of each distinct name form come from Python (``name_keys``); everything
else is SQL over the tables of ``entities.analyse``. Each key is weighted by its
rarity (inverse document frequency; identifiers and contacts by a fixed weight) and
keys held by more than ``max_block`` entities are not blocked on. A key held by at most
``small_block`` entities pairs all of them; a larger one pairs each entity only with
its ``window`` neighbours in name order (a sorted neighbourhood), so that the pairs
grow linearly with the entities, not with the square of the block sizes. Each pair
is then weighed by all the keys its two entities share; a pair whose shared keys
carry less than ``min_coverage`` of the weight of the keys of the lighter entity
("Ivan" in common, nothing else) is dropped, and each entity keeps its
``per_entity`` strongest candidates. The SQL uses nothing DuckDB-only (joins, window
functions, ``range``), so the same statements can run on Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

from shadowtrace.errors import StoreError
from shadowtrace.resolve.normalize import (
    PROP_SCHEMES,
    NameForm,
    NameType,
    name_form,
    normalize_identifier,
    normalize_phone,
)
from shadowtrace.store import Store

__all__ = [
    "CONTACT_WEIGHT",
    "ID_WEIGHT",
    "BlockingConfig",
    "build_candidates",
    "empty_table",
    "form_keys",
    "identifier_key",
    "name_keys",
]

_BLOCK_KINDS: Final = frozenset({"name", "place", "number"})
_FALLBACK_KINDS: Final = frozenset({"generic", "initial"})
# Person names block with persons; organisations with organisations and legal
# entities; objects (vessels …) with objects.
_BLOCK_GROUP: Final[dict[NameType, str]] = {"PER": "P", "ORG": "O", "ENT": "O", "OBJ": "V"}
ID_WEIGHT: Final = 12.0
CONTACT_WEIGHT: Final = 8.0


@dataclass(frozen=True, slots=True)
class BlockingConfig:
    max_block: int = 1000
    """Keys shared by more entities than this are too common to block on."""
    small_block: int = 60
    """Keys shared by at most this many entities pair all of them."""
    window: int = 8
    """In larger blocks, each entity pairs with this many neighbours on each side."""
    per_entity: int = 10
    """Each entity keeps at most this many candidates (by summed key weight)."""
    min_weight: float = 0.0
    """Pairs whose shared keys weigh less than this are dropped."""
    min_coverage: float = 0.3
    """Pairs whose shared keys weigh less than this share of the keys of the entity with
    the lighter keys are dropped: one common word in common is not worth a comparison."""


def form_keys(form: NameForm) -> list[str]:
    """The blocking keys of a name in compare form.

    Its distinctive words (names, places, numbers; a name made only of generic words
    such as "Global Supply" blocks on those), and the whole name run together
    (``NameForm.compact``), which pairs spellings that split words differently.

    >>> form_keys(name_form("Global Supply LLP", "ORG"))
    ['O:global', 'O:supli', 'O#globalsupli']
    """
    group = _BLOCK_GROUP[form.name_type]
    keys: dict[str, None] = {}
    for kinds in (_BLOCK_KINDS, _FALLBACK_KINDS):
        for token in form.tokens:
            if token.kind in kinds and len(token.skeleton) >= 2:
                keys.setdefault(f"{group}:{token.skeleton}", None)
        if keys:
            break
    compact = form.compact
    if len(compact) >= 4:
        keys.setdefault(f"{group}#{compact}", None)
    return list(keys)


def name_keys(value: str, ntype: NameType) -> list[str]:
    """The blocking keys of one name.

    >>> name_keys("ООО Восток-Трейд", "ORG")
    ['O:vostok', 'O:trid', 'O#vostoktrid']
    """
    form = name_form(value, ntype)
    return [] if form is None else form_keys(form)


def identifier_key(prop: str, value: str) -> tuple[str, float] | None:
    """The blocking key of an identifier, phone or e-mail value, with its weight.

    The keys are those ``build_candidates`` makes from ``_rs_ident`` and
    ``_rs_contact`` (a phone is read without a country here).
    """
    if prop in PROP_SCHEMES:
        found = normalize_identifier(value, PROP_SCHEMES[prop])
        return (f"i:{found.scheme}:{found.value}", ID_WEIGHT) if found is not None else None
    if prop == "email":
        email = value.strip().lower()
        return (f"c:email:{email}", CONTACT_WEIGHT) if "@" in email else None
    if prop == "phone":
        phone = normalize_phone(value)
        return (f"c:phone:{phone}", CONTACT_WEIGHT) if phone else None
    return None


def _register_form_keys(store: Store, forms: list[NameForm]) -> None:
    fids: list[int] = []
    keys: list[str] = []
    for fid, form in enumerate(forms):
        for key in form_keys(form):
            fids.append(fid)
            keys.append(key)
    store.con.register(
        "_rs_fkeys_arrow",
        pa.table({"fid": pa.array(fids, pa.int32()), "key": pa.array(keys, pa.string())}),
    )


def empty_table(store: Store, table: str) -> None:
    """Empty a store table by recreating it from its own definition.

    Far faster than deleting millions of rows from a table with a primary key; the
    definition (columns, keys, defaults) is the one the migrations made.
    """
    row = store.con.execute(
        "SELECT sql FROM duckdb_tables() WHERE table_name = ? AND NOT temporary "
        "AND schema_name = 'main'",
        [table],
    ).fetchone()
    if row is None:
        raise StoreError(f"No table {table!r} in the store")
    store.drop_tables(table)
    store.con.execute(str(row[0]))


def build_candidates(
    store: Store, forms: list[NameForm], config: BlockingConfig | None = None
) -> int:
    """Fill ``_rs_pairs(l, r, weight)`` (``l < r``, entity numbers); returns the pair count.

    Also keeps every entity's keys in ``resolve_keys`` for screening (``match``).
    """
    config = config or BlockingConfig()
    con = store.con
    total = int(con.execute("SELECT count(*) FROM _rs_ent").fetchall()[0][0])
    _register_form_keys(store, forms)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_keytext AS "
        "SELECT DISTINCT n.eno, k.key, NULL::DOUBLE AS fixed "
        "FROM _rs_name n JOIN _rs_fkeys_arrow k ON k.fid = n.fid "
        "UNION ALL "
        "SELECT DISTINCT eno, 'i:' || scheme || ':' || value, ?::DOUBLE FROM _rs_ident "
        "UNION ALL "
        "SELECT DISTINCT eno, 'c:' || contact, ?::DOUBLE FROM _rs_contact",
        [ID_WEIGHT, CONTACT_WEIGHT],
    )
    con.unregister("_rs_fkeys_arrow")
    empty_table(store, "resolve_keys")
    con.execute(
        "INSERT INTO resolve_keys SELECT e.entity_id, k.key FROM _rs_keytext k "
        "JOIN _rs_ent e ON e.eno = k.eno"
    )
    # Keys that at least two entities share, numbered, with their weights; each
    # entity's shared keys by number (integer joins from here on).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_allw AS "
        "SELECT (row_number() OVER ())::INTEGER AS kid, key, df, weight FROM ("
        "  SELECT key, count(*) AS df, coalesce(max(fixed), ln(? / count(*))) AS weight "
        "  FROM _rs_keytext GROUP BY key HAVING count(*) >= 2)",
        [float(max(total, 2))],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_keys AS "
        "SELECT t.eno, w.kid, w.df, w.weight FROM _rs_keytext t JOIN _rs_allw w ON w.key = t.key"
    )
    con.execute("DROP TABLE _rs_keytext")
    # Each entity's shared keys in all, for the coverage.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_total AS "
        "SELECT eno, sum(weight) AS total FROM _rs_keys GROUP BY eno"
    )
    # Members of each block in name order: neighbours in a large block look alike.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_members AS "
        "SELECT k.eno, k.kid, k.df, "
        "  row_number() OVER (PARTITION BY k.kid ORDER BY s.sortkey, k.eno) AS rn "
        "FROM _rs_keys k "
        "LEFT JOIN (SELECT eno, min(compact) AS sortkey FROM _rs_name GROUP BY eno) s "
        "ON s.eno = k.eno WHERE k.df <= ?",
        [config.max_block],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_cand AS "
        "SELECT DISTINCT least(x, y) AS l, greatest(x, y) AS r FROM ("
        "  SELECT a.eno AS x, b.eno AS y FROM _rs_members a "
        "  JOIN _rs_members b ON b.kid = a.kid AND b.rn > a.rn WHERE a.df <= ? "
        "  UNION ALL "
        "  SELECT a.eno, b.eno FROM _rs_members a CROSS JOIN range(1, ? + 1) o(step) "
        "  JOIN _rs_members b ON b.kid = a.kid AND b.rn = a.rn + o.step WHERE a.df > ?"
        ")",
        [config.small_block, config.window, config.small_block],
    )
    # Weigh each candidate by every key its two entities share; keep those whose
    # shared keys cover enough of the lighter entity's.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_raw AS "
        "SELECT c.l, c.r, sum(a.weight) AS weight FROM _rs_cand c "
        "JOIN _rs_keys a ON a.eno = c.l JOIN _rs_keys b ON b.eno = c.r AND b.kid = a.kid "
        "GROUP BY c.l, c.r"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_raw AS "
        "SELECT r.l, r.r, r.weight FROM _rs_raw r "
        "JOIN _rs_total tl ON tl.eno = r.l JOIN _rs_total tr ON tr.eno = r.r "
        "WHERE r.weight >= ? * least(tl.total, tr.total)",
        [config.min_coverage],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_pairs AS "
        "SELECT l, r, weight FROM ("
        "  SELECT l, r, weight, "
        "    row_number() OVER (PARTITION BY l ORDER BY weight DESC, r) AS rl, "
        "    row_number() OVER (PARTITION BY r ORDER BY weight DESC, l) AS rr "
        "  FROM _rs_raw WHERE weight >= ?"
        ") ranked WHERE rl <= ? OR rr <= ?",
        [config.min_weight, config.per_entity, config.per_entity],
    )
    store.drop_tables("_rs_raw", "_rs_cand", "_rs_members", "_rs_allw", "_rs_total", "_rs_keys")
    return int(con.execute("SELECT count(*) FROM _rs_pairs").fetchall()[0][0])
