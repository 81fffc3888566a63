"""Test a plan against the simulated world that fights back.

The chosen targets become a simulator policy (sanction these parties, close these
desks, exchanges, branches and channels, from this date); the world is simulated
again with the same scenario, seed and scale, and flows reroute to substitute
intermediaries, channels and routes as the scenario says they do.

What is measured, on the simulator's ground truth (``ground_truth/flows.parquet``),
over the illicit flows from sources to sinks (:data:`ILLICIT_TYPOLOGIES`) dated on or
after the policy date:

* **before adaptation**: the value that passed through the targets in the world
  without the policy (flows whose hops include a target, or that used a closed
  channel): what the plan cuts if nobody adapts;
* **after adaptation**: the value delivered in the world without the policy minus the
  value delivered in the world re-simulated with it: what the plan really removes.

Canonical entities of the store are turned into the simulator's party ids through
provenance: each record an entity was read from (file, row, mapping entity) is looked
up in ``ground_truth/records.parquet``, and the party most of its records stand for
is the one the policy names.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml

from shadowtrace.errors import ConfigError, NotFound
from shadowtrace.plan.network import Target
from shadowtrace.store import Store

__all__ = [
    "ILLICIT_TYPOLOGIES",
    "FlowMeasure",
    "WorldRef",
    "flow_totals",
    "measure",
    "party_ids",
    "policy_for",
    "resimulate",
    "static_cut",
    "unperturbed_world",
    "world_of_store",
]

log = logging.getLogger(__name__)

#: Ground-truth typologies of the flows a dismantle plan acts on: listed goods moved
#: through third countries to end users, and payments rerouted around refusing banks.
ILLICIT_TYPOLOGIES: tuple[str, ...] = (
    "dual_use_supply",
    "multilayer_transshipment",
    "rerouted_payment",
)


@dataclass(frozen=True)
class WorldRef:
    """A simulated world on disk: its folder and how it was made."""

    path: Path
    scenario: str
    seed: int
    scale: float
    policy: dict[str, Any] | None = None

    @classmethod
    def read(cls, path: Path) -> WorldRef:
        manifest = Path(path) / "manifest.yml"
        if not manifest.is_file():
            raise NotFound(f"{path}: no manifest.yml (not a simulated world)")
        data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "seed" not in data or "scenario" not in data:
            raise ConfigError(f"{manifest}: not a simulator manifest (no scenario or seed)")
        if not (Path(path) / "ground_truth" / "flows.parquet").is_file():
            raise NotFound(f"{path}: no ground_truth/flows.parquet")
        return cls(
            path=Path(path),
            scenario=str(data["scenario"]),
            seed=int(data["seed"]),
            scale=float(data["scale"]),
            policy=data.get("policy"),
        )

    @property
    def flows(self) -> Path:
        return self.path / "ground_truth" / "flows.parquet"


def world_of_store(store: Store) -> WorldRef:
    """The simulated world a store was ingested from (the folder of its manifest)."""
    rows = store.con.execute("SELECT DISTINCT path FROM sources ORDER BY path").fetchall()
    folders = {Path(r[0]).parent for r in rows}
    worlds = [f for f in folders if (f / "manifest.yml").is_file()]
    if not worlds:
        raise NotFound(
            "the store was not ingested from a simulated world (no manifest.yml beside its "
            "sources): pass --world"
        )
    if len(worlds) > 1:
        raise ConfigError(
            f"the store holds several worlds ({', '.join(map(str, sorted(worlds)))}): pass --world"
        )
    return WorldRef.read(worlds[0])


def party_ids(store: Store, world: WorldRef, canonical_ids: Iterable[str]) -> dict[str, str]:
    """The simulator party behind each canonical entity: the true id most of its
    records stand for (entities whose records name no party are left out)."""
    ids = sorted(set(canonical_ids))
    if not ids:
        return {}
    con = store.con
    con.register("_pa_ids_arrow", pa.table({"id": ids}))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _pa_ids AS SELECT id FROM _pa_ids_arrow")
    finally:
        con.unregister("_pa_ids_arrow")
    rows = con.execute(
        """
        WITH rec AS (
          SELECT DISTINCT s.canonical_id AS id, src.name AS file, es.source_row AS row,
                 es.origin
          FROM statements s
          JOIN _pa_ids i ON i.id = s.canonical_id
          JOIN entity_sources es ON es.entity_id = s.entity_id
          JOIN sources src ON src.source_id = es.source_id
        ),
        truth AS (
          SELECT CAST(file AS VARCHAR) AS file, row, CAST(origin AS VARCHAR) AS origin,
                 true_id
          FROM read_parquet(?)
        ),
        votes AS (
          SELECT rec.id, truth.true_id, count(*) AS n
          FROM rec JOIN truth USING (file, row, origin)
          WHERE truth.true_id LIKE 'ent-%'
          GROUP BY ALL
        )
        SELECT id, arg_max(true_id, n) FROM votes GROUP BY id
        """,
        [str(world.path / "ground_truth" / "records.parquet")],
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def policy_for(
    targets: Sequence[Target],
    parties: Mapping[str, str],
    from_date: dt.date,
    name: str = "plan",
) -> dict[str, Any]:
    """The simulator policy that carries out ``targets`` from ``from_date``.

    >>> t = [Target("c1", "entity", "sanction", None, "A"),
    ...      Target("c2", "entity", "close", "otc_desk", "B"),
    ...      Target("channel:usdt", "channel", "close", "channel", "usdt channel")]
    >>> policy_for(t, {"c1": "ent-000001", "c2": "ent-000002"}, dt.date(2024, 7, 1))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'name': 'plan', 'from_date': '2024-07-01', 'sanction': ['ent-000001'],
     'close_channels': ['otc_desk:ent-000002', 'channel:usdt']}
    """
    sanction: list[str] = []
    close: list[str] = []
    for t in targets:
        if t.kind == "channel":
            close.append(f"channel:{t.id.partition(':')[2]}")
            continue
        party = parties.get(t.id)
        if party is None:
            log.warning(
                "no simulator party behind %s (%s): left out of the policy", t.id, t.caption
            )
            continue
        if t.action == "close" and t.policy_kind:
            close.append(f"{t.policy_kind}:{party}")
        else:
            sanction.append(party)
    return {
        "name": name,
        "from_date": from_date.isoformat(),
        "sanction": list(dict.fromkeys(sanction)),
        "close_channels": list(dict.fromkeys(close)),
    }


def resimulate(world: WorldRef, policy: Mapping[str, Any], out: Path) -> WorldRef:
    """Simulate ``world`` again (same scenario, seed and scale) with ``policy``."""
    from shadowtrace.simulate import simulate

    simulate(world.scenario, world.seed, world.scale, out, policy=dict(policy))
    return WorldRef.read(out)


def unperturbed_world(world: WorldRef, out: Path) -> WorldRef:
    """``world`` simulated again without a policy by this version of the simulator, so
    that the worlds with and without a policy come from the same code."""
    from shadowtrace.simulate import simulate

    simulate(world.scenario, world.seed, world.scale, out)
    return WorldRef.read(out)


def _flows_sql(path: Path) -> str:
    return f"read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')"


def flow_totals(
    flows: Path, from_date: dt.date, typologies: Sequence[str] = ILLICIT_TYPOLOGIES
) -> dict[str, float]:
    """Delivered value of the illicit flows on or after ``from_date``, by channel and in all."""
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"""
            SELECT channel, sum(value_usd), sum(intended_value_usd) FROM {_flows_sql(flows)}
            WHERE illicit AND list_contains(?, typology) AND CAST(date AS DATE) >= ?
            GROUP BY channel
            """,
            [list(typologies), from_date],
        ).fetchall()
    finally:
        con.close()
    out = {str(r[0]): float(r[1] or 0.0) for r in rows}
    out["total"] = sum(out.values())
    out["intended"] = float(sum(r[2] or 0.0 for r in rows))
    return out


def static_cut(
    flows: Path,
    from_date: dt.date,
    parties: Iterable[str],
    channels: Iterable[str] = (),
    typologies: Sequence[str] = ILLICIT_TYPOLOGIES,
) -> float:
    """Delivered illicit value (on or after ``from_date``) whose hops include one of
    ``parties`` or that used one of ``channels``: the cut if nothing adapted."""
    con = duckdb.connect()
    try:
        row = con.execute(
            f"""
            SELECT coalesce(sum(value_usd), 0) FROM {_flows_sql(flows)}
            WHERE illicit AND list_contains(?, typology) AND CAST(date AS DATE) >= ?
              AND status = 'delivered'
              AND (list_has_any(hops, ?) OR list_contains(?, channel))
            """,
            [list(typologies), from_date, sorted(set(parties)) or [""], sorted(set(channels))],
        ).fetchall()
    finally:
        con.close()
    return float(row[0][0]) if row else 0.0


@dataclass
class FlowMeasure:
    """Flow removed by one policy, before and after the world adapts."""

    strategy: str
    budget: int
    base: float
    static_cut: float
    adapted_cut: float
    after: float
    by_channel_base: dict[str, float] = field(default_factory=dict)
    by_channel_after: dict[str, float] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)
    mapped: int = 0
    targets: int = 0

    @property
    def static_share(self) -> float:
        return self.static_cut / self.base if self.base else 0.0

    @property
    def adapted_share(self) -> float:
        return self.adapted_cut / self.base if self.base else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "budget": self.budget,
            "base": self.base,
            "static_cut": self.static_cut,
            "adapted_cut": self.adapted_cut,
            "after": self.after,
            "static_share": self.static_share,
            "adapted_share": self.adapted_share,
            "by_channel_base": self.by_channel_base,
            "by_channel_after": self.by_channel_after,
            "mapped": self.mapped,
            "targets": self.targets,
            "policy": self.policy,
        }


def measure(
    store: Store,
    world: WorldRef,
    targets: Sequence[Target],
    from_date: dt.date,
    out: Path,
    strategy: str = "plan",
    parties: Mapping[str, str] | None = None,
    unperturbed: WorldRef | None = None,
) -> FlowMeasure:
    """Apply ``targets`` as a policy to ``world``, re-simulate into ``out`` and measure
    the flow removed before and after adaptation, against ``unperturbed`` (the same
    world simulated again without a policy, by :func:`unperturbed_world`; default
    ``world`` itself)."""
    if world.policy:
        raise ConfigError(
            f"{world.path} was simulated with a policy already; measure against the world "
            "without one"
        )
    mapping = (
        dict(parties)
        if parties is not None
        else party_ids(store, world, [t.id for t in targets if t.kind == "entity"])
    )
    policy = policy_for(targets, mapping, from_date, name=strategy)
    ref = unperturbed or world
    base = flow_totals(ref.flows, from_date)
    chosen = [mapping[t.id] for t in targets if t.kind == "entity" and t.id in mapping]
    channels = [t.id.partition(":")[2] for t in targets if t.kind == "channel"]
    before = static_cut(ref.flows, from_date, chosen, channels)
    after_world = resimulate(world, policy, out)
    after = flow_totals(after_world.flows, from_date)
    (out / "plan_policy.json").write_text(json.dumps(policy, indent=2), encoding="utf-8")
    return FlowMeasure(
        strategy=strategy,
        budget=len(targets),
        base=base["total"],
        static_cut=before,
        adapted_cut=base["total"] - after["total"],
        after=after["total"],
        by_channel_base={k: v for k, v in base.items() if k not in ("total", "intended")},
        by_channel_after={k: v for k, v in after.items() if k not in ("total", "intended")},
        policy=policy,
        mapped=sum(1 for t in targets if t.kind == "channel" or t.id in mapping),
        targets=len(targets),
    )
