"""Simulator throughput: records per second and peak RSS at 1M and 10M transactions.

Run: PYTHONPATH=src python bench/simulate.py [--targets 1000000 10000000]
Targets (issue 4): 10M transactions in under 3 minutes and 4 GB on a 2-core machine.

Transactions grow linearly with ``scale`` on top of a fixed structural part (inventories,
labour contracts, bulk trade), so two small probe worlds give the scale for a target.
Each target runs in a fresh process, so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shadowtrace.simulate import simulate


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB on Linux


def run_one(scenario: str, scale: float, out: Path) -> dict[str, float | int | bool]:
    """Simulate once in this process and measure it."""
    t0 = time.perf_counter()
    result = simulate(scenario, seed=1, scale=scale, out=out)
    dt = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "transactions": result.transactions,
        "records": sum(result.counts.values()),
        "seconds": dt,
        "peak_rss_gb": peak_rss_gb(),
        "bytes": size,
        "calibrated": result.calibrated,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)  # child: one scale
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.scenario, args.one, args.out)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="simbench-"))
    try:
        small, large = 0.1, 0.3
        a = simulate(args.scenario, seed=1, scale=small, out=work / "a").transactions
        b = simulate(args.scenario, seed=1, scale=large, out=work / "b").transactions
        slope = (b - a) / (large - small)
        base = a - slope * small
        print(f"probe: {base:,.0f} structural + {slope:,.0f} transactions per unit of scale")
        for target in args.targets:
            scale = max(0.01, (target - base) / slope)
            out = work / f"t{target}"
            cmd = [sys.executable, __file__, "--scenario", args.scenario]
            cmd += ["--one", repr(scale), "--out", str(out)]
            child = subprocess.run(cmd, check=True, capture_output=True, text=True)
            m = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"{m['transactions']:>12,} transactions (scale {scale:.2f}): "
                f"{m['seconds']:7.1f} s, {m['transactions'] / m['seconds']:>10,.0f} records/s, "
                f"peak RSS {m['peak_rss_gb']:.2f} GB, {m['bytes'] / 1e9:.2f} GB written, "
                f"calibrated={m['calibrated']}",
                flush=True,
            )
            shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
