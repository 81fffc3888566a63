"""The keys that turn "within N days" and "worth about the same" into hash joins."""

from __future__ import annotations

import math

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from shadowtrace.detect.common import value_shifts, value_sql, value_width, window_shifts

amounts = st.floats(min_value=1e-4, max_value=1e12, allow_nan=False, allow_infinity=False)
bands = st.tuples(
    st.floats(min_value=-1.0, max_value=3.0), st.floats(min_value=0.0, max_value=3.0)
).map(lambda b: (min(b), max(b)))


@settings(max_examples=300, deadline=None)
@given(r=amounts, band=bands, where=st.floats(min_value=0.0, max_value=1.0))
def test_a_ratio_in_the_band_is_among_the_shifts(
    r: float, band: tuple[float, float], where: float
) -> None:
    lo, hi = band
    if hi <= 0:
        assert value_shifts(lo, hi, value_width(lo, hi)) == []
        return
    if hi < 1e-9:  # ratios under a billionth are out of reach (documented)
        return
    ratio = max(lo, 1e-9) + where * (hi - max(lo, 1e-9))
    x = r * ratio
    if not 0 < x < math.inf:
        return
    width = value_width(lo, hi)
    # the bands as the store computes them, in SQL
    sql = f"SELECT {value_sql('?')} - {value_sql('?')}"
    row = duckdb.execute(sql, [x, width, r, width]).fetchone()
    assert row is not None
    assert row[0] in value_shifts(lo, hi, width)


@settings(max_examples=300, deadline=None)
@given(
    day=st.integers(min_value=-10_000, max_value=10_000),
    span=st.tuples(st.integers(-400, 400), st.integers(-400, 400)).map(sorted),
    width=st.integers(min_value=1, max_value=400),
    where=st.floats(min_value=0.0, max_value=1.0),
)
def test_a_gap_in_the_span_is_among_the_window_shifts(
    day: int, span: list[int], width: int, where: float
) -> None:
    lo, hi = span
    other = day + lo + round(where * (hi - lo))
    assert other // width - day // width in window_shifts(lo, hi, width)


def test_bands_of_no_width_or_no_positive_ratio() -> None:
    assert value_width(1.0, 1.0) == 1e-6
    assert 0 in value_shifts(1.0, 1.0, value_width(1.0, 1.0))
    assert value_shifts(-2.0, -1.0, value_width(-2.0, -1.0)) == []
