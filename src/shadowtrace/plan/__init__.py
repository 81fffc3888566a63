"""Planning: where to cut the shadow network, what to replace, how to restore transparent
finance, tested against a simulated world that adapts.

* :mod:`~shadowtrace.plan.network` builds the illicit-flow network from the store;
* :mod:`~shadowtrace.plan.interdiction` chooses targets (Wood's MIP or greedy + swaps);
* :mod:`~shadowtrace.plan.baselines` chooses them the naive ways, for comparison;
* :mod:`~shadowtrace.plan.adapt` applies a plan to the simulator and measures the flow
  removed before and after the world adapts.
"""

from __future__ import annotations

from shadowtrace.plan.interdiction import InterdictionResult, interdict, max_flow
from shadowtrace.plan.network import FlowNetwork, NetworkOptions, Target, build_network

__all__ = [
    "FlowNetwork",
    "InterdictionResult",
    "NetworkOptions",
    "Target",
    "build_network",
    "interdict",
    "max_flow",
]
