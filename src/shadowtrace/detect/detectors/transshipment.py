"""Multilayer transshipment: goods of Chinese origin reaching Russian or occupied-territory
end users through two or more intermediaries, with no direct trade on paper.

Customs declarations are linked into chains (:mod:`.goods`: same HS code, same
quantity or a value within a mark-up band, within a time window, each declaration's
receiver the next one's sender). A chain is a finding when it has at least
``min_intermediaries`` parties between the first sender and the last receiver, the
last receiver (or the end user who paid it) is in ``end_user_countries``, and no
declaration goes directly from the first sender to the last receiver or end user.
Chains of goods made elsewhere travel the same routes (chips made in Taiwan, shipped
through Hong Kong); they are reported too, at a lower score, unless ``other_origins``
is false.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import (
    captions,
    register,
    unregister,
)
from shadowtrace.detect.detectors.goods import (
    CHAIN_PARAMS,
    END_USER_PARAMS,
    Chain,
    end_user_step,
    end_users,
    goods_chains,
)
from shadowtrace.detect.finding import Finding, Step

__all__ = ["MultilayerTransshipment", "direct_pairs"]


def direct_pairs(ctx: DetectContext, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The pairs that have a declaration directly from the first to the second."""
    wanted = sorted(set(pairs))
    if not wanted:
        return set()
    con = ctx.store.con
    register(
        ctx.store,
        "_direct_pairs",
        pa.table(
            {
                "a": pa.array([a for a, _ in wanted], pa.string()),
                "b": pa.array([b for _, b in wanted], pa.string()),
            }
        ),
    )
    try:
        rows = con.execute(
            "SELECT DISTINCT p.a, p.b FROM _direct_pairs p JOIN edges e "
            "ON e.kind = 'shipment' AND e.source = p.a AND e.target = p.b"
        ).fetchall()
    finally:
        unregister(ctx.store, "_direct_pairs")
    return {(str(a), str(b)) for a, b in rows}


class MultilayerTransshipment:
    name = "multilayer_transshipment"
    title = "Multilayer transshipment"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        **CHAIN_PARAMS,
        "min_intermediaries": Param(
            2, "Fewest parties between the first sender and the last receiver.", 0, 50
        ),
        "origin_countries": Param(["cn"], "Countries of origin the typology is about."),
        "other_origins": Param(
            True, "Also report chains of goods of other origins (at a lower score)."
        ),
        **END_USER_PARAMS,
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        targets = set(p["end_user_countries"])
        origins = set(p["origin_countries"])
        chains = [
            c
            for c in goods_chains(ctx)
            if c.intermediaries >= p["min_intermediaries"]
            and (p["other_origins"] or (c.first.origin_country or "") in origins)
        ]
        end_users(ctx, chains, p["end_user_window_days"], p["end_user_ratio"], sorted(targets))
        chains = [c for c in chains if c.receiver_country in targets or c.end_user is not None]
        pairs = {(c.first.source, c.last.target) for c in chains}
        pairs |= {(c.first.source, c.end_user["payer"]) for c in chains if c.end_user}
        direct = direct_pairs(ctx, pairs)
        chains = [
            c
            for c in chains
            if (c.first.source, c.last.target) not in direct
            and not (c.end_user and (c.first.source, c.end_user["payer"]) in direct)
        ]
        return findings(ctx, chains, self.name, origins)


def score(chain: Chain, origins: set[str]) -> float:
    value = 0.45
    if (chain.first.origin_country or "") in origins:
        value += 0.2
    if chain.end_user is not None:
        value += 0.15
    value += 0.05 * min(3, max(0, chain.intermediaries - 2))
    quantities = {h.quantity for h in chain.hops}
    if len(quantities) == 1 and None not in quantities:
        value += 0.05
    return min(1.0, value)


def findings(
    ctx: DetectContext, chains: list[Chain], typology: str, origins: set[str]
) -> list[Finding]:
    ids = {x for c in chains for x in c.parties}
    ids |= {c.end_user["payer"] for c in chains if c.end_user}
    names = captions(ctx.store, ids)
    step_lists: list[list[Step]] = []
    for c in chains:
        steps = c.steps(names)
        eu = end_user_step(c)
        if eu is not None:
            steps.append(eu)
        step_lists.append(steps)
    out = []
    for c, steps in zip(chains, step_lists, strict=True):
        entities = list(c.parties)
        if c.end_user:
            entities.append(c.end_user["payer"])
        receiver = c.end_user["payer"] if c.end_user else c.last.target
        origin = c.first.origin_country or "unknown"
        title = (
            f"HS {c.first.hs_code} goods of {origin} origin reached {names.get(receiver, receiver)}"
            f" through {c.intermediaries} intermediar{'y' if c.intermediaries == 1 else 'ies'}"
        )
        explanation = (
            f"{len(c.hops)} customs declarations carry the same goods (HS {c.first.hs_code}"
            + (f", quantity {c.first.quantity:,.0f}" if c.first.quantity is not None else "")
            + f") from {names.get(c.first.source, c.first.source)} to "
            f"{names.get(c.last.target, c.last.target)} between {c.first.date} and "
            f"{c.last.date}; no declaration goes directly between the ends."
        )
        out.append(
            Finding.make(
                typology,
                score(c, origins),
                title,
                tuple(entities),
                tuple(steps),
                explanation=explanation,
                metrics={
                    "intermediaries": float(c.intermediaries),
                    "declarations": float(len(c.hops)),
                    "declared_value_first": float(c.first.amount or 0.0),
                    "declared_value_last": float(c.last.amount or 0.0),
                    "end_user_found": 1.0 if c.end_user else 0.0,
                },
            )
        )
    return out
