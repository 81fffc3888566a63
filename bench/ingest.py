"""Ingest benchmark: shadowtrace against the reference ``ftm map-csv | ftm aggregate``.

Builds a CSV of at least 1M rows from the donations fixture (each copy with
distinct donors, streets and dates, so ids and values differ), then:

* ingests the full file with ``shadowtrace ingest`` (target: < 60 s, < 2 GB);
* ingests a 100k-row slice with shadowtrace and with the reference path
  (``ftm map-csv`` then ``ftm aggregate``, followthemoney's own tools) in the same run,
  and prints rows/s for each and the ratio (target: ≥ 20×).

Usage: python bench/ingest.py [--rows 1000000] [--slice 100000]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys

from common import BIN, PYTHON, WORK, Measure, pipeline, run, table

FIXTURE = WORK.parent.parent / "tests" / "fixtures" / "ftm"


def build(path, rows: int) -> int:
    with open(FIXTURE / "donations.csv", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        base = list(reader)
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        copy = 0
        while n < rows:
            for row in base:
                if n >= rows:
                    break
                out = dict(row)
                out["Donor"] = f"{row['Donor']} {copy}"
                out["Street"] = f"{row['Street']} {copy}"
                year = 2000 + copy % 25
                out["DonationDate"] = f"{year}{row['DonationDate'][4:]}"
                writer.writerow(out)
                n += 1
            copy += 1
    return n


def shadowtrace(label: str, csv_path, store) -> Measure:
    if store.exists():
        store.unlink()
    return run(
        label,
        [PYTHON, "-m", "shadowtrace", "--store", str(store), "--no-progress", "ingest",
         str(csv_path), "-d", "donations", "-m", str(FIXTURE / "donations.yml"), "--json"],
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=100_000)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    full = WORK / "donations-full.csv"
    part = WORK / "donations-slice.csv"
    rows = build(full, args.rows)
    sliced = build(part, args.slice)
    print(f"input: {rows:,} rows ({full.stat().st_size / 2**20:.0f} MB); slice {sliced:,} rows")

    ours_full = shadowtrace("shadowtrace ingest (full)", full, WORK / "full.duckdb")
    ours_slice = shadowtrace("shadowtrace ingest (slice)", part, WORK / "slice.duckdb")
    mapped = WORK / "mapped.ijson"
    ref = pipeline(
        "ftm map-csv | ftm aggregate (slice)",
        [str(BIN / "ftm"), "map-csv", str(FIXTURE / "donations.yml")],
        [str(BIN / "ftm"), "aggregate"],
        stdin=part,
        stdout=mapped,
    )
    if not (ours_full.ok and ours_slice.ok and ref.ok):
        print("a run failed", file=sys.stderr)
        return 1
    body = []
    for m, n in ((ours_full, rows), (ours_slice, sliced), (ref, sliced)):
        body.append(
            [
                m.label,
                f"{n:,}",
                f"{m.seconds:.1f}",
                f"{n / m.seconds:,.0f}",
                f"{m.peak_rss_mb:,.0f}",
            ]
        )
    print(table(["run", "rows", "seconds", "rows/s", "peak RSS MB"], body))
    ref_rate = sliced / ref.seconds
    ratio_full = (rows / ours_full.seconds) / ref_rate
    ratio_slice = (sliced / ours_slice.seconds) / ref_rate
    print(
        f"throughput ratio against ftm map-csv | ftm aggregate on {sliced:,} rows: "
        f"{ratio_full:.1f}x (shadowtrace on {rows:,} rows), {ratio_slice:.1f}x (same slice, "
        "where process start-up weighs more)"
    )
    verdict = {True: "met", False: "NOT met"}
    print(
        f"targets: >= 20x: {verdict[ratio_full >= 20]}; "
        f"1M rows < 60 s: {verdict[ours_full.seconds < 60 and rows >= 1_000_000]}; "
        f"< 2 GB: {verdict[ours_full.peak_rss_mb < 2048]}"
    )
    shutil.rmtree(WORK / "tmp", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
