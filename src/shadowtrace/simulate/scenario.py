"""Scenario files: the parameters of a simulated world, each with its source.

A scenario is YAML shipped in ``shadowtrace/simulate/scenarios/`` (or any path). Every
parameter is ``{value: ..., source: ...}`` where ``source`` is either a key of
``seed_figures.yml`` (a figure reported in the source texts) or ``"assumption: <reason>"``.
A scenario may ``extends:`` another and override some parameters.

>>> from shadowtrace.simulate import load_scenario
>>> scenario = load_scenario("default")
>>> scenario.num("cn_bank_rejection_rate")
0.8
>>> scenario.params["cn_bank_rejection_rate"].source
'occupied_ukraine.cn_bank_rejection_rate'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from shadowtrace.errors import ConfigError

__all__ = [
    "CalibrationSpec",
    "Param",
    "Scenario",
    "load_scenario",
    "scenario_names",
    "seed_figures",
]

Kind = Literal["number", "int", "date", "range", "weights", "dates", "counts"]
# How a simulated value is compared with its seed figure. A figure the source gives as a
# maximum ("up to", "as much as") is an upper bound: the simulated value may not exceed it
# (by more than the tolerance) and must reach a floor the scenario states with its reason.
# A minimum ("more than") is a lower bound, capped by a stated ceiling. Other figures are
# two-sided: within the tolerance either way.
Check = Literal["two_sided", "upper_bound", "lower_bound"]
CHECKS: tuple[Check, ...] = ("two_sided", "upper_bound", "lower_bound")

# Every parameter the generator reads, with the shape its value must have.
REQUIRED: dict[str, Kind] = {
    "period_start": "date",
    "period_end": "date",
    "trade_orders_per_scale": "number",
    "illicit_order_share": "number",
    "legit_direct_share": "number",
    "parts_order_share": "number",
    "sme_payments_per_scale": "number",
    "domestic_payments_per_scale": "number",
    "crypto_noise_per_scale": "number",
    "app_noise_per_scale": "number",
    "cash_legit_per_scale": "number",
    "direct_trade_cn_to_occupied": "number",
    "chain_intermediaries": "weights",
    "transit_countries": "weights",
    "hop_markup": "range",
    "hop_lag_days": "range",
    "cn_share_critical_electronics": "number",
    "cn_bank_rejection_rate": "number",
    "regional_bank_rejection_rate": "number",
    "major_bank_share": "number",
    "intermediary_fee_min": "number",
    "intermediary_fee_max": "number",
    "reroute_channels": "weights",
    "agent_layers": "weights",
    "cash_yuan_bank_branches": "int",
    "cash_reporting_threshold_rub": "number",
    "structuring_pieces": "range",
    "rub_per_cny": "number",
    "rub_per_usd": "number",
    "cny_per_usd": "number",
    "usdt_peel_hops": "range",
    "usdt_fan_out": "range",
    "netting_ledger_share": "number",
    "intermediaries": "int",
    "fronts": "int",
    "mass_addresses": "int",
    "nominee_directors": "int",
    "payment_agents": "int",
    "otc_desks": "int",
    "exchanges": "int",
    "netting_brokers": "int",
    "end_users_occupied": "counts",
    "end_users_defence": "int",
    "ru_importers": "int",
    "base_stations_cn_equipment": "int",
    "base_station_non_cn_share": "number",
    "telecom_vendors": "int",
    "mining_equipment": "int",
    "cn_investment_2025_rub": "number",
    "investment_projects": "int",
    "investment_projects_earlier": "int",
    "bulk_tonnes_2023": "number",
    "ru_cn_trade_growth_2024_tonnes": "number",
    "ru_cn_trade_growth_h1_2025": "number",
    "bulk_tonnes_per_declaration": "number",
    "dprk_workers_official": "int",
    "dprk_workers_unofficial": "int",
    "dprk_labour_contracts_requested": "int",
    "dprk_wage_usd_month": "number",
    "dprk_state_share": "number",
    "dprk_workers_per_contract": "range",
    "sanction_waves": "dates",
    "listed_share": "weights",
    "adapt_probability": "number",
    "adapt_lag_days": "number",
    "adapt_modes": "weights",
    "variant_rate": "number",
    "typo_rate": "number",
    "missing_id_rate": "number",
}

METRICS = frozenset(
    {
        "rejection_rate_major_banks",
        "fee_min",
        "fee_max",
        "cash_branches",
        "base_stations_cn",
        "direct_declarations_cn_to_occupied",
        "cn_share_chpl_electronics",
        "investment_2025_rub",
        "trade_growth_2024_tonnes",
        "trade_growth_h1_2025",
        "dprk_workers_official",
        "dprk_workers_total",
        "dprk_workers_requested",
        "dprk_revenue_usd_2024",
    }
)


@dataclass(frozen=True)
class Param:
    """One scenario parameter: its value and where the value comes from."""

    name: str
    value: Any
    source: str

    @property
    def is_assumption(self) -> bool:
        return self.source.startswith("assumption:")


@dataclass(frozen=True)
class CalibrationSpec:
    """A seed figure to compare with the simulated world, and how close it must be."""

    key: str
    metric: str
    abs_tol: float | None = None
    rel_tol: float | None = None
    check: Check = "two_sided"
    floor: float | None = None
    ceiling: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. Read values with the typed accessors."""

    name: str
    description: str
    path: str
    params: dict[str, Param]
    calibration: tuple[CalibrationSpec, ...] = field(default_factory=tuple)

    def num(self, name: str) -> float:
        return float(self.params[name].value)

    def int_(self, name: str) -> int:
        return int(self.params[name].value)

    def date(self, name: str) -> dt.date:
        return _as_date(self.params[name].value)

    def range(self, name: str) -> tuple[float, float]:
        lo, hi = self.params[name].value
        return float(lo), float(hi)

    def weights(self, name: str) -> dict[str, float]:
        """Weights normalised to sum 1, keys as strings, in file order."""
        raw = {str(k): float(v) for k, v in self.params[name].value.items()}
        if name == "listed_share":
            return raw
        total = sum(raw.values())
        return {k: v / total for k, v in raw.items()}

    def counts(self, name: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.params[name].value.items()}

    def dates(self, name: str) -> list[dt.date]:
        return [_as_date(v) for v in self.params[name].value]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "parameters": {
                k: {"value": _plain(p.value), "source": p.source} for k, p in self.params.items()
            },
            "calibration": [
                {
                    "key": c.key,
                    "metric": c.metric,
                    "check": c.check,
                    "abs": c.abs_tol,
                    "rel": c.rel_tol,
                    "floor": c.floor,
                    "ceiling": c.ceiling,
                    "reason": c.reason,
                }
                for c in self.calibration
            ],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@cache
def seed_figures() -> dict[str, dict[str, Any]]:
    """The seed figures shipped with the package, flattened to ``section.key``."""
    text = (
        resources.files("shadowtrace.simulate")
        .joinpath("data/seed_figures.yml")
        .read_text(encoding="utf-8")
    )
    data = yaml.safe_load(text)
    flat: dict[str, dict[str, Any]] = {}
    for section, entries in data.items():
        for key, entry in entries.items():
            flat[f"{section}.{key}"] = entry
    return flat


def scenario_names() -> list[str]:
    """Names of the scenarios shipped in the package."""
    folder = resources.files("shadowtrace.simulate").joinpath("scenarios")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".yml"))


def _read(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    path = Path(name_or_path)
    if path.suffix in (".yml", ".yaml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: scenario file not found")
        text = path.read_text(encoding="utf-8")
        label = str(path)
    else:
        res = resources.files("shadowtrace.simulate").joinpath(f"scenarios/{name_or_path}.yml")
        if not res.is_file():
            known = ", ".join(scenario_names())
            raise ConfigError(f"unknown scenario {str(name_or_path)!r} (shipped: {known})")
        text = res.read_text(encoding="utf-8")
        label = f"scenarios/{name_or_path}.yml"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: a scenario must be a mapping")
    return data, label


def _check_value(label: str, name: str, kind: Kind, value: Any) -> None:
    def bad(what: str) -> ConfigError:
        return ConfigError(f"{label}: parameters.{name}: {what}")

    if kind in ("number", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad(f"expected a number, got {value!r}")
        if value < 0:
            raise bad("must not be negative")
    elif kind == "date":
        try:
            _as_date(value)
        except ValueError:
            raise bad(f"expected a date YYYY-MM-DD, got {value!r}") from None
    elif kind == "range":
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int | float) for v in value)
            or value[0] > value[1]
        ):
            raise bad(f"expected [low, high], got {value!r}")
    elif kind in ("weights", "counts"):
        if not isinstance(value, dict) or not value:
            raise bad(f"expected a mapping of weights, got {value!r}")
        for k, v in value.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise bad(f"{k}: expected a non-negative number, got {v!r}")
        if kind == "weights" and sum(value.values()) <= 0:
            raise bad("weights must not all be zero")
    elif kind == "dates":
        if not isinstance(value, list) or not value:
            raise bad(f"expected a list of dates, got {value!r}")
        for v in value:
            _check_value(label, name, "date", v)


def _check_source(label: str, name: str, source: Any) -> str:
    where = f"{label}: parameters.{name}.source"
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{where}: every parameter needs a source")
    text = str(source).strip()
    if text.startswith("assumption:"):
        if len(text) <= len("assumption:") + 3:
            raise ConfigError(f"{where}: an assumption needs its reason")
        return text
    if text not in seed_figures():
        raise ConfigError(
            f"{where}: {text!r} is neither a key of seed_figures.yml nor 'assumption: <reason>'"
        )
    return text


def _parse_params(label: str, raw: Any) -> dict[str, Param]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{label}: parameters: expected a mapping")
    params: dict[str, Param] = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or "value" not in entry:
            raise ConfigError(f"{label}: parameters.{name}: expected {{value: ..., source: ...}}")
        unknown = set(entry) - {"value", "source", "note"}
        if unknown:
            raise ConfigError(f"{label}: parameters.{name}: unknown keys {sorted(unknown)}")
        source = _check_source(label, str(name), entry.get("source"))
        kind = REQUIRED.get(str(name))
        if kind is None:
            raise ConfigError(f"{label}: parameters.{name}: unknown parameter")
        _check_value(label, str(name), kind, entry["value"])
        params[str(name)] = Param(str(name), entry["value"], source)
    return params


def _parse_calibration(label: str, raw: Any) -> tuple[CalibrationSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{label}: calibration: expected a list")
    specs = []
    for i, entry in enumerate(raw):
        where = f"{label}: calibration[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping")
        key, metric, tol = entry.get("key"), entry.get("metric"), entry.get("tolerance")
        if key not in seed_figures():
            raise ConfigError(f"{where}.key: {key!r} is not a key of seed_figures.yml")
        if metric not in METRICS:
            raise ConfigError(f"{where}.metric: unknown metric {metric!r}")
        if not isinstance(tol, dict) or not ({"abs", "rel"} & set(tol)):
            raise ConfigError(f"{where}.tolerance: expected {{abs: x}} or {{rel: x}}")
        unknown = set(tol) - {"abs", "rel", "floor", "ceiling", "reason"}
        if unknown:
            raise ConfigError(f"{where}.tolerance: unknown keys {sorted(unknown)}")
        numbers: dict[str, float | None] = {}
        for k in ("abs", "rel", "floor", "ceiling"):
            t = tol.get(k)
            if t is not None and (isinstance(t, bool) or not isinstance(t, int | float) or t < 0):
                raise ConfigError(f"{where}.tolerance.{k}: must be a non-negative number")
            numbers[k] = None if t is None else float(t)
        kind = str(seed_figures()[key].get("kind", ""))
        check = entry.get("check", kind if kind in CHECKS else "two_sided")
        if check not in CHECKS:
            raise ConfigError(f"{where}.check: expected one of {', '.join(CHECKS)}")
        reason = str(tol.get("reason", "")).strip()
        bound = {"upper_bound": "floor", "lower_bound": "ceiling"}.get(check)
        if bound is not None and (numbers[bound] is None or not reason):
            raise ConfigError(
                f"{where}.tolerance: {key} is an {check.replace('_', ' ')}: "
                f"state the {bound} and the reason for it"
            )
        specs.append(
            CalibrationSpec(
                str(key),
                str(metric),
                numbers["abs"],
                numbers["rel"],
                check,
                numbers["floor"],
                numbers["ceiling"],
                reason,
            )
        )
    return tuple(specs)


def load_scenario(name_or_path: str | Path, _seen: tuple[str, ...] = ()) -> Scenario:
    """Read and validate a scenario by shipped name (``default``, ``hard``) or path.

    Raises ``ConfigError`` naming the file and key of anything invalid.
    """
    data, label = _read(name_or_path)
    unknown = set(data) - {"name", "description", "extends", "parameters", "calibration"}
    if unknown:
        raise ConfigError(f"{label}: unknown top-level keys {sorted(unknown)}")
    params: dict[str, Param] = {}
    calibration: tuple[CalibrationSpec, ...] = ()
    parent = data.get("extends")
    if parent is not None:
        if str(parent) in _seen:
            raise ConfigError(f"{label}: extends: circular reference to {parent!r}")
        base_ref: str | Path = str(parent)
        if not isinstance(name_or_path, str) or Path(name_or_path).suffix:
            candidate = Path(name_or_path).parent / f"{parent}.yml"
            if candidate.is_file():
                base_ref = candidate
        base = load_scenario(base_ref, (*_seen, str(parent)))
        params.update(base.params)
        calibration = base.calibration
    params.update(_parse_params(label, data.get("parameters", {})))
    if "calibration" in data:
        calibration = _parse_calibration(label, data["calibration"])
    missing = [name for name in REQUIRED if name not in params]
    if missing:
        raise ConfigError(f"{label}: parameters: missing {', '.join(missing)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{label}: name: a scenario needs a name")
    scenario = Scenario(
        name=name,
        description=str(data.get("description", "")).strip(),
        path=label,
        params=params,
        calibration=calibration,
    )
    if scenario.date("period_start") >= scenario.date("period_end"):
        raise ConfigError(f"{label}: parameters.period_end: must be after period_start")
    if scenario.num("intermediary_fee_min") > scenario.num("intermediary_fee_max"):
        raise ConfigError(f"{label}: parameters.intermediary_fee_min: above intermediary_fee_max")
    return scenario
