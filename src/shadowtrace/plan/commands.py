"""Command-line commands of planning: ``plan dismantle``, ``plan replace``,
``plan restore`` and ``whatif``.

The functions are plain Typer commands; ``register(app)`` adds them to the shadowtrace
application (a ``plan`` group and a top-level ``whatif``). Results go to stdout (a
table, or JSON with ``--json``), messages to stderr; each plan is also written into the
store (tables ``plans``, ``plan_targets``, ``plan_flows``, ``plan_replacements``,
``plan_channels``) for the report.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from shadowtrace.errors import ConfigError
from shadowtrace.settings import store_path

__all__ = [
    "dismantle_cmd",
    "register",
    "replace_cmd",
    "restore_cmd",
    "run_default_plans",
    "whatif_cmd",
]

out = Console()
err = Console(stderr=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", help="Store file (default ./shadowtrace.duckdb, or $SHADOWTRACE_STORE)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
WorldOpt = Annotated[
    Path | None,
    typer.Option(
        "--world",
        help="Simulated world the store was ingested from (default: the folder of the "
        "store's sources, if it holds a manifest.yml).",
    ),
]
WorkdirOpt = Annotated[
    Path | None,
    typer.Option("--workdir", help="Where re-simulated worlds go (default: a temporary folder)."),
]


def _date(value: str | None, label: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{label}: expected YYYY-MM-DD, got {value!r}") from None


def _usd(x: float) -> str:
    if abs(x) >= 1e9:
        return f"${x / 1e9:,.2f}bn"
    if abs(x) >= 1e6:
        return f"${x / 1e6:,.2f}M"
    if abs(x) >= 1e3:
        return f"${x / 1e3:,.1f}k"
    return f"${x:,.0f}"


@contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    """``path``, or a temporary folder removed afterwards (re-simulated worlds are big)."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="shadowtrace-plan-") as tmp:
        yield Path(tmp)


# ----------------------------------------------------------------------------- dismantle


def dismantle_cmd(
    budget: Annotated[int, typer.Option("--budget", "-k", help="Number of targets (K).", min=1)],
    method: Annotated[
        str, typer.Option("--method", help="auto (exact when small enough), exact or heuristic.")
    ] = "auto",
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Seconds for the solver.", min=1.0)
    ] = 120.0,
    exact_max_arcs: Annotated[
        int, typer.Option("--exact-max-arcs", help="Largest network solved exactly (auto).")
    ] = 20_000,
    from_date: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Policy date (default: the window's end, else the day after the last record).",
        ),
    ] = None,
    window_start: Annotated[
        str | None, typer.Option("--window-start", help="First day of records used.")
    ] = None,
    window_end: Annotated[
        str | None,
        typer.Option("--window-end", help="Day after the last record used (default: --from)."),
    ] = None,
    substitute_share: Annotated[
        float,
        typer.Option(
            "--substitute-share",
            help="Share of a removed party's flow a substitute takes over (0 plans as if "
            "no one adapted).",
            min=0.0,
            max=1.0,
        ),
    ] = 0.85,
    static: Annotated[
        bool, typer.Option("--static", help="Plan on the network as recorded, no adaptation.")
    ] = False,
    no_channels: Annotated[
        bool,
        typer.Option("--no-channels", help="Targets are entities only: no whole channel closed."),
    ] = False,
    evaluate: Annotated[
        bool,
        typer.Option(
            "--evaluate",
            help="Apply the plan and the baselines to the simulated world and measure the "
            "flow removed before and after it adapts.",
        ),
    ] = False,
    budgets: Annotated[
        str | None,
        typer.Option("--budgets", help="With --evaluate: more budgets to compare, e.g. 10,50."),
    ] = None,
    random_seeds: Annotated[
        int, typer.Option("--random-seeds", help="Random baselines to average.", min=0)
    ] = 3,
    world: WorldOpt = None,
    workdir: WorkdirOpt = None,
    policy_out: Annotated[
        Path | None,
        typer.Option("--policy-out", help="Write the plan as a policy YAML file."),
    ] = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """Choose the K entities or channels whose sanctioning or closure cuts the most
    illicit flow from suppliers of listed goods to end users (max-flow interdiction).

    Solved exactly (Wood's integer program, HiGHS) when the network is small enough,
    else by greedy on recomputed max-flow with swaps; the output says which, and the
    gap. Each target comes with its evidence and the flow it carries.
    """
    from shadowtrace.plan.adapt import WorldRef, party_ids, world_of_store
    from shadowtrace.plan.dismantle import DismantleOptions, plan_dismantle, save
    from shadowtrace.plan.dismantle import evaluate as run_evaluate
    from shadowtrace.plan.network import Adaptation
    from shadowtrace.store import Store

    if method not in ("auto", "exact", "heuristic"):
        raise ConfigError(f"--method: one of auto, exact, heuristic (got {method!r})")
    options = DismantleOptions(
        budget=budget,
        method=method,  # type: ignore[arg-type]  # checked above
        time_limit=time_limit,
        exact_max_arcs=exact_max_arcs,
        window_start=_date(window_start, "--window-start"),
        window_end=_date(window_end, "--window-end"),
        from_date=_date(from_date, "--from"),
        adaptation=None if static else Adaptation(substitute_share=substitute_share),
        channel_targets=not no_channels,
    )
    extra = [int(x) for x in budgets.split(",") if x.strip()] if budgets else []
    with Store.open(store_path(store)) as st:
        plan = plan_dismantle(st, options)
        ref: WorldRef | None = None
        if evaluate:
            ref = WorldRef.read(world) if world is not None else world_of_store(st)
            err.print(
                f"evaluating on {ref.path} (scenario {ref.scenario}, seed {ref.seed}, "
                f"scale {ref.scale:g}); re-simulating, this takes a while"
            )
            with _workdir(workdir) as work:
                run_evaluate(
                    st,
                    plan,
                    world=ref,
                    workdir=work,
                    random_seeds=random_seeds,
                    budgets=sorted({budget, *extra}),
                )
        save(st, plan)
        if policy_out is not None:
            parties = None
            if ref is not None:
                parties = party_ids(st, ref, [t.target.id for t in plan.targets])
            policy_out.write_text(
                yaml.safe_dump(plan.policy(parties), sort_keys=False, allow_unicode=True),
                encoding="utf-8",
            )
            err.print(f"policy written to {policy_out}")
    if as_json:
        data = plan.to_dict()
        print(json.dumps(data, default=str, ensure_ascii=False))
        return
    print_dismantle(plan)


def print_dismantle(plan: Any) -> None:
    """The plan's targets and, when evaluated, the before/after table."""
    res = plan.result
    out.print(
        f"[bold]Dismantle plan[/bold] {plan.plan_id}: budget {plan.options.budget}, "
        f"policy from {plan.from_date}; network {plan.network['nodes']:,} nodes, "
        f"{plan.network['arcs']:,} arcs, {plan.network['targets']:,} candidate targets"
    )
    out.print(
        f"solver: {res.method} — {res.solver}; status {res.status}; gap {res.gap:.2%}; "
        f"{res.seconds:.1f} s"
    )
    table = Table(title="Targets")
    for col in ("#", "action", "target", "roles", "flow through", "cut (static)", "cut (adapted)"):
        table.add_column(col)
    for t in plan.targets:
        table.add_row(
            str(t.rank),
            t.target.action + (f" ({t.target.policy_kind})" if t.target.policy_kind else ""),
            t.target.caption,
            "; ".join(t.target.roles),
            _usd(t.flow_through),
            _usd(t.cut_static),
            _usd(t.cut_adapted),
        )
    out.print(table)
    if plan.designated:
        active = [d for d in plan.designated if d.get("flow_in", 0) > 0][:5]
        if active:
            out.print(
                "designated already but still carrying flow: "
                + "; ".join(f"{d['caption']} ({_usd(d['flow_in'])})" for d in active)
            )
    print_flows(plan.flows)


def print_flows(flows: list[Any]) -> None:
    """Flow removed by strategy and budget, before and after adaptation."""
    if not any(f.stage.startswith("truth") for f in flows):
        for f in flows:
            out.print(f"{f.stage}: {_usd(f.removed)} of {_usd(f.base)} ({f.share:.1%})")
        return
    table = Table(title="Flow removed: before and after the world adapts")
    for col in (
        "strategy",
        "K",
        "model: static",
        "model: adapted",
        "world: before adaptation",
        "world: after adaptation",
    ):
        table.add_column(col)
    key = {(f.strategy, f.budget, f.stage): f for f in flows}
    for strategy, k in dict.fromkeys((f.strategy, f.budget) for f in flows):
        cells = []
        for stage in ("model_static", "model_adapted", "truth_static", "truth_adapted"):
            f = key.get((strategy, k, stage))
            cells.append(f"{_usd(f.removed)} ({f.share:.1%})" if f else "")
        table.add_row(strategy, str(k), *cells)
    out.print(table)


# ----------------------------------------------------------------------------- replace


def replace_cmd(
    budget: Annotated[float, typer.Option("--budget", help="Money to spend, US dollars.")],
    phases: Annotated[int, typer.Option("--phases", help="Number of phases.", min=1)] = 3,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """Plan, phase by phase, which equipment that depends on Chinese suppliers to
    replace so as to restore the most critical capacity per dollar (a knapsack per
    phase). Options and costs come from shadowtrace/plan/data/replacement.yml."""
    from shadowtrace.plan.replace import plan_replace, save
    from shadowtrace.store import Store

    with Store.open(store_path(store)) as st:
        plan = plan_replace(st, budget, phases)
        save(st, plan)
    if as_json:
        print(json.dumps(plan.to_dict(), default=str, ensure_ascii=False))
        return
    s = plan.summary
    out.print(
        f"[bold]Replacement plan[/bold] {plan.plan_id}: {_usd(budget)} over {phases} phases; "
        f"{s['units']:,} dependent units in {s['groups']:,} groups"
    )
    table = Table(title="Phases")
    for col in ("phase", "budget", "spent", "criticality restored", "cumulative share"):
        table.add_column(col)
    cum = 0.0
    for p in s["phases"]:
        cum += p["share_of_criticality"]
        table.add_row(
            str(p["phase"]),
            _usd(p["budget"]),
            _usd(p["spent"]),
            f"{p['criticality_restored']:.4f}",
            f"{cum:.1%}",
        )
    out.print(table)
    by = Table(title="Replaced by category and phase")
    for col in ("phase", "category", "option", "units", "cost", "capacity restored"):
        by.add_column(col)
    agg: dict[tuple[int, str, str], list[float]] = {}
    units: dict[tuple[int, str, str], str] = {}
    for r in plan.rows:
        key = (r["phase"], r["category"], r["option"])
        a = agg.setdefault(key, [0.0, 0.0, 0.0])
        a[0] += r["replaced"]
        a[1] += r["cost"]
        a[2] += r["capacity"]
        units[key] = r["capacity_unit"]
    for key, (n, cost, cap) in sorted(agg.items()):
        by.add_row(str(key[0]), key[1], key[2], f"{n:,.0f}", _usd(cost), f"{cap:,.0f} {units[key]}")
    out.print(by)


# ----------------------------------------------------------------------------- restore


def restore_cmd(
    policy: Annotated[
        list[Path] | None,
        typer.Option("--policy", "-p", help="Policy YAML files to test on the simulated world."),
    ] = None,
    examples: Annotated[
        bool,
        typer.Option("--examples", help="Also test the policies shipped in plan/policies."),
    ] = False,
    window_start: Annotated[str | None, typer.Option("--window-start")] = None,
    window_end: Annotated[str | None, typer.Option("--window-end")] = None,
    world: WorldOpt = None,
    workdir: WorkdirOpt = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """Measure what each parallel channel carries (cash yuan, USDT desks, app payments,
    netting brokers, payment agents) and the fees lost to them; with policies, simulate
    how volume shifts between shadow and transparent channels."""
    from shadowtrace.plan.adapt import WorldRef
    from shadowtrace.plan.restore import example_policies, plan_restore, save
    from shadowtrace.simulate import load_policy
    from shadowtrace.store import Store

    pols: dict[str, dict[str, Any]] = {}
    if examples:
        pols.update(example_policies())
    for path in policy or []:
        loaded = load_policy(path)  # validates
        pols[loaded.name] = yaml.safe_load(path.read_text(encoding="utf-8"))
    with Store.open(store_path(store)) as st, _workdir(workdir) as work:
        result = plan_restore(
            st,
            policies=pols or None,
            world=WorldRef.read(world) if world is not None else None,
            workdir=work if pols else None,
            start=_date(window_start, "--window-start"),
            end=_date(window_end, "--window-end"),
        )
        plan_id = save(st, result)
    result["plan_id"] = plan_id
    if as_json:
        print(json.dumps(result, default=str, ensure_ascii=False))
        return
    print_restore(result)


def print_restore(result: dict[str, Any]) -> None:
    table = Table(title="Channels as the records show them")
    for col in ("channel", "kind", "volume", "records", "parties", "fees lost (8–15%)"):
        table.add_column(col)
    for r in result["observed"]:
        kind = "transparent" if r["transparent"] else "parallel"
        if r["channel"] == "refused":
            kind = "refused by banks"
        fees = "" if r["transparent"] else f"{_usd(r['fees_low'])}–{_usd(r['fees_high'])}"
        if "measured_fee" in r["details"]:
            fees += f" (ledger: {r['details']['measured_fee']:.1%})"
        table.add_row(
            r["channel"],
            kind,
            _usd(r["volume"]),
            f"{r['records']:,}",
            str(r["details"].get("parties", "")),
            fees,
        )
    out.print(table)
    t = result["observed_totals"]
    out.print(
        f"parallel channels carried {_usd(t['shadow'])}; businesses lost "
        f"{_usd(t['fees_low'])}–{_usd(t['fees_high'])} in fees"
    )
    for w in result["whatif"]:
        print_whatif(w)


def print_whatif(w: dict[str, Any]) -> None:
    pol = w["policy"]
    table = Table(title=f"What if: {pol.get('name')} (from {w['from_date']})")
    for col in ("channel", "kind", "without policy", "with policy", "change"):
        table.add_column(col)
    for c in w["channels"]:
        table.add_row(
            c["channel"],
            "transparent" if c["transparent"] else "parallel",
            _usd(c["before"]),
            _usd(c["after"]),
            _usd(c["change"]),
        )
    out.print(table)
    t = w["totals"]
    out.print(
        f"parallel share {t['shadow_share_before']:.1%} → {t['shadow_share_after']:.1%}; "
        f"fees {_usd(t['fees_before_low'])}–{_usd(t['fees_before_high'])} → "
        f"{_usd(t['fees_after_low'])}–{_usd(t['fees_after_high'])}; trade blocked "
        f"{_usd(t['blocked_before'])} → {_usd(t['blocked_after'])}"
    )


# ----------------------------------------------------------------------------- whatif


def whatif_cmd(
    policy: Annotated[Path, typer.Option("--policy", "-p", help="Policy YAML file.")],
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="Scenario name or YAML file.")
    ] = "default",
    seed: Annotated[int, typer.Option("--seed", help="World seed.")] = 0,
    scale: Annotated[float, typer.Option("--scale", help="World scale.")] = 0.1,
    world: WorldOpt = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for the worlds and whatif.json (default: worlds in a temporary "
            "folder, whatif.json here).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Simulate a scenario without and with a policy and print the before/after figures
    by channel (also written to OUT/whatif.json)."""
    from shadowtrace.plan.adapt import WorldRef
    from shadowtrace.plan.restore import whatif
    from shadowtrace.simulate import load_policy, load_scenario

    pol = load_policy(policy)
    raw = yaml.safe_load(policy.read_text(encoding="utf-8")) or {}
    with _workdir(out_dir) as work:
        if world is not None:
            ref = WorldRef.read(world)
        else:
            scn = load_scenario(scenario)
            ref = WorldRef(work / "world", scn.name, seed, scale)
        result = whatif(ref, {"name": pol.name, **raw}, work)
        data = result.to_dict()
        written = (out_dir or Path(".")) / "whatif.json"
        written.write_text(
            json.dumps(data, default=str, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    if as_json:
        print(json.dumps(data, default=str, ensure_ascii=False))
        return
    print_whatif(data)
    err.print(f"written to {written}")


# ----------------------------------------------------------------------------- default


def run_default_plans(store_path: str, workdir: Path | None = None) -> dict[str, Any]:
    """The plans ``make demo`` shows: dismantle with K = 10 (evaluated on the simulated
    world when the store came from one), a replacement schedule and the channel view
    with the shipped what-if policies. The policy date is the middle of the records'
    period."""
    from shadowtrace.errors import NotFound
    from shadowtrace.plan.adapt import world_of_store
    from shadowtrace.plan.dismantle import (
        DismantleOptions,
        evaluate,
        plan_dismantle,
        records_period,
    )
    from shadowtrace.plan.dismantle import save as save_dismantle
    from shadowtrace.plan.replace import plan_replace
    from shadowtrace.plan.replace import save as save_replace
    from shadowtrace.plan.restore import example_policies, plan_restore
    from shadowtrace.plan.restore import save as save_restore
    from shadowtrace.store import Store

    done: dict[str, Any] = {}
    with Store.open(store_path) as st, _workdir(workdir) as work:
        first, last = records_period(st)
        if first is None or last is None:
            raise ConfigError("the store holds no dated records to plan on")
        middle = first + (last - first) / 2
        try:
            ref = world_of_store(st)
        except (NotFound, ConfigError):
            ref = None
        plan = plan_dismantle(st, DismantleOptions(budget=10, from_date=middle))
        if ref is not None:
            evaluate(st, plan, world=ref, workdir=work / "dismantle", random_seeds=3)
        done["dismantle"] = save_dismantle(st, plan)
        done["replace"] = save_replace(st, plan_replace(st, 500e6, 3))
        pols = {
            name: {**pol, "from_date": middle.isoformat()}
            for name, pol in example_policies().items()
        }
        restored = plan_restore(
            st, policies=pols if ref is not None else None, world=ref, workdir=work / "restore"
        )
        done["restore"] = save_restore(st, restored)
    return done


def register(app: typer.Typer) -> None:
    """Add ``plan dismantle|replace|restore`` and ``whatif`` to ``app``."""
    plan_app = typer.Typer(
        name="plan",
        help="Plan reintegration: where to cut, what to replace, how to restore "
        "transparent finance.",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    plan_app.command("dismantle")(dismantle_cmd)
    plan_app.command("replace")(replace_cmd)
    plan_app.command("restore")(restore_cmd)
    app.add_typer(plan_app)
    app.command("whatif")(whatif_cmd)
