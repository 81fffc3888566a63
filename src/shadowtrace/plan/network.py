"""The illicit-flow network: who passes listed goods and rerouted money to whom.

Built in SQL over the typed views of the store, then handed to the interdiction
algorithms as arrays. Two layers share one super-source ``S`` and one super-sink ``T``:

* **goods**: customs declarations of listed goods (the Common High Priority List and
  the sectors' equipment, ``data/listed_goods.yml``) from sender to receiver. ``S``
  feeds the *first exporters* (senders of listed goods who receive none); Russian
  importers pass the goods to the *end users* that pay them, and end users feed ``T``
  (an importer with no paying buyer on record feeds ``T`` itself).
* **money**: payments whose bank route was refused, and the routes around it. Money
  and goods go opposite ways, so every payment is drawn as the value it settles,
  from beneficiary to payer: ``S`` feeds the beneficiaries of rejected payments,
  their payers feed ``T``, and accepted bank payments, app transfers, USDT transfers
  (wallets folded into their known holders), netting-ledger entries (through the
  broker) and cash-currency sales carry value between them. A direct accepted payment
  from payer to beneficiary is the transparent route and is left out.

Arc capacities are the values observed in the window, in US dollars
(``data/rates.yml``). An entity that can be interdicted is split into ``in`` and
``out`` nodes joined by an arc of unbounded capacity: removing that arc is sanctioning
(or closing) the entity. A whole channel (USDT, app payments, netting, cash yuan,
payment agents) is a set of arcs removed together.

Targets are the entities of the network not yet designated on the policy date
(designating a listed party again changes nothing) and not merely a source or a sink
of the money layer (ordinary businesses whose payments were refused: the plan cuts
the routes around the banks, not their customers), plus the channels.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import rustworkx as rx

from shadowtrace.plan.data_files import listed_goods, usd_rates
from shadowtrace.store import Store

__all__ = [
    "ADAPTATION_KINDS",
    "CHANNELS",
    "DEFAULT_ADAPTATION",
    "Adaptation",
    "FlowNetwork",
    "NetworkOptions",
    "Target",
    "add_substitutes",
    "build_network",
    "network_from_arcs",
    "payments_table",
    "rates_table",
]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Channels a policy can close as a whole, and the money arcs of each.
CHANNELS: Mapping[str, str] = {
    "usdt": "USDT transfers between wallets (OTC desks and their rails)",
    "app": "Alipay and WeChat Pay transfers between app accounts",
    "netting": "friend transactions settled by netting brokers",
    "cash_yuan": "cash yuan sold at bank branches",
    "bank_agent": "payment agents: bank transfers around the refused route",
}
_CHANNEL_OF_KIND = {
    "usdt": "usdt",
    "app": "app",
    "netting": "netting",
    "cash": "cash_yuan",
    "agent": "bank_agent",
}

TargetKind = Literal["entity", "channel"]

#: Arc kinds that model adaptation rather than observed records.
ADAPTATION_KINDS = ("substitute", "switch")


@dataclass(frozen=True)
class Target:
    """Something a policy can act on: an entity (sanction it, or close it if it is a
    desk, exchange or branch) or a whole channel (close it)."""

    id: str
    kind: TargetKind
    action: str  # sanction | close
    policy_kind: str | None  # close_channels kind (otc_desk, usdt_exchange, cash_branch, channel)
    caption: str
    schema: str | None = None
    country: str | None = None
    roles: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "action": self.action,
            "policy_kind": self.policy_kind,
            "caption": self.caption,
            "schema": self.schema,
            "country": self.country,
            "roles": list(self.roles),
        }


@dataclass(frozen=True)
class Adaptation:
    """How the network answers a cut, drawn into it as capacity that no target owns.

    ``substitute_share``: the share of a removed entity's flow that a substitute takes
    over (a designated company renamed or re-registered, a new intermediary, another
    desk or branch). ``channels``: every refused payment can move to any payment
    channel still open, so that closing one channel moves its flow to the others and
    only closing all of them stops it.
    """

    substitute_share: float = 0.85
    channels: bool = True


#: The default adaptation: the default scenario's ``adapt_probability`` (a flow
#: through a listed party or closed channel finds a substitute 85% of the time).
DEFAULT_ADAPTATION = Adaptation()


@dataclass(frozen=True)
class NetworkOptions:
    """What the network covers. ``end`` is exclusive; ``as_of`` is the policy date
    (designations on or before it count as done; default ``end``). Without
    ``channel_targets``, whole channels cannot be closed: only entities are targets."""

    start: dt.date | None = None
    end: dt.date | None = None
    as_of: dt.date | None = None
    layers: tuple[str, ...] = ("goods", "money")
    hs_codes: frozenset[str] | None = None
    adaptation: Adaptation | None = DEFAULT_ADAPTATION
    channel_targets: bool = True

    def policy_date(self) -> dt.date | None:
        return self.as_of or self.end


@dataclass
class FlowNetwork:
    """A directed network with a super-source and a super-sink, as arrays.

    ``arc_target[a]`` is the index into ``targets`` of what removes arc ``a``
    (-1: nothing does). Capacities are US dollars; ``inf`` marks an unbounded arc.
    """

    nodes: list[str]
    tail: IntArray
    head: IntArray
    capacity: FloatArray
    arc_kind: list[str]
    arc_target: IntArray
    targets: list[Target]
    source: int
    sink: int
    designated: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_arcs(self) -> int:
        return len(self.tail)

    def target_index(self) -> dict[str, int]:
        return {t.id: i for i, t in enumerate(self.targets)}

    def arcs_of(self, target: int) -> IntArray:
        return np.nonzero(self.arc_target == target)[0]

    def finite_total(self) -> float:
        cap = self.capacity[np.isfinite(self.capacity)]
        return float(cap.sum())

    def adaptation_arcs(self) -> npt.NDArray[np.bool_]:
        """Arcs that stand for adaptation (substitutes, channel switching), not records."""
        return np.isin(np.asarray(self.arc_kind, dtype=object), ADAPTATION_KINDS)

    def static_view(self) -> FlowNetwork:
        """The same network (same node and target indices) without adaptation: what the
        records show, as if no one answered a cut."""
        cap = self.capacity.copy()
        cap[self.adaptation_arcs()] = 0.0
        return FlowNetwork(
            nodes=self.nodes,
            tail=self.tail,
            head=self.head,
            capacity=cap,
            arc_kind=self.arc_kind,
            arc_target=self.arc_target,
            targets=self.targets,
            source=self.source,
            sink=self.sink,
            designated=self.designated,
            info=self.info | {"adaptation": None},
            captions=self.captions,
        )

    def summary(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for k in self.arc_kind:
            kinds[k] = kinds.get(k, 0) + 1
        return {
            "nodes": self.n_nodes,
            "arcs": self.n_arcs,
            "targets": len(self.targets),
            "entity_targets": sum(t.kind == "entity" for t in self.targets),
            "channel_targets": sum(t.kind == "channel" for t in self.targets),
            "arcs_by_kind": kinds,
            "designated_active": len(self.designated),
            **self.info,
        }


# --------------------------------------------------------------------------- building


def network_from_arcs(
    arcs: Iterable[tuple[str, str, float, str]],
    sources: Iterable[str | tuple[str, float]],
    sinks: Iterable[str | tuple[str, float]],
    targets: Sequence[Target] = (),
    entity_of: Callable[[str], str] | None = None,
    channel_of_kind: Mapping[str, str] | None = None,
) -> FlowNetwork:
    """A network from plain arcs ``(u, v, capacity, kind)``: ``S`` feeds ``sources``,
    ``sinks`` feed ``T`` (unbounded, or ``(name, capacity)``). Every node whose entity
    (``entity_of(node)``, the node name itself by default) is a target is split in two,
    joined by an arc that the target owns; a channel target ``channel:<name>`` also owns
    the arcs whose kind ``channel_of_kind`` maps to ``name``.

    >>> net = network_from_arcs([("a", "b", 5.0, "goods"), ("b", "c", 3.0, "goods")],
    ...     ["a"], ["c"], [Target("b", "entity", "sanction", None, "B")])
    >>> from shadowtrace.plan.interdiction import max_flow
    >>> max_flow(net).value
    3.0
    """
    arcs = list(arcs)
    src = [(x, np.inf) if isinstance(x, str) else (x[0], float(x[1])) for x in sources]
    snk = [(x, np.inf) if isinstance(x, str) else (x[0], float(x[1])) for x in sinks]
    ent = entity_of or (lambda name: name)
    # a node splits when its entity is a target (a channel's hub node is named after it)
    by_id = {t.id: i for i, t in enumerate(targets)}
    channel_targets = {
        t.id.partition(":")[2]: i for i, t in enumerate(targets) if t.kind == "channel"
    }
    chan_of = dict(channel_of_kind or {})
    names: dict[str, int] = {}

    def node(name: str) -> int:
        got = names.get(name)
        if got is None:
            got = names[name] = len(names)
        return got

    s, t = node("S"), node("T")
    tails: list[int] = []
    heads: list[int] = []
    caps: list[float] = []
    kinds: list[str] = []
    owner: list[int] = []
    mentioned = dict.fromkeys(
        [*(a[0] for a in arcs), *(a[1] for a in arcs), *(x for x, _ in src), *(x for x, _ in snk)]
    )
    split: set[str] = set()
    for name in mentioned:
        ti = by_id.get(ent(name))
        if ti is None:
            continue
        split.add(name)
        tails.append(node(f"{name}#in"))
        heads.append(node(f"{name}#out"))
        caps.append(np.inf)
        kinds.append("entity")
        owner.append(ti)

    def out_of(x: str) -> int:
        return node(f"{x}#out") if x in split else node(x)

    def into(x: str) -> int:
        return node(f"{x}#in") if x in split else node(x)

    for u, v, cap, kind in arcs:
        if u == v or cap is None or not float(cap) > 0:
            continue
        tails.append(out_of(u))
        heads.append(into(v))
        caps.append(float(cap))
        kinds.append(kind)
        ch = chan_of.get(kind)
        owner.append(channel_targets.get(ch, -1) if ch else -1)
    for x, c in src:
        tails.append(s)
        heads.append(into(x))
        caps.append(c)
        kinds.append("source")
        owner.append(-1)
    for x, c in snk:
        tails.append(out_of(x))
        heads.append(t)
        caps.append(c)
        kinds.append("sink")
        owner.append(-1)
    return FlowNetwork(
        nodes=list(names),
        tail=np.asarray(tails, dtype=np.int64),
        head=np.asarray(heads, dtype=np.int64),
        capacity=np.asarray(caps, dtype=np.float64),
        arc_kind=kinds,
        arc_target=np.asarray(owner, dtype=np.int64),
        targets=list(targets),
        source=s,
        sink=t,
    )


def prune(net: FlowNetwork) -> FlowNetwork:
    """Keep only the arcs on some path from ``S`` to ``T`` and the targets that own any."""
    g = rx.PyDiGraph(multigraph=True)
    g.add_nodes_from(range(net.n_nodes))
    g.add_edges_from_no_data(list(zip(net.tail.tolist(), net.head.tolist(), strict=True)))
    fwd = rx.descendants(g, net.source) | {net.source}
    bwd = rx.ancestors(g, net.sink) | {net.sink}
    live = np.zeros(net.n_nodes, dtype=bool)
    live[sorted(fwd & bwd)] = True
    keep = live[net.tail] & live[net.head]
    used = sorted({int(x) for x in net.arc_target[keep] if x >= 0})
    remap_t = np.full(len(net.targets) + 1, -1, dtype=np.int64)
    remap_t[used] = np.arange(len(used))
    node_ids = np.nonzero(live)[0]
    remap_n = np.full(net.n_nodes, -1, dtype=np.int64)
    remap_n[node_ids] = np.arange(len(node_ids))
    return FlowNetwork(
        nodes=[net.nodes[i] for i in node_ids.tolist()],
        tail=remap_n[net.tail[keep]],
        head=remap_n[net.head[keep]],
        capacity=net.capacity[keep],
        arc_kind=[k for k, ok in zip(net.arc_kind, keep.tolist(), strict=True) if ok],
        arc_target=np.where(net.arc_target[keep] >= 0, remap_t[net.arc_target[keep]], -1),
        targets=[net.targets[i] for i in used],
        source=int(remap_n[net.source]),
        sink=int(remap_n[net.sink]),
        designated=net.designated,
        info=dict(net.info),
    )


def _window_sql(column: str, opts: NetworkOptions) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if opts.start is not None:
        parts.append(f"{column} >= ?")
        params.append(opts.start)
    if opts.end is not None:
        parts.append(f"{column} < ?")
        params.append(opts.end)
    return (" AND ".join(parts) or "TRUE"), params


def rates_table(store: Store) -> None:
    """``_pn_rates``: US dollars per unit of each currency (``data/rates.yml``)."""
    rates = usd_rates()
    table = pa.table({"currency": list(rates), "usd": list(rates.values())})
    store.con.register("_pn_rates_arrow", table)
    try:
        store.con.execute("CREATE OR REPLACE TEMP TABLE _pn_rates AS SELECT * FROM _pn_rates_arrow")
    finally:
        store.con.unregister("_pn_rates_arrow")


def payments_table(store: Store, opts: NetworkOptions) -> None:
    """``_pn_pay``: every payment in the window with a value in US dollars."""
    where, params = _window_sql("p.date", opts)
    store.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _pn_pay AS
        SELECT p.id, p.schema, p.status, p.payer, p.beneficiary, p.broker,
               p.payer_app_account, p.beneficiary_app_account, p.date,
               coalesce(p.amount_usd, p.amount * r.usd) AS usd
        FROM payments p LEFT JOIN _pn_rates r ON r.currency = upper(p.currency)
        WHERE {where}
        """,
        params,
    )


def _goods(store: Store, opts: NetworkOptions) -> None:
    codes = sorted(opts.hs_codes if opts.hs_codes is not None else listed_goods())
    where, params = _window_sql("s.date", opts)
    con = store.con
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _pn_ship AS
        SELECT s.id, s.sender, s.receiver, s.hs_code, s.destination_country, s.date,
               coalesce(s.invoice_amount, s.customs_amount * (
                   SELECT usd FROM _pn_rates WHERE currency = 'RUB')) AS usd
        FROM shipments s
        WHERE list_contains(?, s.hs_code) AND s.sender IS NOT NULL AND s.receiver IS NOT NULL
          AND s.sender <> s.receiver AND {where}
        """,
        [codes, *params],
    )
    # first exporters: send listed goods, receive none
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_goods_src AS
        SELECT DISTINCT sender AS id FROM _pn_ship
        WHERE sender NOT IN (SELECT receiver FROM _pn_ship)
        """
    )
    # importers: receive listed goods declared into Russia and pass none on
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_importer AS
        SELECT receiver AS id, sum(usd) AS usd FROM _pn_ship
        WHERE lower(destination_country) = 'ru'
          AND receiver NOT IN (SELECT sender FROM _pn_ship)
        GROUP BY receiver
        """
    )
    # end users: those who pay an importer (not its suppliers paying back)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_sale AS
        SELECT p.beneficiary AS importer, p.payer AS end_user, sum(p.usd) AS usd,
               count(*) AS n
        FROM _pn_pay p JOIN _pn_importer i ON i.id = p.beneficiary
        WHERE coalesce(p.status, 'accepted') <> 'rejected' AND p.payer IS NOT NULL
          AND p.payer <> p.beneficiary AND p.usd > 0
          AND p.payer NOT IN (SELECT sender FROM _pn_ship)
        GROUP BY ALL
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_goods_arcs AS
        SELECT 'g:' || sender AS u, 'g:' || receiver AS v, sum(usd) AS usd, count(*) AS n,
               'goods' AS kind
        FROM _pn_ship WHERE usd > 0 GROUP BY sender, receiver
        UNION ALL
        SELECT 'g:' || importer, 'g:' || end_user, usd, n, 'sale' FROM _pn_sale
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_goods_ends AS
        SELECT 'g:' || id AS node, 'source' AS side, CAST(NULL AS DOUBLE) AS usd
        FROM _pn_goods_src
        UNION ALL
        SELECT DISTINCT 'g:' || end_user, 'sink', CAST(NULL AS DOUBLE) FROM _pn_sale
        UNION ALL
        SELECT 'g:' || id, 'sink', CAST(NULL AS DOUBLE) FROM _pn_importer
        WHERE id NOT IN (SELECT importer FROM _pn_sale)
        """
    )


def _channel_parties(store: Store) -> None:
    """Wallet holders and app-account owners: who stands behind a wallet or account."""
    con = store.con
    # wallets folded into their known holders
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_wallet_holder AS
        SELECT id AS wallet, min(holder) AS holder FROM wallets
        WHERE holder IS NOT NULL GROUP BY id
        """
    )
    # an app account belongs to the one party with the same name: letters compared
    # without case, punctuation or word order
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_app_owner AS
        WITH acc AS (
          SELECT DISTINCT a AS id FROM (
            SELECT payer_app_account AS a FROM _pn_pay WHERE schema = 'AppPayment'
            UNION ALL SELECT beneficiary_app_account FROM _pn_pay WHERE schema = 'AppPayment')
          WHERE a IS NOT NULL
        ),
        keyed AS (
          SELECT n.id, n.schema,
                 array_to_string(list_sort(string_split(trim(regexp_replace(
                   lower(n.value), '[^[:alnum:] ]+', ' ', 'g')), ' ')), ' ') AS k
          FROM names n
          WHERE n.prop = 'name'
        ),
        acc_keys AS (SELECT DISTINCT k.id, k.k FROM keyed k JOIN acc ON acc.id = k.id),
        party_keys AS (
          SELECT DISTINCT id, k FROM keyed
          WHERE schema NOT IN ('UserAccount', 'BankAccount', 'CryptoWallet') AND k <> ''
        ),
        one AS (SELECT k, min(id) AS party FROM party_keys GROUP BY k HAVING count(*) = 1)
        SELECT a.id AS account, min(one.party) AS owner
        FROM acc_keys a JOIN one ON one.k = a.k
        GROUP BY a.id HAVING count(DISTINCT one.party) = 1
        """
    )


def _money(store: Store) -> None:
    con = store.con
    # whose bank route was refused: the beneficiary (value side) and the payer
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_rejected AS
        SELECT payer, beneficiary, sum(usd) AS usd, count(*) AS n
        FROM _pn_pay
        WHERE schema = 'BankPayment' AND status = 'rejected'
          AND payer IS NOT NULL AND beneficiary IS NOT NULL AND payer <> beneficiary
        GROUP BY ALL
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_money_raw AS
        -- bank and other party-to-party payments, drawn beneficiary -> payer
        SELECT beneficiary AS u, payer AS v, usd, 'bank' AS kind FROM _pn_pay
        WHERE schema NOT IN ('AppPayment', 'NettingTransaction', 'CashCurrencySale',
                             'CryptoTransfer')
          AND coalesce(status, 'accepted') <> 'rejected'
          AND payer IS NOT NULL AND beneficiary IS NOT NULL
        UNION ALL
        SELECT coalesce(ob.owner, p.beneficiary_app_account),
               coalesce(op.owner, p.payer_app_account), p.usd, 'app'
        FROM _pn_pay p
        LEFT JOIN _pn_app_owner op ON op.account = p.payer_app_account
        LEFT JOIN _pn_app_owner ob ON ob.account = p.beneficiary_app_account
        WHERE p.schema = 'AppPayment'
        UNION ALL
        SELECT beneficiary, broker, usd, 'netting' FROM _pn_pay
        WHERE schema = 'NettingTransaction' AND broker IS NOT NULL
        UNION ALL
        SELECT broker, payer, usd, 'netting' FROM _pn_pay
        WHERE schema = 'NettingTransaction' AND broker IS NOT NULL
        UNION ALL
        SELECT beneficiary, payer, usd, 'cash' FROM _pn_pay
        WHERE schema = 'CashCurrencySale' AND payer IS NOT NULL AND beneficiary IS NOT NULL
        """
    )


def _transfers(store: Store, opts: NetworkOptions) -> None:
    where, params = _window_sql("t.date", opts)
    store.con.execute(
        f"""
        INSERT INTO _pn_money_raw
        SELECT coalesce(ht.holder, t.target_wallet), coalesce(hs.holder, t.source_wallet),
               t.amount * coalesce(r.usd, 1.0), 'usdt'
        FROM transfers t
        LEFT JOIN _pn_wallet_holder hs ON hs.wallet = t.source_wallet
        LEFT JOIN _pn_wallet_holder ht ON ht.wallet = t.target_wallet
        LEFT JOIN _pn_rates r ON r.currency = upper(coalesce(t.currency, 'USDT'))
        WHERE t.source_wallet IS NOT NULL AND t.target_wallet IS NOT NULL AND {where}
        """,
        params,
    )


def _money_arcs(store: Store) -> None:
    con = store.con
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_money_ends AS
        -- the value refused: what the shadow channels have to carry
        SELECT 'm:' || beneficiary AS node, 'source' AS side, sum(usd) AS usd
        FROM _pn_rejected GROUP BY beneficiary
        UNION ALL
        SELECT 'm:' || payer, 'sink', sum(usd) FROM _pn_rejected GROUP BY payer
        """
    )
    # channel hubs: wallet holders, app-account owners, brokers and branches; a bank
    # arc that touches none of them is a payment agent's
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_hub AS
        SELECT DISTINCT holder AS id FROM _pn_wallet_holder
        UNION SELECT owner FROM _pn_app_owner
        UNION SELECT broker FROM _pn_pay WHERE schema = 'NettingTransaction'
        UNION SELECT beneficiary FROM _pn_pay WHERE schema = 'CashCurrencySale'
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pn_money_arcs AS
        WITH src AS (SELECT DISTINCT beneficiary AS id FROM _pn_rejected),
             snk AS (SELECT DISTINCT payer AS id FROM _pn_rejected)
        SELECT 'm:' || r.u AS u, 'm:' || r.v AS v, sum(r.usd) AS usd, count(*) AS n,
               CASE WHEN r.kind = 'bank'
                         AND r.u NOT IN (SELECT id FROM _pn_hub)
                         AND r.v NOT IN (SELECT id FROM _pn_hub)
                    THEN 'agent' ELSE r.kind END AS kind
        FROM _pn_money_raw r
        WHERE r.u IS NOT NULL AND r.v IS NOT NULL AND r.u <> r.v AND r.usd > 0
          -- the transparent route: a direct accepted payment between refused parties
          AND NOT (r.kind = 'bank' AND r.u IN (SELECT id FROM src)
                   AND r.v IN (SELECT id FROM snk))
        GROUP BY ALL
        """
    )


def _entity_info(store: Store, ids: list[str], as_of: dt.date | None) -> dict[str, dict[str, Any]]:
    """Caption, schema, country, designation and channel role of each entity."""
    con = store.con
    con.register("_pn_ids_arrow", pa.table({"id": ids}))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _pn_ids AS SELECT DISTINCT id FROM _pn_ids_arrow")
    finally:
        con.unregister("_pn_ids_arrow")
    rows = con.execute(
        """
        WITH st_all AS (
          SELECT s.canonical_id AS id, s.prop, s.value, s.schema
          FROM statements s JOIN _pn_ids i ON i.id = s.canonical_id
        ),
        st AS (
          SELECT * FROM st_all
          WHERE prop IN ('name', 'country', 'jurisdiction', 'classification')
        ),
        c AS (
          SELECT id, value, count(*) AS n FROM st
          WHERE prop IN ('country', 'jurisdiction') GROUP BY ALL
        ),
        schema_depth AS (
          SELECT st_all.id, arg_max(st_all.schema, m.depth) AS schema
          FROM st_all JOIN ftm_schemata m ON m.name = st_all.schema GROUP BY st_all.id
        )
        SELECT i.id,
               (SELECT min(value) FROM st WHERE st.id = i.id AND prop = 'name') AS caption,
               d.schema,
               (SELECT arg_max(value, n) FROM c WHERE c.id = i.id) AS country,
               (SELECT min(lower(value)) FROM st WHERE st.id = i.id
                  AND prop = 'classification') AS classification
        FROM _pn_ids i LEFT JOIN schema_depth d ON d.id = i.id
        """
    ).fetchall()
    info: dict[str, dict[str, Any]] = {
        r[0]: {"caption": r[1] or r[0], "schema": r[2], "country": r[3], "classification": r[4]}
        for r in rows
    }
    params: list[Any] = []
    date_clause = "TRUE"
    if as_of is not None:
        date_clause = "coalesce(s.start_date, s.listing_date, DATE '1900-01-01') <= ?"
        params.append(as_of)
    for eid, listed, program in con.execute(
        f"""
        SELECT s.entity, min(coalesce(s.start_date, s.listing_date)), min(s.program)
        FROM sanctions s JOIN _pn_ids i ON i.id = s.entity
        WHERE {date_clause} GROUP BY s.entity
        """,
        params,
    ).fetchall():
        if eid in info:
            info[eid]["designated"] = listed.isoformat() if listed else "yes"
            info[eid]["program"] = program
    branches = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT beneficiary FROM _pn_pay WHERE schema = 'CashCurrencySale'"
        ).fetchall()
    }
    brokers = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT broker FROM _pn_pay WHERE schema = 'NettingTransaction'"
        ).fetchall()
    }
    holders = {
        r[0] for r in con.execute("SELECT DISTINCT holder FROM _pn_wallet_holder").fetchall()
    }
    app_owners = {r[0] for r in con.execute("SELECT DISTINCT owner FROM _pn_app_owner").fetchall()}
    for eid, item in info.items():
        item["branch"] = eid in branches
        item["broker"] = eid in brokers
        item["wallet_holder"] = eid in holders
        item["app_owner"] = eid in app_owners
    return info


_NOT_TARGETS = frozenset({"CryptoWallet", "UserAccount", "BankAccount"})


def _roles(
    eid: str, layers: set[str], ends: dict[tuple[str, str], bool], item: Mapping[str, Any]
) -> tuple[str, ...]:
    roles: list[str] = []
    if "g" in layers:
        if ends.get(("g:" + eid, "source")):
            roles.append("first exporter of listed goods")
        elif ends.get(("g:" + eid, "sink")):
            roles.append("end user of listed goods")
        else:
            roles.append("passes listed goods on")
    if "m" in layers:
        money: list[str] = []
        if item.get("classification") in ("exchange", "otc_desk"):
            money.append(str(item["classification"]).replace("_", " "))
        elif item.get("broker"):
            money.append("netting broker")
        elif item.get("branch"):
            money.append("branch selling cash yuan")
        elif item.get("app_owner"):
            money.append("app account holder")
        elif item.get("wallet_holder"):
            money.append("wallet holder")
        if ends.get(("m:" + eid, "source")):
            money.append("beneficiary of refused payments")
        if ends.get(("m:" + eid, "sink")):
            money.append("payer of refused payments")
        roles += money or ["money intermediary"]
    return tuple(roles)


def add_substitutes(net: FlowNetwork, share: float) -> FlowNetwork:
    """Give every split entity a substitute: an arc beside its own, owned by no target,
    with ``share`` of the flow it can pass (the smaller of what comes in and goes out)."""
    if share <= 0:
        return net
    split = np.nonzero((net.arc_target >= 0) & (np.asarray(net.arc_kind) == "entity"))[0]
    if not len(split):
        return net
    cap = net.capacity
    finite = np.isfinite(cap)
    inflow = np.zeros(net.n_nodes)
    outflow = np.zeros(net.n_nodes)
    unbounded_in = np.zeros(net.n_nodes, dtype=bool)
    unbounded_out = np.zeros(net.n_nodes, dtype=bool)
    np.add.at(inflow, net.head[finite], cap[finite])
    np.add.at(outflow, net.tail[finite], cap[finite])
    unbounded_in[net.head[~finite]] = True
    unbounded_out[net.tail[~finite]] = True
    tails, heads, caps = [], [], []
    for a in split.tolist():
        u, v = int(net.tail[a]), int(net.head[a])  # u = x#in, v = x#out
        into = np.inf if unbounded_in[u] and inflow[u] == 0 else inflow[u]
        out = np.inf if unbounded_out[v] and outflow[v] == 0 else outflow[v]
        through = min(into, out)
        if not np.isfinite(through):
            through = max(inflow[u], outflow[v])
        if through > 0:
            tails.append(u)
            heads.append(v)
            caps.append(share * through)
    k = len(tails)
    return FlowNetwork(
        nodes=net.nodes,
        tail=np.concatenate([net.tail, np.asarray(tails, dtype=np.int64)]),
        head=np.concatenate([net.head, np.asarray(heads, dtype=np.int64)]),
        capacity=np.concatenate([net.capacity, np.asarray(caps, dtype=np.float64)]),
        arc_kind=[*net.arc_kind, *(["substitute"] * k)],
        arc_target=np.concatenate([net.arc_target, np.full(k, -1, dtype=np.int64)]),
        targets=net.targets,
        source=net.source,
        sink=net.sink,
        designated=net.designated,
        info=dict(net.info),
    )


def build_network(store: Store, options: NetworkOptions | None = None) -> FlowNetwork:
    """The illicit-flow network of the store (see the module docstring)."""
    opts = options or NetworkOptions()
    started = time.perf_counter()
    con = store.con
    rates_table(store)
    payments_table(store, opts)
    _channel_parties(store)
    tables: list[str] = []
    ends: list[str] = []
    if "goods" in opts.layers:
        _goods(store, opts)
        tables.append("_pn_goods_arcs")
        ends.append("_pn_goods_ends")
    if "money" in opts.layers:
        _money(store)
        _transfers(store, opts)
        _money_arcs(store)
        tables.append("_pn_money_arcs")
        ends.append("_pn_money_ends")
    if not tables:
        raise ValueError("a network needs at least one layer (goods, money)")
    arcs = con.execute(
        " UNION ALL ".join(f"SELECT u, v, usd, kind FROM {t}" for t in tables)
    ).fetchall()
    end_rows = con.execute(
        " UNION ALL ".join(f"SELECT node, side, usd FROM {t}" for t in ends)
    ).fetchall()
    end_set = {(str(n), str(side)): True for n, side, _ in end_rows}
    end_cap = {
        (str(n), str(side)): (float(usd) if usd is not None and usd > 0 else np.inf)
        for n, side, usd in end_rows
    }
    built_sql = time.perf_counter() - started

    layer_of: dict[str, set[str]] = {}
    for u, v, _, _ in arcs:
        for x in (u, v):
            layer, _, eid = str(x).partition(":")
            layer_of.setdefault(eid, set()).add(layer)
    for n, _side in end_set:
        layer, _, eid = n.partition(":")
        layer_of.setdefault(eid, set()).add(layer)
    info = _entity_info(store, sorted(layer_of), opts.policy_date())

    # A first, unsplit network tells which entities carry flow at all.
    sources = [(n, c) for (n, side), c in end_cap.items() if side == "source"]
    sinks = [(n, c) for (n, side), c in end_cap.items() if side == "sink"]
    typed_arcs = [(str(u), str(v), float(c), str(k)) for u, v, c, k in arcs if c is not None]
    plain = prune(network_from_arcs(typed_arcs, sources, sinks))
    live_entities: set[str] = set()
    for name in plain.nodes:
        if name in ("S", "T"):
            continue
        live_entities.add(name.partition(":")[2])
    designated: list[dict[str, Any]] = []
    targets: list[Target] = []
    ends_map = end_set
    for eid in sorted(live_entities):
        item = info.get(eid, {"caption": eid})
        layers = layer_of.get(eid, set())
        if item.get("schema") in _NOT_TARGETS:
            continue
        if item.get("designated"):
            designated.append(
                {
                    "id": eid,
                    "caption": item.get("caption"),
                    "listed": item.get("designated"),
                    "program": item.get("program"),
                }
            )
            continue
        only_money_end = layers == {"m"} and (
            ends_map.get(("m:" + eid, "source")) or ends_map.get(("m:" + eid, "sink"))
        )
        if only_money_end:
            continue
        cls = item.get("classification")
        if cls == "exchange":
            action, pkind = "close", "usdt_exchange"
        elif cls == "otc_desk":
            action, pkind = "close", "otc_desk"
        elif item.get("branch"):
            action, pkind = "close", "cash_branch"
        else:
            action, pkind = "sanction", None
        targets.append(
            Target(
                id=eid,
                kind="entity",
                action=action,
                policy_kind=pkind,
                caption=str(item.get("caption") or eid),
                schema=item.get("schema"),
                country=item.get("country"),
                roles=_roles(eid, layers, ends_map, item),
            )
        )
    kinds_present = {str(k) for _, _, _, k in arcs}
    for kind, channel in _CHANNEL_OF_KIND.items():
        if kind in kinds_present and opts.channel_targets:
            targets.append(
                Target(
                    id=f"channel:{channel}",
                    kind="channel",
                    action="close",
                    policy_kind="channel",
                    caption=f"{channel} channel",
                    roles=(CHANNELS[channel],),
                )
            )
    adapt = opts.adaptation
    if adapt is not None and adapt.channels and "money" in opts.layers:
        # every refused payment may switch to any channel still open: value goes from
        # each refused beneficiary through each channel's hub to each refused payer
        money_src = [n for n, _ in sources if n.startswith("m:")]
        money_snk = [n for n, _ in sinks if n.startswith("m:")]
        for channel in CHANNELS:
            hub = f"m:channel:{channel}"
            if opts.channel_targets and not any(t.id == f"channel:{channel}" for t in targets):
                targets.append(
                    Target(
                        id=f"channel:{channel}",
                        kind="channel",
                        action="close",
                        policy_kind="channel",
                        caption=f"{channel} channel",
                        roles=(CHANNELS[channel],),
                    )
                )
            typed_arcs += [(b, hub, np.inf, "switch") for b in money_src]
            typed_arcs += [(hub, p, np.inf, "switch") for p in money_snk]
    # an entity target splits its node in every layer it appears in
    net = prune(
        network_from_arcs(
            typed_arcs,
            sources,
            sinks,
            targets,
            entity_of=lambda name: name.partition(":")[2],
            channel_of_kind=_CHANNEL_OF_KIND,
        )
    )
    if adapt is not None:
        net = add_substitutes(net, adapt.substitute_share)
    policy_date = opts.policy_date()
    net.designated = designated
    net.captions = {eid: str(item.get("caption") or eid) for eid, item in info.items()}
    net.info = {
        "adaptation": (
            {"substitute_share": adapt.substitute_share, "channels": adapt.channels}
            if adapt is not None
            else None
        ),
        "window_start": opts.start.isoformat() if opts.start else None,
        "window_end": opts.end.isoformat() if opts.end else None,
        "policy_date": policy_date.isoformat() if policy_date else None,
        "layers": list(opts.layers),
        "sql_seconds": round(built_sql, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info("network: %s", net.summary())
    return net
