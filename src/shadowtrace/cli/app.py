"""The Typer application and the foundation commands (ingest, export, status)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shadowtrace import __version__
from shadowtrace.cli.console import err, out, progress_stages, setup_logging
from shadowtrace.errors import ShadowtraceError
from shadowtrace.settings import STORE_ENV, settings, store_path

__all__ = ["app", "main"]

app = typer.Typer(
    name="shadowtrace",
    help="Make a shadow economy visible, measurable and breakable.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help=f"Store file (default ./shadowtrace.duckdb, or ${STORE_ENV})."),
]


def _version(value: bool) -> None:
    if value:
        out.print(f"shadowtrace {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    store: StoreOpt = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logs.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bars.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    setup_logging(verbose, quiet)
    if store:
        settings.store = store
    settings.progress = not no_progress and not quiet


@app.command()
def ingest(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files (FtM JSON lines, statements CSV, CSV/XLSX/Parquet with --mapping), "
            "folders with a manifest.yml, mapping files, or database URLs."
        ),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Dataset name (and entity id prefix).")
    ] = None,
    mapping: Annotated[
        str | None, typer.Option("--mapping", "-m", help="FtM mapping YAML for tabular sources.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at the first rejected row or value.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Read files again even if already ingested.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    store: StoreOpt = None,
) -> None:
    """Read source records into the store, keeping the provenance of every value.

    One run is one transaction: it either lands whole or leaves the store as it
    was. Rows in = rows stored + rows rejected + rows filtered out by the mapping.
    """
    from shadowtrace.ingest import ingest as run_ingest
    from shadowtrace.store import Store

    with (
        Store.open(store_path(store)) as st,
        progress_stages(st.con, "ingest", settings.progress) as stage,
    ):
        report = run_ingest(
                st, inputs or [], dataset=dataset, mapping=mapping, strict=strict,
                force=force, stage=stage,
            )  # fmt: skip
    if as_json:
        out.print_json(json.dumps(report.to_dict(), default=str))
        return
    print_ingest_report(report)


def print_ingest_report(report: object) -> None:
    from shadowtrace.ingest import IngestReport

    assert isinstance(report, IngestReport)
    table = Table(title=f"Ingest run {report.run_id}", title_justify="left")
    for col in ("source", "dataset", "format", "rows in", "stored", "rejected", "filtered",
                "values rejected"):  # fmt: skip
        table.add_column(
            col, justify="right" if col not in ("source", "dataset", "format") else "left"
        )
    for s in report.sources:
        if s.skipped:
            table.add_row(s.path, s.dataset, s.format, "—", "skipped", "", "", "")
            continue
        table.add_row(
            s.path, s.dataset, s.format, f"{s.rows_in:,}", f"{s.rows_stored:,}",
            f"{s.rows_rejected:,}", f"{s.rows_filtered:,}", f"{s.values_rejected:,}",
        )  # fmt: skip
    out.print(table)
    out.print(
        f"rows in {report.rows_in:,} = stored {report.rows_stored:,} + rejected "
        f"{report.rows_rejected:,} + filtered {report.rows_filtered:,}; "
        f"statements new {report.statements_new:,}, seen again {report.statements_seen:,}; "
        f"entities new {report.entities_new:,}; {report.seconds:.1f} s"
    )
    for s in report.sources:
        if s.skipped:
            out.print(f"[yellow]{s.path}: {s.skipped}[/yellow]")
    if report.rejects:
        out.print(
            f"[yellow]{report.rejects_total:,} rejects kept in the store; the first:[/yellow]"
        )
        for r in report.rejects[:10]:
            out.print(f"  {r}", markup=False, highlight=False)


@app.command()
def status(
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Summarise what the store holds: statements, entities, datasets, schemata."""
    from shadowtrace.store import Store

    with Store.open(store_path(store), read_only=True) as st:
        summary = st.summary()
    if as_json:
        out.print_json(json.dumps(summary.to_dict()))
        return
    print_summary(summary)


def print_summary(summary: object) -> None:
    from shadowtrace.store import StoreSummary

    assert isinstance(summary, StoreSummary)
    out.print(
        f"[bold]{summary.path}[/bold]: {summary.statements:,} statements about "
        f"{summary.entity_ids:,} records, {summary.entities:,} entities after resolution; "
        f"{summary.sources:,} sources in {summary.runs:,} runs; {summary.rejects:,} rejects"
    )
    table = Table(title="Entities by schema", title_justify="left")
    table.add_column("schema")
    table.add_column("entities", justify="right")
    for name, count in summary.schemata.items():
        table.add_row(name, f"{count:,}")
    out.print(table)
    table = Table(title="Records by dataset", title_justify="left")
    table.add_column("dataset")
    table.add_column("records", justify="right")
    for name, count in summary.datasets.items():
        table.add_row(name, f"{count:,}")
    out.print(table)


def main() -> None:
    """Entry point of the ``shadowtrace`` console script."""
    try:
        app()
    except ShadowtraceError as exc:
        from rich.text import Text

        err.print(Text.assemble(("Error: ", "bold red"), str(exc)), highlight=False)
        sys.exit(1)
    except BrokenPipeError:
        # The reader of our output went away (`shadowtrace export - | head`).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        err.print("[red]Interrupted[/red]: the store is unchanged by the unfinished run.")
        sys.exit(130)


def _path(value: str) -> Path:
    return Path(value)
