"""A small hand-made world for the report's tests: a few companies (one with a hostile
name), two customs declarations forming a transshipment chain, payments in four
channels, a crypto transfer, installed equipment, a sanction, and findings written
straight into the findings tables."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from shadowtrace.detect import Evidence, Finding, Step
from shadowtrace.ingest import ingest
from shadowtrace.store import Store

#: A name built to break HTML, JS and JSON in every way we know, and very long.
HOSTILE = (
    '</script><script>window.__pwned=1</script>"\'&amp;<img src=x onerror="window.__pwned=2">'
    "<!-- \u2028\u2029 ${x} {{ y }} "
)
HOSTILE_NAME = HOSTILE + "x" * 10_000

FILE = "report_world.ijson"


def _e(id: str, schema: str, **props: object) -> dict[str, object]:
    return {
        "id": id,
        "schema": schema,
        "properties": {k: v if isinstance(v, list) else [v] for k, v in props.items()},
    }


ENTITIES = [
    _e("ru-ural", "Company", name="Ural Trade LLC", country="ru", innCode="7701234567"),
    _e("kz-steppe", "Company", name="Steppe Logistics LLP", country="kz"),
    _e("cn-tongju", "Company", name="Xuzhou Tongju Communication Equipment Co., Ltd.",
       country="cn"),
    _e("hostile", "Company", name=HOSTILE_NAME, country="ae"),
    _e("person-ivanov", "Person", name="Ivan Ivanov", nationality="ru"),
    _e("dir-1", "Directorship", director="person-ivanov", organization="hostile",
       role="director"),
    _e("sanction-1", "Sanction", entity="hostile", authority="Test authority",
       program="TEST-PROGRAM", startDate="2024-02-23"),
    _e("decl-1", "CustomsDeclaration", sender="cn-tongju", receiver="kz-steppe",
       ccdNumber="CN-EX-0001", date="2024-03-01", originCountry="cn",
       departureCountry="cn", destinationCountry="kz", goodsDescription="Base station parts",
       vedCode="851761", customsAmount="8800000", dollarExchRate="88"),
    _e("decl-2", "CustomsDeclaration", sender="kz-steppe", receiver="ru-ural",
       ccdNumber="KZ-EX-0002", date="2024-03-15", originCountry="cn",
       departureCountry="kz", destinationCountry="ru", goodsDescription="Base station parts",
       vedCode="851761", customsAmount="9680000", dollarExchRate="88"),
    _e("pay-rejected", "BankPayment", payer="ru-ural", beneficiary="cn-tongju",
       amount="72000", currency="CNY", date="2024-02-01", status="rejected",
       rejectionReason="sanctions policy"),
    _e("pay-agent", "BankPayment", payer="ru-ural", beneficiary="kz-steppe",
       amount="880000", currency="RUB", date="2024-02-05", status="accepted"),
    _e("pay-app", "AppPayment", payer="kz-steppe", beneficiary="cn-tongju", amount="7200",
       currency="CNY", date="2024-02-07", platform="Alipay"),
    _e("wallet-a", "CryptoWallet", publicKey="TWalletA", holder="kz-steppe"),
    _e("wallet-b", "CryptoWallet", publicKey="TWalletB"),
    _e("tx-1", "CryptoTransfer", sourceWallet="wallet-a", targetWallet="wallet-b",
       amount="5000", currency="USDT", transactionHash="abc123", date="2024-02-06"),
    _e("bs-1", "Equipment", name="base_station BS-1", category="base_station",
       manufacturer="cn-tongju", supplier="ru-ural", operator="ru-ural", site="BS Site 1",
       region="Test region", servesPopulation="1000"),
    _e("bs-2", "Equipment", name="base_station BS-2", category="base_station",
       manufacturer="cn-tongju", supplier="hostile", operator="ru-ural", site="BS Site 2",
       region="Test region", servesPopulation="500"),
    _e("ex-1", "Equipment", name="excavator EX-1", category="excavator",
       manufacturer="kz-steppe", operator="ru-ural", site="Quarry 1", region="Other region"),
]  # fmt: skip

#: 1-based line of each entity in the source file, which is its row.
ROW = {e["id"]: i for i, e in enumerate(ENTITIES, start=1)}


def write_world(folder: Path) -> Path:
    path = folder / FILE
    with path.open("w", encoding="utf-8") as fh:
        for e in ENTITIES:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    return path


def evidence(store: Store, entity_id: str, with_source: bool = False) -> tuple[Evidence, ...]:
    """Evidence for every statement of a record; with or without file and row (the
    report must find them from the statement id when they are missing)."""
    rows = store.con.execute(
        "SELECT f.id, f.entity_id, f.prop, f.value, s.name, f.source_row "
        "FROM ftm_statements f LEFT JOIN sources s USING (source_id) "
        "WHERE f.entity_id = ? AND f.prop <> 'id' ORDER BY f.prop",
        [entity_id],
    ).fetchall()
    return tuple(
        Evidence(r[0], r[1], r[2], r[3], r[4] if with_source else None,
                 r[5] if with_source else None)
        for r in rows
    )  # fmt: skip


def findings(store: Store) -> list[Finding]:
    chain = Finding.make(
        "transshipment",
        0.92,
        "Chinese base station parts reach Russia through Kazakhstan",
        ("cn-tongju", "kz-steppe", "ru-ural"),
        (
            Step("shipment", "cn-tongju", "kz-steppe", "Exported to Kazakhstan",
                 entity_id="decl-1", date="2024-03-01", amount=8_800_000, currency="RUB",
                 evidence=evidence(store, "decl-1")),
            Step("shipment", "kz-steppe", "ru-ural", "Re-exported to Russia",
                 entity_id="decl-2", date="2024-03-15", amount=9_680_000, currency="RUB",
                 evidence=evidence(store, "decl-2", with_source=True)),
        ),
        explanation="Goods of Chinese origin re-declared to Russia 14 days later at +10%.",
        metrics={"days": 14, "markup": 0.1},
    )  # fmt: skip
    reroute = Finding.make(
        "rerouted_payment",
        0.81,
        "Rejected payment rerouted through Steppe Logistics",
        ("ru-ural", "cn-tongju", "kz-steppe"),
        (
            Step("payment", "ru-ural", "cn-tongju", "Payment rejected by the beneficiary's bank",
                 entity_id="pay-rejected", date="2024-02-01", amount=72_000, currency="CNY",
                 evidence=evidence(store, "pay-rejected")),
            Step("payment", "ru-ural", "kz-steppe", "Paid to an agent four days later",
                 entity_id="pay-agent", date="2024-02-05", amount=880_000, currency="RUB",
                 evidence=evidence(store, "pay-agent")),
            Step("payment", "kz-steppe", "cn-tongju", "The agent pays the supplier by Alipay",
                 entity_id="pay-app", date="2024-02-07", amount=7_200, currency="CNY",
                 evidence=evidence(store, "pay-app")),
        ),
        explanation="A rejected payment reaches its beneficiary through an agent.",
    )  # fmt: skip
    hostile = Finding.make(
        "sanctions_proximity",
        0.55,
        HOSTILE + " directs a sanctioned company",
        ("person-ivanov", "hostile"),
        (
            Step("sanction", "sanction-1", "hostile", HOSTILE, entity_id="sanction-1",
                 evidence=evidence(store, "sanction-1")),
            Step("directorship", "person-ivanov", "hostile", "Director", entity_id="dir-1",
                 evidence=evidence(store, "dir-1")),
        ),
        explanation=HOSTILE,
        metrics={HOSTILE[:20]: 1.0},
    )  # fmt: skip
    return [chain, reroute, hostile]


def save_findings(store: Store, found: list[Finding], detector: str = "test") -> None:
    """Write findings into the findings tables, as a detector run does."""
    now = datetime(2026, 1, 1)
    with store.transaction():
        for f in found:
            store.con.execute(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [f.id, f.typology, f.score, f.title, f.explanation, list(f.entities),
                 json.dumps(f.metrics), detector, None, now],
            )  # fmt: skip
            for n, s in enumerate(f.steps):
                store.con.execute(
                    "INSERT INTO finding_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [f.id, n, s.kind, s.source, s.target, s.summary, s.entity_id, s.date,
                     s.amount, s.currency],
                )  # fmt: skip
                for k, e in enumerate(s.evidence):
                    store.con.execute(
                        "INSERT INTO finding_evidence VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [f.id, n, e.statement_id, e.entity_id, e.prop, e.value, e.source,
                         e.source_row, k],
                    )  # fmt: skip


def build(store: Store, folder: Path) -> list[Finding]:
    """Ingest the world into ``store`` and save its findings; returns them."""
    ingest(store, [str(write_world(folder))], dataset="report_world")
    found = findings(store)
    save_findings(store, found)
    return found
