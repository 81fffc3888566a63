"""One step of the detection benchmark, run in its own process so that its time and
peak RSS are its own: ``build STORE WORLD resolve|none`` (ingest the world in one
run, and resolve it or not), ``graph STORE`` or
``detect STORE DETECTOR`` (``all``: every detector in one run, as ``shadowtrace detect``
does it). Prints a JSON line with what it did."""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    step, store_path = sys.argv[1], sys.argv[2]
    from shadowtrace.store import Store

    started = time.perf_counter()
    out: dict[str, object] = {"step": step}
    with Store.open(store_path) as store:
        if step == "build":
            from shadowtrace.ingest import ingest

            report = ingest(store, [sys.argv[3]])
            out["rows"] = report.rows_in
            out["ingest_seconds"] = round(time.perf_counter() - started, 1)
            if sys.argv[4] == "resolve":
                from shadowtrace.resolve import resolve

                rr = resolve(store)
                out["records"] = rr.records
                out["entities"] = rr.entities
        elif step == "graph":
            from shadowtrace.graph import build_edges

            out.update(build_edges(store).to_dict())
        elif step == "detect":
            from shadowtrace.detect.run import detect

            name = sys.argv[3]
            report = detect(store, only=None if name == "all" else [name])
            out["findings"] = report.total
            out["detector_seconds"] = round(sum(r.seconds for r in report.runs), 2)
            out["per_detector"] = {r.detector: r.seconds for r in report.runs}
            out["write_seconds"] = report.write_seconds
        else:
            raise SystemExit(f"unknown step {step}")
    out["seconds"] = round(time.perf_counter() - started, 2)
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
