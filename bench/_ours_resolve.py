"""Ingest sources into a store and resolve it, in this process; print the figures as JSON.

    python bench/_ours_resolve.py STORE [SOURCE [MAPPING]] [--dataset NAME] [--no-resolve]

With no SOURCE the store is resolved as it is (already ingested); with
``--no-resolve`` it is only ingested. SOURCE may be a file (with its MAPPING) or a
simulated world's folder (its manifest says how to read it). Run as a subprocess by
``bench/resolve.py`` so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("store")
    parser.add_argument("source", nargs="?")
    parser.add_argument("mapping", nargs="?")
    parser.add_argument("--dataset", default=None, help="dataset of a file source")
    parser.add_argument("--no-resolve", action="store_true", help="ingest only")
    args = parser.parse_args()
    out: dict[str, object] = {}
    start = time.perf_counter()
    with Store.open(args.store) as store:
        if args.source:
            dataset = args.dataset or ("bench" if args.mapping else None)
            report = ingest(store, [args.source], dataset=dataset, mapping=args.mapping)
            out["rows_stored"] = report.rows_stored
        ingested = time.perf_counter()
        out["ingest_seconds"] = ingested - start
        if not args.no_resolve:
            result = resolve(store)
            out |= {
                "records": result.records,
                "entities": result.entities,
                "candidates": result.candidates,
                "scored": result.scored,
                "worker_peak_rss": result.worker_peak_rss,
                "timings": result.timings,
            }
    done = time.perf_counter()
    out["resolve_seconds"] = done - ingested
    out["seconds"] = done - start
    print(json.dumps(out))


if __name__ == "__main__":
    main()
