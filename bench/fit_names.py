"""Fit the name model's coefficients on labelled name pairs and write them as data.

    python bench/fit_names.py [PAIRS_CSV] [--out src/shadowtrace/resolve/data/name_model.yml]

The coefficients are fitted with the signs their meaning implies
(``shadowtrace.resolve.learn``). ``bench/resolve.py`` reports the figures of this
model both in-sample and cross-validated (each pair scored by a model fitted
without it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from namepairs import DEFAULT_PAIRS, feature_matrix, read_pairs  # noqa: E402
from shadowtrace.resolve.learn import fit_logistic  # noqa: E402
from shadowtrace.resolve.names import FEATURES  # noqa: E402

HEADER = """\
# Coefficients of the name model (shadowtrace.resolve.names.NameModel): a logistic
# regression over the features of compare_names, with the sign of each coefficient
# held to its meaning. Written by bench/fit_names.py; do not edit by hand.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pairs", nargs="?", default=str(DEFAULT_PAIRS))
    parser.add_argument("--out", default=str(ROOT / "src/shadowtrace/resolve/data/name_model.yml"))
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    pairs = read_pairs(Path(args.pairs))
    x, y = feature_matrix(pairs)
    coef = fit_logistic(x, np.asarray(y, dtype=np.float64))
    data = {
        "source": f"{Path(args.pairs).name}: {len(pairs)} labelled pairs",
        "threshold": args.threshold,
        "intercept": round(coef["intercept"], 4),
        "coefficients": {name: round(coef[name], 4) for name in FEATURES},
    }
    text = HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
