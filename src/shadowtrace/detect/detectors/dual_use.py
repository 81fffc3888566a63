"""Dual-use supply: goods of the Common High Priority List flowing to Russian or
occupied-territory users.

Every chain of linked declarations (:mod:`.goods`, chains of one included) whose goods
are on the list (the first six digits of the HS code) and whose last receiver, or the
end user who paid it, is in ``end_user_countries`` is a finding. A longer route and a
known end user raise the score: they are what diversion looks like.
"""

from __future__ import annotations

from collections.abc import Mapping

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import chpl_codes
from shadowtrace.detect.detectors.goods import (
    CHAIN_PARAMS,
    END_USER_PARAMS,
    Chain,
    end_users,
    goods_chains,
)
from shadowtrace.detect.detectors.transshipment import findings as chain_findings
from shadowtrace.detect.finding import Finding

__all__ = ["DualUseSupply"]


class DualUseSupply:
    name = "dual_use_supply"
    title = "Dual-use supply (Common High Priority List)"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        **CHAIN_PARAMS,
        "hs_codes": Param(
            sorted(chpl_codes()),
            "HS-6 codes of the goods that count (default: the Common High Priority List, "
            "version of 23 February 2024).",
        ),
        **END_USER_PARAMS,
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        codes = {str(c)[:6] for c in p["hs_codes"]}
        targets = set(p["end_user_countries"])
        chains = [c for c in goods_chains(ctx) if (c.first.hs_code or "")[:6] in codes]
        end_users(ctx, chains, p["end_user_window_days"], p["end_user_ratio"], sorted(targets))
        chains = [c for c in chains if c.receiver_country in targets or c.end_user is not None]
        found = chain_findings(ctx, chains, self.name, set())
        return [
            Finding.make(
                f.typology,
                _score(c),
                f.title.replace("goods of", "CHPL goods of", 1),
                f.entities,
                f.steps,
                explanation=f.explanation,
                metrics=f.metrics,
            )
            for f, c in zip(found, chains, strict=True)
        ]


def _score(chain: Chain) -> float:
    value = 0.55 + 0.1 * min(3, chain.intermediaries)
    if chain.end_user is not None:
        value += 0.15
    return min(1.0, value)
