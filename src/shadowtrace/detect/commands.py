"""Command-line commands of detection: ``shadowtrace detect`` and ``shadowtrace detectors``.

The functions are plain Typer commands; ``register(app)`` adds them to the shadowtrace
application. Results go to stdout (a table, or JSON with ``--json``), progress to
stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from shadowtrace.errors import ConfigError
from shadowtrace.settings import store_path

__all__ = ["detect_command", "detectors_command", "parse_params", "register"]

out = Console()
err = Console(stderr=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", help="Store file (default ./shadowtrace.duckdb, or $SHADOWTRACE_STORE)."
    ),
]


def parse_params(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``detector.param=value`` settings (values in YAML: ``3``, ``[0.05, 0.2]``, ``true``).

    >>> parse_params(["sanctions_proximity.max_hops=3", "netting.home_countries=[ru]"])
    {'sanctions_proximity': {'max_hops': 3}, 'netting': {'home_countries': ['ru']}}
    """
    params: dict[str, dict[str, Any]] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        detector, dot, name = key.strip().partition(".")
        if not sep or not dot or not detector or not name:
            raise ConfigError(f"--param {item!r}: expected detector.parameter=value")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--param {item!r}: cannot read the value: {exc}") from exc
        params.setdefault(detector, {})[name] = value
    return params


def detect_command(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only this detector (repeatable); default: all."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="A detector parameter: detector.name=value (repeatable)."
        ),
    ] = None,
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Detect typologies: rebuild the graph if the store changed, run the detectors and
    write their findings with evidence."""
    from shadowtrace.detect.run import detect
    from shadowtrace.store import Store

    params = parse_params(param)
    with Store.open(store_path(store)) as st:
        report = detect(st, only=only, params=params, stage=lambda s: err.print(f"[dim]{s}[/dim]"))
        top = dict(
            st.con.execute("SELECT detector, max(score) FROM findings GROUP BY detector").fetchall()
        )
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict()) + "\n")
        return
    table = Table(title=f"Findings (run {report.run_id})")
    for col, justify in (("typology", "left"), ("findings", "right"), ("top score", "right"),
                         ("seconds", "right")):  # fmt: skip
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for run in report.runs:
        best = top.get(run.detector)
        table.add_row(
            run.detector,
            f"{run.findings:,}",
            f"{best:.2f}" if best is not None and run.findings else "—",
            f"{run.seconds:.1f}",
        )
    out.print(table)
    out.print(
        f"{report.total:,} findings in {report.seconds:.1f} s "
        f"(graph: {report.edges:,} edges, {'rebuilt' if report.graph_rebuilt else 'current'})"
    )


def detectors_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the registered detectors and their parameters with defaults."""
    from shadowtrace.detect.registry import detectors

    found = detectors()
    if as_json:
        data = {
            name: {
                "title": d.title,
                "parameters": {
                    k: {"default": p.default, "doc": p.doc} for k, p in d.parameters.items()
                },
            }
            for name, d in found.items()
        }
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    for name, d in found.items():
        out.print(f"[bold]{name}[/bold] — {d.title}")
        for key, p in d.parameters.items():
            default = p.default
            shown = json.dumps(default, ensure_ascii=False)
            if len(shown) > 60:
                shown = shown[:57] + "..."
            out.print(f"  {key} = {shown}  [dim]{p.doc}[/dim]")


def register(app: typer.Typer) -> None:
    """Add ``detect`` and ``detectors`` to the application."""
    app.command("detect")(detect_command)
    app.command("detectors")(detectors_command)
