"""Ingest one source into a fresh store and resolve it; print the figures as JSON.

    python bench/_ours_resolve.py STORE SOURCE [MAPPING]

Run as a subprocess by ``bench/resolve.py`` so that its peak memory is its own.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shadowtrace.ingest.run import ingest  # noqa: E402
from shadowtrace.resolve.run import resolve  # noqa: E402
from shadowtrace.store import Store  # noqa: E402


def main() -> None:
    store_path, source = sys.argv[1], sys.argv[2]
    mapping = sys.argv[3] if len(sys.argv) > 3 else None
    start = time.perf_counter()
    with Store.open(store_path) as store:
        ingest(store, [source], dataset="bench", mapping=mapping)
        ingested = time.perf_counter()
        report = resolve(store)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "records": report.records,
                "entities": report.entities,
                "ingest_seconds": ingested - start,
                "resolve_seconds": done - ingested,
                "seconds": done - start,
                "timings": report.timings,
            }
        )
    )


if __name__ == "__main__":
    main()
