"""Score name pairs with nomenklatura's logic-v2 (run in the reference environment).

    python bench/_nk_pairs.py PAIRS_CSV OUT_JSON

Writes {"scores": [...], "seconds": float}, the seconds of a second (warm) pass.
Only the benchmark runs this; shadowtrace does not import nomenklatura.
"""

import csv
import json
import sys
import time

from followthemoney import model
from nomenklatura.matching import get_algorithm
from nomenklatura.matching.types import ScoringConfig


def main() -> None:
    algorithm = get_algorithm("logic-v2")
    config = ScoringConfig.defaults()
    with open(sys.argv[1], encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))

    def run() -> list[float]:
        scores = []
        for i, row in enumerate(rows):
            left = model.make_entity(row["schema"])
            left.id = f"l{i}"
            left.add("name", row["name1"])
            right = model.make_entity(row["schema"])
            right.id = f"r{i}"
            right.add("name", row["name2"])
            scores.append(algorithm.compare(left, right, config).score)
        return scores

    run()  # warm-up: loads reference data and fills caches
    start = time.perf_counter()
    scores = run()
    seconds = time.perf_counter() - start
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        json.dump({"scores": scores, "seconds": seconds}, fh)


if __name__ == "__main__":
    main()
