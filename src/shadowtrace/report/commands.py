"""The ``report`` command: a plain Typer function the command line registers.

``register(app)`` adds it to an application; the shadowtrace CLI does that.
``report_step(store, out)`` is the last stage of a pipeline (``shadowtrace demo``): it
writes the report and prints its path on stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from shadowtrace.settings import store_path

if TYPE_CHECKING:
    from shadowtrace.report.context import ReportOptions
    from shadowtrace.store import Store

__all__ = ["register", "report_command", "report_step"]


def report_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the HTML file.")] = Path(
        "report.html"
    ),
    store: Annotated[
        str | None,
        typer.Option(
            "--store", help="Store file (default ./shadowtrace.duckdb, or $SHADOWTRACE_STORE)."
        ),
    ] = None,
    max_findings: Annotated[
        int,
        typer.Option("--max-findings", help="Findings shown in full, highest score first.", min=1),
    ] = 150,
) -> None:
    """Write the report as one self-contained HTML file and print its path.

    Headline figures, findings ranked with their evidence down to the source file and
    row, a network per finding, flows of money and goods by channel, and the
    infrastructure dependency inventory. Everything is inside the file: opening it
    fetches nothing.
    """
    from shadowtrace.report.context import ReportOptions
    from shadowtrace.store import Store

    with Store.open(store_path(store), read_only=True) as st:
        report_step(st, out, ReportOptions(max_findings=max_findings))


def report_step(store: Store, out: Path, options: ReportOptions | None = None) -> Path:
    """Write the report of ``store`` to ``out``; print its size on stderr and its
    absolute path, alone on a line, on stdout. Returns the path."""
    from shadowtrace.errors import ConfigError
    from shadowtrace.report.html import write_report

    out = Path(out)
    if not out.parent.exists():
        raise ConfigError(f"Cannot write {out}: folder {out.parent} does not exist")
    path = write_report(store, out, options)
    size = path.stat().st_size / 1e6
    Console(stderr=True).print(f"Report written: {size:.1f} MB", highlight=False)
    sys.stdout.write(f"{path.resolve()}\n")
    sys.stdout.flush()
    return path


def register(app: typer.Typer) -> None:
    """Add ``report`` to a Typer application."""
    app.command("report")(report_command)
