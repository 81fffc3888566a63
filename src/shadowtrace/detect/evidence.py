"""Evidence: the statements behind a step, with the source file and row they came from.

Statement ids are FtM's ``make_key``, computed by the ``ftm_statements`` view. One query
collects the evidence of many entities at once (a detector asks once for all its
findings), so the statements table is scanned once per detector, not once per step.

A step its detector leaves without evidence gets the statements of its entity
(``entity_id``, else ``source``) about the properties of its kind (:data:`STEP_PROPS`),
at most :data:`PER_STEP`, chosen in SQL when the findings are written
(:func:`default_evidence`): the evidence of a run's findings is one join on the
store, never a Python object per statement.

>>> from shadowtrace.store import Store
>>> with Store.open(":memory:") as store:
...     evidence_for(store, ["nobody"])
{}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from shadowtrace.detect.finding import Evidence
from shadowtrace.store import Store
from shadowtrace.store.sql import ident
from shadowtrace.store.views import STATEMENT_ID_SQL

__all__ = [
    "EVIDENCE_ORDER",
    "PER_STEP",
    "STEP_PROPS",
    "default_evidence",
    "evidence_for",
    "kind_props",
]

#: Statements a step gets when its detector gives it none.
PER_STEP = 12

#: The properties that evidence each kind of step (the statements shown for it).
STEP_PROPS: Mapping[str, tuple[str, ...]] = {
    "payment": (
        "amount", "currency", "date", "status", "rejectionReason", "payer", "beneficiary",
        "purpose",
    ),
    "rejected_payment": (
        "amount", "currency", "date", "status", "rejectionReason", "payer", "beneficiary",
    ),
    "app_payment": ("amount", "currency", "date", "payerAppAccount", "beneficiaryAppAccount"),
    "cash_sale": ("amount", "currency", "date", "paidAmount", "payer", "beneficiary"),
    "netting": ("amount", "currency", "date", "payer", "beneficiary", "broker",
                "domesticLeg", "foreignLeg"),
    "transfer": ("amount", "currency", "date", "sourceWallet", "targetWallet",
                 "transactionHash"),
    "shipment": (
        "vedCode", "goodsDescription", "quantity", "quantityUnit", "invoiceAmount", "date",
        "sender", "receiver", "originCountry", "departureCountry", "destinationCountry",
        "ccdNumber",
    ),
    "ownership": ("owner", "asset", "percentage", "startDate"),
    "control": ("controller", "controlled", "controlType", "startDate"),
    "directorship": ("director", "organization", "role", "startDate"),
    "labour": ("employer", "labourSupplier", "workerCount", "workerNationality", "startDate",
               "endDate", "status", "amount"),
    "equipment": ("category", "manufacturer", "supplier", "partsSupplier", "operator", "site",
                  "hsCode", "servesPopulation"),
    "wallet_holder": ("holder", "publicKey"),
    "sanction": ("entity", "authority", "program", "listingDate", "startDate"),
    "party": ("name", "previousName", "incorporationDate", "address", "phone", "country",
              "jurisdiction", "innCode", "registrationNumber", "ogrnCode", "topics"),
}  # fmt: skip


def evidence_for(
    store: Store,
    ids: Iterable[str],
    props: Iterable[str] | None = None,
    values: Mapping[str, Iterable[str]] | None = None,
    per_entity: int = 40,
) -> dict[str, tuple[Evidence, ...]]:
    """The statements about canonical entities ``ids``, keyed by canonical id.

    ``props`` limits the properties; ``values`` (canonical id → values) keeps only the
    statements with those values (for a shared address, the address itself).
    ``per_entity`` caps how many statements one entity contributes.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    con = store.con
    con.complete()
    con.register("_ev_ids", pa.table({"id": pa.array(wanted, pa.string())}))
    params: list[object] = []
    where = "s.canonical_id IN (SELECT id FROM _ev_ids)"
    if props is not None:
        plist = sorted(set(props))
        if not plist:
            con.complete()
            con.unregister("_ev_ids")
            return {}
        where += f" AND s.prop IN ({', '.join('?' for _ in plist)})"
        params.extend(plist)
    try:
        sql = f"""
            SELECT s.canonical_id, s.id, s.entity_id, s.prop, s.value, src.name, s.source_row
            FROM ftm_statements s LEFT JOIN sources src ON src.source_id = s.source_id
            WHERE {where}
            ORDER BY s.canonical_id, s.prop, s.value, s.source_row NULLS LAST, s.id
            """
        rows = con.execute(
            sql,
            params,
        ).fetchall()
    finally:
        con.complete()
        con.unregister("_ev_ids")
    keep = {k: set(v) for k, v in (values or {}).items()}
    out: dict[str, list[Evidence]] = {}
    for cid, sid, eid, prop, value, source, row in rows:
        if cid in keep and value not in keep[cid]:
            continue
        bucket = out.setdefault(cid, [])
        if len(bucket) >= per_entity:
            continue
        bucket.append(_evidence(sid, eid, prop, value, source, row))
    return {k: tuple(v) for k, v in out.items()}


def _evidence(
    sid: str, eid: str, prop: str, value: str, source: str | None, row: int | None
) -> Evidence:
    return Evidence(
        statement_id=sid,
        entity_id=eid,
        prop=prop,
        value=value,
        source=source,
        source_row=int(row) if row is not None else None,
    )


def kind_props() -> pa.Table:
    """:data:`STEP_PROPS` as a table of ``(kind, prop)``."""
    kinds = [k for k, props in STEP_PROPS.items() for _ in props]
    props = [p for ps in STEP_PROPS.values() for p in ps]
    return pa.table({"kind": pa.array(kinds, pa.string()), "prop": pa.array(props, pa.string())})


#: How a step's evidence is shown: in the order its detector gave it (``ord``), else,
#: for the evidence chosen by default, by property and value.
EVIDENCE_ORDER = "ord NULLS LAST, prop, value, source_row NULLS LAST, statement_id"


@contextmanager
def default_evidence(
    con: duckdb.DuckDBPyConnection, steps: str, given: str, per_step: int = PER_STEP
) -> Iterator[duckdb.DuckDBPyRelation]:
    """The default evidence of the steps in relation ``steps`` (rows of
    ``finding_steps``) that have none in relation ``given`` (rows of
    ``finding_evidence``), as rows of ``finding_evidence`` with no ``ord``.

    A step wants the statements of its entity (``entity_id``, else ``source``) about
    the properties of its kind (a kind :data:`STEP_PROPS` does not name shows those of
    a party). ``con`` is a scratch connection (:meth:`~shadowtrace.store.Store.scratch`):
    the statements of each (entity, kind) are gathered once into a temporary table,
    however many steps show it, and dropped when the block ends. Only the (entity,
    kind) with more than ``per_step`` statements are ranked to keep the first ones;
    the rest (nearly all: a payment has fewer properties than that) are kept whole
    with no sort.
    """
    props = kind_props()  # noqa: F841 - read by name
    want, hits, big = ident("_ev_want"), ident("_ev_hits"), ident("_ev_big")
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {want} AS
            SELECT s.finding_id, s.step, coalesce(nullif(s.entity_id, ''), s.source) AS cid,
                   CASE WHEN s.kind IN (SELECT kind FROM props) THEN s.kind ELSE 'party' END
                     AS kind
            FROM {ident(steps)} s
            ANTI JOIN (SELECT DISTINCT finding_id, step FROM {ident(given)}) g
              ON g.finding_id = s.finding_id AND g.step = s.step
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {hits} AS
            SELECT w.cid, w.kind, s.entity_id, s.prop, s.value, s.dataset, s.lang, s.external,
                   s.source_id, s.source_row
            FROM (SELECT DISTINCT cid, kind FROM {want}) w
            JOIN statements s ON s.canonical_id = w.cid
            JOIN props p ON p.kind = w.kind AND p.prop = s.prop
            """
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {big} AS SELECT cid, kind FROM {hits} "
            "GROUP BY cid, kind HAVING count(*) > ?",
            [per_step],
        )
        yield con.sql(
            f"""
            WITH picked AS (
              SELECT h.* FROM {hits} h ANTI JOIN {big} b ON b.cid = h.cid AND b.kind = h.kind
              UNION ALL
              SELECT * FROM (
                SELECT h.* FROM {hits} h SEMI JOIN {big} b ON b.cid = h.cid AND b.kind = h.kind
              )
              QUALIFY row_number() OVER (
                PARTITION BY cid, kind
                ORDER BY prop, value, source_row NULLS LAST, source_id, entity_id, dataset,
                         lang NULLS FIRST, external
              ) <= ?
            ),
            ided AS (SELECT *, {STATEMENT_ID_SQL} AS statement_id FROM picked)
            SELECT w.finding_id, w.step, i.statement_id, i.entity_id, i.prop, i.value,
                   src.name AS source, i.source_row, CAST(NULL AS BIGINT) AS ord
            FROM {want} w
            JOIN ided i ON i.cid = w.cid AND i.kind = w.kind
            LEFT JOIN sources src ON src.source_id = i.source_id
            """,
            params=[per_step],
        )
    finally:
        for table in (big, hits, want):
            drop = f"DROP TABLE IF EXISTS {table}"
            con.execute(drop)
