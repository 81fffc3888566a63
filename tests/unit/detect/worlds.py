"""Small hand-made worlds for the detector tests: FtM entities written as JSON lines and
read by the real ingest, so that statements, provenance and the typed views are those
of any store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shadowtrace.ingest import ingest
from shadowtrace.store import Store


def E(entity_id: str, schema: str, **props: Any) -> dict[str, Any]:
    """An FtM entity; a scalar property value becomes a list of one."""
    return {
        "id": entity_id,
        "schema": schema,
        "properties": {
            k: [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in props.items()
            if v is not None
        },
    }


def load(store: Store, folder: Path, entities: list[dict[str, Any]], name: str = "world") -> None:
    """Ingest ``entities`` into ``store`` as one FtM JSON lines file."""
    path = folder / f"{name}.ijson"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in entities) + "\n")
    ingest(store, [str(path)], dataset=name)


def company(cid: str, name: str, country: str, **props: Any) -> dict[str, Any]:
    return E(cid, "Company", name=name, country=country, **props)


def payment(
    pid: str, payer: str, beneficiary: str, amount: float, currency: str, date: str, **props: Any
) -> dict[str, Any]:
    return E(
        pid,
        "BankPayment",
        payer=payer,
        beneficiary=beneficiary,
        amount=amount,
        currency=currency,
        date=date,
        **props,
    )


def declaration(
    did: str,
    sender: str,
    receiver: str,
    hs: str,
    qty: float,
    value: float,
    date: str,
    origin: str = "cn",
    dest: str | None = None,
) -> dict[str, Any]:
    return E(
        did,
        "CustomsDeclaration",
        sender=sender,
        receiver=receiver,
        vedCode=hs,
        quantity=qty,
        invoiceAmount=value,
        date=date,
        originCountry=origin,
        destinationCountry=dest,
    )
