"""The fast name comparison gives exactly what its straightforward reference gives.

``compare_names`` caches per-name profiles and token similarities and pairs
run-together tokens through buckets; ``reference_compare_names`` (in
``resolve_reference.py``) loops over every pair of units. Both run on every labelled
pair of ``tests/fixtures/name_pairs.csv``, persons as persons and the rest as
organisations, and in both orders.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from shadowtrace.resolve.names import compare_names
from shadowtrace.resolve.normalize import name_form
from tests.unit.resolve_reference import reference_compare_names

PAIRS = Path(__file__).parents[1] / "fixtures" / "name_pairs.csv"


def _pairs() -> list[tuple[str, str, str]]:
    with PAIRS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [("PER" if r["schema"] == "Person" else "ORG", r["name1"], r["name2"]) for r in rows]


def test_fast_comparison_equals_the_reference_on_every_labelled_pair() -> None:
    pairs = _pairs()
    assert len(pairs) > 800
    compared = 0
    for kind, one, two in pairs:
        a, b = name_form(one, kind), name_form(two, kind)  # type: ignore[arg-type]
        if a is None or b is None:
            continue
        for left, right in ((a, b), (b, a)):
            fast, ref = compare_names(left, right), reference_compare_names(left, right)
            assert fast.vector() == pytest.approx(ref.vector(), abs=1e-9), (one, two)
            assert (fast.unmatched_left, fast.unmatched_right) == (
                ref.unmatched_left,
                ref.unmatched_right,
            ), (one, two)
            compared += 1
    assert compared > 1500
