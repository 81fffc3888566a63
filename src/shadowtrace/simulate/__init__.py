"""Simulate the shadow economy as a calibrated world, written as real-looking source files.

>>> from shadowtrace.simulate import load_scenario
>>> load_scenario("default").name
'default'

``simulate(scenario, seed, scale, out)`` writes a folder of source files with a
``manifest.yml`` (each file, its dataset and its ingest mapping), a ``ground_truth/``
folder read by no pipeline stage, and ``calibration.json``.
"""

from __future__ import annotations

from shadowtrace.simulate.calibration import CalibrationRow
from shadowtrace.simulate.engine import SimulationResult, simulate
from shadowtrace.simulate.policy import Policy, load_policy
from shadowtrace.simulate.scenario import Scenario, load_scenario, scenario_names

__all__ = [
    "CalibrationRow",
    "Policy",
    "Scenario",
    "SimulationResult",
    "calibration_table",
    "load_policy",
    "load_scenario",
    "scenario_names",
    "simulate",
]


def calibration_table(result: SimulationResult) -> list[CalibrationRow]:
    """The calibration rows of a simulation: key, seed value, simulated value, tolerance, passed."""
    return list(result.calibration)
