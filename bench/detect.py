"""Detection benchmark: precision and recall per typology against the simulator's ground
truth, and time and peak RSS per detector.

For each scenario (default and hard) a world is simulated on a seed no test uses,
ingested and resolved; the graph is built and every detector runs in its own process
(time and peak RSS from the kernel, ``wait4``); the findings are then measured against
the ground truth (``shadowtrace.detect.evaluate``: the match rule of each typology is
printed beside it). Targets on the default scenario: recall >= 0.9 and precision >= 0.8
for every typology.

``--speed N`` also times the detectors on a world of at least N transactions (target:
all detectors over 10M transactions in under 5 minutes and under 8 GB, judged on the
graph build plus one ``detect`` run of every detector, which is what a user runs; the
rows of each detector alone, each in a fresh process, are the breakdown). That world is
ingested without resolution (resolving it is the resolver's benchmark): every record
is its own entity, which makes the graph larger, not smaller.

Usage: python bench/detect.py [--scale 0.1] [--seed 20240917] [--speed 10000000]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

from common import PYTHON, ROOT, WORK, Measure, run, table

sys.path.insert(0, str(ROOT / "src"))

HERE = Path(__file__).resolve().parent
STEP = [PYTHON, str(HERE / "_detect_one.py")]
SEED = 20240917  # no test uses it


def simulate_world(scenario: str, seed: int, scale: float, out: Path) -> dict[str, object]:
    from shadowtrace.simulate import simulate

    if (out / "manifest.yml").exists() and (out / "calibration.json").exists():
        data: dict[str, object] = json.loads((out / "calibration.json").read_text())
        return data
    started = time.perf_counter()
    result = simulate(scenario, seed=seed, scale=scale, out=out)
    print(
        f"  simulated {scenario} x{scale:g}: {result.transactions:,} transactions "
        f"in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return result.to_dict(with_out=False)


def step(label: str, *args: str) -> tuple[Measure, dict[str, object]]:
    m = run(label, [*STEP, *args], env={"PYTHONPATH": str(ROOT / "src")})
    if not m.ok:
        raise SystemExit(f"{label} failed")
    lines = [x for x in m.stdout.decode().splitlines() if x.startswith("{")]
    return m, json.loads(lines[-1]) if lines else {}


def build(world: Path, store: Path, resolve: bool) -> None:
    marker = store.parent / f"{store.name}.built"
    if store.exists() and marker.exists():
        return
    store.unlink(missing_ok=True)
    how = "resolve" if resolve else "none"
    m, info = step(f"build {world.name}", "build", str(store), str(world), how)
    print(
        f"  built {world.name}: {info.get('rows')} rows, ingest {info.get('ingest_seconds')} s"
        + (
            f", resolved {info.get('records')} records into {info.get('entities')} entities"
            if resolve
            else ", not resolved"
        )
        + f"; {m.seconds:.0f} s, peak {m.peak_rss_mb:,.0f} MB",
        file=sys.stderr,
    )
    marker.write_text("ok\n")


def detect_all(store: Path) -> tuple[list[list[object]], float, float]:
    """Graph, then each detector in its own process, then all of them in one run (as
    ``shadowtrace detect`` runs them: one scan of the store for the evidence of every
    finding, intermediate results shared): rows of the timing table, and the seconds
    and peak RSS of the graph plus the one run."""
    from shadowtrace.detect.registry import detectors

    rows: list[list[object]] = []
    m, info = step("graph", "graph", str(store))
    rows.append(["graph (edges)", f"{info.get('edges', 0):,}", f"{m.seconds:.1f}",
                 f"{m.peak_rss_mb:,.0f}"])  # fmt: skip
    graph_seconds, graph_peak = m.seconds, m.peak_rss_mb
    total, peak = m.seconds, m.peak_rss_mb
    for name in detectors():
        m, info = step(name, "detect", str(store), name)
        rows.append([name, f"{info.get('findings', 0):,}", f"{m.seconds:.1f}",
                     f"{m.peak_rss_mb:,.0f}"])  # fmt: skip
        total += m.seconds
        peak = max(peak, m.peak_rss_mb)
    rows.append(["graph + each alone (sum; peak)", "", f"{total:.1f}", f"{peak:,.0f}"])
    m, info = step("all", "detect", str(store), "all")
    rows.append(["all detectors, one run", f"{info.get('findings', 0):,}", f"{m.seconds:.1f}",
                 f"{m.peak_rss_mb:,.0f}"])  # fmt: skip
    rows.append(["  of which writing findings", "", f"{info.get('write_seconds', 0):.1f}", ""])
    seconds, most = graph_seconds + m.seconds, max(graph_peak, m.peak_rss_mb)
    rows.append(["graph + one run", "", f"{seconds:.1f}", f"{most:,.0f}"])
    return rows, seconds, most


def store_size(store: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        row = con.execute(
            "SELECT (SELECT count(*) FROM statements), "
            "(SELECT count(DISTINCT entity_id) FROM statements), "
            "(SELECT count(DISTINCT canonical_id) FROM statements)"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return {"statements": int(row[0]), "records": int(row[1]), "entities": int(row[2])}


def evaluate(store: Path, world: Path) -> dict[str, dict[str, object]]:
    from shadowtrace.detect.evaluate import evaluate as measure
    from shadowtrace.store import Store

    with Store.open(store) as st:
        return {s.typology: s.to_dict() for s in measure(st, world)}


def fmt(x: object) -> str:
    return "—" if x is None else f"{float(x):.3f}"  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--scenarios", nargs="*", default=["default", "hard"], help="none: only the speed run"
    )
    parser.add_argument("--speed", type=int, default=0, help="transactions of the speed world")
    parser.add_argument("--fresh", action="store_true", help="simulate and build again")
    args = parser.parse_args()
    if args.scenarios == ["none"]:
        args.scenarios = []
    work = WORK / "detect"
    if args.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)

    scores: dict[str, dict[str, dict[str, object]]] = {}
    timings: dict[str, list[list[object]]] = {}
    sizes: dict[str, str] = {}
    for scenario in args.scenarios:
        world = work / f"{scenario}-s{args.seed}-x{args.scale:g}"
        info = simulate_world(scenario, args.seed, args.scale, world)
        store = world.parent / f"{world.name}.duckdb"
        build(world, store, resolve=True)
        timings[scenario] = detect_all(store)[0]
        scores[scenario] = evaluate(store, world)
        size = store_size(store)
        sizes[scenario] = (
            f"{scenario}: seed {args.seed}, scale {args.scale:g}, "
            f"{int(info.get('transactions', 0)):,} transactions, {size['statements']:,} "  # type: ignore[call-overload]
            f"statements, {size['records']:,} records resolved into {size['entities']:,} entities"
        )

    if args.scenarios:
        report_scores(args.scenarios, scores, timings, sizes)
    if args.speed:
        speed(args.speed, args.seed, work)


def report_scores(
    scenarios: list[str],
    scores: dict[str, dict[str, dict[str, object]]],
    timings: dict[str, list[list[object]]],
    sizes: dict[str, str],
) -> None:
    print("\nWorlds")
    for line in sizes.values():
        print("  " + line)
    typologies = sorted({t for s in scores.values() for t in s})
    headers = ["typology", "rule"]
    for scenario in scenarios:
        headers += [f"{scenario} findings", f"{scenario} schemes", f"{scenario} P",
                    f"{scenario} R"]  # fmt: skip
    rows: list[list[object]] = []
    for t in typologies:
        first = next((s[t] for s in scores.values() if t in s), {})
        row: list[object] = [t, first.get("rule", "")]
        for scenario in scenarios:
            d = scores[scenario].get(t, {})
            row += [d.get("findings", 0), d.get("schemes", 0), fmt(d.get("precision")),
                    fmt(d.get("recall"))]  # fmt: skip
        rows.append(row)
    print("\nPrecision and recall per typology (targets on default: R >= 0.9, P >= 0.8)")
    print(table(headers, rows))
    for scenario, trows in timings.items():
        print(f"\nTime and peak RSS per detector, {sizes[scenario]}")
        print(table(["step", "findings", "seconds", "peak RSS MB"], trows))


def speed(transactions: int, seed: int, work: Path) -> None:
    """Time every detector on a world of at least ``transactions`` transactions."""
    # transactions grow linearly with the scale above a structural floor: estimate
    # the slope from two small worlds
    probes = [
        simulate_world("default", seed, x, work / f"probe-s{seed}-x{x:g}") for x in (0.5, 1.0)
    ]
    t0, t1 = (float(p["transactions"]) for p in probes)  # type: ignore[arg-type]
    slope = (t1 - t0) / 0.5
    scale = math.ceil((transactions - t1) / slope + 1.0) + 1
    world = work / f"speed-default-s{seed}-x{scale:g}"
    info = simulate_world("default", seed, scale, world)
    store = world.parent / f"{world.name}.duckdb"
    build(world, store, resolve=False)  # one atomic run, as a user would ingest it
    trows, total, peak = detect_all(store)
    size = store_size(store)
    print(
        f"\nSpeed: default, seed {seed}, scale {scale:g}: "
        f"{int(info['transactions']):,} transactions, {size['statements']:,} statements, "  # type: ignore[call-overload]
        f"{size['records']:,} records (not resolved)"
    )
    print(table(["step", "findings", "seconds", "peak RSS MB"], trows))
    print(
        f"target: graph and all detectors < 300 s and < 8 GB: {total:.0f} s, {peak:,.0f} MB peak "
        f"({'met' if total < 300 and peak < 8192 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
