"""Evidence for a chosen target: the records of the flow it carries (each with the
statements behind it, so the source file and row), the findings that name it, and its
largest counterparties in the network.

Reads the working tables :func:`~shadowtrace.plan.network.build_network` leaves in the
store's connection (``_pn_ship``, ``_pn_pay``, ``_pn_money_arcs``), so it runs after it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shadowtrace.plan.network import FlowNetwork, Target
from shadowtrace.store import Store

__all__ = ["counterparties", "findings_of", "record_statements", "target_records"]

#: Properties that show what a record moved, from whom to whom, when.
_KEY_PROPS = (
    "amount",
    "currency",
    "invoiceAmount",
    "date",
    "vedCode",
    "status",
    "payer",
    "beneficiary",
    "sender",
    "receiver",
    "broker",
    "sourceWallet",
    "targetWallet",
    "payerAppAccount",
    "beneficiaryAppAccount",
)

_CHANNEL_SCHEMA = {
    "usdt": "CryptoTransfer",
    "app": "AppPayment",
    "netting": "NettingTransaction",
    "cash_yuan": "CashCurrencySale",
}


def _has_table(store: Store, name: str) -> bool:
    row = store.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
    ).fetchall()
    return bool(row and row[0][0])


def target_records(store: Store, target: Target, limit: int = 5) -> list[dict[str, Any]]:
    """The largest records of the flow ``target`` carries, in the network's window."""
    con = store.con
    rows: list[tuple[Any, ...]]
    if target.kind == "entity":
        rows = con.execute(
            """
            SELECT * FROM (
              SELECT 'shipment' AS kind, id, sender AS src, receiver AS dst, usd,
                     CAST(date AS VARCHAR) AS date, hs_code AS detail
              FROM _pn_ship WHERE sender = ? OR receiver = ?
              UNION ALL
              SELECT 'payment', id, payer, beneficiary, usd, CAST(date AS VARCHAR), schema
              FROM _pn_pay
              WHERE (payer = ? OR beneficiary = ? OR broker = ?)
                AND coalesce(status, 'accepted') <> 'rejected'
            ) ORDER BY usd DESC NULLS LAST, id LIMIT ?
            """,
            [target.id, target.id, target.id, target.id, target.id, limit],
        ).fetchall()
    else:
        channel = target.id.partition(":")[2]
        schema = _CHANNEL_SCHEMA.get(channel)
        if channel == "usdt":
            rows = con.execute(
                """
                SELECT 'transfer', id, source_wallet, target_wallet, amount,
                       CAST(date AS VARCHAR), currency
                FROM transfers ORDER BY amount DESC NULLS LAST, id LIMIT ?
                """,
                [limit],
            ).fetchall()
        elif schema is not None:
            rows = con.execute(
                """
                SELECT 'payment', id, coalesce(payer, payer_app_account),
                       coalesce(beneficiary, beneficiary_app_account), usd,
                       CAST(date AS VARCHAR), schema
                FROM _pn_pay WHERE schema = ? ORDER BY usd DESC NULLS LAST, id LIMIT ?
                """,
                [schema, limit],
            ).fetchall()
        elif _has_table(store, "_pn_money_arcs"):
            # payment agents: the largest transfers between parties that are no hub
            rows = con.execute(
                """
                SELECT 'payment', p.id, p.payer, p.beneficiary, p.usd,
                       CAST(p.date AS VARCHAR), p.schema
                FROM _pn_pay p
                JOIN _pn_money_arcs a ON a.u = 'm:' || p.beneficiary AND a.v = 'm:' || p.payer
                WHERE a.kind = 'agent' AND coalesce(p.status, 'accepted') <> 'rejected'
                ORDER BY p.usd DESC NULLS LAST, p.id LIMIT ?
                """,
                [limit],
            ).fetchall()
        else:
            rows = []
    out = []
    for kind, rid, src, dst, usd, date, detail in rows:
        out.append(
            {
                "kind": kind,
                "record": rid,
                "from": src,
                "to": dst,
                "value_usd": float(usd) if usd is not None else None,
                "date": date,
                "detail": detail,
                "statements": [],
            }
        )
    return out


def record_statements(store: Store, record_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The key statements of records (canonical ids), with source file and row, in one
    pass over the statements."""
    ids = sorted(set(record_ids))
    if not ids:
        return {}
    rows = store.con.execute(
        """
        SELECT f.canonical_id, f.id, f.entity_id, f.prop, f.value, src.name, f.source_row
        FROM ftm_statements f LEFT JOIN sources src ON src.source_id = f.source_id
        WHERE list_contains(?, f.canonical_id) AND list_contains(?, f.prop)
        ORDER BY f.canonical_id, f.prop, f.value
        """,
        [ids, list(_KEY_PROPS)],
    ).fetchall()
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(str(r[0]), []).append(
            {
                "statement_id": r[1],
                "entity_id": r[2],
                "prop": r[3],
                "value": r[4],
                "source": r[5],
                "source_row": r[6],
            }
        )
    return out


def findings_of(store: Store, entity_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """Findings whose entities include ``entity_id``, best first."""
    if not _has_table(store, "findings"):
        return []
    rows = store.con.execute(
        """
        SELECT finding_id, typology, title, score FROM findings
        WHERE list_contains(entities, ?) ORDER BY score DESC, finding_id LIMIT ?
        """,
        [entity_id, limit],
    ).fetchall()
    return [{"finding_id": r[0], "typology": r[1], "title": r[2], "score": r[3]} for r in rows]


def counterparties(
    net: FlowNetwork, target: int, captions: dict[str, str], limit: int = 3
) -> dict[str, Any]:
    """Who sends into ``target`` and who it passes on to, by observed value."""
    kinds = np.asarray(net.arc_kind, dtype=object)
    observed = ~np.isin(kinds, ("entity", "source", "sink", "substitute", "switch"))
    own = np.nonzero((net.arc_target == target) & (kinds == "entity"))[0]
    ins = {int(net.tail[a]) for a in own}
    outs = {int(net.head[a]) for a in own}
    if net.targets[target].kind == "channel":
        # a channel: the parties at either end of its own arcs
        carried = np.nonzero((net.arc_target == target) & observed)[0]
        ins = {int(net.head[a]) for a in carried}
        outs = {int(net.tail[a]) for a in carried}
        observed = observed & (net.arc_target != target)

    def name(node: int) -> str:
        label = net.nodes[node].removesuffix("#in").removesuffix("#out")
        eid = label.partition(":")[2]
        return captions.get(eid, eid)

    up: dict[str, float] = {}
    down: dict[str, float] = {}
    for a in np.nonzero(observed)[0].tolist():
        if int(net.head[a]) in ins:
            key = name(int(net.tail[a]))
            up[key] = up.get(key, 0.0) + float(net.capacity[a])
        if int(net.tail[a]) in outs:
            key = name(int(net.head[a]))
            down[key] = down.get(key, 0.0) + float(net.capacity[a])

    def top(d: dict[str, float]) -> list[dict[str, Any]]:
        items = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [{"name": k, "value_usd": v} for k, v in items]

    return {
        "from_count": len(up),
        "to_count": len(down),
        "from": top(up),
        "to": top(down),
    }
