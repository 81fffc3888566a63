"""The ``simulate`` command: a plain function the command line registers."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from shadowtrace.simulate.engine import SimulationResult, simulate

__all__ = ["print_calibration", "simulate_command"]


def print_calibration(result: SimulationResult, console: Console | None = None) -> None:
    """Print the calibration table: each seed figure beside the simulated value."""
    console = console or Console()
    table = Table(
        title=f"Calibration: {result.scenario} (seed {result.seed}, scale {result.scale:g})"
    )
    for col in ("seed figure", "metric", "seed value", "simulated", "tolerance", "result"):
        table.add_column(col)
    for row in result.calibration:
        table.add_row(
            row.key,
            row.metric,
            f"{row.seed_value:,.4g}",
            f"{row.simulated:,.4g}",
            row.tolerance,
            "[green]pass[/]" if row.passed else "[red]FAIL[/]",
        )
    console.print(table)


def simulate_command(
    scenario: str = "default",
    seed: int = 0,
    scale: float = 1.0,
    out: Path = Path("world"),
    policy: Path | None = None,
) -> SimulationResult:
    """Simulate a calibrated world and write it to OUT as source files with a manifest."""
    err = Console(stderr=True)

    def progress(done: int, total: int) -> None:
        err.print(f"batch {done}/{total}", highlight=False)

    result = simulate(scenario, seed, scale, out, policy, progress=progress)
    err.print(f"wrote {result.transactions:,} transactions to {out} (manifest.yml, ground_truth/)")
    print_calibration(result, Console(file=sys.stdout))
    return result
