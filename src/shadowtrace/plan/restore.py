"""``plan restore`` and ``whatif``: how much each parallel channel carries, what it costs
businesses, and where volume goes under a policy.

**Observed** (the store): the value each channel carried in the window, from the records
that show it: cash yuan sold at branches, USDT moved by OTC desks and exchanges, app
transfers, netting-ledger entries, payment agents' transfers around refused payments,
and the transparent route (bank payments accepted between the same kinds of parties).
The fees businesses lose to the parallel channels are their volume times the range the
source texts give (8-15%); where a netting ledger shows both legs, the fee it implies is
measured too.

**What-if** (the simulator): a policy (open a correspondent bank, close a channel, a
branch or an exchange) is applied to the world and the world is simulated again. The
volume each channel carries from the policy date is compared with the world without it:
shadow and transparent, blocked (trade that did not happen), and the fees paid.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import yaml

from shadowtrace.errors import ConfigError
from shadowtrace.plan.adapt import WorldRef, unperturbed_world, world_of_store
from shadowtrace.plan.network import NetworkOptions, payments_table, rates_table
from shadowtrace.store import Store

__all__ = [
    "FEE_RANGE",
    "SHADOW_CHANNELS",
    "ChannelRow",
    "WhatIf",
    "example_policies",
    "observed_channels",
    "whatif",
]

log = logging.getLogger(__name__)

#: Extra fees businesses pay intermediaries (seed_figures.yml occupied_ukraine
#: intermediary_fee_min / intermediary_fee_max: "between 8% and 15%").
FEE_RANGE: tuple[float, float] = (0.08, 0.15)

#: Parallel channels, as the simulator's ground truth names them.
SHADOW_CHANNELS: tuple[str, ...] = ("bank_agent", "usdt", "netting", "app", "cash_yuan")
TRANSPARENT_CHANNELS: tuple[str, ...] = ("bank_direct",)


@dataclass
class ChannelRow:
    """Volume of one channel (US dollars), observed or under a policy."""

    scenario: str
    channel: str
    transparent: bool
    volume: float
    records: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def fees_low(self) -> float:
        return 0.0 if self.transparent else self.volume * FEE_RANGE[0]

    @property
    def fees_high(self) -> float:
        return 0.0 if self.transparent else self.volume * FEE_RANGE[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "channel": self.channel,
            "transparent": self.transparent,
            "volume": self.volume,
            "records": self.records,
            "fees_low": self.fees_low,
            "fees_high": self.fees_high,
            "details": self.details,
        }


def _window(column: str, start: dt.date | None, end: dt.date | None) -> tuple[str, list[Any]]:
    parts, params = [], []
    if start is not None:
        parts.append(f"{column} >= ?")
        params.append(start)
    if end is not None:
        parts.append(f"{column} < ?")
        params.append(end)
    return " AND ".join(parts) or "TRUE", params


def observed_channels(
    store: Store, start: dt.date | None = None, end: dt.date | None = None
) -> list[ChannelRow]:
    """Value each channel carried in ``[start, end)``, from the store's records."""
    rates_table(store)
    payments_table(store, NetworkOptions(start=start, end=end))
    con = store.con
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _rs_refused AS
        SELECT DISTINCT payer, beneficiary FROM _pn_pay
        WHERE schema = 'BankPayment' AND status = 'rejected'
          AND payer IS NOT NULL AND beneficiary IS NOT NULL
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _rs_holder AS
        SELECT w.id AS wallet, w.holder,
               (SELECT min(lower(value)) FROM statements s
                WHERE s.canonical_id = w.holder AND s.prop = 'classification') AS kind
        FROM wallets w WHERE w.holder IS NOT NULL
        """
    )
    rows: list[ChannelRow] = []

    def add(channel: str, transparent: bool, sql: str, params: Sequence[Any] = ()) -> None:
        got = con.execute(sql, list(params)).fetchall()
        volume, records, extra = got[0] if got else (0.0, 0, None)
        rows.append(
            ChannelRow(
                "observed",
                channel,
                transparent,
                float(volume or 0.0),
                int(records or 0),
                {"parties": int(extra)} if extra is not None else {},
            )
        )

    add(
        "cash_yuan",
        False,
        "SELECT sum(usd), count(*), count(DISTINCT beneficiary) FROM _pn_pay "
        "WHERE schema = 'CashCurrencySale'",
    )
    twhere, tparams = _window("t.date", start, end)
    add(
        "usdt",
        False,
        f"""
        -- what leaves a desk's known wallet: each rail counted once, at its first hop
        SELECT sum(t.amount), count(*), count(DISTINCT hs.holder)
        FROM transfers t
        JOIN _rs_holder hs ON hs.wallet = t.source_wallet
        WHERE hs.kind = 'otc_desk' AND {twhere}
        """,
        tparams,
    )
    add(
        "app",
        False,
        "SELECT sum(usd), count(*), count(DISTINCT payer_app_account) FROM _pn_pay "
        "WHERE schema = 'AppPayment'",
    )
    add(
        "netting",
        False,
        "SELECT sum(usd), count(*), count(DISTINCT broker) FROM _pn_pay "
        "WHERE schema = 'NettingTransaction'",
    )
    # payment agents: accepted payments from refused payers to parties that are neither
    # the refused beneficiary nor a desk, and on to refused beneficiaries
    add(
        "bank_agent",
        False,
        """
        WITH payers AS (SELECT DISTINCT payer FROM _rs_refused),
             bens AS (SELECT DISTINCT beneficiary FROM _rs_refused),
             hubs AS (SELECT DISTINCT holder AS id FROM _rs_holder),
             agents AS (
               SELECT DISTINCT p.beneficiary AS id FROM _pn_pay p
               WHERE p.schema = 'BankPayment' AND p.status = 'accepted'
                 AND p.payer IN (SELECT payer FROM payers)
                 AND p.beneficiary NOT IN (SELECT beneficiary FROM bens)
                 AND p.beneficiary NOT IN (SELECT id FROM hubs)
               INTERSECT
               SELECT DISTINCT p.payer FROM _pn_pay p
               WHERE p.schema = 'BankPayment' AND p.status = 'accepted'
                 AND p.beneficiary IN (SELECT beneficiary FROM bens)
             )
        SELECT sum(p.usd), count(*), count(DISTINCT p.beneficiary) FROM _pn_pay p
        WHERE p.schema = 'BankPayment' AND p.status = 'accepted'
          AND p.beneficiary IN (SELECT id FROM agents)
          AND p.payer IN (SELECT payer FROM payers)
        """,
    )
    add(
        "bank_direct",
        True,
        """
        SELECT sum(p.usd), count(*), count(DISTINCT p.beneficiary) FROM _pn_pay p
        WHERE p.schema = 'BankPayment' AND p.status = 'accepted'
          AND p.payer IN (SELECT payer FROM _rs_refused)
          AND p.beneficiary IN (SELECT beneficiary FROM _rs_refused)
        """,
    )
    refused = con.execute(
        "SELECT sum(usd), count(*) FROM _pn_pay WHERE schema = 'BankPayment' "
        "AND status = 'rejected'"
    ).fetchall()
    rows.append(
        ChannelRow(
            "observed",
            "refused",
            True,
            float(refused[0][0] or 0.0) if refused else 0.0,
            int(refused[0][1] or 0) if refused else 0,
            {"note": "bank payments refused: the demand the parallel channels serve"},
        )
    )
    fee = _netting_fee(store)
    if fee is not None:
        for r in rows:
            if r.channel == "netting":
                r.details["measured_fee"] = fee
    return rows


def _netting_fee(store: Store) -> float | None:
    """Median fee a netting ledger implies: the rouble leg over the yuan leg, both in
    US dollars, minus one."""
    got = store.con.execute(
        """
        WITH legs AS (
          SELECT s.canonical_id AS id,
                 min(s.value) FILTER (WHERE s.prop = 'domesticLeg') AS dom,
                 min(s.value) FILTER (WHERE s.prop = 'foreignLeg') AS frn
          FROM statements s WHERE s.schema = 'NettingTransaction' GROUP BY s.canonical_id
        ),
        amt AS (
          SELECT p.id, p.usd FROM _pn_pay p
        )
        SELECT median(d.usd / f.usd - 1) FROM legs
        JOIN resolution rd ON rd.entity_id = legs.dom
        JOIN resolution rf ON rf.entity_id = legs.frn
        JOIN amt d ON d.id = rd.canonical_id JOIN amt f ON f.id = rf.canonical_id
        WHERE f.usd > 0
        """
    ).fetchall()
    if not got or got[0][0] is None:
        return None
    return float(got[0][0])


# ----------------------------------------------------------------------- what-if


@dataclass
class WhatIf:
    """Volume by channel from the policy date, without and with a policy."""

    policy: dict[str, Any]
    from_date: dt.date
    before: dict[str, float]
    after: dict[str, float]
    blocked_before: float
    blocked_after: float
    world: dict[str, Any]

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for ch in sorted(set(self.before) | set(self.after)):
            b, a = self.before.get(ch, 0.0), self.after.get(ch, 0.0)
            transparent = ch in TRANSPARENT_CHANNELS
            out.append(
                {
                    "channel": ch,
                    "transparent": transparent,
                    "before": b,
                    "after": a,
                    "change": a - b,
                    "fees_before": (0.0, 0.0)
                    if transparent
                    else (b * FEE_RANGE[0], b * FEE_RANGE[1]),
                    "fees_after": (0.0, 0.0)
                    if transparent
                    else (a * FEE_RANGE[0], a * FEE_RANGE[1]),
                }
            )
        return out

    def totals(self) -> dict[str, float]:
        shadow_b = sum(v for k, v in self.before.items() if k in SHADOW_CHANNELS)
        shadow_a = sum(v for k, v in self.after.items() if k in SHADOW_CHANNELS)
        clear_b = sum(v for k, v in self.before.items() if k in TRANSPARENT_CHANNELS)
        clear_a = sum(v for k, v in self.after.items() if k in TRANSPARENT_CHANNELS)
        return {
            "shadow_before": shadow_b,
            "shadow_after": shadow_a,
            "transparent_before": clear_b,
            "transparent_after": clear_a,
            "shadow_share_before": shadow_b / (shadow_b + clear_b) if shadow_b + clear_b else 0.0,
            "shadow_share_after": shadow_a / (shadow_a + clear_a) if shadow_a + clear_a else 0.0,
            "fees_before_low": shadow_b * FEE_RANGE[0],
            "fees_before_high": shadow_b * FEE_RANGE[1],
            "fees_after_low": shadow_a * FEE_RANGE[0],
            "fees_after_high": shadow_a * FEE_RANGE[1],
            "blocked_before": self.blocked_before,
            "blocked_after": self.blocked_after,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "from_date": self.from_date.isoformat(),
            "world": self.world,
            "channels": self.rows(),
            "totals": self.totals(),
        }


def payment_volumes(flows: Path, from_date: dt.date) -> tuple[dict[str, float], float]:
    """Delivered value of payments by channel on or after ``from_date`` (refused payments
    rerouted, and payments the banks accepted), and the value blocked."""
    con = duckdb.connect()
    try:
        path = str(flows).replace("'", "''")
        rows = con.execute(
            f"""
            SELECT channel, sum(value_usd), sum(intended_value_usd - value_usd)
            FROM read_parquet('{path}')
            WHERE typology IN ('rerouted_payment', 'legitimate_payment')
              AND CAST(date AS DATE) >= ?
            GROUP BY channel
            """,
            [from_date],
        ).fetchall()
    finally:
        con.close()
    return {str(r[0]): float(r[1] or 0.0) for r in rows}, float(sum(r[2] or 0.0 for r in rows))


def whatif(
    world: WorldRef,
    policy: Mapping[str, Any],
    workdir: Path,
    unperturbed: WorldRef | None = None,
) -> WhatIf:
    """Simulate ``world`` again with ``policy`` and compare payment channels from the
    policy's date with the world without it."""
    from shadowtrace.plan.adapt import resimulate

    if not policy.get("from_date"):
        raise ConfigError("a what-if policy needs a from_date")
    from_date = dt.date.fromisoformat(str(policy["from_date"]))
    base = unperturbed or unperturbed_world(world, workdir / "unperturbed")
    name = str(policy.get("name", "policy"))
    after_world = resimulate(world, dict(policy), workdir / _slug(name))
    before, blocked_b = payment_volumes(base.flows, from_date)
    after, blocked_a = payment_volumes(after_world.flows, from_date)
    return WhatIf(
        policy=dict(policy),
        from_date=from_date,
        before=before,
        after=after,
        blocked_before=blocked_b,
        blocked_after=blocked_a,
        world={
            "scenario": world.scenario,
            "seed": world.seed,
            "scale": world.scale,
            "path": str(world.path),
        },
    )


def _slug(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.lower())
    return keep.strip("-") or "policy"


def example_policies() -> dict[str, dict[str, Any]]:
    """The policies shipped in ``shadowtrace/plan/policies`` by file name."""
    folder = resources.files("shadowtrace.plan").joinpath("policies")
    out: dict[str, dict[str, Any]] = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith((".yml", ".yaml")):
            data = yaml.safe_load(item.read_text("utf-8"))
            if isinstance(data, dict):
                out[item.name.rsplit(".", 1)[0]] = data
    return out


def plan_restore(
    store: Store,
    *,
    policies: Mapping[str, Mapping[str, Any]] | None = None,
    world: WorldRef | None = None,
    workdir: Path | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, Any]:
    """Observed channel volumes and fees; with a world and policies, the what-ifs."""
    observed = observed_channels(store, start, end)
    shadow = sum(r.volume for r in observed if r.channel in SHADOW_CHANNELS)
    result: dict[str, Any] = {
        "window": {
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
        },
        "observed": [r.to_dict() for r in observed],
        "observed_totals": {
            "shadow": shadow,
            "fees_low": shadow * FEE_RANGE[0],
            "fees_high": shadow * FEE_RANGE[1],
            "fee_range": list(FEE_RANGE),
        },
        "whatif": [],
    }
    if policies and workdir is not None:
        ref = world or world_of_store(store)
        base = unperturbed_world(ref, workdir / "unperturbed")
        for name, pol in policies.items():
            res = whatif(ref, {"name": name, **dict(pol)}, workdir, unperturbed=base)
            result["whatif"].append(res.to_dict())
    return result


def save(store: Store, result: dict[str, Any], name: str = "restore") -> str:
    """Write observed and what-if channel volumes into ``plans`` and ``plan_channels``."""
    from shadowtrace.plan.persist import insert_rows, new_plan

    rows: list[dict[str, Any]] = []
    for r in result["observed"]:
        rows.append(
            {
                k: r[k]
                for k in (
                    "scenario",
                    "channel",
                    "transparent",
                    "volume",
                    "records",
                    "fees_low",
                    "fees_high",
                    "details",
                )
            }
        )
    for w in result["whatif"]:
        pname = str(w["policy"].get("name", "policy"))
        for c in w["channels"]:
            for stage in ("before", "after"):
                fees = c[f"fees_{stage}"]
                rows.append(
                    {
                        "scenario": f"{pname}:{stage}",
                        "channel": c["channel"],
                        "transparent": c["transparent"],
                        "volume": c[stage],
                        "records": None,
                        "fees_low": fees[0],
                        "fees_high": fees[1],
                        "details": {"policy": w["policy"], "from_date": w["from_date"]},
                    }
                )
    with store.transaction():
        plan_id = new_plan(
            store,
            "restore",
            name,
            {"window": result["window"], "policies": [w["policy"] for w in result["whatif"]]},
            {
                "observed_totals": result["observed_totals"],
                "whatif": [
                    {"policy": w["policy"], "totals": w["totals"]} for w in result["whatif"]
                ],
            },
        )
        insert_rows(store, "plan_channels", [{"plan_id": plan_id, **r} for r in rows])
    return plan_id
