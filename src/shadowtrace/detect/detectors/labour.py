"""Labour: North Korean labour contracts and the money that flows back.

A labour contract is North Korean when its workers' nationality or its supplier's
country is in ``countries`` (``kp``), or its supplier is listed under one of
``programs``. Employers holding such contracts pay the labour suppliers' share back;
a company named as labour supplier in any contract that receives payments from those
employers (the same entity, or one with the same name key where resolution kept the
payee and the named supplier apart) is a *front* for the North Korean supplier, and
the contracts that name it (with Chinese or no stated nationality) are North Korean
labour too.

Each contract in force (not a mere request: ``exclude_status``) is a finding, with the
payments its employer made to the contract's supplier or to a front while the contract
ran (up to ``max_payments``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from shadowtrace.detect.base import DetectContext, Param
from shadowtrace.detect.common import captions, fetch, money, name_keys
from shadowtrace.detect.finding import Finding, Step

__all__ = ["DprkLabour"]


class DprkLabour:
    name = "dprk_labour"
    title = "North Korean labour and the money back"
    description = __doc__ or ""
    parameters: Mapping[str, Param] = {
        "countries": Param(["kp"], "Nationalities and supplier countries that count."),
        "programs": Param(
            ["UN-DPRK", "DPRK", "KP-"], "Sanctions programmes (prefixes) that mark a supplier."
        ),
        "exclude_status": Param(
            ["requested", "request", "pending", "draft", "запрошен", "заявка"],
            "Contract statuses that are not contracts in force (requests for workers).",
        ),
        "max_payments": Param(12, "Most payments listed as steps of one finding.", 0, 10000),
    }

    def detect(self, ctx: DetectContext) -> list[Finding]:
        p = ctx.params
        countries = {c.lower() for c in p["countries"]}
        excluded = {s.lower() for s in p["exclude_status"]}
        prefixes = tuple(x.upper() for x in p["programs"] if x)
        contracts = fetch(
            ctx.store,
            """
            SELECT l.id, l.employer, l.labour_supplier AS supplier, l.worker_count,
                   lower(l.nationality) AS nationality, lower(coalesce(l.status, '')) AS status,
                   CAST(l.start_date AS VARCHAR) AS start_date,
                   CAST(l.end_date AS VARCHAR) AS end_date, l.amount, l.currency,
                   lower(n.country) AS supplier_country, coalesce(n.listed, FALSE) AS listed,
                   (SELECT list(DISTINCT upper(s.program)) FROM sanctions s
                    WHERE s.entity = l.labour_supplier) AS programs
            FROM labour l LEFT JOIN nodes n ON n.id = l.labour_supplier
            WHERE l.employer IS NOT NULL AND l.labour_supplier IS NOT NULL
            ORDER BY l.id
            """,
        )

        def north_korean(c: dict[str, Any]) -> bool:
            if (c["nationality"] or "") in countries or (c["supplier_country"] or "") in countries:
                return True
            return any(str(x).startswith(prefixes) for x in (c["programs"] or []) if prefixes)

        dprk = [c for c in contracts if north_korean(c)]
        employers = {c["employer"] for c in dprk}
        suppliers = {c["supplier"] for c in contracts}
        payments = fetch(
            ctx.store,
            """
            SELECT edge_id, source, target, CAST(date AS VARCHAR) AS date, amount, currency
            FROM edges WHERE kind = 'payment'
              AND coalesce(status, '') NOT IN ('rejected', 'returned', 'cancelled')
              AND source IN (SELECT employer FROM labour)
            ORDER BY date, edge_id
            """,
        )
        # the employers' payees that are named as labour suppliers (by canonical id, or by
        # name where resolution kept a payee and a named supplier apart)
        payees = {str(pay["target"]) for pay in payments if pay["source"] in employers}
        keys = name_keys(ctx.store, payees | suppliers)
        supplier_keys = {k: s for s in suppliers for k in keys.get(s, ())}
        as_supplier: dict[str, str] = {}
        for payee in payees:
            if payee in suppliers:
                as_supplier[payee] = payee
                continue
            for k in keys.get(payee, ()):
                if k in supplier_keys:
                    as_supplier[payee] = supplier_keys[k]
                    break
        dprk_suppliers = {c["supplier"] for c in dprk}
        paid: dict[str, list[dict[str, Any]]] = defaultdict(list)
        fronts: set[str] = set()
        for pay in payments:
            supplier = as_supplier.get(str(pay["target"]))
            if pay["source"] in employers and supplier is not None:
                paid[str(pay["source"])].append({**pay, "supplier": supplier})
                if supplier not in dprk_suppliers:
                    fronts.add(supplier)
        # every named supplier that shares a name key with a front is the front
        front_keys = {k for f in fronts for k in keys.get(f, ())}
        fronts |= {s for s in suppliers if keys.get(s, set()) & front_keys} - dprk_suppliers
        chosen = []
        for c in contracts:
            via_front = c["supplier"] in fronts
            if not (north_korean(c) or via_front) or c["status"] in excluded:
                continue
            flows = [
                pay
                for pay in paid.get(str(c["employer"]), [])
                if (pay["supplier"] == c["supplier"] or pay["supplier"] in fronts)
                and (not c["start_date"] or (pay["date"] or "") >= c["start_date"])
                and (not c["end_date"] or (pay["date"] or "") <= c["end_date"])
            ]
            chosen.append((c, via_front and not north_korean(c), flows))
        ids = {x for c, _, flows in chosen for x in (c["employer"], c["supplier"])}
        ids |= {pay["target"] for _, _, flows in chosen for pay in flows}
        names = captions(ctx.store, ids)
        step_lists = []
        for c, via_front, flows in chosen:
            steps = [
                Step(
                    kind="labour",
                    source=str(c["supplier"]),
                    target=str(c["employer"]),
                    summary=f"{names.get(c['supplier'])} supplies "
                    f"{_count(c['worker_count'])} workers"
                    + (f" ({c['nationality']})" if c["nationality"] else "")
                    + f" to {names.get(c['employer'])} from {c['start_date']}"
                    + (
                        " — the supplier is paid as a front by employers of North Korean workers"
                        if via_front
                        else ""
                    ),
                    entity_id=str(c["id"]),
                    date=c["start_date"],
                    amount=c["amount"],
                    currency=c["currency"],
                )
            ]
            for pay in flows[: p["max_payments"]]:
                steps.append(
                    Step(
                        kind="payment",
                        source=str(pay["source"]),
                        target=str(pay["target"]),
                        summary=f"{names.get(pay['source'])} paid {names.get(pay['target'])} "
                        f"{money(pay['amount'], pay['currency'])}",
                        entity_id=str(pay["edge_id"]),
                        date=pay["date"],
                        amount=pay["amount"],
                        currency=pay["currency"],
                    )
                )
            step_lists.append(steps)
        out = []
        for (c, via_front, flows), steps in zip(chosen, step_lists, strict=True):
            recipients = list(dict.fromkeys(str(pay["target"]) for pay in flows))
            total = sum(float(pay["amount"] or 0) for pay in flows)
            out.append(
                Finding.make(
                    self.name,
                    0.6
                    + (0.2 if flows else 0.0)
                    + (0.1 if c["listed"] else 0.0)
                    + (0.1 if not via_front else 0.0),
                    f"North Korean labour at {names.get(c['employer'])}"
                    + (f" through front {names.get(c['supplier'])}" if via_front else ""),
                    tuple(dict.fromkeys([str(c["supplier"]), str(c["employer"]), *recipients])),
                    tuple(steps),
                    explanation=(
                        f"A labour contract for {_count(c['worker_count'])} workers"
                        + (
                            " names a company that employers of North Korean workers pay"
                            if via_front
                            else " with North Korean workers or supplier"
                        )
                        + f"; {len(flows)} payments from the employer to labour suppliers ran "
                        "while it was in force."
                    ),
                    metrics={
                        "workers": float(c["worker_count"] or 0),
                        "payments": float(len(flows)),
                        "paid": total,
                        "via_front": 1.0 if via_front else 0.0,
                    },
                )
            )
        return out


def _count(value: float | None) -> str:
    return f"{value:,.0f}" if value else "an unknown number of"
