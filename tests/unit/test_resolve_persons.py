"""The person-name phrase table: a binary search (few phrases) finds exactly what the
hash lookup over the whole table (many phrases) finds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadowtrace.resolve import persons

pytestmark = pytest.mark.skipif(
    not persons.available(), reason="the shipped table is for another rigour version"
)

_BULK = persons._BULK


def _phrases() -> list[str]:
    table = persons._table()
    assert table is not None
    return [str(p) for p in table.columns()[0].to_pylist()]


def _by_search(phrases: list[str]) -> dict[str, list[str]]:
    """Look up one phrase at a time: always the binary search."""
    out: dict[str, list[str]] = {}
    for phrase in phrases:
        out.update(persons.lookup([phrase]))
    return out


def _by_hash(phrases: list[str]) -> dict[str, list[str]]:
    """Look up all at once, padded past the bulk threshold: the hash lookup."""
    padding = [f"\x00pad{i}" for i in range(_BULK)]
    found = persons.lookup(padding + phrases)
    return {p: found[p] for p in phrases if p in found}


def test_search_and_hash_agree_on_the_table() -> None:
    table = _phrases()
    rng = random.Random(5)
    sample = rng.sample(table, 400)
    # the ends of the table, every script in a sample of it, and near misses
    sample += table[:5] + table[-5:]
    sample += [p + "x" for p in sample[:50]] + [p[:-1] for p in sample[:50] if len(p) > 1]
    sample += [p for p in table if not p.isascii()][:200]
    by_search, by_hash = _by_search(sample), _by_hash(sample)
    assert by_search == by_hash
    assert len(by_search) >= 400
    for phrase in table[:5] + table[-5:]:
        assert by_search[phrase]


@pytest.mark.parametrize(
    "phrase",
    ["", " ", "\ud800", "a\x00b", "'; DROP TABLE statements; --", "ж" * 10_000, "\uffff", "𝔘"],
)
def test_hostile_phrases(phrase: str) -> None:
    assert _by_search([phrase]) == _by_hash([phrase])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=8))
def test_search_and_hash_agree_on_any_text(phrases: list[str]) -> None:
    assert _by_search(phrases) == _by_hash(phrases)


@pytest.mark.parametrize("kind", ["string", "large_string"])
def test_sorted_reads_sliced_columns_of_either_offset_width(kind: str) -> None:
    import bisect

    import pyarrow as pa

    column = pa.array(["a", "b", "ж", "中", "𝔘"], getattr(pa, kind)()).slice(1, 3)
    ordered = persons._Sorted(column)
    assert list(ordered) == [s.encode() for s in ("b", "ж", "中")]
    assert bisect.bisect_left(ordered, "中".encode()) == 2
