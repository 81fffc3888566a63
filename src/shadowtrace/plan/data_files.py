"""Reference data of the planner: listed goods, exchange rates, replacement options.

Each file in ``shadowtrace/plan/data`` names the source of every figure, or marks it
``assumption:`` with the reason.

>>> "854231" in listed_goods()
True
>>> round(usd_rates()["RUB"] * 88, 3)
1.0
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources
from typing import Any

import yaml

from shadowtrace.errors import ConfigError

__all__ = ["listed_goods", "read_data", "usd_rates"]


def read_data(name: str) -> Any:
    """A YAML file of ``shadowtrace/plan/data``."""
    text = resources.files("shadowtrace.plan").joinpath("data", name).read_text("utf-8")
    return yaml.safe_load(text)


@cache
def listed_goods() -> frozenset[str]:
    """HS-6 codes whose flows the dismantle plan follows (CHPL and sector equipment)."""
    spec = read_data("listed_goods.yml")
    codes: set[str] = {str(item["hs"]) for item in spec.get("extra", [])}
    if spec.get("include_chpl"):
        text = resources.files("shadowtrace.simulate").joinpath("data", "chpl.csv")
        rows = csv.DictReader(io.StringIO(text.read_text("utf-8")))
        codes.update(str(row["hs6"]) for row in rows)
    bad = sorted(c for c in codes if len(c) != 6 or not c.isdigit())
    if bad:
        raise ConfigError(f"listed_goods.yml: not HS-6 codes: {bad}")
    return frozenset(codes)


@cache
def usd_rates() -> dict[str, float]:
    """US dollars per unit of each currency (``rates.yml``)."""
    spec = read_data("rates.yml")
    return {str(k).upper(): float(v) for k, v in spec["usd_per_unit"].items()}
