"""``shadowtrace simulate`` and ``shadowtrace demo``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from shadowtrace.cli.app import StoreOpt, app, print_ingest_report, print_summary
from shadowtrace.cli.console import err, out, progress_stages
from shadowtrace.settings import settings


@app.command()
def simulate(
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="A shipped scenario name or a YAML path.")
    ] = "default",
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same files.")] = 0,
    scale: Annotated[
        float, typer.Option("--scale", help="World size; 1.0 is the default world.")
    ] = 1.0,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the world to.")
    ] = Path("world"),
    policy: Annotated[
        Path | None, typer.Option("--policy", "-p", help="A policy YAML applied to the world.")
    ] = None,
) -> None:
    """Simulate a calibrated shadow economy, written as source files with a manifest.

    Prints the calibration table (each figure of the source texts beside the simulated
    value) and writes it as calibration.json; ground_truth/ is read by no pipeline stage.
    """
    from shadowtrace.simulate.command import simulate_command

    simulate_command(scenario, seed, scale, out_dir, policy)


@app.command()
def demo(
    scale: Annotated[float, typer.Option("--scale", help="World size (small by default).")] = 0.01,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    workdir: Annotated[
        Path, typer.Option("--dir", help="Where the world, the store and the report go.")
    ] = Path("demo"),
    store: StoreOpt = None,
) -> None:
    """Run the whole pipeline on a small simulated world: simulate, ingest, resolve,
    detect, plan, and write the report (its path is the last line printed)."""
    from shadowtrace.detect.run import detect
    from shadowtrace.ingest import ingest
    from shadowtrace.plan.commands import run_default_plans
    from shadowtrace.report.commands import report_step
    from shadowtrace.resolve import resolve
    from shadowtrace.simulate import simulate as run_simulation
    from shadowtrace.simulate.command import print_calibration
    from shadowtrace.store import Store

    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    world = workdir / "world"
    store_path = Path(store) if store else workdir / "shadowtrace.duckdb"
    if store_path.exists():
        store_path.unlink()
    err.print(
        f"[bold]1. simulate[/bold] the default world (seed {seed}, scale {scale:g}) → {world}"
    )
    result = run_simulation("default", seed, scale, world)
    print_calibration(result, out)
    err.print(f"[bold]2. ingest[/bold] every file of {world}/manifest.yml → {store_path}")
    with Store.open(store_path) as st:
        with progress_stages(st.con, "ingest", settings.progress) as stage:
            report = ingest(st, [str(world)], stage=stage)
        print_ingest_report(report)
        err.print("[bold]3. resolve[/bold] who is who")
        resolved = resolve(st)
        out.print(f"resolution: {resolved.records:,} records became {resolved.entities:,} entities")
        print_summary(st.summary())
        err.print("[bold]4. detect[/bold] the typologies")
        found = detect(st, stage=lambda s: err.print(f"[dim]{s}[/dim]"))
        for run in found.runs:
            out.print(f"  {run.detector:<28} {run.findings:>7,} findings")
        out.print(f"detection: {found.total:,} findings in {found.seconds:.1f} s")
    err.print("[bold]5. plan[/bold] where to cut, what to replace, how to restore")
    plans = run_default_plans(str(store_path))
    out.print("plans: " + ", ".join(f"{kind} {ref}" for kind, ref in plans.items()))
    err.print("[bold]6. report[/bold]")
    with Store.open(store_path, read_only=True) as st:
        err.print(f"done in {time.monotonic() - started:.0f} s; store: {store_path}")
        report_step(st, workdir / "report.html")
