"""Read the labelled name pairs and turn them into entities and feature rows."""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shadowtrace.resolve.names import compare_names  # noqa: E402
from shadowtrace.resolve.normalize import name_form, name_type_of_schema  # noqa: E402

DEFAULT_PAIRS = ROOT.parent / "shared" / "data" / "name_pairs.csv"
if not DEFAULT_PAIRS.exists():
    DEFAULT_PAIRS = ROOT / "tests" / "fixtures" / "name_pairs.csv"


@dataclass(frozen=True)
class Pair:
    case_group: str
    schema: str
    name1: str
    name2: str
    is_match: bool
    category: str


def read_pairs(path: Path) -> list[Pair]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            Pair(
                case_group=row["case_group"],
                schema=row["schema"],
                name1=row["name1"],
                name2=row["name2"],
                is_match=row["is_match"].strip().lower() == "true",
                category=row["category"] or row["case_group"],
            )
            for row in csv.DictReader(fh)
        ]


def feature_matrix(pairs: list[Pair]) -> tuple[np.ndarray, list[bool]]:
    rows: list[list[float]] = []
    for pair in pairs:
        kind = name_type_of_schema(pair.schema)
        left, right = name_form(pair.name1, kind), name_form(pair.name2, kind)
        if left is None or right is None:
            raise ValueError(f"pair without a comparable name: {pair}")
        rows.append(compare_names(left, right).vector())
    return np.array(rows, dtype=np.float64), [p.is_match for p in pairs]
