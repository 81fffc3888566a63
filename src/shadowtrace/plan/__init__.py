"""Planning: where to cut the shadow network, what to replace, how to restore transparent
finance, tested against a simulated world that adapts.

* :mod:`~shadowtrace.plan.network` builds the illicit-flow network from the store;
* :mod:`~shadowtrace.plan.interdiction` chooses targets (Wood's MIP or greedy + swaps);
* :mod:`~shadowtrace.plan.baselines` chooses them the naive ways, for comparison;
* :mod:`~shadowtrace.plan.adapt` applies a plan to the simulator and measures the flow
  removed before and after the world adapts;
* :mod:`~shadowtrace.plan.replace` schedules replacements, :mod:`~shadowtrace.plan.restore`
  measures channels and runs what-ifs. See ``docs/plan.md``.
"""

from __future__ import annotations

from shadowtrace.plan.dismantle import DismantleOptions, DismantlePlan, plan_dismantle
from shadowtrace.plan.interdiction import InterdictionResult, interdict, max_flow
from shadowtrace.plan.network import (
    Adaptation,
    FlowNetwork,
    NetworkOptions,
    Target,
    build_network,
)
from shadowtrace.plan.replace import ReplacementPlan, plan_replace
from shadowtrace.plan.restore import plan_restore, whatif

__all__ = [
    "Adaptation",
    "DismantleOptions",
    "DismantlePlan",
    "FlowNetwork",
    "InterdictionResult",
    "NetworkOptions",
    "ReplacementPlan",
    "Target",
    "build_network",
    "interdict",
    "max_flow",
    "plan_dismantle",
    "plan_replace",
    "plan_restore",
    "whatif",
]
