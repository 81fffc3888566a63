"""Knapsack correctness, replacement data, and plans as policy files."""

import datetime as dt
import itertools

import numpy as np
import pytest
import yaml

from shadowtrace.plan.adapt import policy_for
from shadowtrace.plan.baselines import random_targets, top_flow
from shadowtrace.plan.network import Target, network_from_arcs
from shadowtrace.plan.replace import knapsack, options
from shadowtrace.plan.restore import example_policies
from shadowtrace.simulate import load_policy


def brute_knapsack(values, costs, upper, budget):
    best = 0.0
    for ys in itertools.product(*(range(u + 1) for u in upper)):
        cost = sum(c * y for c, y in zip(costs, ys))
        if cost <= budget + 1e-9:
            best = max(best, sum(v * y for v, y in zip(values, ys)))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_knapsack_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    values = rng.uniform(0.1, 10, n).round(3).tolist()
    costs = rng.uniform(1, 10, n).round(2).tolist()
    upper = rng.integers(1, 4, n).tolist()
    budget = float(rng.uniform(3, 25))
    y, value, status = knapsack(values, costs, upper, budget)
    assert status == "Optimal"
    assert sum(c * k for c, k in zip(costs, y)) <= budget + 1e-6
    assert all(0 <= k <= u for k, u in zip(y, upper))
    assert value == pytest.approx(brute_knapsack(values, costs, upper, budget), rel=1e-4)


def test_knapsack_group_shares_units():
    # two options for one group of 2 units: together at most 2
    y, _, _ = knapsack([5.0, 4.0], [1.0, 1.0], [2, 2], 10.0, groups=[0, 0], group_upper={0: 2})
    assert sum(y) == 2 and y[0] == 2


def test_replacement_options_have_sources():
    opts = options()
    assert {"base_station", "excavator", "crusher", "screen", "tunnelling"} <= set(opts)
    for items in opts.values():
        for o in items:
            assert o.unit_cost > 0 and 0 < o.restores <= 1
            assert o.source.strip()


def test_plan_policy_round_trip(tmp_path):
    targets = [
        Target("c1", "entity", "sanction", None, "A"),
        Target("c2", "entity", "close", "otc_desk", "B"),
        Target("c3", "entity", "close", "cash_branch", "C"),
        Target("channel:netting", "channel", "close", "channel", "netting channel"),
        Target("c4", "entity", "sanction", None, "no party"),
    ]
    parties = {"c1": "ent-000001", "c2": "ent-000002", "c3": "ent-000003"}
    pol = policy_for(targets, parties, dt.date(2024, 7, 1), name="round-trip")
    path = tmp_path / "p.yml"
    path.write_text(yaml.safe_dump(pol, allow_unicode=True), encoding="utf-8")
    loaded = load_policy(path)
    assert loaded.to_dict() == {
        "name": "round-trip",
        "from_date": "2024-07-01",
        "sanction": ["ent-000001"],
        "close_channels": ["otc_desk:ent-000002", "cash_branch:ent-000003", "channel:netting"],
        "open_channels": [],
    }


def test_example_policies_load():
    pols = example_policies()
    assert {"open-correspondent", "close-usdt", "close-shadow-channels"} <= set(pols)
    for name, pol in pols.items():
        loaded = load_policy(pol)
        assert not loaded.empty, name
        assert loaded.from_date is not None


def test_baselines():
    arcs = [("a", "b", 5.0, "g"), ("b", "c", 5.0, "g"), ("a", "d", 1.0, "g"), ("d", "c", 1.0, "g")]
    targets = [Target(x, "entity", "sanction", None, x) for x in "bd"]
    net = network_from_arcs(arcs, ["a"], ["c"], targets)
    assert [net.targets[i].id for i in top_flow(net, 1)] == ["b"]
    assert random_targets(net, 2, seed=3) == random_targets(net, 2, seed=3)
    assert sorted(random_targets(net, 2, seed=3)) == [0, 1]
