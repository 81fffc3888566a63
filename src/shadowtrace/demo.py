"""The ``demo`` command: simulate a world, ingest it, resolve, detect, write the report.

``demo_command`` is a plain function the command line registers (``make demo`` runs
``shadowtrace demo``). Every stage reads only what the stage before it wrote, as a
real investigation would: source files, then the store. It ends by writing the
self-contained HTML report and printing its path on stdout (progress goes to stderr).
Run it again and it reuses what it already has: the simulated files are the same
for the same seed and scale, so ingest skips them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["demo", "demo_command"]


def demo(
    out: Path,
    scale: float = 0.02,
    seed: int = 0,
    scenario: str = "default",
    console: Console | None = None,
) -> Path:
    """Run the whole pipeline into ``out`` and return the path of the report.

    ``out`` receives ``world/`` (the simulated source files and their ground truth),
    ``shadowtrace.duckdb`` (the store) and ``report.html``.
    """
    from shadowtrace.detect.run import detect
    from shadowtrace.ingest import ingest
    from shadowtrace.report.html import write_report
    from shadowtrace.resolve.run import resolve
    from shadowtrace.simulate import simulate
    from shadowtrace.store import Store

    err = console or Console(stderr=True)
    out.mkdir(parents=True, exist_ok=True)
    world = out / "world"
    started = time.monotonic()

    def stage(text: str) -> None:
        err.print(f"[bold]{time.monotonic() - started:6.1f} s[/bold]  {text}", highlight=False)

    stage(f"simulate the {scenario} world (seed {seed}, scale {scale:g}) into {world}")
    simulate(scenario, seed, scale, world)
    with Store.open(out / "shadowtrace.duckdb") as store:
        # DuckDB draws its own progress bar on stdout, which is for the report's path.
        store.con.execute("SET enable_progress_bar_print = false")
        stage("ingest the source files")
        ingested = ingest(store, [str(world)])
        stage(f"{ingested.rows_stored:,} records stored; resolve who is who")
        resolved = resolve(store)
        stage(f"{resolved.entities:,} entities; detect typologies")
        found = detect(store)
        stage(f"{found.total:,} findings; write the report")
        path = write_report(store, out / "report.html")
    stage(f"report written ({path.stat().st_size / 1e6:.1f} MB)")
    return path


def demo_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the world, the store and the report.")
    ] = Path("demo"),
    scale: Annotated[
        float, typer.Option("--scale", help="Transaction volume relative to the scenario.", min=0)
    ] = 0.02,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the simulation.")] = 0,
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario name or file.")] = "default",
) -> None:
    """Simulate a calibrated world, ingest, resolve, detect, and write the HTML report.

    Prints the report's path when done.
    """
    path = demo(out, scale=scale, seed=seed, scenario=scenario)
    sys.stdout.write(f"{path.resolve()}\n")
