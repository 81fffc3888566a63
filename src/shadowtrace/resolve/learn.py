"""Fit the name model's coefficients from labelled name pairs.

The model is a logistic regression over the features of ``names.compare_names``,
with each coefficient held to the sign that its meaning implies (more coverage can
only raise the score, a conflict can only lower it). A coefficient that the data
would push to the other sign is set to zero instead: the data does not support it,
and a model that rewarded a conflict would not be trusted by anyone reading its
explanations.

Labelled pairs come from a benchmark file (``bench/fit_names.py``) or, later, from
an analyst's judgements.

>>> import numpy as np
>>> x = np.array([[0.0], [0.2], [0.8], [1.0]]); y = np.array([0.0, 0.0, 1.0, 1.0])
>>> fit = fit_logistic(x, y, ("coverage",), {"coverage": 1})
>>> fit["coverage"] > 0
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray

from shadowtrace.resolve.names import FEATURES

__all__ = ["FEATURE_SIGNS", "fit_logistic", "predict"]

FEATURE_SIGNS: Final[dict[str, int]] = {
    "coverage": 1,
    "core_coverage": 1,
    "conflict": -1,
    "extra": -1,
    "fuzz": -1,
    "number_conflict": -1,
    "legal_conflict": -1,
    "exact": 1,
    "short": -1,
    "order": -1,
}
assert set(FEATURE_SIGNS) == set(FEATURES)

Matrix = NDArray[np.float64]


def _newton(x: Matrix, y: Matrix, l2: float) -> Matrix:
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    ridge = l2 * np.eye(len(w))
    ridge[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        hessian = xb.T @ (xb * (p * (1.0 - p))[:, None]) + ridge + 1e-9 * np.eye(len(w))
        gradient = xb.T @ (p - y) + ridge @ w
        step = np.linalg.solve(hessian, gradient)
        w = w - step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return w


def fit_logistic(
    x: Matrix,
    y: Matrix,
    names: Sequence[str] = FEATURES,
    signs: Mapping[str, int] = FEATURE_SIGNS,
    l2: float = 0.1,
) -> dict[str, float]:
    """Fit a sign-constrained, L2-regularised logistic regression.

    Returns the coefficients by feature name, and the intercept as ``"intercept"``.
    """
    active = list(range(x.shape[1]))
    while True:
        w = _newton(x[:, active], y, l2)
        coef = dict.fromkeys(names, 0.0)
        for j, col in enumerate(active):
            coef[names[col]] = float(w[j + 1])
        wrong = [c for c in active if coef[names[c]] * signs.get(names[c], 0) < 0]
        if not wrong:
            coef["intercept"] = float(w[0])
            return coef
        worst = min(wrong, key=lambda c: coef[names[c]] * signs[names[c]])
        active.remove(worst)


def predict(coef: Mapping[str, float], x: Matrix, names: Sequence[str] = FEATURES) -> Matrix:
    """Probabilities for the rows of ``x`` under coefficients from ``fit_logistic``."""
    w = np.array([coef.get(n, 0.0) for n in names])
    z = coef.get("intercept", 0.0) + x @ w
    out: Matrix = 1.0 / (1.0 + np.exp(-z))
    return out
