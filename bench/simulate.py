"""Simulator throughput: records per second and peak RSS at 1M and 10M transactions.

Run: PYTHONPATH=src python bench/simulate.py [--targets 1000000 10000000]
Targets (issue 4): 10M transactions in under 3 minutes and 4 GB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from shadowtrace.simulate import simulate


def peak_rss_gb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024 / 1024  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--scenario", default="default")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="simbench-"))
    try:
        probe = simulate(args.scenario, seed=1, scale=0.2, out=work / "probe")
        per_scale = probe.transactions / 0.2
        print(
            f"probe: {probe.transactions:,} transactions at scale 0.2 ({per_scale:,.0f} per unit)"
        )
        for target in args.targets:
            scale = max(0.01, (target - base) / per_scale)
            out = work / f"t{target}"
            t0 = time.perf_counter()
            result = simulate(args.scenario, seed=1, scale=scale, out=out)
            dt = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e9
            print(
                f"{result.transactions:>12,} transactions (scale {scale:.2f}): {dt:7.1f} s, "
                f"{result.transactions / dt:>10,.0f} records/s, peak RSS {peak_rss_gb():.2f} GB, "
                f"{size:.2f} GB written, calibrated={result.calibrated}"
            )
            shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
