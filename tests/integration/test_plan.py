"""Planning on a small simulated world: a dismantle plan with evidence, the plan applied
to the world that adapts, what-if policies moving volume the expected way, a
replacement schedule within budget, and the report's data."""

import datetime as dt
import json

import pytest

from shadowtrace.ingest import ingest
from shadowtrace.plan.adapt import WorldRef, party_ids, unperturbed_world
from shadowtrace.plan.dismantle import DismantleOptions, evaluate, plan_dismantle, save
from shadowtrace.plan.replace import plan_replace
from shadowtrace.plan.replace import save as save_replace
from shadowtrace.plan.report import plan_report_data
from shadowtrace.plan.restore import example_policies, observed_channels, whatif
from shadowtrace.simulate import simulate
from shadowtrace.store import Store

SCALE = 0.02
SEED = 5
FROM = dt.date(2024, 7, 1)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan-world")
    simulate("default", seed=SEED, scale=SCALE, out=out)
    return WorldRef.read(out)


@pytest.fixture(scope="module")
def store(world, tmp_path_factory):
    st = Store.open(tmp_path_factory.mktemp("plan-store") / "store.duckdb")
    ingest(st, [str(world.path)])
    yield st
    st.close()


@pytest.fixture(scope="module")
def unperturbed(world, tmp_path_factory):
    return unperturbed_world(world, tmp_path_factory.mktemp("unperturbed"))


@pytest.fixture(scope="module")
def plan(store):
    return plan_dismantle(store, DismantleOptions(budget=6, from_date=FROM, time_limit=60))


def test_dismantle_plan_with_evidence(store, plan):
    assert len(plan.targets) == 6
    assert plan.result.method == "exact"
    assert plan.result.gap <= 1e-6
    assert plan.result.cut > 0
    entities = [t for t in plan.targets if t.target.kind == "entity"]
    for t in plan.targets:
        assert t.explanation
        assert t.flow_through >= 0
    for t in entities:
        records = t.evidence["records"]
        assert records, t.target.caption
        statements = [s for r in records for s in r["statements"]]
        assert statements
        assert all(s["source"] and s["source_row"] for s in statements)
    plan_id = save(store, plan)
    n = store.con.execute("SELECT count(*) FROM plan_targets WHERE plan_id = ?", [plan_id])
    assert n.fetchall()[0][0] == 6


def test_plan_as_policy_maps_to_parties(store, world, plan):
    parties = party_ids(store, world, [t.target.id for t in plan.targets])
    entity_ids = [t.target.id for t in plan.targets if t.target.kind == "entity"]
    assert all(parties.get(e, "").startswith("ent-") for e in entity_ids)
    pol = plan.policy(parties)
    assert pol["from_date"] == FROM.isoformat()
    assert len(pol["sanction"]) + len(pol["close_channels"]) == 6


def test_plan_removes_flow_in_the_adapting_world(store, world, plan, tmp_path):
    rows = evaluate(store, plan, world=world, workdir=tmp_path, baselines=False)
    by_stage = {r.stage: r for r in rows if r.strategy == "plan"}
    assert set(by_stage) == {"model_static", "model_adapted", "truth_static", "truth_adapted"}
    truth = by_stage["truth_adapted"]
    assert truth.base > 0
    assert 0 < truth.removed <= truth.base
    # what the world removes after adapting cannot exceed the value the plan touched,
    # except for flows a closed channel stops without passing through it
    assert by_stage["truth_static"].removed > 0


def test_whatif_moves_volume_the_expected_way(world, unperturbed, tmp_path):
    pols = example_policies()
    closed = whatif(world, pols["close-shadow-channels"], tmp_path, unperturbed=unperturbed)
    t = closed.totals()
    assert t["shadow_after"] < 0.05 * t["shadow_before"]
    assert t["blocked_after"] > t["blocked_before"]
    assert t["transparent_after"] == pytest.approx(t["transparent_before"])
    opened = whatif(world, pols["open-correspondent"], tmp_path, unperturbed=unperturbed)
    o = opened.totals()
    assert o["transparent_after"] > o["transparent_before"]
    assert o["shadow_after"] < o["shadow_before"]
    assert o["fees_after_high"] < o["fees_before_high"]


def test_replace_within_budget(store):
    plan = plan_replace(store, 60e6, 2)
    phases = plan.summary["phases"]
    assert len(phases) == 2
    assert all(p["spent"] <= p["budget"] + 1e-6 for p in phases)
    assert phases[1]["budget"] == pytest.approx(30e6 + phases[0]["budget"] - phases[0]["spent"])
    assert sum(r["cost"] for r in plan.rows) == pytest.approx(plan.summary["spent"])
    assert all(0 < r["replaced"] <= r["units"] for r in plan.rows)
    # the most critical per dollar go first: phase 1 restores at least as much as phase 2
    assert phases[0]["criticality_restored"] >= phases[1]["criticality_restored"]
    save_replace(store, plan)


def test_observed_channels_and_report(store, plan):
    rows = {r.channel: r for r in observed_channels(store)}
    assert rows["cash_yuan"].volume > 0 and rows["refused"].volume > 0
    assert rows["cash_yuan"].fees_high == pytest.approx(0.15 * rows["cash_yuan"].volume)
    data = plan_report_data(store)
    assert data is not None and data["dismantle"]["targets"]
    json.dumps(data, default=str)


def test_commands(store, tmp_path):
    import typer
    from typer.testing import CliRunner

    from shadowtrace.plan.commands import register

    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    runner = CliRunner()
    path = store.path
    store.close()  # the commands open the store themselves
    try:
        res = runner.invoke(
            app,
            ["plan", "replace", "--budget", "20000000", "--phases", "2", "--store", path, "--json"],
        )
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert data["plan_id"].startswith("replace-")
        assert data["summary"]["spent"] <= 20_000_000
        policy = tmp_path / "plan.yml"
        res = runner.invoke(
            app,
            [
                "plan",
                "dismantle",
                "--budget",
                "3",
                "--from",
                "2024-07-01",
                "--store",
                path,
                "--policy-out",
                str(policy),
                "--json",
            ],
        )
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert len(data["targets"]) == 3 and data["solver"]["method"] in ("exact", "heuristic")
        from shadowtrace.simulate import load_policy

        assert load_policy(policy).from_date == FROM
    finally:
        store.con = Store.open(path).con  # later fixtures' users keep a live store
