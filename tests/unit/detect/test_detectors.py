"""Each detector on a small hand-made world: it finds the planted scheme and not the
look-alike negatives beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from shadowtrace.detect.finding import Finding
from shadowtrace.detect.run import detect
from shadowtrace.resolve import merge
from shadowtrace.store import Store

from .worlds import E, company, declaration, load, payment


def run(store: Store, name: str, **params: object) -> list[Finding]:
    report = detect(store, only=[name], params={name: params} if params else None, keep=True)
    return [f for f in report.findings if f.typology == name]


# ---------------------------------------------------------------- goods


def goods_world() -> list[dict]:
    ents = [
        company("mfr", "Shenzhen Chip Co", "cn"),
        company("i1", "Steppe Trade LLP", "kz"),
        company("i2", "Ararat Supply LLC", "am"),
        company("imp", "OOO Importer", "ru"),
        company("eu", "AO Drone Works", "ru"),
        # the chain: same goods, three declarations, two intermediaries
        declaration("d1", "mfr", "i1", "854231", 1000, 12000, "2024-01-10"),
        declaration("d2", "i1", "i2", "854231", 1000, 12600, "2024-01-20"),
        declaration("d3", "i2", "imp", "854231", 1000, 13300, "2024-02-01", dest="ru"),
        payment("p-eu", "eu", "imp", 13300 * 1.12 * 88, "RUB", "2024-02-05", status="accepted"),
        # negatives: direct civilian trade, a chain with one intermediary, and a chain
        # whose ends also trade directly on paper
        company("mfr2", "Yiwu Furniture Co", "cn"),
        company("legit", "OOO Mebel", "ru"),
        declaration("n1", "mfr2", "legit", "940161", 500, 30000, "2024-03-01", dest="ru"),
        company("i3", "Tengri LLP", "kz"),
        company("legit2", "OOO Divan", "ru"),
        declaration("n2", "mfr2", "i3", "940162", 300, 9000, "2024-03-05"),
        declaration("n3", "i3", "legit2", "940162", 300, 9500, "2024-03-15", dest="ru"),
        company("mfr5", "Harbin Tools", "cn"),
        company("j1", "Silk LLP", "kz"),
        company("j2", "Pamir LLC", "kg"),
        company("imp5", "OOO Stanki", "ru"),
        declaration("m1", "mfr5", "j1", "845710", 2, 360000, "2024-04-01"),
        declaration("m2", "j1", "j2", "845710", 2, 380000, "2024-04-10"),
        declaration("m3", "j2", "imp5", "845710", 2, 400000, "2024-04-20", dest="ru"),
        declaration("m4", "mfr5", "imp5", "845811", 1, 95000, "2024-05-01", dest="ru"),
        # a dual-use import without intermediaries
        company("mfr6", "Ningbo Bearings", "cn"),
        declaration("b1", "mfr6", "legit", "848210", 5000, 20000, "2024-06-01", dest="ru"),
    ]
    return ents


def test_multilayer_transshipment_finds_the_chain_only(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, goods_world())
    found = run(store, "multilayer_transshipment")
    assert len(found) == 1
    f = found[0]
    assert [s.entity_id for s in f.steps if s.kind == "shipment"] == ["d1", "d2", "d3"]
    assert {"mfr", "i1", "i2", "imp", "eu"} <= set(f.entities)
    assert f.steps[-1].entity_id == "p-eu"  # the end user who paid the importer
    assert f.metrics["intermediaries"] == 2.0
    # with one intermediary allowed, the two-hop chain appears; the chain whose ends
    # trade directly never does
    loose = run(store, "multilayer_transshipment", min_intermediaries=1)
    shipped = {s.entity_id for f in loose for s in f.steps}
    assert {"n2", "n3"} <= shipped
    assert not {"m1", "m2", "m3"} & shipped


def test_dual_use_supply_finds_listed_goods_to_russia(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, goods_world())
    found = run(store, "dual_use_supply")
    shipped = {s.entity_id for f in found for s in f.steps if s.kind == "shipment"}
    # the chip chain, the machining centres (CHPL 845710, even with direct trade on paper:
    # that only matters for transshipment) and the bearings; not the furniture
    assert {"d1", "d2", "d3", "b1", "m1", "m2", "m3"} <= shipped
    assert not {"n1", "n2", "n3"} & shipped
    assert all(f.score > 0.5 for f in found)
    narrow = run(store, "dual_use_supply", hs_codes=["848210"])
    assert {s.entity_id for f in narrow for s in f.steps} == {"b1"}


# ---------------------------------------------------------------- payments


def payments_world() -> list[dict]:
    return [
        company("A", "OOO Donbass Retail", "ru"),
        company("B", "Yiwu Trading Co", "cn"),
        company("X", "Caspian Partners LLP", "kz"),
        payment("rej", "A", "B", 100000, "CNY", "2024-03-01", status="rejected"),
        payment("out", "A", "X", 110000, "CNY", "2024-03-03", status="accepted"),
        payment("in", "X", "B", 100000, "CNY", "2024-03-05", status="accepted"),
        # a rejected payment followed by a payment far above any fee: not a reroute
        company("A2", "OOO Krym Opt", "ru"),
        company("B2", "Guangzhou Parts", "cn"),
        company("X2", "Gulf FZE", "ae"),
        payment("rej2", "A2", "B2", 50000, "CNY", "2024-03-01", status="rejected"),
        payment("out2", "A2", "X2", 70000, "CNY", "2024-03-02", status="accepted"),
        # netting: the rouble leg at home, the yuan leg in China a day later
        company("A3", "OOO Lugansk Snab", "ru"),
        company("B3", "Harbin Export Co", "cn"),
        company("R3", "OOO Agent", "ru"),
        company("C3", "Suifenhe Agent Co", "cn"),
        payment("rej3", "A3", "B3", 200000, "CNY", "2024-04-01", status="rejected"),
        payment("rub3", "A3", "R3", 200000 * 1.1 * 88 / 7.2, "RUB", "2024-04-03"),
        payment("cny3", "C3", "B3", 200000, "CNY", "2024-04-04"),
        # the same, but the yuan arrives twelve days later: rerouted, not mirrored
        company("A4", "OOO Melitopol Trade", "ru"),
        company("B4", "Dalian Machinery", "cn"),
        company("R4", "OOO Desk", "ru"),
        company("C4", "Heihe Desk Co", "cn"),
        payment("rej4", "A4", "B4", 300000, "CNY", "2024-05-01", status="rejected"),
        payment("rub4", "A4", "R4", 300000 * 1.12 * 88 / 7.2, "RUB", "2024-05-02"),
        payment("cny4", "C4", "B4", 300000, "CNY", "2024-05-14"),
    ]


def test_rerouted_payment(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, payments_world())
    found = {f.steps[0].entity_id: f for f in run(store, "rerouted_payment")}
    assert set(found) == {"rej", "rej3", "rej4"}
    f = found["rej"]
    assert [s.entity_id for s in f.steps] == ["rej", "out", "in"]
    assert f.metrics["fee"] == pytest.approx(0.10, abs=1e-6)
    assert f.score > found["rej3"].score - 1e-9  # both legs found in each
    # a narrower fee band loses the 10 % reroute
    narrow = run(store, "rerouted_payment", fee_band=[0.12, 0.15])
    assert "rej" not in {f.steps[0].entity_id for f in narrow}


def test_netting_pairs_mirrored_legs_only(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, payments_world())
    found = run(store, "netting")
    assert len(found) == 1
    legs = {s.entity_id for s in found[0].steps}
    assert {"rub3", "cny3"} <= legs
    assert {"A3", "R3", "C3", "B3"} <= set(found[0].entities)
    wide = run(store, "netting", mirror_window_days=15)
    assert {"rub4", "cny4"} <= {s.entity_id for f in wide for s in f.steps}


def test_netting_ledger_entry_joins_its_legs(store: Store, tmp_path: Path) -> None:
    ents = payments_world()
    ents += [
        payment("rub3", "A3", "R3", 200000 * 1.1 * 88 / 7.2, "RUB", "2024-04-03", messageId="M1"),
        payment("cny3", "C3", "B3", 200000, "CNY", "2024-04-04", messageId="M2"),
    ]
    load(store, tmp_path, ents, "bank")
    ledger = [
        E("leg1", "BankPayment", messageId="M1", amount=1, currency="RUB"),
        E("leg2", "BankPayment", messageId="M2", amount=1, currency="CNY"),
        E("brk", "LegalEntity", name="Broker"),
        E("n1", "NettingTransaction", payer="A3", beneficiary="B3", broker="brk",
          domesticLeg="leg1", foreignLeg="leg2", amount=200000, currency="CNY",
          date="2024-04-03"),
    ]  # fmt: skip
    load(store, tmp_path, ledger, "ledger")
    found = run(store, "netting")
    assert len(found) == 1
    assert "n1" in {s.entity_id for s in found[0].steps}
    assert found[0].metrics["ledger"] == 1.0


def test_pass_through_intermediary(store: Store, tmp_path: Path) -> None:
    ents = [company("X", "Tengri Partners LLP", "kz"), company("M", "OOO Import", "ru")]
    for k in range(4):
        value = 100000 + 1000 * k
        ents += [
            company(f"Y{k}", f"Buyer {k} FZE", "ae"),
            company(f"S{k}", f"Seller {k} Co", "cn"),
            payment(f"in{k}", f"Y{k}", "X", value, "USD", f"2024-0{k + 2}-20"),
            payment(f"out{k}", "X", f"S{k}", value * 0.95, "USD", f"2024-0{k + 2}-15"),
            # an importer buys abroad and sells at home: a margin, but no conduit
            company(f"E{k}", f"AO End User {k}", "ru"),
            payment(f"min{k}", f"E{k}", "M", value, "USD", f"2024-0{k + 2}-20"),
            payment(f"mout{k}", "M", f"S{k}", value * 0.9, "USD", f"2024-0{k + 2}-18"),
        ]
    load(store, tmp_path, ents)
    found = run(store, "pass_through_intermediary")
    assert [f.entities[0] for f in found] == ["X"]
    assert found[0].metrics["pairs"] == 4.0
    assert found[0].metrics["median_fee"] == pytest.approx(0.05, abs=1e-6)
    assert len(run(store, "pass_through_intermediary", min_conduit_share=0.0)) == 2


def test_cash_structuring(store: Store, tmp_path: Path) -> None:
    ents = [E("br", "Organization", name="Branch 1"), E("P", "Person", name="Proxy One")]
    ents += [
        E(f"s{k}", "CashCurrencySale", payer="P", beneficiary="br", amount=40000,
          currency="CNY", paidAmount=500000 + k, paidCurrency="RUB", date=f"2024-02-0{k + 1}")
        for k in range(4)
    ]  # fmt: skip
    # an ordinary customer: one large purchase among small ones
    ents.append(E("I", "Person", name="Customer"))
    ents += [
        E(f"t{k}", "CashCurrencySale", payer="I", beneficiary="br", amount=1000,
          currency="CNY", paidAmount=12000 + k, paidCurrency="RUB", date=f"2024-03-0{k + 1}")
        for k in range(5)
    ]  # fmt: skip
    ents.append(
        E("big", "CashCurrencySale", payer="I", beneficiary="br", amount=38000, currency="CNY",
          paidAmount=480000, paidCurrency="RUB", date="2024-03-09")
    )  # fmt: skip
    load(store, tmp_path, ents)
    found = run(store, "cash_structuring")
    assert [f.entities[0] for f in found] == ["P"]
    assert {s.entity_id for s in found[0].steps} == {"s0", "s1", "s2", "s3"}
    assert run(store, "cash_structuring", threshold=1_000_000.0) == []


def test_stablecoin_rails(store: Store, tmp_path: Path) -> None:
    ents = [
        company("D1", "Moscow Desk", "ru"),
        company("D2", "Dubai Desk", "ae"),
        E("W0", "CryptoWallet", publicKey="TW0", holder="D1"),
        E("W9", "CryptoWallet", publicKey="TW9", holder="D2"),
    ]

    def t(tid: str, a: str, b: str, amount: float, ts: str) -> dict:
        return E(tid, "CryptoTransfer", sourceWallet=a, targetWallet=b, amount=amount,
                 currency="USDT", date=ts)  # fmt: skip

    for k in range(3):  # fan-out / fan-in
        ents += [
            E(f"F{k}", "CryptoWallet", publicKey=f"TF{k}"),
            t(f"fo{k}", "W0", f"F{k}", 10000, "2024-06-01T10:00:00"),
            t(f"fi{k}", f"F{k}", "W9", 9700, "2024-06-02T10:00:00"),
        ]
    ents += [  # a peel chain
        t("p0", "W0", "P1", 30000, "2024-07-01T10:00:00"),
        t("p1", "P1", "P2", 29000, "2024-07-02T10:00:00"),
        t("s1", "P1", "S1", 1000, "2024-07-02T10:00:00"),
        t("p2", "P2", "P3", 28500, "2024-07-03T10:00:00"),
        t("s2", "P2", "S2", 500, "2024-07-03T10:00:00"),
        t("p3", "P3", "W9", 28400, "2024-07-04T10:00:00"),
    ]
    for k in range(6):  # retail traffic between wallets used many times
        for j in range(4):
            ents.append(t(f"r{k}{j}", f"R{k}", f"R{(k + j + 1) % 6}", 50 + 37 * k + 11 * j,
                          f"2024-0{j + 1}-1{k}T12:00:00"))  # fmt: skip
    load(store, tmp_path, ents)
    found = run(store, "stablecoin_rail")
    patterns = sorted((f.metrics["width"], f.metrics["length"]) for f in found)
    assert patterns == [(1.0, 3.0), (3.0, 1.0)]
    for f in found:
        assert {"D1", "D2"} <= set(f.entities)
        assert not any(s.entity_id and s.entity_id.startswith("r") for s in f.steps)
    assert run(store, "stablecoin_rail", min_value_usd=1e6) == []


# ---------------------------------------------------------------- parties


def test_sanctions_proximity(store: Store, tmp_path: Path) -> None:
    registry = [
        company("L", "OOO Listed", "ru", address="Moscow, Lenina 1", phone="+74951234567",
                incorporationDate="2015-01-01"),
        E("D", "Person", name="Ivan Nominee"),
        E("dl", "Directorship", director="D", organization="L"),
        # set up with the listed party's director, address and phone two weeks after
        company("S", "OOO Successor", "ru", address="Moscow, Lenina 1", phone="+74951234567",
                incorporationDate="2024-03-10"),
        E("ds", "Directorship", director="D", organization="S"),
        # an old neighbour at the same address
        company("N", "OOO Neighbour", "ru", address="Moscow, Lenina 1",
                incorporationDate="2010-05-05"),
        company("Rreg", "OOO New Name", "ru", previousName="OOO Old Name", innCode="7701234567"),
    ]  # fmt: skip
    listing = [
        E("Llist", "Company", name="OOO Listed", topics="sanction"),
        E("san", "Sanction", entity="Llist", listingDate="2024-02-23", program="RUSSIA"),
        E("Rlist", "Company", name="OOO Old Name", innCode="7701234567"),
        E("san2", "Sanction", entity="Rlist", listingDate="2023-06-23", program="RUSSIA"),
    ]
    load(store, tmp_path, registry, "registry")
    load(store, tmp_path, listing, "sanctions")
    merge(store, ["L", "Llist"], "test")
    merge(store, ["Rreg", "Rlist"], "test")
    found = run(store, "sanctions_proximity")
    subjects = sorted(f.entities[0] for f in found)
    canonical = dict(store.con.execute("SELECT entity_id, canonical_id FROM resolution").fetchall())
    assert subjects == sorted(["S", canonical["Rreg"]])
    successor = next(f for f in found if f.entities[0] == "S")
    assert successor.metrics["ties"] == 3.0 and successor.metrics["setup_days"] == 16.0
    assert successor.steps[0].entity_id == "san"
    # every entity within reach when the bar is lowered
    wide = run(store, "sanctions_proximity", min_score=0.0)
    assert {"N", "D"} <= {f.entities[0] for f in wide}


def test_sanctions_proximity_through_merged_records(store: Store, tmp_path: Path) -> None:
    """A substitute is found when resolution merged its register entry with an older
    namesake or with a listed one, and when it answers a later listing of its party."""
    registry = [
        company("L", "OOO Listed", "ru", address="Moscow, Lenina 1", phone="+74951234567",
                incorporationDate="2015-01-01"),
        E("D", "Person", name="Ivan Nominee"),
        E("dl", "Directorship", director="D", organization="L"),
        # set up with L's director, address and phone after its listing; its register
        # entry was merged with an old company of the same name
        company("S1", "OOO Alfa", "ru", address="Moscow, Lenina 1", phone="+74951234567",
                incorporationDate="2024-03-10", registrationNumber="1247700000001"),
        E("ds1", "Directorship", director="D", organization="S1"),
        company("O1", "OOO Alfa", "ru", address="Tver, Sadovaya 3",
                incorporationDate="2001-04-04", registrationNumber="1027700000002"),
        # set up the same way; merged with a listed namesake
        company("S2", "OOO Beta", "ru", address="Moscow, Lenina 1", phone="+74951234567",
                incorporationDate="2024-03-12"),
        E("ds2", "Directorship", director="D", organization="S2"),
        # M is listed twice; S3 is set up with its people and premises after the second
        company("M", "OOO Second", "ru", address="Kazan, Baumana 9", phone="+78432000000",
                incorporationDate="2012-02-02"),
        E("D2", "Person", name="Oleg Proxy"),
        E("dm", "Directorship", director="D2", organization="M"),
        company("S3", "OOO Gamma", "ru", address="Kazan, Baumana 9", phone="+78432000000",
                incorporationDate="2024-06-20"),
        E("ds3", "Directorship", director="D2", organization="S3"),
        # a listed party tied to L by its director, set up long before: not a finding
        company("Z", "OOO Old Listed", "ru", incorporationDate="2005-05-05"),
        E("dz", "Directorship", director="D", organization="Z"),
    ]  # fmt: skip
    listing = [
        E("Llist", "Company", name="OOO Listed"),
        E("san", "Sanction", entity="Llist", listingDate="2024-02-23", program="RUSSIA"),
        E("Klist", "Company", name="OOO Beta"),
        E("sank", "Sanction", entity="Klist", listingDate="2022-05-01", program="RUSSIA"),
        E("Mlist", "Company", name="OOO Second"),
        E("sanm1", "Sanction", entity="Mlist", listingDate="2022-01-10", program="RUSSIA"),
        E("sanm2", "Sanction", entity="Mlist", listingDate="2024-06-01", program="EU"),
        E("Zlist", "Company", name="OOO Old Listed"),
        E("sanz", "Sanction", entity="Zlist", listingDate="2024-02-23", program="RUSSIA"),
    ]
    load(store, tmp_path, registry, "registry")
    load(store, tmp_path, listing, "sanctions")
    for ids in (["L", "Llist"], ["S1", "O1"], ["S2", "Klist"], ["M", "Mlist"], ["Z", "Zlist"]):
        merge(store, ids, "test")
    canonical = dict(store.con.execute("SELECT entity_id, canonical_id FROM resolution").fetchall())
    found = {f.entities[0]: f for f in run(store, "sanctions_proximity")}
    assert set(found) == {canonical["S1"], canonical["S2"], "S3"}
    assert found[canonical["S1"]].metrics["setup_days"] == 16.0
    assert found[canonical["S2"]].metrics["setup_days"] == 18.0
    third = found["S3"]
    assert third.metrics["setup_days"] == 19.0
    assert third.steps[0].entity_id == "sanm2" and third.steps[0].date == "2024-06-01"
    assert third.steps[-1].date == "2024-06-20"


def test_front_companies(store: Store, tmp_path: Path) -> None:
    ents = [E("nom", "Person", name="Petr Nominee")]
    for k, country in enumerate(["ru", "kz", "ru"]):
        ents += [
            company(f"C{k}", f"Front {k}", country, address="Rostov, Mira 5",
                    incorporationDate=f"2024-0{k + 1}-01"),
            E(f"dc{k}", "Directorship", director="nom", organization=f"C{k}"),
        ]  # fmt: skip
    ents += [
        company("C3", "Front 3", "ru", address="Rostov, Mira 5", incorporationDate="2024-05-01"),
        company("old", "Old Plant", "ru", address="Tula, Zavodskaya 1",
                incorporationDate="1998-01-01"),
        company("new", "New Shop", "ru", address="Tula, Lesnaya 2", incorporationDate="2024-02-01"),
    ]  # fmt: skip
    load(store, tmp_path, ents)
    found = {f.entities[0]: f for f in run(store, "front_company")}
    assert set(found) == {"C0", "C1", "C2", "C3"}
    assert found["C0"].metrics["nominee"] == 1.0 and found["C3"].metrics["nominee"] == 0.0
    assert found["C0"].score > found["C3"].score


def test_infrastructure_dependency(store: Store, tmp_path: Path) -> None:
    ents = [
        company("op", "Donbass Telecom", "ru"),
        company("V", "Huaxin Telecom", "cn"),
        company("W", "Nordic Radio", "se"),
        company("sup", "OOO Supplier", "ru"),
        company("parts", "OOO Parts", "ru"),
    ]
    for k in range(5):
        ents.append(
            E(f"bs{k}", "Equipment", name=f"BS {k}", category="base_station",
              manufacturer="V" if k < 3 else "W", operator="op", supplier="sup",
              partsSupplier="parts", servesPopulation=1000)
        )  # fmt: skip
    load(store, tmp_path, ents)
    found = run(store, "infrastructure_dependency")
    assert len(found) == 1
    f = found[0]
    assert f.entities[:2] == ("op", "V")
    assert f.metrics["assets"] == 3.0 and f.metrics["share_of_operator"] == pytest.approx(0.6)
    assert f.metrics["assets_cn"] == 3.0 and f.metrics["assets_se"] == 2.0
    assert len(run(store, "infrastructure_dependency", supplier_countries=["cn", "se"])) == 2


def test_dprk_labour(store: Store, tmp_path: Path) -> None:
    ents = [
        company("E1", "OOO Stroy", "ru"),
        company("E2", "OOO Les", "ru"),
        company("K", "Rungra Labour Bureau", "kp"),
        company("F", "OOO Tavriya Import", "ru"),
        E("c1", "LabourContract", employer="E1", labourSupplier="K", workerCount=40,
          workerNationality="kp", status="active", startDate="2023-01-01",
          endDate="2026-01-01"),
        E("c2", "LabourContract", employer="E2", labourSupplier="F", workerCount=30,
          workerNationality="cn", status="active", startDate="2023-01-01",
          endDate="2026-01-01"),
        E("c3", "LabourContract", employer="E1", labourSupplier="K", workerCount=50,
          workerNationality="kp", status="requested", startDate="2025-03-01"),
        company("G", "OOO Ordinary Agency", "ru"),
        E("c4", "LabourContract", employer="E2", labourSupplier="G", workerCount=10,
          workerNationality="uz", status="active", startDate="2023-01-01"),
    ]  # fmt: skip
    for q, day in enumerate(["2023-03-31", "2023-06-30", "2023-09-30"]):
        ents.append(payment(f"q{q}", "E1", "F", 96000 * 88, "RUB", day))
    load(store, tmp_path, ents)
    found = {f.steps[0].entity_id: f for f in run(store, "dprk_labour")}
    assert set(found) == {"c1", "c2"}
    assert found["c1"].metrics["payments"] == 3.0
    assert found["c2"].metrics["via_front"] == 1.0


def test_ownership_chains(store: Store, tmp_path: Path) -> None:
    ents = [company(x, f"Company {x}", c) for x, c in
            (("A", "cy"), ("B", "ru"), ("C", "ru"), ("D", "ru"), ("X", "ru"), ("Y", "vg"))]  # fmt: skip
    for k, (a, b) in enumerate([("A", "B"), ("B", "C"), ("C", "D"), ("X", "Y"), ("Y", "X")]):
        ents.append(E(f"o{k}", "Ownership", owner=a, asset=b, percentage=100))
    load(store, tmp_path, ents)
    found = run(store, "ownership_chain")
    chains = [f for f in found if not f.metrics["circular"]]
    cycles = [f for f in found if f.metrics["circular"]]
    assert [f.entities for f in chains] == [("D", "C", "B", "A")]
    assert chains[0].metrics["countries"] == 2.0
    assert len(cycles) == 1 and set(cycles[0].entities) == {"X", "Y"}
    assert [
        f for f in run(store, "ownership_chain", min_depth=4) if not f.metrics["circular"]
    ] == []
