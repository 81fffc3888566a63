"""``shadowtrace export``."""

from __future__ import annotations

from typing import Annotated

import typer

from shadowtrace.cli.app import StoreOpt, app
from shadowtrace.cli.console import err
from shadowtrace.settings import store_path


@app.command()
def export(
    format: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="ftm, statements, csv, gexf, graphml, neo4j or parquet."
        ),
    ] = "ftm",
    out: Annotated[str, typer.Option("--out", "-o", help="Output path, or - for stdout.")] = "-",
    stock: Annotated[
        bool,
        typer.Option(
            "--stock", help="Downcast extension schemata to stock FtM (for ftm validate)."
        ),
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Write the store out: FtM entities or statements, CSV tables, a graph, Parquet."""
    from shadowtrace.export import export as run_export
    from shadowtrace.store import Store

    with Store.open(store_path(store), read_only=True) as st:
        n = run_export(st, format, out, stock=stock)
    if out != "-":
        err.print(
            f"Wrote {n:,} {'records' if format in ('statements', 'parquet') else 'items'} to {out}"
        )
