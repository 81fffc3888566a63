"""Screening: rank the store's entities against one query entity.

The query is FtM-shaped (``{"schema", "properties"}``); its names, identifiers and
contacts are turned into the same blocking keys ``resolve`` keeps in
``resolve_keys`` (built on first use if ``resolve`` has not run), candidates are the
entities sharing the rarest keys, and each is scored with ``compare`` so that every
result carries the features that matched. Results are per canonical entity.

>>> from shadowtrace.store import Store
>>> from shadowtrace.ingest.run import ingest
>>> store = Store.open(":memory:")
>>> _ = ingest(store, ["tests/fixtures/ftm/donations.csv"], dataset="donations",
...            mapping="tests/fixtures/ftm/donations.yml")
>>> hits = match(store, {"schema": "Company", "properties": {"name": ["BMW AG"]}})
>>> hits[0].caption.startswith("Bayerische Motorenwerke")
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa

from shadowtrace.errors import ConfigError
from shadowtrace.resolve.blocking import identifier_key, name_keys
from shadowtrace.resolve.compare import EntityData, Feature, compare, prepare
from shadowtrace.resolve.normalize import name_type_of_schema
from shadowtrace.store import Store

__all__ = ["MatchResult", "match"]

CANDIDATES: Final = 200


@dataclass
class MatchResult:
    """One ranked candidate: the canonical entity, its score and why."""

    id: str
    entity_id: str
    schema: str
    caption: str
    score: float
    features: list[Feature] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "entity_id": self.entity_id,
            "schema": self.schema,
            "caption": self.caption,
            "score": round(self.score, 4),
            "features": [f.to_dict() for f in self.features],
        }


def _ensure_keys(store: Store) -> None:
    if store.con.execute("SELECT count(*) FROM resolve_keys").fetchall()[0][0]:
        return
    from shadowtrace.resolve.blocking import build_candidates
    from shadowtrace.resolve.entities import analyse, drop_tables

    try:
        analysed = analyse(store)
        build_candidates(store, analysed.forms)
    finally:
        drop_tables(store)
        drop_tables(store, ("_rs_pairs",))


def match(store: Store, query: EntityData | dict[str, Any], limit: int = 10) -> list[MatchResult]:
    """Rank the entities of ``store`` against ``query``; best first."""
    if limit < 1:
        raise ConfigError("limit must be at least 1")
    schema = str(query.get("schema") or "LegalEntity")
    properties = query.get("properties") or {}
    if not isinstance(properties, dict):
        raise ConfigError("query properties must be an object of lists")
    props = {
        str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
        for k, vs in properties.items()
    }
    record = prepare({"id": str(query.get("id") or "query"), "schema": schema, "properties": props})
    ntype = name_type_of_schema(schema)
    keys: dict[str, float | None] = {}
    for prop, values in props.items():
        for value in values:
            found = identifier_key(prop, value)
            if found is not None:
                keys[found[0]] = found[1]
    for form in record.names:
        for key in name_keys(form.original, ntype):
            keys.setdefault(key, None)
    if ntype == "ENT":
        for other in ("PER", "OBJ"):
            for form in record.names:
                for key in name_keys(form.original, other):
                    keys.setdefault(key, None)
    if not keys:
        return []
    _ensure_keys(store)
    con = store.con
    total = float(
        max(2, con.execute("SELECT count(DISTINCT entity_id) FROM resolve_keys").fetchall()[0][0])
    )
    con.register(
        "_mq_keys",
        pa.table(
            {
                "key": pa.array(list(keys), pa.string()),
                "fixed": pa.array(list(keys.values()), pa.float64()),
            }
        ),
    )
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _mq_ids AS "
            "SELECT k.entity_id, sum(coalesce(q.fixed, ln(? / d.df))) AS weight "
            "FROM resolve_keys k JOIN _mq_keys q ON q.key = k.key "
            "JOIN (SELECT key, count(*) AS df FROM resolve_keys SEMI JOIN _mq_keys USING (key) "
            "      GROUP BY key) d ON d.key = k.key "
            "GROUP BY k.entity_id ORDER BY weight DESC, k.entity_id LIMIT ?",
            [total, CANDIDATES],
        )
    finally:
        con.unregister("_mq_keys")
    from shadowtrace.resolve.run import load_records

    records = load_records(store, "_mq_ids")
    canon = dict(
        con.execute(
            "SELECT entity_id, any_value(canonical_id) FROM statements "
            "SEMI JOIN _mq_ids i ON i.entity_id = statements.entity_id GROUP BY entity_id"
        ).fetchall()
    )
    best: dict[str, MatchResult] = {}
    for entity_id, candidate in records.items():
        result = compare(record, candidate)
        if result.score <= 0.0:
            continue
        canonical = str(canon.get(entity_id, entity_id))
        current = best.get(canonical)
        if current is None or result.score > current.score:
            caption = candidate.names[0].original if candidate.names else entity_id
            best[canonical] = MatchResult(
                id=canonical,
                entity_id=entity_id,
                schema=candidate.schema,
                caption=caption,
                score=result.score,
                features=result.features,
            )
    con.execute("DROP TABLE IF EXISTS _mq_ids")
    ranked = sorted(best.values(), key=lambda m: (-m.score, m.id))
    return ranked[:limit]
