"""The report's data, gathered from a small store with hand-made findings."""

from __future__ import annotations

import json
import math

import pytest

import report_world
from report_world import FILE, HOSTILE, HOSTILE_NAME, ROW
from shadowtrace.detect import Finding
from shadowtrace.report import ReportOptions, Section, gather
from shadowtrace.report.context import ReportContext
from shadowtrace.report.data import findings, flows, inventory, overview, sources
from shadowtrace.resolve.run import merge
from shadowtrace.store import Store


def section(report: dict, sid: str) -> dict:
    return next(s["data"] for s in report["sections"] if s["id"] == sid)


def test_gather_is_plain_json(world):
    store, _ = world
    report = gather(store)
    text = json.dumps(report, allow_nan=False)  # no NaN, dates, decimals or sets
    assert json.loads(text) == report
    assert [s["id"] for s in report["sections"]] == [
        "overview", "findings", "flows", "inventory", "sources",
    ]  # fmt: skip
    assert report["meta"]["format"] == 1
    assert report["meta"]["store"] == "world.duckdb"  # the file name, not the path


def test_empty_store_leaves_out_empty_sections():
    with Store.open(":memory:") as store:
        report = gather(store)
    assert [s["id"] for s in report["sections"]] == ["overview", "findings"]
    assert section(report, "findings") == {
        "total": 0, "typologies": [], "shown": 0, "findings": [], "entities": {},
    }  # fmt: skip
    figures = {f["key"]: f["value"] for f in section(report, "overview")["figures"]}
    assert figures["records"] == 0 and figures["findings"] == 0


def test_headline_figures(world):
    store, _ = world
    data = overview(ReportContext(store))
    figures = {f["key"]: f["value"] for f in data["figures"]}
    assert figures["records"] == len(report_world.ENTITIES)
    assert figures["entities"] == len(report_world.ENTITIES)
    assert figures["sources"] == 1 and figures["datasets"] == 1
    assert figures["findings"] == 3
    assert figures["sanctioned"] == 1
    # 880,000 RUB at 88 + 7,200 CNY at 7.2 + 5,000 USDT; the rejected 72,000 CNY apart
    assert figures["money"] == pytest.approx(10_000 + 1_000 + 5_000)
    assert figures["rejected"] == pytest.approx(10_000)
    # customs values at each declaration's own dollar rate
    assert figures["goods"] == pytest.approx(100_000 + 110_000)
    assert figures["equipment"] == 3
    assert data["period"] == {"from": "2024-02", "to": "2024-03"}
    assert {t["typology"]: t["count"] for t in data["typologies"]} == {
        "transshipment": 1, "rerouted_payment": 1, "sanctions_proximity": 1,
    }  # fmt: skip


def test_findings_ranked_with_steps(world):
    store, found = world
    data = findings(ReportContext(store))
    assert data["total"] == data["shown"] == 3
    assert [f["score"] for f in data["findings"]] == sorted((f.score for f in found), reverse=True)
    assert [f["rank"] for f in data["findings"]] == [1, 2, 3]
    top = data["findings"][0]
    assert top["typology"] == "transshipment"
    assert top["typology_label"] == "Transshipment"
    assert top["metrics"] == {"days": 14, "markup": 0.1}
    assert [(s["step"], s["source"], s["target"]) for s in top["steps"]] == [
        (0, "cn-tongju", "kz-steppe"), (1, "kz-steppe", "ru-ural"),
    ]  # fmt: skip
    assert top["steps"][0]["amount"] == 8_800_000 and top["steps"][0]["currency"] == "RUB"


def test_evidence_down_to_file_and_row(world):
    store, _ = world
    data = findings(ReportContext(store))
    top = data["findings"][0]
    for step, record in zip(top["steps"], ("decl-1", "decl-2"), strict=True):
        (rec,) = step["evidence"]  # one record per step here
        # the first step's evidence was saved without file and row: looked up
        assert rec["source"] == FILE
        assert rec["source_row"] == ROW[record]
        assert rec["entity_id"] == record and "canonical_id" not in rec  # not merged
        assert rec["dataset"] == "report_world" and rec["schema"] == "CustomsDeclaration"
        assert step["evidence_total"] == len(rec["statements"])
        for st in rec["statements"]:
            assert "source" not in st and "missing" not in st  # the record's file and row
            assert len(st["id"]) == 40
    props = {st["prop"]: st for st in top["steps"][0]["evidence"][0]["statements"]}
    assert props["customsAmount"]["value"] == "8800000"
    # an entity-typed value names its entity, whose caption the page shows
    assert props["sender"]["ref"] == "cn-tongju"
    assert data["entities"]["cn-tongju"]["caption"].startswith("Xuzhou Tongju")
    # in the order the detector gave
    order = [st["prop"] for st in top["steps"][0]["evidence"][0]["statements"]]
    assert order == sorted(order)


def test_evidence_of_a_statement_no_longer_in_the_store(fresh_world):
    store, _ = fresh_world
    store.con.execute(
        "UPDATE finding_evidence SET statement_id = 'gone', source = NULL, source_row = NULL "
        "WHERE entity_id = 'decl-1' AND prop = 'date'"
    )
    data = findings(ReportContext(store))
    rec = data["findings"][0]["steps"][0]["evidence"][0]
    (gone,) = [st for st in rec["statements"] if st["id"] == "gone"]
    assert gone["missing"] and gone["source"] is None and gone["source_row"] is None


def test_evidence_is_bounded(world):
    store, _ = world
    data = findings(ReportContext(store, ReportOptions(max_evidence=2)))
    step = data["findings"][0]["steps"][0]
    assert len(step["evidence"][0]["statements"]) == 2
    assert step["evidence_total"] > 2


def test_max_findings(world):
    store, _ = world
    opts = ReportOptions(max_findings=1, min_per_typology=0)
    data = findings(ReportContext(store, opts))
    assert data["total"] == 3 and data["shown"] == 1
    assert data["findings"][0]["typology"] == "transshipment"
    # the best of each typology is shown however low its scores run
    data = findings(ReportContext(store, ReportOptions(max_findings=1, min_per_typology=1)))
    assert data["shown"] == 3
    assert [f["rank"] for f in data["findings"]] == [1, 2, 3]  # ranks among all findings


def test_finding_graph(world):
    store, _ = world
    data = findings(ReportContext(store))
    reroute = data["findings"][1]
    nodes = {n["id"]: n for n in reroute["graph"]["nodes"]}
    assert set(nodes) == {"ru-ural", "cn-tongju", "kz-steppe"}
    assert all(n["focus"] for n in nodes.values())
    assert [(e["source"], e["target"], e["step"]) for e in reroute["graph"]["edges"]] == [
        ("ru-ural", "cn-tongju", 0), ("ru-ural", "kz-steppe", 1), ("kz-steppe", "cn-tongju", 2),
    ]  # fmt: skip
    hostile = data["findings"][2]
    # the sanction entity is a step's end, not one of the finding's entities
    assert {n["id"]: n["focus"] for n in hostile["graph"]["nodes"]}["sanction-1"] is False
    ent = data["entities"]
    assert ent["hostile"]["sanctioned"] and not ent["ru-ural"]["sanctioned"]
    assert ent["ru-ural"]["country"] == "ru" and ent["ru-ural"]["schema"] == "Company"
    assert data["countries"]["ru"] == "Russia"


def test_findings_follow_merges(fresh_world):
    store, _ = fresh_world
    canonical = merge(store, ["kz-steppe", "ru-ural"], user="test")
    data = findings(ReportContext(store))
    reroute = data["findings"][1]
    ends = {x for s in reroute["steps"] for x in (s["source"], s["target"])}
    assert canonical in ends
    assert not ({"kz-steppe", "ru-ural"} - {canonical}) & ends
    assert data["entities"][canonical]["records"] == 2
    # evidence names what a merged record now belongs to
    pay = reroute["steps"][1]["evidence"][0]["statements"]
    assert {st["prop"]: st.get("ref") for st in pay}["payer"] == canonical


def test_best_of_each_typology_go_in_first(fresh_world):
    store, found = fresh_world
    chain = found[0]
    better = Finding.make("transshipment", 0.99, "A better chain", chain.entities, chain.steps[:1])
    report_world.save_findings(store, [better])
    everything = findings(ReportContext(store, ReportOptions(max_findings=2, min_per_typology=1)))
    assert [f["score"] for f in everything["findings"]] == [0.99, 0.92, 0.81, 0.55]
    sizes = [len(json.dumps(f, ensure_ascii=False, separators=(",", ":")))
             for f in everything["findings"]]  # fmt: skip
    # room for three: the second transshipment (rank 2) makes way for the best of the
    # other typologies (ranks 3 and 4)
    opts = ReportOptions(max_findings=2, min_per_typology=1,
                         max_findings_bytes=sizes[0] + sizes[2] + sizes[3] + 10)  # fmt: skip
    data = findings(ReportContext(store, opts))
    assert [f["rank"] for f in data["findings"]] == [1, 3, 4]


def test_findings_within_a_size_budget(world):
    store, _ = world
    everything = findings(ReportContext(store))
    sizes = {f["id"]: len(json.dumps(f, ensure_ascii=False, separators=(",", ":")))
             for f in everything["findings"]}  # fmt: skip
    first, second, _ = everything["findings"]
    # room for the best two: the third (lowest rank) is left out
    budget = sizes[first["id"]] + sizes[second["id"]] + 10
    data = findings(ReportContext(store, ReportOptions(max_findings_bytes=budget,
                                                       min_per_typology=0)))  # fmt: skip
    assert [f["id"] for f in data["findings"]] == [first["id"], second["id"]]
    assert data["total"] == 3 and data["shown"] == 2
    # always at least one, and only the entities the findings shown need
    data = findings(ReportContext(store, ReportOptions(max_findings_bytes=1)))
    assert data["shown"] == 1
    assert "person-ivanov" not in data["entities"]


def test_hostile_text_is_kept_as_data_and_clipped(world):
    store, _ = world
    data = findings(ReportContext(store, ReportOptions(max_text=500)))
    hostile = data["findings"][2]
    assert hostile["title"] == HOSTILE + " directs a sanctioned company"
    assert data["entities"]["hostile"]["caption"].startswith(HOSTILE)
    assert len(data["entities"]["hostile"]["caption"]) == 500
    values = [
        st["value"] for s in hostile["steps"] for r in s["evidence"] for st in r["statements"]
    ]
    assert all(len(v) <= 500 for v in values)


def test_money_flows_by_channel(world):
    store, _ = world
    data = flows(ReportContext(store))
    assert data is not None
    channels = {c["key"]: c for c in data["money"]["channels"]}
    assert set(channels) == {"bank", "bank:rejected", "app:Alipay", "crypto:USDT"}
    assert channels["bank:rejected"]["rejected"] and not channels["bank"]["rejected"]
    assert channels["bank"]["value_usd"] == pytest.approx(10_000)
    assert channels["app:Alipay"]["label"] == "App payment (Alipay)"
    links = {(x["from"], x["channel"], x["to"]): x["value_usd"] for x in data["money"]["links"]}
    assert links == pytest.approx({
        ("ru", "bank", "kz"): 10_000.0,
        ("ru", "bank:rejected", "cn"): 10_000.0,
        ("kz", "app:Alipay", "cn"): 1_000.0,
        # the source wallet's holder is known, the target wallet's is not
        ("kz", "crypto:USDT", None): 5_000.0,
    })  # fmt: skip
    assert {m["month"] for m in data["money"]["monthly"]} == {"2024-02"}
    assert data["rates"] == {"CNY": 1 / 7.2, "RUB": 1 / 88.0, "USDT": 1.0}


def test_goods_flows_by_route(world):
    store, _ = world
    goods = flows(ReportContext(store))["goods"]
    routes = {(r["origin"], r["via"], r["destination"]): r for r in goods["routes"]}
    assert set(routes) == {("cn", None, "kz"), ("cn", "kz", "ru")}
    assert routes[("cn", "kz", "ru")]["value_usd"] == pytest.approx(110_000)
    assert {(m["month"], m["route"]) for m in goods["monthly"]} == {
        ("2024-03", "direct"), ("2024-03", "transit"),
    }  # fmt: skip
    assert goods["chapters"][0]["chapter"] == "85"
    assert goods["chapters"][0]["goods"] == "Base station parts"


def test_custom_rates(world):
    store, _ = world
    opts = ReportOptions(rates_to_usd={"RUB": 0.01, "CNY": 0.1})
    data = flows(ReportContext(store, opts))
    channels = {c["key"]: c for c in data["money"]["channels"]}
    assert channels["bank"]["value_usd"] == pytest.approx(8_800)
    assert channels["crypto:USDT"]["value_usd"] == 0 and channels["crypto:USDT"]["unpriced"] == 1
    assert data["unpriced_currencies"] == ["USDT"]


def test_inventory(world):
    store, _ = world
    data = inventory(ReportContext(store))
    assert data is not None
    assert data["total"] == {"items": 3, "chinese": 2, "sanctioned": 1, "people_served": 1500}
    cats = {c["category"]: c for c in data["categories"]}
    assert cats["base_station"]["items"] == 2 and cats["base_station"]["chinese"] == 2
    assert cats["excavator"]["chinese"] == 0
    # companies are FtM assets too, but not installed equipment
    assert sum(c["items"] for c in data["categories"]) == 3
    assert {(o["country"], o["category"]): o["items"] for o in data["origins"]} == {
        ("cn", "base_station"): 2, ("kz", "excavator"): 1,
    }  # fmt: skip
    sup = {(s["id"], s["role"]): s for s in data["suppliers"]}
    assert sup[("cn-tongju", "manufacturer")]["items"] == 2
    assert data["entities"]["hostile"]["sanctioned"]
    (op,) = data["operators"]
    assert op["id"] == "ru-ural" and op["items"] == 3 and op["sanctioned_suppliers"] == 1
    assert op["sites"] == 3 and op["regions"] == ["Other region", "Test region"]
    assert data["sites_total"] == 3
    site = {x["site"]: x for x in data["sites"]}["BS Site 2"]
    assert site["sanctioned"] == 1 and site["chinese"] == 1 and site["operators"] == ["ru-ural"]


def test_inventory_counts_hong_kong_when_asked(world):
    store, _ = world
    data = inventory(ReportContext(store, ReportOptions(chinese_countries=frozenset({"kz"}))))
    assert data["total"]["chinese"] == 1


def test_sources(world):
    store, _ = world
    data = sources(ReportContext(store))
    (src,) = data["sources"]
    assert src["name"] == FILE and src["rows_in"] == len(report_world.ENTITIES)


def test_pluggable_section(world):
    store, _ = world

    def gather_plan(ctx: ReportContext) -> dict:
        n = ctx.store.scalar("SELECT count(*) FROM findings")
        return {"targets": int(n)}

    plan = Section("plan", "Interdiction plan", gather_plan, order=50)
    report = gather(store, sections=[plan, Section("empty", "Empty", lambda ctx: None)])
    assert report["sections"] == [
        {"id": "plan", "title": "Interdiction plan", "description": "", "data": {"targets": 3}}
    ]


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-inf", "1e400"])
def test_no_nan_in_report(fresh_world, bad):
    store, _ = fresh_world
    store.con.execute(
        "UPDATE statements SET value = ? WHERE entity_id IN ('pay-app', 'bs-1') "
        "AND prop IN ('amount', 'servesPopulation')",
        [bad],
    )
    report = gather(store)
    json.dumps(report, allow_nan=False)
    channels = {c["key"]: c for c in section(report, "flows")["money"]["channels"]}
    assert math.isfinite(channels["app:Alipay"]["value_usd"])


def test_hostile_name_in_world():
    assert HOSTILE_NAME.startswith(HOSTILE) and len(HOSTILE_NAME) > 10_000
