"""Evidence: the statements behind a step, with the source file and row they came from.

Statement ids are FtM's ``make_key``, computed by the ``ftm_statements`` view. One query
collects the evidence of many entities at once (a detector asks once for all its
findings), so the statements table is scanned once per detector, not once per step.

A step its detector leaves without evidence gets the statements of its entity
(``entity_id``, else ``source``) about the properties of its kind (:data:`STEP_PROPS`),
at most :data:`PER_STEP`, chosen in SQL when the findings are written
(:func:`default_evidence_sql`): the evidence of a run's findings is one join on the
store, never a Python object per statement.

>>> from shadowtrace.store import Store
>>> with Store.open(":memory:") as store:
...     evidence_for(store, ["nobody"])
{}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import pyarrow as pa

from shadowtrace.detect.finding import Evidence, Finding
from shadowtrace.store import Store
from shadowtrace.store.sql import ident
from shadowtrace.store.views import STATEMENT_ID_SQL

__all__ = [
    "PER_STEP",
    "STEP_PROPS",
    "WANTING_SCHEMA",
    "default_evidence_sql",
    "evidence_for",
    "fill_evidence",
    "kind_props",
    "register_evidence_inputs",
    "unregister_evidence_inputs",
    "wanting_evidence",
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


#: The steps that want their default evidence (:func:`wanting_evidence`).
WANTING_SCHEMA = pa.schema(
    [("finding_id", pa.string()), ("step", pa.int32()), ("cid", pa.string()),
     ("kind", pa.string())]
)  # fmt: skip


def wanting_evidence(findings: Iterable[Finding]) -> pa.Table:
    """The steps that carry no evidence, as ``(finding_id, step, cid, kind)``: the entity
    whose statements evidence each, and the kind whose properties are shown (kinds
    :data:`STEP_PROPS` does not name show the properties of a party)."""
    cols: dict[str, list[object]] = {"finding_id": [], "step": [], "cid": [], "kind": []}
    for f in findings:
        for i, s in enumerate(f.steps):
            if s.evidence:
                continue
            cols["finding_id"].append(f.id)
            cols["step"].append(i)
            cols["cid"].append(s.entity_id or s.source)
            cols["kind"].append(s.kind if s.kind in STEP_PROPS else "party")
    return pa.Table.from_pydict(cols, schema=WANTING_SCHEMA)


def default_evidence_sql(steps: str, props: str) -> str:
    """A query of the default evidence of the steps in relation ``steps`` (as made by
    :func:`wanting_evidence`), with the kinds' properties in relation ``props``: rows
    shaped like ``finding_evidence`` plus the rank ``n`` within each step (order by
    ``finding_id, step, n``). Takes one parameter, the number of statements per step.

    Each (entity, kind) is ranked once, however many steps show it, so a hub that
    appears in thousands of findings is read once.
    """
    sid = STATEMENT_ID_SQL
    return f"""
        WITH want AS (SELECT DISTINCT cid, kind FROM {ident(steps)}),
        picked AS (
          SELECT w.cid, w.kind, s.entity_id, s.prop, s.value, s.dataset, s.lang,
                 s.external, s.source_id, s.source_row,
                 row_number() OVER (
                   PARTITION BY w.cid, w.kind
                   ORDER BY s.prop, s.value, s.source_row NULLS LAST, s.source_id,
                            s.entity_id, s.dataset, s.lang NULLS FIRST, s.external
                 ) AS n
          FROM want w
          JOIN {ident(props)} p ON p.kind = w.kind
          JOIN statements s ON s.canonical_id = w.cid AND s.prop = p.prop
          QUALIFY n <= ?
        ),
        ranked AS (
          SELECT {sid} AS statement_id, entity_id, prop, value, source_id, source_row,
                 cid, kind, n
          FROM picked
        )
        SELECT st.finding_id, st.step, r.statement_id, r.entity_id, r.prop, r.value,
               src.name AS source, r.source_row, r.n
        FROM {ident(steps)} st
        JOIN ranked r ON r.cid = st.cid AND r.kind = st.kind
        LEFT JOIN sources src ON src.source_id = r.source_id
        """


def register_evidence_inputs(store: Store, findings: Sequence[Finding]) -> tuple[str, str]:
    """Register the steps wanting evidence and the kinds' properties; their names."""
    store.con.complete()
    store.con.register("_ev_steps", wanting_evidence(findings))
    store.con.register("_ev_props", kind_props())
    return "_ev_steps", "_ev_props"


def unregister_evidence_inputs(store: Store) -> None:
    store.con.complete()
    for name in ("_ev_steps", "_ev_props"):
        store.con.unregister(name)


def fill_evidence(
    store: Store, findings: Sequence[Finding], per_step: int = PER_STEP
) -> list[Finding]:
    """The findings with the default evidence on every step that had none (what
    writing them stores, for a run that does not write)."""
    steps, props = register_evidence_inputs(store, findings)
    try:
        sql = f"SELECT * FROM ({default_evidence_sql(steps, props)}) ORDER BY finding_id, step, n"
        rows = store.con.execute(sql, [per_step]).fetchall()
    finally:
        unregister_evidence_inputs(store)
    found: dict[tuple[str, int], list[Evidence]] = {}
    for fid, i, sid, eid, prop, value, source, row, _ in rows:
        found.setdefault((fid, int(i)), []).append(_evidence(sid, eid, prop, value, source, row))
    out = []
    for f in findings:
        new = tuple(
            replace(s, evidence=tuple(found.get((f.id, i), ()))) if not s.evidence else s
            for i, s in enumerate(f.steps)
        )
        out.append(replace(f, steps=new))
    return out
