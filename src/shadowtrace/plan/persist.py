"""Plans in the store (tables of migration 5), so that the report and the web app can
show them: ``plans``, ``plan_targets``, ``plan_flows``, ``plan_replacements`` and
``plan_channels``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from shadowtrace.store import Store
from shadowtrace.store.sql import ident

__all__ = ["insert_rows", "new_plan", "plan_id_for"]


def plan_id_for(kind: str, params: dict[str, Any], created: dt.datetime) -> str:
    """``<kind>-<hash>``: a hash of the kind, the parameters and the time of the run."""
    key = hashlib.sha1(usedforsecurity=False)
    key.update(kind.encode())
    key.update(json.dumps(params, sort_keys=True, default=str).encode())
    key.update(created.isoformat().encode())
    return f"{kind}-{key.hexdigest()[:12]}"


def new_plan(
    store: Store, kind: str, name: str, params: dict[str, Any], summary: dict[str, Any]
) -> str:
    """Record a plan run and return its id."""
    created = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    plan_id = plan_id_for(kind, params, created)
    store.con.execute(
        "INSERT INTO plans VALUES (?, ?, ?, ?, ?, ?)",
        [
            plan_id,
            kind,
            name,
            created,
            json.dumps(params, default=str),
            json.dumps(summary, default=str),
        ],
    )
    return plan_id


def insert_rows(store: Store, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert dictionaries into ``table`` by column name (JSON columns take any value)."""
    if not rows:
        return
    cols = [
        r[0]
        for r in store.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]
    types = dict(
        store.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
            [table],
        ).fetchall()
    )
    data: dict[str, list[Any]] = {c: [] for c in cols}
    for row in rows:
        for c in cols:
            value = row.get(c)
            if types[c] == "JSON" and value is not None:
                value = json.dumps(value, default=str)
            data[c].append(value)
    arrow = pa.table(
        {
            c: pa.array(v) if any(x is not None for x in v) else pa.nulls(len(v))
            for c, v in data.items()
        }
    )
    store.con.register("_plan_rows", arrow)
    try:
        col_list = ", ".join(ident(c) for c in cols)
        select = ", ".join(f"CAST({ident(c)} AS {types[c]})" for c in cols)
        store.con.execute(
            f"INSERT INTO {ident(table)} ({col_list}) SELECT {select} FROM _plan_rows"
        )
    finally:
        store.con.unregister("_plan_rows")
