"""Consoles, logging and progress for the command line (all on stderr)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["err", "out", "progress_stages", "setup_logging"]

err = Console(stderr=True)
out = Console()


def setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    if verbose == 0 and not quiet:
        level = logging.WARNING
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, markup=False)],
        force=True,
    )


@contextmanager
def progress_stages(
    con: duckdb.DuckDBPyConnection | None, title: str, enabled: bool = True
) -> Iterator[StageReporter]:
    """A progress bar on stderr whose text follows the stages of a long job and
    whose bar follows DuckDB's progress on the query running in that stage."""
    reporter = StageReporter(con, title, enabled)
    try:
        reporter.start()
        yield reporter
    finally:
        reporter.stop()


class StageReporter:
    def __init__(self, con: duckdb.DuckDBPyConnection | None, title: str, enabled: bool) -> None:
        self.con = con
        self.title = title
        self.enabled = enabled and err.is_terminal
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self.task = self.progress.add_task(title, total=100)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, stage: str) -> None:
        self.progress.update(self.task, description=f"{self.title}: {stage}", completed=0)
        if not self.enabled:
            logging.getLogger("shadowtrace").info("%s: %s", self.title, stage)

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            if self.con is None:
                continue
            try:
                value = self.con.query_progress()
            except duckdb.Error:
                continue
            if value is not None and value >= 0:
                self.progress.update(self.task, completed=min(float(value), 100.0))

    def start(self) -> None:
        if not self.enabled:
            return
        self.progress.start()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self.enabled:
            self.progress.stop()
