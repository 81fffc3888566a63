"""Command-line commands of entity resolution: resolve, review, merge, split, match,
and judgements import/export.

The functions are plain Typer commands; ``register(app)`` adds them to the
shadowtrace application (``shadowtrace.cli``), which opens no store until a command
runs. Output follows the CLI's rules: results on stdout (JSON lines with ``--json``),
messages on stderr.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shadowtrace.errors import ConfigError
from shadowtrace.settings import store_path

__all__ = [
    "judgements_export_cmd",
    "judgements_import_cmd",
    "match_cmd",
    "merge_cmd",
    "register",
    "resolve_cmd",
    "review_cmd",
    "split_cmd",
]

out = Console()
err = Console(stderr=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", help="Store file (default ./shadowtrace.duckdb, or $SHADOWTRACE_STORE)."
    ),
]
UserOpt = Annotated[
    str | None, typer.Option("--user", help="Who judges (default: the login name).")
]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why, kept with the judgement.")]
ThresholdOpt = Annotated[
    float, typer.Option("--threshold", help="Merge pairs scoring at least this.", min=0.01, max=1.0)
]


def _user(user: str | None) -> str:
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "analyst"


def resolve_cmd(
    store: StoreOpt = None,
    threshold: ThresholdOpt = 0.7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Resolve who is who: block, score and cluster; write canonical ids on statements."""
    from shadowtrace.resolve.run import resolve
    from shadowtrace.store import Store

    with Store.open(store_path(store)) as st:
        report = resolve(st, threshold=threshold, stage=lambda s: err.print(f"[dim]{s}[/dim]"))
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict()) + "\n")
        return
    out.print(
        f"{report.records:,} records became {report.entities:,} entities "
        f"({report.merged_clusters:,} merged groups; {report.scored:,} pairs scored, "
        f"{report.vetoed:,} vetoed by identifiers; {report.judgements:,} judgements applied) "
        f"in {report.seconds:.1f} s"
    )


def merge_cmd(
    ids: Annotated[list[str], typer.Argument(help="Two or more entity or canonical ids.")],
    store: StoreOpt = None,
    user: UserOpt = None,
    reason: ReasonOpt = None,
) -> None:
    """Judge entities to be one (a positive judgement that later runs keep)."""
    from shadowtrace.resolve.run import merge
    from shadowtrace.store import Store

    with Store.open(store_path(store)) as st:
        canonical = merge(st, ids, _user(user), reason)
    out.print(canonical)


def split_cmd(
    entity_id: Annotated[str, typer.Argument(help="An entity id, or a canonical id to dissolve.")],
    store: StoreOpt = None,
    user: UserOpt = None,
    reason: ReasonOpt = None,
) -> None:
    """Undo a merge: negative judgements keep the entities apart on later runs."""
    from shadowtrace.resolve.run import split
    from shadowtrace.store import Store

    with Store.open(store_path(store)) as st:
        members = split(st, entity_id, _user(user), reason)
    if not members:
        err.print(f"{entity_id} is not merged with anything")
    for member in members:
        out.print(member)


def _brief(props: dict[str, list[str]]) -> str:
    keep = (
        "name",
        "alias",
        "innCode",
        "ogrnCode",
        "registrationNumber",
        "imoNumber",
        "leiCode",
        "country",
        "jurisdiction",
        "birthDate",
        "incorporationDate",
        "address",
    )
    parts = []
    for prop in keep:
        if props.get(prop):
            parts.append(f"{prop}: {'; '.join(props[prop][:3])}")
    return "\n".join(parts) or "(no properties)"


def review_cmd(
    store: StoreOpt = None,
    user: UserOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="Pairs to review.", min=1)] = 20,
    low: Annotated[float, typer.Option("--min-score", help="Lowest score to show.")] = 0.3,
    high: Annotated[float, typer.Option("--max-score", help="Highest score to show.")] = 0.95,
    threshold: ThresholdOpt = 0.7,
) -> None:
    """Confirm or reject candidate pairs in the terminal, most uncertain first.

    Keys: y same, n different, u unsure, s skip, q quit.
    """
    from shadowtrace.resolve.judgements import add_judgement
    from shadowtrace.resolve.run import apply_resolution
    from shadowtrace.store import Store

    who = _user(user)
    decided = 0
    with Store.open(store_path(store)) as st:
        rows = st.con.execute(
            "SELECT c.left_id, c.right_id, c.score, c.features FROM resolve_candidates c "
            "ANTI JOIN judgements_current j ON j.left_id = c.left_id AND j.right_id = c.right_id "
            "WHERE c.score BETWEEN ? AND ? AND NOT c.vetoed "
            "ORDER BY abs(c.score - ?), c.left_id, c.right_id LIMIT ?",
            [low, high, threshold, limit],
        ).fetchall()
        if not rows:
            err.print("Nothing to review: run `shadowtrace resolve` first, or widen the scores.")
            return
        for left_id, right_id, score, features in rows:
            table = Table(title=f"score {score:.2f}", title_justify="left", show_lines=True)
            table.add_column(str(left_id))
            table.add_column(str(right_id))
            sides = []
            for eid in (left_id, right_id):
                props: dict[str, list[str]] = {}
                for prop, value in st.con.execute(
                    "SELECT prop, value FROM statements WHERE entity_id = ? ORDER BY prop, value",
                    [eid],
                ).fetchall():
                    props.setdefault(str(prop), []).append(str(value))
                sides.append(_brief(props))
            table.add_row(*sides)
            out.print(table, markup=False)
            for feature in json.loads(features or "[]"):
                out.print(
                    f"  {feature['weight']:+.2f} {feature['name']}: {feature['detail']}",
                    markup=False,
                    highlight=False,
                )
            answer = typer.prompt("same? [y]es [n]o [u]nsure [s]kip [q]uit", default="s")
            key = answer.strip().lower()[:1]
            if key == "q":
                break
            verdict = {"y": "positive", "n": "negative", "u": "unsure"}.get(key)
            if verdict is None:
                continue
            add_judgement(
                st, left_id, right_id, verdict, user=who, reason="review", score=float(score)
            )
            decided += 1
        if decided:
            apply_resolution(st, threshold)
    err.print(f"{decided} judgements recorded")


def _query_from(file: str | None, name: list[str], schema: str, props: list[str]) -> dict[str, Any]:
    if file:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"query is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("query must be one FtM entity (a JSON object)")
        return data
    properties: dict[str, list[str]] = {}
    if name:
        properties["name"] = list(name)
    for item in props:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--prop takes prop=value, not {item!r}")
        properties.setdefault(key.strip(), []).append(value)
    if not properties:
        raise ConfigError("give a query: --name, --prop prop=value, or --file entity.json")
    return {"schema": schema, "properties": properties}


def match_cmd(
    name: Annotated[list[str], typer.Option("--name", "-n", help="A name (repeatable).")] = [],  # noqa: B006 - Typer reads the default
    schema: Annotated[str, typer.Option("--schema", "-s", help="FtM schema.")] = "LegalEntity",
    prop: Annotated[
        list[str], typer.Option("--prop", "-p", help="Another property, prop=value.")
    ] = [],  # noqa: B006 - Typer reads the default
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="An FtM entity as JSON, or - for stdin.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 10,
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Screen a query entity against the store: ranked candidates and why they match."""
    from shadowtrace.resolve.matching import match
    from shadowtrace.store import Store

    query = _query_from(file, name, schema, prop)
    with Store.open(store_path(store)) as st:
        results = match(st, query, limit)
    if as_json:
        for result in results:
            sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        return
    if not results:
        err.print("No candidates")
        return
    table = Table(show_lines=True)
    for column in ("score", "id", "schema", "caption", "features"):
        table.add_column(column)
    for r in results:
        why = "\n".join(f"{f.weight:+.2f} {f.name}: {f.detail}" for f in r.features)
        table.add_row(f"{r.score:.3f}", r.id, r.schema, r.caption, why)
    out.print(table, markup=False)


def judgements_export_cmd(
    path: Annotated[str, typer.Argument(help="Output file, or - for stdout.")] = "-",
    store: StoreOpt = None,
) -> None:
    """Export judgements in nomenklatura's resolver format (JSON lines)."""
    from shadowtrace.resolve.judgements import export_judgements
    from shadowtrace.store import Store

    with Store.open(store_path(store), read_only=True) as st:
        if path == "-":
            count = export_judgements(st, sys.stdout)
        else:
            with open(path, "w", encoding="utf-8") as fh:
                count = export_judgements(st, fh)
    err.print(f"{count} judgements exported")


def judgements_import_cmd(
    path: Annotated[str, typer.Argument(help="A nomenklatura resolver file, or - for stdin.")],
    store: StoreOpt = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Record under this user instead.")
    ] = None,
    threshold: ThresholdOpt = 0.7,
) -> None:
    """Import judgements from a nomenklatura resolver file and apply them."""
    from shadowtrace.resolve.judgements import import_judgements
    from shadowtrace.resolve.run import apply_resolution
    from shadowtrace.store import Store

    with Store.open(store_path(store)) as st:
        if path == "-":
            count = import_judgements(st, sys.stdin, user)
        else:
            with open(path, encoding="utf-8") as fh:
                count = import_judgements(st, fh, user)
        apply_resolution(st, threshold)
    err.print(f"{count} judgements imported")


def register(app: typer.Typer) -> None:
    """Add the resolution commands to ``app``."""
    app.command("resolve")(resolve_cmd)
    app.command("review")(review_cmd)
    app.command("merge")(merge_cmd)
    app.command("split")(split_cmd)
    app.command("match")(match_cmd)
    judgements = typer.Typer(help="Import and export judgements (nomenklatura's format).")
    judgements.command("export")(judgements_export_cmd)
    judgements.command("import")(judgements_import_cmd)
    app.add_typer(judgements, name="judgements")
