import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from shadowtrace.simulate.flows import exact_share, strata


@given(st.integers(0, 2**32 - 1), st.integers(1, 400), st.floats(0.0, 1.0))
def test_exact_share_hits_the_share_in_every_group(seed, n, p):
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    group = rng.integers(0, 3, n)
    chosen = exact_share(u, p, group)
    for g in range(3):
        m = group == g
        assert chosen[m].sum() == np.floor(p * m.sum() + 0.5)
        if chosen[m].any() and (~chosen[m]).any():
            assert u[m][chosen[m]].max() < u[m][~chosen[m]].min()  # the smallest u are chosen


@given(st.integers(0, 2**32 - 1), st.integers(1, 60))
def test_strata_cover_every_member_of_a_small_pool(seed, pool):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, 8 * pool)
    v = strata(rng.random(len(group)), group)
    assert ((v >= 0) & (v < 1)).all()
    for g in range(2):
        picked = np.floor(v[group == g] * pool).astype(int)
        if (group == g).sum() >= 2 * pool:
            assert set(picked) == set(range(pool))
