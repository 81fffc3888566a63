"""Max-flow interdiction: the LP max-flow, Wood's MIP against brute force, the heuristic
against the MIP, bounds, and groups of parallel targets."""

import itertools

import networkx as nx
import numpy as np
import pytest

from shadowtrace.plan.interdiction import (
    greedy,
    interdict,
    max_flow,
    parallel_groups,
    wood_mip,
)
from shadowtrace.plan.network import Target, add_substitutes, network_from_arcs


def random_network(seed: int, layers=(3, 4, 4, 3), n_channels: int = 1, density: float = 0.6):
    """A layered network: sources, intermediaries, sinks; every intermediary is a
    target, and some arcs belong to channels."""
    rng = np.random.default_rng(seed)
    names = [[f"L{i}N{j}" for j in range(n)] for i, n in enumerate(layers)]
    arcs = []
    for a_layer, b_layer in itertools.pairwise(names):
        for a in a_layer:
            for b in b_layer:
                if rng.random() < density:
                    kind = f"c{rng.integers(0, n_channels)}" if rng.random() < 0.3 else "g"
                    arcs.append((a, b, float(rng.integers(1, 20)), kind))
    middle = [n for layer in names[1:-1] for n in layer]
    targets = [Target(n, "entity", "sanction", None, n) for n in middle]
    targets += [
        Target(f"channel:c{i}", "channel", "close", "channel", f"c{i}") for i in range(n_channels)
    ]
    chan = {f"c{i}": f"c{i}" for i in range(n_channels)}
    net = network_from_arcs(arcs, names[0], names[-1], targets, channel_of_kind=chan)
    return net, arcs, names


def brute_force(net, k):
    base = max_flow(net).value
    best = 0.0
    for combo in itertools.combinations(range(len(net.targets)), k):
        best = max(best, base - max_flow(net, list(combo)).value)
    return best


def test_lp_max_flow_matches_networkx():
    for seed in range(8):
        net, arcs, names = random_network(seed)
        g = nx.DiGraph()
        for u, v, c, _ in arcs:
            cap = g[u][v]["capacity"] + c if g.has_edge(u, v) else c
            g.add_edge(u, v, capacity=cap)
        for s in names[0]:
            g.add_edge("S", s)  # no capacity: unbounded
        for t in names[-1]:
            g.add_edge(t, "T")
        assert max_flow(net).value == pytest.approx(nx.maximum_flow_value(g, "S", "T"))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_mip_is_optimal(seed, k):
    net, _, _ = random_network(seed, layers=(2, 3, 3, 2), n_channels=2)
    res = interdict(net, k, method="exact", time_limit=30)
    assert res.method == "exact"
    assert res.cut == pytest.approx(brute_force(net, k), rel=1e-6, abs=1e-6)
    assert res.gap == pytest.approx(0.0, abs=1e-6)
    assert len(res.chosen) <= k


def test_heuristic_close_to_mip():
    ratios = []
    for seed in range(10):
        net, _, _ = random_network(100 + seed, layers=(4, 6, 6, 4), n_channels=2)
        exact = interdict(net, 4, method="exact", time_limit=30)
        heur = interdict(net, 4, method="heuristic", time_limit=30)
        assert heur.method == "heuristic"
        assert heur.cut <= exact.cut + 1e-6  # the exact answer is optimal
        assert heur.bound >= exact.cut - 1e-6  # the heuristic's bound is a bound
        ratios.append(heur.cut / exact.cut if exact.cut else 1.0)
    assert np.mean(ratios) >= 0.95
    assert min(ratios) >= 0.75


def test_linear_relaxation_bounds_the_cut():
    for seed in range(5):
        net, _, _ = random_network(200 + seed, n_channels=2)
        base = max_flow(net).value
        _, _, lp_residual, status = wood_mip(net, 3, relax=True)
        assert status == "Optimal"
        assert base - lp_residual >= brute_force(net, 3) - 1e-6


def test_parallel_targets_cut_together():
    # two interchangeable hubs between one source and one sink: removing one moves the
    # flow to the other; the greedy takes them as a group
    arcs = [
        ("s", "h1", np.inf, "x"),
        ("s", "h2", np.inf, "x"),
        ("h1", "t", np.inf, "x"),
        ("h2", "t", np.inf, "x"),
        ("s", "a", 3.0, "x"),
        ("a", "t", 3.0, "x"),
    ]
    targets = [Target(x, "entity", "sanction", None, x) for x in ("h1", "h2", "a")]
    net = network_from_arcs(arcs, [("s", 10.0)], ["t"], targets)
    groups = parallel_groups(net)
    ids = [sorted(net.targets[i].id for i in g) for g in groups]
    assert ["a", "h1", "h2"] in ids  # "a" is parallel too, with a bounded capacity
    chosen, _ = greedy(net, 2)
    assert sorted(net.targets[i].id for i in chosen) == ["h1", "h2"]
    assert interdict(net, 2, method="heuristic").cut == pytest.approx(7.0)
    assert interdict(net, 1, method="exact").cut == pytest.approx(0.0)  # one alone: rerouted
    assert interdict(net, 2, method="exact").cut == pytest.approx(7.0)


def test_substitutes_keep_a_share_of_the_flow():
    arcs = [("s", "a", 10.0, "g"), ("a", "t", 10.0, "g")]
    net = add_substitutes(
        network_from_arcs(arcs, ["s"], ["t"], [Target("a", "entity", "sanction", None, "a")]),
        0.85,
    )
    assert max_flow(net).value == pytest.approx(10.0)
    assert max_flow(net, [0]).value == pytest.approx(8.5)
    assert max_flow(net.static_view(), [0]).value == pytest.approx(0.0)
