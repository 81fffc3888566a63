"""Entity resolution benchmark: quality, speed and scale, each beside its reference.

    python bench/resolve.py [--skip-names] [--skip-speed] [--skip-world] [--skip-scale]
        [--skip-ref] [--speed-records 5000] [--world-scale 0.05] [--records 1000000]
        [--quick]

Part 1, name pairs: every labelled pair of ``name_pairs.csv`` is scored by
shadowtrace (``resolve.compare`` on two one-name entities) and by nomenklatura's
``logic-v2`` in a subprocess of the reference environment, in the same run. Precision,
recall and F1 are printed at the threshold each uses (ours: the name model's, 0.5;
logic-v2: 0.7, its usual cut-off), overall and per case group and category.
Our model's coefficients were fitted on these same pairs (``bench/fit_names.py``), so
the in-sample figure flatters it; the line to compare is the *cross-validated* one:
pairs split in two folds by a hash of their names, each fold scored by a model fitted
on the other.

Part 2, speed and memory against ``nomenklatura xref`` on the same entities, each in a
fresh process (wall time, entities per second, peak RSS from ``wait4``, the ratios):
first the 474 donation entities of the test fixtures, where start-up dominates; then a
``bench/synth.py`` register of ``--speed-records`` records (default 5,000), which we
ingest from its CSV through its mapping and resolve, and which xref reads as FtM JSON
lines (the same register ingested and exported as stock FtM). xref runs with its own
default limit on candidate pairs (``--xref-limit`` changes it); the number of pairs
each side scored is printed beside the times.

Part 3, quality on the simulator's ground truth: a default and a hard world (seed
90210, which no test uses; ``--world-scale``, default 0.05) are simulated, ingested
and resolved, and scored by ``bench/_world_eval.py``: pairwise precision, recall and
F1 and B-cubed, beside the target (pairwise F1 >= 0.95 on default).

Part 4, scale: a ``bench/synth.py`` register of ``--records`` records (default
1,000,000) is ingested, then resolved in a fresh process: records, entities per
second, wall seconds of the resolve alone, peak RSS, beside the target (a million
entities in under 10 minutes and under 6 GB); then pairwise precision, recall and F1
against the register's ``truth.parquet``. A resolve that outlasts
``--scale-timeout`` (default 40 minutes) is killed and reported as such.

Registers, worlds and the ingested register are built once in the bench folder
(``bench/.work`` or ``$SHADOWTRACE_BENCH_DIR``) and reused; every store that is
resolved is built afresh. ``--quick`` shrinks every input (a smoke run, not the
figures to quote).

nomenklatura is a benchmark dependency only; it runs in its own environment
(``--ref-python``, default ``$SHADOWTRACE_REF_PYTHON`` or ``.venv-ref/bin/python``, the
environment ``make bench`` builds from ``bench/requirements-ref.lock``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import synth  # noqa: E402
from _world_eval import evaluate  # noqa: E402
from common import PYTHON, WORK, Measure, run, table  # noqa: E402
from namepairs import DEFAULT_PAIRS, Pair, feature_matrix, read_pairs  # noqa: E402
from shadowtrace.export.formats import FtMExporter  # noqa: E402
from shadowtrace.ingest.run import ingest  # noqa: E402
from shadowtrace.resolve.compare import compare, prepare  # noqa: E402
from shadowtrace.resolve.learn import fit_logistic  # noqa: E402
from shadowtrace.resolve.names import FEATURES, NameModel, name_model  # noqa: E402
from shadowtrace.simulate import simulate  # noqa: E402
from shadowtrace.store import Store  # noqa: E402
from shadowtrace.store.sql import string_literal  # noqa: E402

REF_PYTHON = os.environ.get("SHADOWTRACE_REF_PYTHON", str(ROOT / ".venv-ref" / "bin" / "python"))
LOGIC_V2_THRESHOLD = 0.7
OURS = ROOT / "bench" / "_ours_resolve.py"
WORLD_SEED = 90210  # no test uses it
WORLD_F1_TARGET = 0.95
SYNTH_SEED = 7
SCALE_TARGET_RECORDS = 1_000_000
SCALE_TARGET_SECONDS = 600.0
SCALE_TARGET_GB = 6.0


def prf(scores: Sequence[float], truth: Sequence[bool], threshold: float) -> tuple[float, ...]:
    tp = sum(1 for s, t in zip(scores, truth, strict=True) if s >= threshold and t)
    fp = sum(1 for s, t in zip(scores, truth, strict=True) if s >= threshold and not t)
    fn = sum(1 for s, t in zip(scores, truth, strict=True) if s < threshold and t)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score_ours(pairs: Sequence[Pair], model: NameModel) -> list[float]:
    scores: list[float] = []
    for i, pair in enumerate(pairs):
        left = prepare({"id": f"l{i}", "schema": pair.schema, "properties": {"name": [pair.name1]}})
        right = prepare(
            {"id": f"r{i}", "schema": pair.schema, "properties": {"name": [pair.name2]}}
        )
        scores.append(compare(left, right, model).score)
    return scores


def fold_of(pair: Pair) -> int:
    digest = hashlib.sha256(f"{pair.name1}\x1f{pair.name2}".encode()).digest()
    return digest[0] % 2


def cross_validated(pairs: Sequence[Pair]) -> list[float]:
    x, y = feature_matrix(list(pairs))
    truth = np.asarray(y, dtype=np.float64)
    folds = np.array([fold_of(p) for p in pairs])
    scores = [0.0] * len(pairs)
    base = name_model()
    for fold in (0, 1):
        coef = fit_logistic(x[folds != fold], truth[folds != fold])
        model = NameModel(
            intercept=coef["intercept"],
            coefficients={n: coef[n] for n in FEATURES},
            threshold=base.threshold,
            source=f"fold {fold}",
        )
        held = [i for i, f in enumerate(folds) if f == fold]
        for i, score in zip(held, score_ours([pairs[i] for i in held], model), strict=True):
            scores[i] = score
    return scores


def score_logic_v2(pairs_path: Path, ref_python: str) -> tuple[list[float], float] | None:
    if not Path(ref_python).exists():
        print(f"logic-v2: reference interpreter {ref_python} not found, skipped")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scores.json"
        cmd = [ref_python, str(ROOT / "bench" / "_nk_pairs.py"), str(pairs_path), str(out)]
        subprocess.run(cmd, check=True)
        data = json.loads(out.read_text())
    return [float(s) for s in data["scores"]], float(data["seconds"])


def line(label: str, scores: Sequence[float], truth: Sequence[bool], threshold: float) -> str:
    p, r, f = prf(scores, truth, threshold)
    return f"  {label:<34} t={threshold:<4} P={p:.3f} R={r:.3f} F1={f:.3f}"


def breakdown(
    pairs: Sequence[Pair], columns: dict[str, tuple[list[float], float]], key: str
) -> None:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, pair in enumerate(pairs):
        groups[getattr(pair, key)].append(i)
    names = list(columns)
    print(f"\n  per {key} (share of pairs decided correctly):")
    print(f"  {'':<36}{'n':>4}  " + "  ".join(f"{n:>12}" for n in names))
    for group in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        idx = groups[group]
        cells = []
        for name in names:
            scores, threshold = columns[name]
            right = sum(1 for i in idx if (scores[i] >= threshold) == pairs[i].is_match)
            cells.append(f"{right / len(idx):>12.2f}")
        print(f"  {group[:36]:<36}{len(idx):>4}  " + "  ".join(cells))


def name_pairs_part(pairs_path: Path, ref_python: str | None) -> None:
    pairs = read_pairs(pairs_path)
    truth = [p.is_match for p in pairs]
    model = name_model()
    print(f"== name pairs: {pairs_path.name}, {len(pairs)} pairs, {sum(truth)} matches")
    score_ours(pairs, model)  # warm-up: loads rigour's tables and fills caches
    start = time.perf_counter()
    ours = score_ours(pairs, model)
    ours_seconds = time.perf_counter() - start
    held_out = cross_validated(pairs)
    print(line("shadowtrace (cross-validated)", held_out, truth, model.threshold))
    print(line("shadowtrace (fitted on all pairs)", ours, truth, model.threshold))
    columns = {
        "ours (cv)": (held_out, model.threshold),
    }
    ref = score_logic_v2(pairs_path, ref_python) if ref_python else None
    if ref is not None:
        lv2, lv2_seconds = ref
        print(line("nomenklatura logic-v2", lv2, truth, LOGIC_V2_THRESHOLD))
        columns["logic-v2"] = (lv2, LOGIC_V2_THRESHOLD)
        print(
            f"  time per pair (warm): shadowtrace {ours_seconds / len(pairs) * 1e6:.0f} µs, "
            f"logic-v2 {lv2_seconds / len(pairs) * 1e6:.0f} µs"
        )
    else:
        print(f"  time per pair (warm): shadowtrace {ours_seconds / len(pairs) * 1e6:.0f} µs")
    breakdown(pairs, columns, "case_group")
    breakdown(pairs, columns, "category")


def _child(label: str, args: list[str], cwd: Path | None = None,
           timeout: float | None = None) -> tuple[Measure, dict[str, Any]]:  # fmt: skip
    """Run ``bench/_ours_resolve.py`` in a fresh process; its measure and its figures."""
    measure = run(label, [PYTHON, str(OURS), *args], cwd=cwd, timeout=timeout)
    if measure.timed_out:
        return measure, {}
    if not measure.ok:
        raise RuntimeError(f"{label}: _ours_resolve.py {' '.join(args)} failed")
    return measure, json.loads(measure.stdout.decode().strip().splitlines()[-1])


def _xref(ref_python: str, source: Path, folder: Path, limit: int | None) -> tuple[Measure, int]:
    """``nomenklatura xref`` on a copy of ``source`` in ``folder`` (its index and its
    resolver database go there); its measure and the number of candidate pairs it wrote.
    """
    cli = Path(ref_python).parent / "nomenklatura"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / source.name)
    cmd = [str(cli), "xref"]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    measure = run("nomenklatura xref", [*cmd, source.name], cwd=folder)
    if not measure.ok:
        raise RuntimeError(f"nomenklatura xref failed on {source}")
    with closing(sqlite3.connect(folder / "nomenklatura.db")) as con:
        pairs = int(con.execute("SELECT count(*) FROM resolver").fetchone()[0])
    return measure, pairs


def _speed_lines(n: int, ours: Measure, data: dict[str, Any], nk: Measure | None,
                 nk_pairs: int = 0) -> None:  # fmt: skip
    ours_rate = n / ours.seconds
    print(
        f"  shadowtrace ingest+resolve: {ours.seconds:7.2f} s wall "
        f"({data['resolve_seconds']:.2f} s resolve), peak RSS {ours.peak_rss_mb:,.0f} MB, "
        f"{ours_rate:,.0f} entities/s; "
        f"{data['records']:,} matchable records -> {data['entities']:,} entities, "
        f"{data['scored']:,} candidate pairs scored"
    )
    if nk is None:
        return
    nk_rate = n / nk.seconds
    print(
        f"  nomenklatura xref:          {nk.seconds:7.2f} s wall, peak RSS "
        f"{nk.peak_rss_mb:,.0f} MB, {nk_rate:,.0f} entities/s; {nk_pairs:,} candidate pairs "
        "scored and written"
    )
    print(
        f"  ratio (ours / xref): {ours_rate / nk_rate:.2f}x the throughput, "
        f"{ours.peak_rss_mb / nk.peak_rss_mb:.2f}x the peak memory"
    )


def speed_part(ref_python: str | None) -> None:
    """Ingest + resolve the 474 donation entities, against `nomenklatura xref` on the same."""
    fixtures = ROOT / "tests" / "fixtures" / "ftm"
    print("\n== speed and memory: donations (474 FtM entities), fresh process each")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = [str(fixtures / "donations.csv"), str(fixtures / "donations.yml")]
        ours, data = _child("shadowtrace", [str(work / "bench.duckdb"), *sources], cwd=work)
        nk = None
        if ref_python is not None and Path(ref_python).exists():
            nk, pairs = _xref(ref_python, fixtures / "donations.ijson", work / "nk", None)
        _speed_lines(474, ours, data, nk, pairs if nk else 0)


def register(folder: Path, records: int, seed: int) -> dict[str, Any]:
    """``bench/synth.py``'s register of ``records`` rows in ``folder``, built once."""
    done = folder / "register.json"
    if done.is_file():
        return dict(json.loads(done.read_text()))
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    parties = synth.generate(folder, records, seed)
    info = {"records": records, "parties": parties, "seconds": time.perf_counter() - start}
    done.write_text(json.dumps(info))
    return info


def synth_speed_part(records: int, seed: int, ref_python: str | None,
                     xref_limit: int | None) -> None:  # fmt: skip
    """Ingest + resolve a synthetic register of ``records`` rows, against `nomenklatura
    xref` on the same entities as FtM JSON lines.
    """
    folder = WORK / "resolve" / f"speed-{records}-seed{seed}"
    info = register(folder, records, seed)
    csv_path, mapping = folder / "parties.csv", folder / "parties.yml"
    entities = folder / "entities.ijson"
    if not entities.is_file():
        # the same entities for nomenklatura: the register ingested through its mapping,
        # exported as stock FtM
        with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "x.duckdb") as st:
            ingest(st, [str(csv_path)], dataset="bench", mapping=str(mapping))
            FtMExporter(stock=True).export(st, str(entities) + ".part")
        Path(str(entities) + ".part").rename(entities)
    limit = "its default candidate limit" if xref_limit is None else f"--limit {xref_limit}"
    print(
        f"\n== speed and memory: synthetic register, {records:,} records of "
        f"{info['parties']:,} parties (seed {seed}), fresh process each; ours reads the CSV "
        f"through its mapping, nomenklatura xref ({limit}) the same entities as FtM JSON"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours, data = _child(
            "shadowtrace", [str(work / "bench.duckdb"), str(csv_path), str(mapping)], cwd=work
        )
        nk, pairs = None, 0
        if ref_python is not None and Path(ref_python).exists():
            nk, pairs = _xref(ref_python, entities, work / "nk", xref_limit)
        _speed_lines(records, ours, data, nk, pairs)


def world_part(scenarios: Sequence[str], seed: int, scale: float) -> None:
    """Simulate, ingest and resolve each scenario; score against its ground truth."""
    print(
        f"\n== quality on the simulator's ground truth: seed {seed}, scale {scale:g} "
        "(pairwise and B-cubed over the resolved entity ids; bench/_world_eval.py)"
    )
    rows: list[list[object]] = []
    notes: list[str] = []
    f1s: dict[str, float] = {}
    for scenario in scenarios:
        folder = WORK / "resolve" / f"world-{scenario}-seed{seed}-scale{scale:g}"
        world = folder / "world"
        done = folder / "world.json"
        if not done.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            result = simulate(scenario, seed=seed, scale=scale, out=world)
            done.write_text(json.dumps({"transactions": result.transactions}))
        transactions = int(json.loads(done.read_text())["transactions"])
        store = folder / "store.duckdb"
        store.unlink(missing_ok=True)
        measure, data = _child(f"resolve {scenario}", [str(store), str(world)])
        with Store.open(store) as st:
            ev = evaluate(st, world)
        f1s[scenario] = ev["pairwise_f1"]
        rows.append(
            [
                scenario,
                f"{transactions:,}",
                f"{ev['items']:,}",
                f"{ev['true_entities']:,}",
                f"{ev['predicted_entities']:,}",
                f"{ev['pairwise_precision']:.3f}",
                f"{ev['pairwise_recall']:.3f}",
                f"{ev['pairwise_f1']:.3f}",
                f"{ev['bcubed_precision']:.3f}",
                f"{ev['bcubed_recall']:.3f}",
                f"{ev['bcubed_f1']:.3f}",
                f"{data['resolve_seconds']:.1f}",
                f"{measure.peak_rss_mb:,.0f}",
            ]
        )
        if ev["impure_items"]:
            notes.append(
                f"  {scenario}: {ev['impure_items']:,} entity ids trace to more than one "
                "true entity (scored by the first)"
            )
    headers = ["scenario", "transactions", "entity ids", "true", "predicted", "pair P",
               "pair R", "pair F1", "B3 P", "B3 R", "B3 F1", "resolve s",
               "peak RSS MB"]  # fmt: skip
    print(table(headers, rows))
    for note in notes:
        print(note)
    if "default" in f1s:
        met = "met" if f1s["default"] >= WORLD_F1_TARGET else "NOT met"
        print(f"  target: pairwise F1 >= {WORLD_F1_TARGET} on default: {f1s['default']:.3f}, {met}")


def _synth_truth(store: Store, register_dir: Path, folder: Path) -> Path:
    """The register's truth laid out as a simulated world's ``ground_truth/records.parquet``
    (file, row, origin, true_id), so that ``_world_eval.evaluate`` scores it.
    """
    source = store.scalar(
        "SELECT name FROM sources WHERE path = ?", [str(register_dir / "parties.csv")]
    )
    (folder / "ground_truth").mkdir(parents=True, exist_ok=True)
    out = folder / "ground_truth" / "records.parquet"
    store.con.execute(
        f"COPY (SELECT ? AS file, row, 'party' AS origin, true_id "
        f"FROM read_parquet(?)) TO {string_literal(str(out))} (FORMAT parquet)",
        [source, str(register_dir / "truth.parquet")],
    )
    return folder


def scale_part(records: int, seed: int, timeout: float, score: bool) -> None:
    """Resolve a synthetic register of ``records`` rows in a fresh process."""
    folder = WORK / "resolve" / f"synth-{records}-seed{seed}"
    info = register(folder, records, seed)
    base = folder / "ingested.duckdb"
    ingested = folder / "ingested.json"
    if not ingested.is_file():
        base.unlink(missing_ok=True)
        measure, data = _child(
            "ingest",
            [str(base), str(folder / "parties.csv"), str(folder / "parties.yml"), "--no-resolve"],
        )
        ingested.write_text(
            json.dumps({"seconds": data["ingest_seconds"], "peak_rss_mb": measure.peak_rss_mb})
        )
    ing = json.loads(ingested.read_text())
    print(
        f"\n== scale: synthetic register, {records:,} records of {info['parties']:,} parties "
        f"(seed {seed}); ingested once ({ing['seconds']:.0f} s, peak RSS "
        f"{ing['peak_rss_mb']:,.0f} MB), then resolved in a fresh process"
    )
    store = folder / "resolved.duckdb"
    store.unlink(missing_ok=True)
    shutil.copyfile(base, store)
    measure, data = _child("resolve", [str(store)], timeout=timeout)
    target = (
        f"target: {SCALE_TARGET_RECORDS:,} entities resolved in under {SCALE_TARGET_SECONDS:.0f} s "
        f"and under {SCALE_TARGET_GB:g} GB"
    )
    if measure.timed_out:
        print(
            f"  resolve did NOT finish: killed after {measure.seconds:,.0f} s wall "
            f"(limit --scale-timeout {timeout:g} s), peak RSS {measure.peak_rss_mb:,.0f} MB "
            "by then"
        )
        print(f"  {target}: NOT met")
        return
    seconds = data["resolve_seconds"]
    workers = data["worker_peak_rss"] / 2**20
    print(
        f"  records {data['records']:,} -> {data['entities']:,} entities; "
        f"{data['candidates']:,} candidate pairs, {data['scored']:,} scored"
    )
    print(
        f"  resolve: {seconds:,.1f} s wall ({data['records'] / seconds:,.0f} entities/s); "
        f"process {measure.seconds:,.1f} s wall with start-up and store opening"
    )
    print(
        f"  peak RSS {measure.peak_rss_mb:,.0f} MB (largest single process of the resolve: "
        f"wait4 counts the name workers too; workers' own peak {workers:,.0f} MB, they share "
        "the parent's pages by fork)"
    )
    steps = ", ".join(f"{k} {v:.0f}" for k, v in data["timings"].items())
    print(f"  resolve steps (s): {steps}")
    if records >= SCALE_TARGET_RECORDS:
        ok = seconds < SCALE_TARGET_SECONDS and measure.peak_rss_mb < SCALE_TARGET_GB * 1024
        print(f"  {target}: {'met' if ok else 'NOT met'}")
    else:
        print(f"  {target}: not judged at {records:,} records")
    if not score:
        return
    start = time.perf_counter()
    with Store.open(store) as st:
        ev = evaluate(st, _synth_truth(st, folder, folder / "truth"))
    print(
        f"  against truth.parquet ({ev['true_entities']:,} true parties, "
        f"{ev['predicted_entities']:,} predicted; scored in {time.perf_counter() - start:.0f} s): "
        f"pairwise P={ev['pairwise_precision']:.3f} R={ev['pairwise_recall']:.3f} "
        f"F1={ev['pairwise_f1']:.3f}; B-cubed F1={ev['bcubed_f1']:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", default=str(DEFAULT_PAIRS))
    parser.add_argument("--ref-python", default=REF_PYTHON)
    parser.add_argument("--skip-ref", action="store_true", help="do not run nomenklatura")
    parser.add_argument("--skip-names", action="store_true", help="skip part 1, name pairs")
    parser.add_argument("--skip-speed", action="store_true", help="skip part 2, speed")
    parser.add_argument("--skip-world", action="store_true", help="skip part 3, worlds")
    parser.add_argument("--skip-scale", action="store_true", help="skip part 4, scale")
    parser.add_argument("--speed-records", type=int, default=5_000,
                        help="records of the register timed against xref (part 2)")  # fmt: skip
    parser.add_argument("--xref-limit", type=int, default=None,
                        help="xref's --limit on candidate pairs (default: its own)")  # fmt: skip
    parser.add_argument("--world-seed", type=int, default=WORLD_SEED)
    parser.add_argument("--world-scale", type=float, default=0.05)
    parser.add_argument("--scenarios", nargs="+", default=["default", "hard"])
    parser.add_argument("--records", type=int, default=1_000_000,
                        help="records of the register resolved at scale (part 4)")  # fmt: skip
    parser.add_argument("--synth-seed", type=int, default=SYNTH_SEED)
    parser.add_argument("--scale-timeout", type=float, default=2400.0,
                        help="seconds after which the scale resolve is killed")  # fmt: skip
    parser.add_argument("--skip-truth", action="store_true",
                        help="do not score the scale run against the register's truth")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="small inputs: a smoke run, not the figures to quote")  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.speed_records = min(args.speed_records, 1_000)
        args.world_scale = min(args.world_scale, 0.02)
        args.records = min(args.records, 20_000)
    ref = None if args.skip_ref else args.ref_python
    if not args.skip_names:
        name_pairs_part(Path(args.pairs), ref)
    if not args.skip_speed:
        speed_part(ref)
        synth_speed_part(args.speed_records, args.synth_seed, ref, args.xref_limit)
    if not args.skip_world:
        world_part(args.scenarios, args.world_seed, args.world_scale)
    if not args.skip_scale:
        scale_part(args.records, args.synth_seed, args.scale_timeout, not args.skip_truth)


if __name__ == "__main__":
    main()
