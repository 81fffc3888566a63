"""The canonical multigraph as columns in the store: the ``edges`` and ``nodes`` tables.

Every edge joins two canonical entities. It is built in SQL from the typed views
(``payments``, ``shipments``, ``transfers``, ``ownership`` …), so it follows every
merge and split: rebuild it after ``resolve`` (:func:`build_edges`, or any detection
run, which rebuilds it when the store changed).

What the columns hold, by kind:

=================== ======================= ================================================
kind                source → target         other columns
=================== ======================= ================================================
ownership           owner → asset           amount = percentage, date = start date
control             controller → controlled value = control type, date = start date
directorship        director → organization value = role, date = start date
relationship        FtM edge source→target  value = schema (Family, Associate, …)
payment             payer → beneficiary     amount, currency, date, ts, status,
                                            source_account, target_account
app_payment         payer → beneficiary     the app accounts when no party is named
cash_sale           buyer → branch          amount (cash sold), currency, paid_amount,
                                            paid_currency (what the buyer paid),
                                            value = the buyer's identity document
netting             client → beneficiary    amount, currency (a broker's ledger entry)
transfer            wallet → wallet         amount, currency (e.g. USDT), date, ts
shipment            sender → receiver       amount = invoice value, quantity, hs_code,
                                            origin_country, destination_country,
                                            paid_amount = customs value (RUB)
labour              supplier → employer     quantity = workers, origin_country =
                                            workers' nationality, amount = wage bill
wallet_holder       holder → wallet
account_holder      holder → account        bank accounts and app accounts
shared_identifier   entity — entity         value = the identifier (normalised)
shared_address      entity — entity         value = the address (normalised)
shared_phone        entity — entity         value = the phone number (digits)
shared_email        entity — entity         value = the e-mail address (lower case)
=================== ======================= ================================================

Shared-value edges join parties (``LegalEntity`` and its descendants) that carry the
same value but were not resolved into one entity; they are stored once per pair,
``source < target``. Values shared by more than ``max_group`` entities (a registration
agent's address, a call centre) make no edges: their pairs would swamp the graph.

>>> from shadowtrace.store import Store
>>> with Store.open(":memory:") as store:
...     build_edges(store).edges
0
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from shadowtrace.errors import ConfigError
from shadowtrace.store import Store
from shadowtrace.store.views import pivot_select_sql, view_named

__all__ = ["EDGE_KINDS", "EdgeReport", "build_edges", "edges_current", "ensure_edges"]

log = logging.getLogger(__name__)

EDGE_KINDS: tuple[str, ...] = (
    "ownership",
    "control",
    "directorship",
    "relationship",
    "payment",
    "app_payment",
    "cash_sale",
    "netting",
    "transfer",
    "shipment",
    "labour",
    "wallet_holder",
    "account_holder",
    "shared_identifier",
    "shared_address",
    "shared_phone",
    "shared_email",
)

#: Edge kinds that say who a party is tied to (as opposed to flows of money or goods).
STRUCTURAL_KINDS: tuple[str, ...] = (
    "ownership",
    "control",
    "directorship",
    "relationship",
    "shared_identifier",
    "shared_address",
    "shared_phone",
    "shared_email",
)

DEFAULT_MAX_GROUP = 30

_COLUMNS = (
    "kind",
    "source",
    "target",
    "edge_id",
    "schema",
    "date",
    "ts",
    "amount",
    "currency",
    "status",
    "hs_code",
    "quantity",
    "origin_country",
    "destination_country",
    "value",
    "source_account",
    "target_account",
    "paid_amount",
    "paid_currency",
)


@dataclass
class EdgeReport:
    """What a build wrote: edges per kind, nodes, seconds."""

    edges: int = 0
    nodes: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rebuilt: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": self.edges,
            "nodes": self.nodes,
            "kinds": dict(self.kinds),
            "seconds": self.seconds,
            "rebuilt": self.rebuilt,
        }


def _insert(select: str) -> str:
    return f"INSERT INTO edges ({', '.join(_COLUMNS)})\n{select}"


_PAYMENT_COLUMNS = (
    "payer", "beneficiary", "payer_account", "beneficiary_account", "payer_app_account",
    "beneficiary_app_account", "amount", "currency", "date", "timestamp", "status",
    "buyer_document", "paid_amount", "paid_currency",
)  # fmt: skip
_TRANSFER_COLUMNS = ("source_wallet", "target_wallet", "date", "timestamp", "amount", "currency")
# The payments and transfers pivoted from the properties the edges use alone.
_PAYMENTS = f"({pivot_select_sql(view_named('payments'), _PAYMENT_COLUMNS)})"
_TRANSFERS = f"({pivot_select_sql(view_named('transfers'), _TRANSFER_COLUMNS)})"

# Each query selects the edge columns, in order, from a typed view.
_FLOW_QUERIES: tuple[str, ...] = (
    # Payments of every kind but crypto transfers (which go wallet to wallet below).
    f"""
    SELECT CASE schema
             WHEN 'AppPayment' THEN 'app_payment'
             WHEN 'CashCurrencySale' THEN 'cash_sale'
             WHEN 'NettingTransaction' THEN 'netting'
             ELSE 'payment' END,
           coalesce(payer, payer_app_account, payer_account),
           coalesce(beneficiary, beneficiary_app_account, beneficiary_account),
           id, schema, date, "timestamp", amount, upper(currency), lower(status),
           NULL, NULL, NULL, NULL, buyer_document,
           coalesce(payer_account, payer_app_account), coalesce(beneficiary_account,
           beneficiary_app_account), paid_amount, upper(paid_currency)
    FROM {_PAYMENTS} payments
    WHERE schema <> 'CryptoTransfer'
      AND coalesce(payer, payer_app_account, payer_account) IS NOT NULL
      AND coalesce(beneficiary, beneficiary_app_account, beneficiary_account) IS NOT NULL
    """,
    f"""
    SELECT 'transfer', source_wallet, target_wallet, id, schema, date, "timestamp",
           amount, upper(currency), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL
    FROM {_TRANSFERS} transfers
    WHERE source_wallet IS NOT NULL AND target_wallet IS NOT NULL
    """,
    """
    SELECT 'shipment', sender, receiver, id, schema, date, "timestamp",
           coalesce(invoice_amount, customs_amount), NULL, NULL,
           regexp_replace(hs_code, '[^0-9]', '', 'g'),
           quantity, lower(origin_country), lower(destination_country), NULL, NULL, NULL,
           customs_amount, CASE WHEN customs_amount IS NULL THEN NULL ELSE 'RUB' END
    FROM shipments
    WHERE sender IS NOT NULL AND receiver IS NOT NULL
    """,
    """
    SELECT 'labour', labour_supplier, employer, id, schema, start_date, NULL,
           amount, upper(currency), lower(status), NULL, worker_count, lower(nationality),
           NULL, NULL, NULL, NULL, NULL, NULL
    FROM labour
    WHERE labour_supplier IS NOT NULL AND employer IS NOT NULL
    """,
)


_STRUCTURE_QUERIES: tuple[str, ...] = (
    """
    SELECT 'ownership', source, target, id, schema, start_date, NULL, percentage, NULL,
           NULL, NULL, NULL, NULL, NULL, role, NULL, NULL, NULL, NULL
    FROM ownership WHERE source IS NOT NULL AND target IS NOT NULL
    """,
    """
    SELECT 'control', source, target, id, schema, start_date, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, coalesce(control_type, role), NULL, NULL, NULL, NULL
    FROM control WHERE source IS NOT NULL AND target IS NOT NULL
    """,
    """
    SELECT 'directorship', source, target, id, schema, start_date, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, role, NULL, NULL, NULL, NULL
    FROM directorship WHERE source IS NOT NULL AND target IS NOT NULL
    """,
    # Every other FtM edge schema (family, associates, membership, employment, …).
    """
    SELECT 'relationship', source, target, id, schema, start_date, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, schema, NULL, NULL, NULL, NULL
    FROM relationships
    WHERE schema NOT IN ('Ownership', 'Control', 'Directorship', 'LabourContract')
      AND source IS NOT NULL AND target IS NOT NULL
    """,
    """
    SELECT 'wallet_holder', holder, id, NULL, schema, NULL, NULL, NULL, currency,
           NULL, NULL, NULL, NULL, NULL, address, NULL, NULL, NULL, NULL
    FROM wallets WHERE holder IS NOT NULL
    """,
)

# Holders of bank and app accounts, resolved to canonical ids.
_ACCOUNT_HOLDERS = """
WITH h AS (
  SELECT s.canonical_id AS account, s.value AS holder_ref, min(s.schema) AS schema
  FROM statements s
  WHERE (s.schema = 'BankAccount' AND s.prop = 'holder')
     OR (s.schema = 'UserAccount' AND s.prop = 'owner')
  GROUP BY s.canonical_id, s.value
)
SELECT 'account_holder', coalesce(r.canonical_id, h.holder_ref), h.account, NULL, h.schema,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM h LEFT JOIN resolution r ON r.entity_id = h.holder_ref
"""

# Normalised values of parties (LegalEntity and descendants), one row per entity and
# value; the kind says which edge a shared value makes.
_PARTY_VALUES = """
CREATE OR REPLACE TEMP TABLE _g_values AS
SELECT DISTINCT kind, id, value FROM (
  SELECT CASE s.prop_type
           WHEN 'identifier' THEN 'shared_identifier'
           WHEN 'address' THEN 'shared_address'
           WHEN 'phone' THEN 'shared_phone'
           ELSE 'shared_email' END AS kind,
         s.canonical_id AS id,
         CASE s.prop_type
           WHEN 'identifier'
             THEN s.prop || ':' || upper(regexp_replace(s.value, '[^\\p{L}\\p{N}]', '', 'g'))
           WHEN 'address'
             THEN trim(regexp_replace(lower(s.value), '[^\\p{L}\\p{N}]+', ' ', 'g'))
           WHEN 'phone' THEN regexp_replace(s.value, '[^0-9]', '', 'g')
           ELSE lower(trim(s.value)) END AS value
  FROM statements s
  JOIN ftm_schemata m ON m.name = s.schema
  WHERE s.prop_type IN ('identifier', 'address', 'phone', 'email')
    AND list_contains(m.ancestors, 'LegalEntity')
) v
WHERE length(value) >= ?
"""

_SHARED = """
WITH g AS (
  SELECT kind, value FROM _g_values GROUP BY kind, value
  HAVING count(*) BETWEEN 2 AND ?
)
SELECT a.kind, a.id, b.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, a.value, NULL, NULL, NULL, NULL
FROM _g_values a
JOIN g ON g.kind = a.kind AND g.value = a.value
JOIN _g_values b ON b.kind = a.kind AND b.value = a.value AND a.id < b.id
"""

_NODES = """
INSERT INTO nodes
WITH e AS (
  SELECT s.canonical_id AS id, arg_max(s.schema, m.depth) AS schema,
         coalesce(min(s.value) FILTER (WHERE s.prop = 'name'),
                  min(s.value) FILTER (WHERE s.prop_type = 'name'),
                  min(s.value) FILTER (WHERE s.prop IN ('publicKey', 'username',
                                                         'accountNumber', 'iban')),
                  s.canonical_id) AS caption,
         coalesce(min(s.value) FILTER (WHERE s.prop = 'jurisdiction'),
                  min(s.value) FILTER (WHERE s.prop = 'country')) AS country,
         TRY_CAST(left(min(s.value) FILTER (WHERE s.prop = 'incorporationDate'), 10) AS DATE)
           AS incorporation_date,
         bool_or(s.prop = 'topics' AND s.value IN ('sanction', 'sanction.linked')) AS topic_listed
  FROM statements s JOIN ftm_schemata m ON m.name = s.schema
  WHERE NOT m.is_edge AND NOT list_contains(m.ancestors, 'Interval')
  GROUP BY s.canonical_id
), l AS (
  SELECT entity AS id, min(coalesce(listing_date, start_date)) AS listed_date
  FROM sanctions WHERE entity IS NOT NULL GROUP BY entity
)
SELECT e.id, e.schema, e.caption, e.country, e.incorporation_date,
       e.topic_listed OR l.id IS NOT NULL, l.listed_date
FROM e LEFT JOIN l ON l.id = e.id
"""


def store_stamp(store: Store) -> str:
    """A fingerprint of what the graph is built from: statements, runs and resolution."""
    row = store.con.execute(
        "SELECT (SELECT count(*) FROM statements), (SELECT max(run_id) FROM statements), "
        "(SELECT count(*) FROM resolution), "
        "(SELECT sum(hash(entity_id || '>' || canonical_id) % 1000000007) FROM resolution)"
    ).fetchone()
    return hashlib.sha1(repr(row).encode(), usedforsecurity=False).hexdigest()


def edges_current(store: Store, max_group: int = DEFAULT_MAX_GROUP) -> bool:
    """Whether the edges were built from the store as it is now."""
    row = store.con.execute("SELECT value FROM meta WHERE key = 'graph'").fetchone()
    return row is not None and row[0] == f"{store_stamp(store)}:{max_group}"


def build_edges(
    store: Store, max_group: int = DEFAULT_MAX_GROUP, min_value_length: int = 4
) -> EdgeReport:
    """Rebuild the ``edges`` and ``nodes`` tables from the typed views, in one transaction."""
    if isinstance(max_group, bool) or not isinstance(max_group, int) or max_group < 2:
        raise ConfigError(f"max_group must be an integer of at least 2, not {max_group!r}")
    if isinstance(min_value_length, bool) or not isinstance(min_value_length, int):
        raise ConfigError(f"min_value_length must be an integer, not {min_value_length!r}")
    started = time.perf_counter()
    report = EdgeReport()
    with store.transaction() as con:
        con.execute("DELETE FROM edges")
        con.execute("DELETE FROM nodes")
        for query in (*_FLOW_QUERIES, *_STRUCTURE_QUERIES, _ACCOUNT_HOLDERS):
            con.execute(_insert(query))
        con.execute(_PARTY_VALUES, [max(1, min_value_length)])
        con.execute(_insert(_SHARED), [max_group])
        con.execute("DROP TABLE IF EXISTS _g_values")
        con.execute(_NODES)
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('graph', ?)",
            [f"{store_stamp(store)}:{max_group}"],
        )
    report.kinds = {
        str(k): int(n)
        for k, n in store.con.execute(
            "SELECT kind, count(*) FROM edges GROUP BY kind ORDER BY kind"
        ).fetchall()
    }
    report.edges = sum(report.kinds.values())
    report.nodes = int(store.scalar("SELECT count(*) FROM nodes"))
    report.seconds = round(time.perf_counter() - started, 3)
    log.info("Graph: %d edges, %d nodes in %.1f s", report.edges, report.nodes, report.seconds)
    return report


def ensure_edges(store: Store, max_group: int = DEFAULT_MAX_GROUP) -> EdgeReport:
    """Build the edges unless they are current; a report of what is there either way."""
    if not store.read_only and not edges_current(store, max_group):
        return build_edges(store, max_group)
    report = EdgeReport(rebuilt=False)
    report.kinds = {
        str(k): int(n)
        for k, n in store.con.execute(
            "SELECT kind, count(*) FROM edges GROUP BY kind ORDER BY kind"
        ).fetchall()
    }
    report.edges = sum(report.kinds.values())
    report.nodes = int(store.scalar("SELECT count(*) FROM nodes"))
    return report
