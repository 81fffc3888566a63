"""Evidence: the statements behind a step, with the source file and row they came from.

Statement ids are FtM's ``make_key``, computed by the ``ftm_statements`` view. One query
collects the evidence of many entities at once (a detector asks once for all its
findings), so the statements table is scanned once per detector, not once per step.

>>> from shadowtrace.store import Store
>>> with Store.open(":memory:") as store:
...     evidence_for(store, ["nobody"])
{}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa

from shadowtrace.detect.finding import Evidence
from shadowtrace.store import Store

__all__ = ["STEP_PROPS", "evidence_for"]

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
        rows = con.execute(
            f"""
            SELECT s.canonical_id, s.id, s.entity_id, s.prop, s.value, src.name, s.source_row
            FROM ftm_statements s LEFT JOIN sources src ON src.source_id = s.source_id
            WHERE {where}
            ORDER BY s.canonical_id, s.prop, s.value, s.source_row NULLS LAST, s.id
            """,
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
        bucket.append(
            Evidence(
                statement_id=sid,
                entity_id=eid,
                prop=prop,
                value=value,
                source=source,
                source_row=int(row) if row is not None else None,
            )
        )
    return {k: tuple(v) for k, v in out.items()}
