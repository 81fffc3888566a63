"""One step of the detection benchmark, run in its own process so that its time and
peak RSS are its own: ``build STORE WORLD resolve|none|by-source`` (ingest, and
resolve; ``by-source``: each source of the world in its own run, the big ones cut into
parts of a million records, not resolved), ``graph STORE`` or
``detect STORE DETECTOR`` (``all``: every detector in one run, as ``shadowtrace detect``
does it). Prints a JSON line with what it did."""

from __future__ import annotations

import json
import sys
import time

#: Records per run of a ``by-source`` build: one run must fit the temporary disk
#: (DuckDB keeps the tables a run drops until its transaction ends).
PART_ROWS = 1_000_000


def _parts(world: str) -> list[tuple[str, str, str | None]]:
    """(file, dataset, mapping) per run: each source of the world's manifest, the big
    ones cut into files of ``PART_ROWS`` records (same columns, same mapping)."""
    from pathlib import Path

    import duckdb

    from shadowtrace.ingest.plan import plan_ingest
    from shadowtrace.store.sql import string_literal

    out: list[tuple[str, str, str | None]] = []
    for item in plan_ingest([world]):
        assert item.path is not None
        mapping = item.mapping_path and str(Path(world) / item.mapping_path)
        if item.kind not in ("csv", "parquet"):
            out.append((str(item.path), item.dataset, mapping))
            continue
        reader = (
            f"read_csv({string_literal(str(item.path))}, all_varchar = true, header = true)"
            if item.kind == "csv"
            else f"read_parquet({string_literal(str(item.path))})"
        )
        con = duckdb.connect()
        n = int(con.execute(f"SELECT count(*) FROM {reader}").fetchall()[0][0])
        if n <= PART_ROWS:
            out.append((str(item.path), item.dataset, mapping))
            continue
        folder = item.path.parent / "parts"
        folder.mkdir(exist_ok=True)
        fmt = "(HEADER)" if item.kind == "csv" else "(FORMAT parquet)"
        for i in range(0, n, PART_ROWS):
            part = folder / f"{item.path.stem}.{i // PART_ROWS:03d}{item.path.suffix}"
            if not part.exists():
                con.execute(
                    f"COPY (SELECT * FROM {reader} LIMIT {PART_ROWS} OFFSET {i}) "
                    f"TO {string_literal(f'{part}.tmp')} {fmt}"
                )
                Path(f"{part}.tmp").rename(part)
            out.append((str(part), item.dataset, mapping))
        con.close()
    return out


def main() -> None:
    step, store_path = sys.argv[1], sys.argv[2]
    from shadowtrace.store import Store

    started = time.perf_counter()
    out: dict[str, object] = {"step": step}
    with Store.open(store_path) as store:
        if step == "build":
            from shadowtrace.ingest import ingest

            if sys.argv[4:5] == ["by-source"]:
                rows = 0
                for path, dataset, mapping in _parts(sys.argv[3]):
                    report = ingest(store, [path], dataset=dataset, mapping=mapping)
                    rows += report.rows_in
                out["rows"] = rows
            else:
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
