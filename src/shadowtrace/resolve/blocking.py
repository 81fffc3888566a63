"""Candidate generation in SQL on the statement store.

Comparing every entity with every other is quadratic; blocking proposes only the
pairs that share something rare:

* a name token in compare form (its transliteration skeleton, so "Treyd", "Trejd"
  and "Трейд" block together; Chinese through pinyin),
* a normalised identifier (INN, OGRN, USCC, LEI, IMO, IBAN, wallet …),
* a phone number or e-mail address.

Keys are computed in Python for each *distinct* value (far fewer than statements)
and handed to DuckDB as Arrow tables; everything after that is SQL over the store:
each key is weighted by its rarity (inverse document frequency), keys held by more
than ``max_block`` entities are dropped, pairs are scored by the summed weight of the
keys they share and each entity keeps its ``per_entity`` strongest candidates. The
SQL uses no DuckDB-only construct (window functions, no QUALIFY), so the same
statements can run on Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

from shadowtrace.resolve.normalize import (
    PROP_SCHEMES,
    NameType,
    name_form,
    name_type_of_schema,
    normalize_identifier,
    normalize_phone,
)
from shadowtrace.store import Store

__all__ = [
    "BlockingConfig",
    "build_candidates",
    "identifier_key",
    "load_entities",
    "name_keys",
]

_BLOCK_KINDS: Final = frozenset({"name", "place", "number"})
# Person names block with persons; organisations with organisations and legal
# entities; objects (vessels …) with objects.
_BLOCK_GROUP: Final[dict[NameType, str]] = {"PER": "P", "ORG": "O", "ENT": "O", "OBJ": "V"}
ID_WEIGHT: Final = 12.0
CONTACT_WEIGHT: Final = 8.0


@dataclass(frozen=True, slots=True)
class BlockingConfig:
    max_block: int = 500
    """Keys shared by more entities than this are too common to block on."""
    per_entity: int = 10
    """Each entity keeps at most this many candidates (by summed key weight)."""
    min_weight: float = 0.0
    """Pairs whose shared keys weigh less than this are dropped."""


def load_entities(store: Store) -> int:
    """Fill ``_rs_ent(entity_id, schema, grp)`` with the matchable entities."""
    con = store.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_schema AS "
        "SELECT s.entity_id, arg_max(s.schema, m.depth) AS schema "
        "FROM statements s JOIN ftm_schemata m ON m.name = s.schema "
        "GROUP BY s.entity_id"
    )
    schemata = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT r.schema FROM _rs_schema r JOIN ftm_schemata m ON m.name = r.schema "
            "WHERE m.matchable"
        ).fetchall()
    ]
    groups = pa.table(
        {
            "schema": pa.array(schemata, pa.string()),
            "ntype": pa.array([name_type_of_schema(s) for s in schemata], pa.string()),
        }
    )
    con.register("_rs_groups_arrow", groups)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_ent AS "
        "SELECT r.entity_id, r.schema, g.ntype FROM _rs_schema r "
        "JOIN _rs_groups_arrow g ON g.schema = r.schema"
    )
    con.unregister("_rs_groups_arrow")
    con.execute("DROP TABLE _rs_schema")
    return int(con.execute("SELECT count(*) FROM _rs_ent").fetchall()[0][0])


def name_keys(value: str, ntype: NameType) -> list[str]:
    """The blocking keys of one name.

    >>> name_keys("ООО Восток-Трейд", "ORG")
    ['O:vostok', 'O:trid']
    """
    form = name_form(value, ntype)
    if form is None:
        return []
    group = _BLOCK_GROUP[ntype]
    keys: dict[str, None] = {}
    for token in form.tokens:
        if token.kind in _BLOCK_KINDS and len(token.skeleton) >= 2:
            keys.setdefault(f"{group}:{token.skeleton}", None)
    return list(keys)


def identifier_key(prop: str, value: str) -> tuple[str, float] | None:
    """The blocking key of an identifier, phone or e-mail value, with its weight."""
    if prop in PROP_SCHEMES:
        found = normalize_identifier(value, PROP_SCHEMES[prop])
        return (f"i:{found.scheme}:{found.value}", ID_WEIGHT) if found is not None else None
    if prop == "email":
        email = value.strip().lower()
        return (f"c:{email}", CONTACT_WEIGHT) if "@" in email else None
    if prop == "phone":
        phone = normalize_phone(value)
        return (f"c:{phone}", CONTACT_WEIGHT) if phone else None
    return None


def _name_keys(store: Store) -> pa.Table:
    rows = store.con.execute(
        "SELECT DISTINCT s.value, e.ntype FROM statements s JOIN _rs_ent e USING (entity_id) "
        "WHERE s.prop_type = 'name'"
    ).fetchall()
    values: list[str] = []
    ntypes: list[str] = []
    keys: list[str] = []
    for value, ntype in rows:
        for key in name_keys(value, ntype):
            values.append(value)
            ntypes.append(ntype)
            keys.append(key)
    return pa.table(
        {
            "value": pa.array(values, pa.string()),
            "ntype": pa.array(ntypes, pa.string()),
            "key": pa.array(keys, pa.string()),
        }
    )


def _other_keys(store: Store) -> pa.Table:
    id_props = list(PROP_SCHEMES)
    rows = store.con.execute(
        "SELECT DISTINCT s.prop, s.value FROM statements s SEMI JOIN _rs_ent e "
        "ON e.entity_id = s.entity_id "
        "WHERE list_contains(?, s.prop) OR s.prop_type IN ('phone', 'email')",
        [id_props],
    ).fetchall()
    props: list[str] = []
    values: list[str] = []
    keys: list[str] = []
    weights: list[float] = []
    for prop, value in rows:
        found = identifier_key(prop, value)
        if found is not None:
            props.append(prop)
            values.append(value)
            keys.append(found[0])
            weights.append(found[1])
    return pa.table(
        {
            "prop": pa.array(props, pa.string()),
            "value": pa.array(values, pa.string()),
            "key": pa.array(keys, pa.string()),
            "weight": pa.array(weights, pa.float64()),
        }
    )


def build_candidates(store: Store, config: BlockingConfig | None = None) -> int:
    """Fill ``_rs_pairs(left_id, right_id, weight)``; returns the number of pairs."""
    config = config or BlockingConfig()
    con = store.con
    total = int(con.execute("SELECT count(*) FROM _rs_ent").fetchall()[0][0])
    con.register("_rs_name_arrow", _name_keys(store))
    con.register("_rs_other_arrow", _other_keys(store))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_keys AS "
        "SELECT DISTINCT s.entity_id, t.key, NULL::DOUBLE AS fixed "
        "FROM statements s JOIN _rs_ent e ON e.entity_id = s.entity_id "
        "JOIN _rs_name_arrow t ON t.value = s.value AND t.ntype = e.ntype "
        "WHERE s.prop_type = 'name' "
        "UNION "
        "SELECT DISTINCT s.entity_id, t.key, t.weight AS fixed "
        "FROM statements s SEMI JOIN _rs_ent e ON e.entity_id = s.entity_id "
        "JOIN _rs_other_arrow t ON t.value = s.value AND t.prop = s.prop"
    )
    con.unregister("_rs_name_arrow")
    con.unregister("_rs_other_arrow")
    con.execute("DELETE FROM resolve_keys")
    con.execute("INSERT INTO resolve_keys SELECT entity_id, key FROM _rs_keys")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_weights AS "
        "SELECT key, count(DISTINCT entity_id) AS df, max(fixed) AS fixed "
        "FROM _rs_keys GROUP BY key HAVING count(DISTINCT entity_id) BETWEEN 2 AND ?",
        [config.max_block],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_raw AS "
        "SELECT a.entity_id AS left_id, b.entity_id AS right_id, "
        "sum(coalesce(w.fixed, ln(? / w.df))) AS weight "
        "FROM _rs_keys a JOIN _rs_weights w ON w.key = a.key "
        "JOIN _rs_keys b ON b.key = a.key AND a.entity_id < b.entity_id "
        "GROUP BY a.entity_id, b.entity_id",
        [float(max(total, 2))],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_pairs AS "
        "SELECT left_id, right_id, weight FROM ("
        "  SELECT left_id, right_id, weight, "
        "    row_number() OVER (PARTITION BY left_id ORDER BY weight DESC, right_id) AS rl, "
        "    row_number() OVER (PARTITION BY right_id ORDER BY weight DESC, left_id) AS rr "
        "  FROM _rs_raw WHERE weight >= ?"
        ") ranked WHERE rl <= ? OR rr <= ?",
        [config.min_weight, config.per_entity, config.per_entity],
    )
    con.execute("DROP TABLE _rs_raw")
    return int(con.execute("SELECT count(*) FROM _rs_pairs").fetchall()[0][0])
