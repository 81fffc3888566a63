"""The detection framework: parameters (hostile values), the plugin registry, runs that
write findings with evidence, and the graph."""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from shadowtrace import registry as plugin_registry
from shadowtrace.detect.base import DetectContext, Param, check_params
from shadowtrace.detect.commands import parse_params
from shadowtrace.detect.evidence import EVIDENCE_ORDER
from shadowtrace.detect.finding import Evidence, Finding, Step
from shadowtrace.detect.registry import detectors, get_detector
from shadowtrace.detect.run import detect
from shadowtrace.errors import ConfigError, NotFound
from shadowtrace.graph import Graph, build_edges, edges_current
from shadowtrace.store import Store

from .worlds import E, company, load, payment


class Planted:
    """A third-party detector: one finding per rejected payment, with its evidence."""

    name = "planted"
    title = "Planted"
    description = "Finds rejected payments."
    parameters: Mapping[str, Param] = {"min_amount": Param(0.0, "Smallest amount", minimum=0.0)}

    def detect(self, ctx: DetectContext) -> list[Finding]:
        rows = ctx.store.con.execute(
            "SELECT edge_id, source, target, amount FROM edges WHERE kind = 'payment' "
            "AND status = 'rejected' AND amount >= ? ORDER BY edge_id",
            [ctx.params["min_amount"]],
        ).fetchall()
        out = []
        for edge_id, source, target, amount in rows:
            ev = ctx.store.con.execute(
                "SELECT s.id, s.entity_id, s.prop, s.value, src.name, s.source_row "
                "FROM ftm_statements s JOIN sources src ON src.source_id = s.source_id "
                "WHERE s.canonical_id = ? AND s.prop IN ('amount', 'currency', 'date') "
                "ORDER BY s.prop DESC",  # an order of its own, kept as given
                [edge_id],
            ).fetchall()
            step = Step("payment", source, target, "rejected", entity_id=edge_id,
                        evidence=tuple(Evidence(*e) for e in ev))  # fmt: skip
            bare = Step("party", target, target, "the beneficiary", entity_id=target)
            out.append(Finding.make("planted", 0.5, f"{amount}", (source, target), (step, bare)))
        return out


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    real = plugin_registry.entry_points

    def fake(group: str) -> Any:
        found = list(real(group=group))
        if group == "shadowtrace.detectors":
            found.append(EntryPoint("planted", f"{__name__}:Planted", "shadowtrace.detectors"))
        return found

    monkeypatch.setattr(plugin_registry, "entry_points", fake)
    plugin_registry.load_group.cache_clear()
    yield
    plugin_registry.load_group.cache_clear()


def world(store: Store, tmp_path: Path) -> None:
    load(
        store,
        tmp_path,
        [
            company("A", "OOO A", "ru", address="Moscow, Tverskaya 1", phone="+74950000001"),
            company("B", "B Co", "cn", address="Moscow, Tverskaya 1"),
            payment("p1", "A", "B", 1000, "CNY", "2024-01-01", status="rejected"),
            payment("p2", "A", "B", 2000, "CNY", "2024-01-02", status="accepted"),
        ],
    )


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, "3", None, True, [1], {"a": 1}, 2.5, -1, 10**9],
)
def test_hostile_integer_parameter(value: object) -> None:
    det = get_detector("sanctions_proximity")
    with pytest.raises(ConfigError):
        check_params(det, {"max_hops": value})


@pytest.mark.parametrize(
    "params",
    [
        {"fee_band": [0.2, 0.1]},  # low above high
        {"fee_band": [0.1]},
        {"fee_band": [0.1, 0.2, 0.3]},
        {"fee_band": "0.1-0.2"},
        {"fee_band": [0.1, math.nan]},
        {"in_window_days": [-5.5, 30]},
        {"fx_per_usd": {"RUB": 0}},  # a rate below the minimum
        {"fx_per_usd": {"RUB": "88"}},
        {"fx_per_usd": {1: 88.0}},
        {"fx_per_usd": [88.0]},
        {"max_layers": 10**6},
        {"no_such_parameter": 1},
    ],
)
def test_hostile_parameters(params: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        check_params(get_detector("rerouted_payment"), params)


def test_bad_parameters_fail_before_anything_is_written(store: Store, tmp_path: Path) -> None:
    world(store, tmp_path)
    detect(store, only=["rerouted_payment"])
    before = store.con.execute("SELECT count(*), max(run_id) FROM findings").fetchall()
    runs = store.scalar("SELECT count(*) FROM runs")
    for bad in ({"fee_band": [0.2, 0.1]}, {"weights": {"unknown_sign": 1.0}}):
        with pytest.raises(ConfigError):
            detect(store, params={"rerouted_payment": bad, "front_company": bad})
    with pytest.raises(ConfigError):
        detect(store, only=["front_company"], params={"front_company": {"weights": {"x": 1.0}}})
    assert store.con.execute("SELECT count(*), max(run_id) FROM findings").fetchall() == before
    assert store.scalar("SELECT count(*) FROM runs") == runs


def test_parameters_take_ints_for_floats_and_keep_defaults() -> None:
    det = get_detector("cash_structuring")
    got = check_params(det, {"threshold": 500000, "near_share": 1})
    assert got["threshold"] == 500000.0 and isinstance(got["threshold"], float)
    assert got["min_near"] == det.parameters["min_near"].default


def test_parse_params_reads_yaml_values() -> None:
    assert parse_params(["netting.fee_band=[0.05, 0.2]", "cash_structuring.min_near=2"]) == {
        "netting": {"fee_band": [0.05, 0.2]},
        "cash_structuring": {"min_near": 2},
    }
    for bad in ["netting", "netting=3", ".x=1", "netting.x=[1,"]:
        with pytest.raises(ConfigError):
            parse_params([bad])


def test_unknown_detector_and_stray_parameters(store: Store) -> None:
    with pytest.raises(NotFound):
        detect(store, only=["no_such_typology"])
    with pytest.raises(ConfigError):
        detect(store, params={"no_such_typology": {"x": 1}})


# ---------------------------------------------------------------- registry


def test_builtins_are_registered_with_documented_parameters() -> None:
    found = detectors()
    assert {
        "multilayer_transshipment", "rerouted_payment", "pass_through_intermediary", "netting",
        "stablecoin_rail", "cash_structuring", "sanctions_proximity", "front_company",
        "dual_use_supply", "infrastructure_dependency", "dprk_labour", "ownership_chain",
    } <= set(found)  # fmt: skip
    for name, det in found.items():
        assert det.name == name and det.title and det.description
        for key, p in det.parameters.items():
            assert p.doc, f"{name}.{key} is undocumented"
            check_params(det, {key: p.default})


def test_builtins_are_declared_in_pyproject() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[3]
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"][
        "shadowtrace.detectors"
    ]
    assert declared == plugin_registry.BUILTINS["shadowtrace.detectors"]


def test_third_party_detector_is_picked_up(plugin: None, store: Store, tmp_path: Path) -> None:
    assert "planted" in detectors()
    world(store, tmp_path)
    report = detect(store, only=["planted"])
    assert report.total == 1
    rows = store.con.execute(
        "SELECT f.typology, e.prop, e.value, e.source, e.source_row FROM findings f "
        "JOIN finding_evidence e USING (finding_id) WHERE e.step = 0 ORDER BY e.ord"
    ).fetchall()
    assert [(t, p, v, Path(src).name, row) for t, p, v, src, row in rows] == [
        ("planted", "date", "2024-01-01", "world.ijson", 3),
        ("planted", "currency", "CNY", "world.ijson", 3),
        ("planted", "amount", "1000", "world.ijson", 3),
    ]
    with pytest.raises(ConfigError):
        detect(store, only=["planted"], params={"planted": {"min_amount": -1}})


def test_a_detectors_evidence_keeps_its_order_and_a_bare_step_gets_the_default(
    plugin: None, store: Store, tmp_path: Path
) -> None:
    world(store, tmp_path)
    detect(store, only=["planted"])
    rows = store.con.execute(
        f"SELECT step, ord, prop, value FROM finding_evidence ORDER BY step, {EVIDENCE_ORDER}"
    ).fetchall()
    assert [(o, p) for s, o, p, _ in rows if s == 0] == [
        (0, "date"),
        (1, "currency"),
        (2, "amount"),
    ]
    party = [(o, p, v) for s, o, p, v in rows if s == 1]
    assert {p for _, p, _ in party} == {"name", "address", "country"}
    assert all(o is None for o, _, _ in party)
    assert [(p, v) for _, p, v in party] == sorted((p, v) for _, p, v in party)
    # a run that does not write gives the same evidence, in the same order
    (finding,) = detect(store, only=["planted"], write=False).findings
    shown = [(i, e.prop, e.value) for i, s in enumerate(finding.steps) for e in s.evidence]
    assert shown == [(s, p, v) for s, _, p, v in rows]


def test_a_plugin_that_is_not_a_detector_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(group: str) -> Any:
        return [EntryPoint("broken", "collections:OrderedDict", group)]

    monkeypatch.setattr(plugin_registry, "entry_points", fake)
    plugin_registry.load_group.cache_clear()
    try:
        with pytest.raises(ConfigError):
            detectors()
    finally:
        plugin_registry.load_group.cache_clear()


# ---------------------------------------------------------------- runs


def test_findings_are_written_with_evidence_that_points_to_source_rows(
    store: Store, tmp_path: Path
) -> None:
    world(store, tmp_path)
    detect(store)
    missing = store.scalar(
        "SELECT count(*) FROM finding_evidence e "
        "WHERE NOT EXISTS (SELECT 1 FROM ftm_statements s WHERE s.id = e.statement_id "
        "AND s.entity_id = e.entity_id AND s.prop = e.prop AND s.value = e.value)"
    )
    assert missing == 0
    assert store.scalar("SELECT count(*) FROM finding_evidence WHERE source IS NULL") == 0


def test_rerun_replaces_only_the_detectors_that_ran(
    plugin: None, store: Store, tmp_path: Path
) -> None:
    world(store, tmp_path)
    detect(store, only=["planted", "front_company"])
    first = store.con.execute("SELECT finding_id FROM findings ORDER BY 1").fetchall()
    detect(store, only=["planted"])
    assert store.con.execute("SELECT finding_id FROM findings ORDER BY 1").fetchall() == first
    assert store.scalar("SELECT count(DISTINCT run_id) FROM findings") == 1
    detect(store, only=["planted"], params={"planted": {"min_amount": 5000}})
    assert store.scalar("SELECT count(*) FROM findings WHERE detector = 'planted'") == 0


def test_read_only_store_refuses_to_write(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store.open(path) as st:
        world(st, tmp_path)
        detect(st)
    with Store.open(path, read_only=True) as ro, pytest.raises(ConfigError):
        detect(ro)
    with Store.open(path, read_only=True) as ro:
        assert detect(ro, write=False).edges > 0


# ---------------------------------------------------------------- graph


def test_edges_follow_the_store(store: Store, tmp_path: Path) -> None:
    world(store, tmp_path)
    report = build_edges(store)
    assert report.kinds["payment"] == 2
    assert report.kinds["shared_address"] == 1
    assert edges_current(store)
    load(store, tmp_path, [E("o", "Ownership", owner="A", asset="B")], "more")
    assert not edges_current(store)
    detect(store, only=["ownership_chain"])
    assert store.scalar("SELECT count(*) FROM edges WHERE kind = 'ownership'") == 1
    with pytest.raises(ConfigError):
        build_edges(store, max_group=1)


def test_shared_values_above_the_group_cap_make_no_edges(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, [company(f"c{i}", f"Company {i}", "ru", address="Mass address 1")
                           for i in range(5)])  # fmt: skip
    assert build_edges(store, max_group=5).kinds.get("shared_address") == 10
    assert "shared_address" not in build_edges(store, max_group=4).kinds


def test_graph_algorithms() -> None:
    g = Graph.from_edges(
        [
            ("a", "b", "ownership", None),
            ("b", "c", "ownership", None),
            ("c", "a", "ownership", None),
            ("c", "d", "ownership", None),
            ("x", "y", "shared_address", "street"),
        ]
    )
    assert g.components() == [["a", "b", "c", "d"], ["x", "y"]]
    assert sorted(map(sorted, g.cycles())) == [["a", "b", "c"]]
    # edges inside the cycle are left out of the longest paths
    assert sorted(g.longest_paths(1)) == [["c", "d"], ["x", "y"]]
    hops = g.within(["a"], 1, directed=True)
    assert set(hops) == {"b"}
    assert g.within(["x"], 3, kinds=["ownership"]) == {}
    assert g.edges_between("x", "y") == [("shared_address", "street")]
    with pytest.raises(ConfigError):
        g.within(["a"], -1)


# ---------------------------------------------------------------- command line


def test_detect_commands(tmp_path: Path) -> None:
    import json

    import typer
    from typer.testing import CliRunner

    from shadowtrace.detect.commands import register

    app = typer.Typer()
    register(app)
    path = tmp_path / "s.duckdb"
    with Store.open(path) as st:
        world(st, tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["detect", "--store", str(path), "--only", "rerouted_payment",
                                 "-p", "rerouted_payment.max_layers=2", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["detectors"][0]["params"]["max_layers"] == 2
    result = runner.invoke(app, ["detect", "--store", str(path), "-p", "rerouted_payment.x=1"])
    assert result.exit_code != 0
    listed = runner.invoke(app, ["detectors", "--json"])
    assert "sanctions_proximity" in json.loads(listed.stdout)


def test_a_narrow_pivot_reads_as_the_view_does(store: Store, tmp_path: Path) -> None:
    from shadowtrace.store.views import pivot_select_sql, view_named

    load(
        store,
        tmp_path,
        [
            company("A", "OOO A", "ru"),
            company("B", "B Co", "cn"),
            payment("p1", "A", "B", 1000, "CNY", "2024-01-01", status="rejected",
                    purpose="goods", amountUsd=140),
            payment("p2", "A", "B", "2,000.50", "CNY", "2024-01-02T10:00:00"),
            E("p3", "Payment", purpose="a payment that names no party"),
            E("t1", "CryptoTransfer", sourceWallet="w1", targetWallet="w2", amount=5,
              currency="USDT", date="2024-02-01"),
        ],
    )  # fmt: skip
    cols = ["payer", "beneficiary", "amount", "date", "timestamp", "status"]
    narrow = pivot_select_sql(view_named("payments"), cols)
    picked = ", ".join(["id", "schema", "dataset", *cols])
    got = store.con.execute(f"SELECT {picked} FROM ({narrow}) ORDER BY id").fetchall()
    want = store.con.execute(
        f"SELECT {picked} FROM payments WHERE id <> 'p3' ORDER BY id"
    ).fetchall()
    assert got == want and [r[0] for r in got] == ["p1", "p2", "t1"]
    with pytest.raises(ValueError):
        pivot_select_sql(view_named("payments"), ["payer", "no_such_column"])
