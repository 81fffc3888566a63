"""The calibration report: each seed figure beside the value simulated from the records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shadowtrace.simulate.records import Calib
from shadowtrace.simulate.scenario import CalibrationSpec, Scenario, seed_figures

__all__ = ["CalibrationRow", "calibrate"]


@dataclass(frozen=True)
class CalibrationRow:
    """One seed figure, the simulated value and whether it is within tolerance.

    ``check`` says how they were compared: ``two_sided`` (within the tolerance either
    way), ``upper_bound`` (at most the figure plus the tolerance, at least a stated floor)
    or ``lower_bound`` (at least the figure minus the tolerance, at most a stated ceiling).
    """

    key: str
    metric: str
    seed_value: float
    simulated: float
    tolerance: str
    passed: bool
    kind: str = ""
    check: str = "two_sided"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "metric": self.metric,
            "seed_value": self.seed_value,
            "simulated": self.simulated,
            "tolerance": self.tolerance,
            "passed": self.passed,
            "kind": self.kind,
            "check": self.check,
        }


def metrics(cal: Calib) -> dict[str, float]:
    """The simulated values, computed from what the generator wrote."""
    t = cal.tonnes
    return {
        "rejection_rate_major_banks": cal.rejected_major / cal.attempts_major
        if cal.attempts_major
        else float("nan"),
        "fee_min": cal.fee_min if cal.fee_count else float("nan"),
        "fee_max": cal.fee_max if cal.fee_count else float("nan"),
        "cash_branches": float(len(cal.branches)),
        "base_stations_cn": float(cal.base_stations_cn),
        "direct_declarations_cn_to_occupied": float(cal.direct_cn_occupied),
        "cn_share_chpl_electronics": cal.chpl_value_cn / cal.chpl_value_all
        if cal.chpl_value_all
        else float("nan"),
        "investment_2025_rub": cal.investment_2025_rub,
        "trade_growth_2024_tonnes": t.get("2024", 0.0) - t.get("2023", 0.0),
        "trade_growth_h1_2025": t["2025H1"] / t["2024H1"] - 1 if t.get("2024H1") else float("nan"),
        "dprk_workers_official": float(cal.dprk_official),
        "dprk_workers_total": float(cal.dprk_total),
        "dprk_workers_requested": float(cal.dprk_requested),
        "dprk_revenue_usd_2024": cal.dprk_revenue_usd_2024,
    }


def _judge(spec: CalibrationSpec, target: float, sim: float) -> tuple[bool, str]:
    """Whether ``sim`` passes against ``target``, and the tolerance as the table shows it."""
    allowed = 0.0
    parts = []
    if spec.abs_tol is not None:
        allowed = max(allowed, spec.abs_tol)
        parts.append(f"{spec.abs_tol:g}")
    if spec.rel_tol is not None:
        allowed = max(allowed, spec.rel_tol * abs(target))
        parts.append(f"{spec.rel_tol:.0%}")
    tol = " or ".join(parts)
    eps = 1e-9 * max(1.0, abs(target))
    if sim != sim:  # NaN: nothing was simulated to compare
        return False, tol
    if spec.check == "upper_bound":
        floor = spec.floor if spec.floor is not None else float("-inf")
        return floor - eps <= sim <= target + allowed + eps, f"≤ +{tol}, ≥ {floor:,g}"
    if spec.check == "lower_bound":
        ceiling = spec.ceiling if spec.ceiling is not None else float("inf")
        return target - allowed - eps <= sim <= ceiling + eps, f"≥ -{tol}, ≤ {ceiling:,g}"
    return abs(sim - target) <= allowed + eps, f"±{tol}"


def calibrate(scenario: Scenario, cal: Calib) -> list[CalibrationRow]:
    """Compare each calibration figure of ``scenario`` with the value simulated."""
    values = metrics(cal)
    figures = seed_figures()
    rows = []
    for spec in scenario.calibration:
        fig = figures[spec.key]
        target = float(fig["value"])
        sim = values[spec.metric]
        passed, tolerance = _judge(spec, target, sim)
        rows.append(
            CalibrationRow(
                spec.key,
                spec.metric,
                target,
                sim,
                tolerance,
                passed,
                str(fig.get("kind", "")),
                spec.check,
            )
        )
    return rows
