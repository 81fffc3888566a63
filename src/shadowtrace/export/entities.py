"""Entities out of the statement store, as FtM entity dicts.

Statements are grouped by canonical id in SQL; Python only sees one entity at a
time (FtM objects at the edges).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from followthemoney.proxy import EntityProxy

from shadowtrace.model import get_model, is_extension, stock_ancestor
from shadowtrace.store import Store

__all__ = ["entity_dicts", "iter_entities", "to_stock"]

BATCH = 20_000


def iter_entities(
    store: Store, canonical: bool = True, ids: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield FtM entity dicts, one per canonical id (or per entity id).

    Each dict has ``id``, ``schema``, ``properties`` (values sorted),
    ``datasets``, ``referents`` (the entity ids merged into it), ``first_seen``
    and ``last_seen``.
    """
    key = "canonical_id" if canonical else "entity_id"
    where = ""
    params: list[Any] = []
    if ids is not None:
        where = f"WHERE s.{key} IN (SELECT unnest(?::VARCHAR[]))"
        params.append(ids)
    sql = (
        f"SELECT s.{key} AS id, arg_max(s.schema, m.depth) AS schema, "
        "list(DISTINCT s.dataset ORDER BY s.dataset) AS datasets, "
        "list(DISTINCT s.entity_id ORDER BY s.entity_id) AS referents, "
        "min(s.first_seen) AS first_seen, max(s.last_seen) AS last_seen, "
        "list({'p': s.prop, 'v': s.value} ORDER BY s.prop, s.value) "
        "FILTER (WHERE s.prop <> 'id') AS props "
        f"FROM statements s JOIN ftm_schemata m ON m.name = s.schema {where} "
        f"GROUP BY s.{key} ORDER BY s.{key}"
    )
    cur = store.con.cursor()
    try:
        cur.execute(sql, params)
        while batch := cur.fetchmany(BATCH):
            for eid, schema, datasets, referents, first, last, props in batch:
                properties: dict[str, list[str]] = {}
                for item in props or ():
                    values = properties.setdefault(item["p"], [])
                    if item["v"] not in values:
                        values.append(item["v"])
                yield {
                    "id": eid,
                    "schema": schema,
                    "properties": properties,
                    "datasets": datasets,
                    "referents": [r for r in referents if r != eid],
                    "first_seen": first.isoformat(timespec="seconds") if first else None,
                    "last_seen": last.isoformat(timespec="seconds") if last else None,
                }
    finally:
        cur.close()


def to_stock(data: dict[str, Any]) -> dict[str, Any]:
    """Downcast an extension entity to its nearest concrete stock schema.

    Properties the stock schema lacks are rendered into ``notes`` as
    ``name: value`` lines so that stock tools keep the information; references
    to other entities are kept only where the stock schema has the property.
    """
    model = get_model()
    schema = model.get(data["schema"])
    if schema is None or not is_extension(schema):
        return data
    stock = stock_ancestor(schema)
    kept: dict[str, list[str]] = {}
    notes: list[str] = []
    for name, values in data["properties"].items():
        if stock.get(name) is not None:
            kept[name] = values
        else:
            prop = schema.get(name)
            label = prop.label if prop is not None else name
            notes.extend(f"{label}: {v}" for v in values)
    if notes and stock.get("notes") is not None:
        kept.setdefault("notes", [])
        kept["notes"] = [*kept["notes"], f"[{schema.name}] " + "; ".join(notes)]
    elif notes and stock.get("description") is not None:
        kept["description"] = [*kept.get("description", []), "; ".join(notes)]
    out = dict(data)
    out["schema"] = stock.name
    out["properties"] = kept
    return out


def entity_dicts(store: Store, stock: bool = False) -> Iterator[dict[str, Any]]:
    for data in iter_entities(store):
        yield to_stock(data) if stock else data


def proxy(data: dict[str, Any]) -> EntityProxy:
    """An FtM proxy for one exported entity (cleaned=True: values are clean)."""
    model = get_model()
    return model.get_proxy(
        {"id": data["id"], "schema": data["schema"], "properties": data["properties"]},
        cleaned=True,
    )
