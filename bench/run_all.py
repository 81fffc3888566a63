"""Run every benchmark in turn (``make bench``) and stop at the first that fails.

Each benchmark prints its own figures against a named baseline measured in the same
run. Pass ``--quick`` for smaller inputs (a smoke run, not the figures to quote).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHES: list[tuple[str, list[str], list[str]]] = [
    # (script, full arguments, --quick arguments)
    ("ingest.py", [], ["--rows", "100000", "--slice", "20000", "--repeat", "1"]),
    ("simulate.py", [], ["--quick"]),
    ("resolve.py", [], ["--quick"]),
    ("detect.py", [], ["--quick"]),
    ("plan.py", [], ["--quick"]),
]


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    for script, full, small in BENCHES:
        path = HERE / script
        if not path.exists():
            print(f"== {script}: not present, skipped", flush=True)
            continue
        print(f"== {script}", flush=True)
        code = subprocess.call([sys.executable, str(path), *(small if quick else full)])
        if code != 0:
            print(f"== {script} failed with exit code {code}", flush=True)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
