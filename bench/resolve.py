"""Entity resolution benchmark: quality and speed, against nomenklatura as the baseline.

    python bench/resolve.py [--pairs CSV] [--ref-python PATH] [--skip-ref]

Part 1, name pairs: every labelled pair of ``name_pairs.csv`` is scored by
shadowtrace (``resolve.compare`` on two one-name entities) and by nomenklatura's
``logic-v2`` in a subprocess of the reference environment, in the same run. Precision,
recall and F1 are printed at the threshold each uses (ours: the name model's, 0.5;
logic-v2: 0.7, its usual cut-off), overall and per case group and category.

Our model's coefficients were fitted on these same pairs (``bench/fit_names.py``), so
the in-sample figure flatters it; the line to compare is the *cross-validated* one:
pairs split in two folds by a hash of their names, each fold scored by a model fitted
on the other.

nomenklatura is a benchmark dependency only; it runs in its own environment
(``--ref-python``, default ``/work/venv-ref/bin/python`` or ``$SHADOWTRACE_REF_PYTHON``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from namepairs import DEFAULT_PAIRS, Pair, feature_matrix, read_pairs  # noqa: E402
from shadowtrace.resolve.compare import compare, prepare  # noqa: E402
from shadowtrace.resolve.learn import fit_logistic  # noqa: E402
from shadowtrace.resolve.names import FEATURES, NameModel, name_model  # noqa: E402

REF_PYTHON = os.environ.get("SHADOWTRACE_REF_PYTHON", "/work/venv-ref/bin/python")
LOGIC_V2_THRESHOLD = 0.7


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


def run_measured(cmd: list[str], cwd: Path) -> tuple[float, int, str]:
    """Run ``cmd``; return its wall seconds, peak RSS in bytes and its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed: {' '.join(cmd)}")
    return seconds, usage.ru_maxrss * 1024, output


def speed_part(ref_python: str | None) -> None:
    """Ingest + resolve the 474 donation entities, against `nomenklatura xref` on the same."""
    fixtures = ROOT / "tests" / "fixtures" / "ftm"
    print("\n== speed and memory: donations (474 FtM entities), fresh process each")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cmd = [
            sys.executable,
            str(ROOT / "bench" / "_ours_resolve.py"),
            str(work / "bench.duckdb"),
            str(fixtures / "donations.csv"),
            str(fixtures / "donations.yml"),
        ]
        seconds, rss, output = run_measured(cmd, work)
        data = json.loads(output.strip().splitlines()[-1])
        ours_rate = 474 / seconds
        print(
            f"  shadowtrace ingest+resolve: {seconds:.2f} s wall ({data['resolve_seconds']:.2f} s "
            f"resolve), peak RSS {rss / 2**20:.0f} MB, {data['records']} matchable records -> "
            f"{data['entities']} entities, {ours_rate:.0f} entities/s"
        )
        if ref_python is None or not Path(ref_python).exists():
            return
        cli = Path(ref_python).parent / "nomenklatura"
        (work / "nk").mkdir()
        source = work / "nk" / "donations.ijson"
        source.write_bytes((fixtures / "donations.ijson").read_bytes())
        nk_seconds, nk_rss, _ = run_measured([str(cli), "xref", str(source)], work / "nk")
        nk_rate = 474 / nk_seconds
        print(
            f"  nomenklatura xref:          {nk_seconds:.2f} s wall, peak RSS "
            f"{nk_rss / 2**20:.0f} MB, {nk_rate:.0f} entities/s"
        )
        print(f"  ratio: {ours_rate / nk_rate:.1f}x the throughput, {rss / nk_rss:.2f}x the memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", default=str(DEFAULT_PAIRS))
    parser.add_argument("--ref-python", default=REF_PYTHON)
    parser.add_argument("--skip-ref", action="store_true", help="do not run nomenklatura")
    parser.add_argument("--skip-names", action="store_true", help="skip the name pairs")
    args = parser.parse_args()
    parser_ref = None if args.skip_ref else args.ref_python
    if not args.skip_names:
        name_pairs_part(Path(args.pairs), parser_ref)
    speed_part(parser_ref)


if __name__ == "__main__":
    main()
