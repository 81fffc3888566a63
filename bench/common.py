"""Shared helpers for the benchmarks: run a command, measure wall time and peak RSS.

Peak RSS comes from the kernel's accounting of each child process (``wait4``), so
a measurement covers exactly one run of one command (or the sum over the
processes of a pipeline, which run at the same time).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("SHADOWTRACE_BENCH_DIR", ROOT / "bench" / ".work"))
PYTHON = sys.executable
BIN = Path(sys.executable).parent


@dataclass
class Measure:
    label: str
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: bytes = b""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(label: str, cmd: list[str], stdin: Path | None = None, stdout: Path | None = None,
        env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float | None = None) -> Measure:  # fmt: skip
    """Run one command; wall seconds and its peak RSS.

    With ``timeout`` (seconds) the command is killed when it runs longer; its return
    code is then that of the kill (negative) and ``timed_out`` is set.
    """
    fin = open(stdin, "rb") if stdin else subprocess.DEVNULL  # noqa: SIM115
    fout = open(stdout, "wb") if stdout else subprocess.PIPE  # noqa: SIM115
    # stderr goes to a file, not a pipe: a command that logs more than a pipe holds
    # while its stdout is being read would otherwise block for ever
    ferr = tempfile.TemporaryFile()  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=ferr, cwd=cwd,
                            env={**os.environ, **(env or {})})  # fmt: skip
    lock = threading.Lock()
    state = {"reaped": False, "killed": False}

    def kill() -> None:
        with lock:
            if not state["reaped"]:
                state["killed"] = True
                proc.kill()

    timer = threading.Timer(timeout, kill) if timeout else None
    if timer is not None:
        timer.start()
    out = b""
    if fout is subprocess.PIPE:
        assert proc.stdout is not None
        out = proc.stdout.read()
    # wait without reaping, so that the timer never signals a reused process id
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    with lock:
        state["reaped"] = True
    if timer is not None:
        timer.cancel()
    _, status, usage = os.wait4(proc.pid, 0)
    timed_out = state["killed"]
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    for fh in (fin, fout):
        if hasattr(fh, "close"):
            fh.close()
    ferr.seek(0)
    err = ferr.read()
    ferr.close()
    if proc.returncode != 0:
        sys.stderr.write(err.decode("utf-8", "replace")[-3000:])
    return Measure(label, seconds, usage.ru_maxrss / 1024, proc.returncode, out, timed_out)


def pipeline(label: str, first: list[str], second: list[str], stdin: Path, stdout: Path) -> Measure:
    """Run ``first < stdin | second > stdout``; peak RSS is the sum of both."""
    start = time.perf_counter()
    with open(stdin, "rb") as fin, open(stdout, "wb") as fout:
        a = subprocess.Popen(first, stdin=fin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        b = subprocess.Popen(second, stdin=a.stdout, stdout=fout, stderr=subprocess.DEVNULL)
        assert a.stdout is not None
        a.stdout.close()
        _, sa, ua = os.wait4(a.pid, 0)
        _, sb, ub = os.wait4(b.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(sa) or os.waitstatus_to_exitcode(sb)
    return Measure(label, seconds, (ua.ru_maxrss + ub.ru_maxrss) / 1024, code)


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in cells:
        out.append("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    return "\n".join(out)
