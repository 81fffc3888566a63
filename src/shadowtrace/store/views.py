"""Typed views over the statement store.

Statements are one row per property value; analysis wants one row per payment,
shipment or transfer with numeric amounts and real dates. Each view here is
declared as data (a base schema and the columns to pivot out of it) and turned
into SQL by :func:`pivot_view_sql`. References to other entities are resolved to
canonical ids through the ``resolution`` table, so every view follows merges.

Multi-valued properties are reduced to one value per column (the smallest); the
statements keep every value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from shadowtrace.store.sql import ident, string_literal

__all__ = [
    "VIEWS",
    "Column",
    "PivotView",
    "all_view_sql",
    "pivot_select_sql",
    "pivot_view_sql",
    "view_named",
]

Kind = Literal["text", "ref", "number", "date", "timestamp"]


@dataclass(frozen=True)
class Column:
    name: str
    props: tuple[str, ...]
    kind: Kind = "text"


@dataclass(frozen=True)
class PivotView:
    name: str
    schema: str
    description: str
    columns: tuple[Column, ...]


def C(name: str, *props: str, kind: Kind = "text") -> Column:
    return Column(name, props or (name,), kind)


_INTERVAL = (
    C("date", "date", "startDate", kind="date"),
    C("timestamp", "date", "startDate", kind="timestamp"),
)

VIEWS: tuple[PivotView, ...] = (
    PivotView(
        "payments",
        "Payment",
        "Every payment-like entity: bank payments (with status), app payments, cash "
        "currency sales, netting and crypto transfers with known holders.",
        (
            C("payer", kind="ref"),
            C("beneficiary", kind="ref"),
            C("payer_account", "payerAccount", kind="ref"),
            C("beneficiary_account", "beneficiaryAccount", kind="ref"),
            C("amount", kind="number"),
            C("currency"),
            C("amount_usd", "amountUsd", kind="number"),
            C("amount_eur", "amountEur", kind="number"),
            *_INTERVAL,
            C("purpose"),
            C("transaction_number", "transactionNumber"),
            C("status"),
            C("rejection_reason", "rejectionReason"),
            C("payer_bank", "payerBank", kind="ref"),
            C("beneficiary_bank", "beneficiaryBank", kind="ref"),
            C("intermediary_bank", "intermediaryBank", kind="ref"),
            C("platform"),
            C("payer_app_account", "payerAppAccount", kind="ref"),
            C("beneficiary_app_account", "beneficiaryAppAccount", kind="ref"),
            C("paid_amount", "paidAmount", kind="number"),
            C("paid_currency", "paidCurrency"),
            C("buyer_document", "buyerDocument"),
            C("broker", kind="ref"),
        ),
    ),
    PivotView(
        "shipments",
        "EconomicActivity",
        "Customs declarations: sender → receiver with goods, HS code, countries and values.",
        (
            C("sender", kind="ref"),
            C("receiver", kind="ref"),
            C("declarant", kind="ref"),
            C("hs_code", "vedCode"),
            C("goods", "goodsDescription"),
            C("ccd_number", "ccdNumber"),
            C("origin_country", "originCountry"),
            C("departure_country", "departureCountry"),
            C("destination_country", "destinationCountry"),
            C("trading_country", "tradingCountry"),
            C("customs_amount", "customsAmount", kind="number"),
            C("invoice_amount", "invoiceAmount", kind="number"),
            C("quantity", kind="number"),
            C("quantity_unit", "quantityUnit"),
            C("net_weight", "netWeight", kind="number"),
            C("direction", "directionOfTransportation"),
            C("procedure", "customsProcedure"),
            *_INTERVAL,
        ),
    ),
    PivotView(
        "transfers",
        "CryptoTransfer",
        "Crypto-asset transfers between wallets (for example USDT on Tron).",
        (
            C("source_wallet", "sourceWallet", kind="ref"),
            C("target_wallet", "targetWallet", kind="ref"),
            C("payer", kind="ref"),
            C("beneficiary", kind="ref"),
            C("amount", kind="number"),
            C("currency"),
            C("tx_hash", "transactionHash"),
            C("blockchain"),
            C("block_number", "blockNumber"),
            C("fee", kind="number"),
            *_INTERVAL,
        ),
    ),
    PivotView(
        "wallets",
        "CryptoWallet",
        "Crypto wallets with their holders.",
        (
            C("address", "publicKey", "cryptoAddress"),
            C("holder", kind="ref"),
            C("currency"),
            C("blockchain"),
            C("exchange", "managingExchange"),
            C("name"),
        ),
    ),
    PivotView(
        "ownership",
        "Ownership",
        "Ownership edges: owner → asset.",
        (
            C("source", "owner", kind="ref"),
            C("target", "asset", kind="ref"),
            C("percentage", kind="number"),
            C("role"),
            C("start_date", "startDate", kind="date"),
            C("end_date", "endDate", kind="date"),
        ),
    ),
    PivotView(
        "control",
        "Control",
        "Control edges: controller → controlled.",
        (
            C("source", "controller", kind="ref"),
            C("target", "controlled", kind="ref"),
            C("control_type", "controlType"),
            C("role"),
            C("start_date", "startDate", kind="date"),
            C("end_date", "endDate", kind="date"),
        ),
    ),
    PivotView(
        "directorship",
        "Directorship",
        "Directorship edges: director → organization.",
        (
            C("source", "director", kind="ref"),
            C("target", "organization", kind="ref"),
            C("role"),
            C("start_date", "startDate", kind="date"),
            C("end_date", "endDate", kind="date"),
        ),
    ),
    PivotView(
        "equipment",
        "Asset",
        "Assets and installed equipment: base stations, machinery, with supplier origin.",
        (
            C("name"),
            C("category"),
            C("model"),
            C("serial_number", "serialNumber"),
            C("hs_code", "hsCode"),
            C("manufacturer", kind="ref"),
            C("supplier", kind="ref"),
            C("parts_supplier", "partsSupplier", kind="ref"),
            C("operator", kind="ref"),
            C("site"),
            C("region"),
            C("country"),
            C("latitude", kind="number"),
            C("longitude", kind="number"),
            C("serves_population", "servesPopulation", kind="number"),
            C("output_capacity", "outputCapacity", kind="number"),
            C("output_unit", "outputUnit"),
            C("status"),
            C("commissioning_date", "commissioningDate", kind="date"),
            C("amount", kind="number"),
            C("currency"),
        ),
    ),
    PivotView(
        "labour",
        "LabourContract",
        "Labour contracts: supplier → employer, workers, nationality, wage bill.",
        (
            C("employer", kind="ref"),
            C("labour_supplier", "labourSupplier", kind="ref"),
            C("worker", kind="ref"),
            C("worker_count", "workerCount", kind="number"),
            C("nationality", "workerNationality"),
            C("region", "workRegion"),
            C("occupation"),
            C("amount", kind="number"),
            C("currency"),
            C("start_date", "startDate", "contractDate", kind="date"),
            C("end_date", "endDate", kind="date"),
            C("status"),
        ),
    ),
    PivotView(
        "sanctions",
        "Sanction",
        "Sanctions designations: the listed entity, authority, programme and dates.",
        (
            C("entity", kind="ref"),
            C("authority"),
            C("program", "program", "programId"),
            C("country"),
            C("start_date", "startDate", "listingDate", kind="date"),
            C("end_date", "endDate", kind="date"),
            C("listing_date", "listingDate", kind="date"),
        ),
    ),
)


def _value_expr(col: Column) -> str:
    props = ", ".join(string_literal(p) for p in col.props)
    if len(col.props) == 1:
        raw = f"min(s.value) FILTER (WHERE s.prop = {string_literal(col.props[0])})"
    else:
        # The first property that has a value wins, in the order declared.
        parts = [f"min(s.value) FILTER (WHERE s.prop = {string_literal(p)})" for p in col.props]
        raw = "coalesce(" + ", ".join(parts) + ")"
    del props
    return raw


def _typed(col: Column, raw: str) -> str:
    if col.kind == "number":
        return f"TRY_CAST(replace({raw}, ',', '') AS DOUBLE)"
    if col.kind == "date":
        return f"TRY_CAST(left({raw}, 10) AS DATE)"
    if col.kind == "timestamp":
        return f"TRY_CAST({raw} AS TIMESTAMP)"
    return raw


def pivot_select_sql(view: PivotView, columns: Sequence[str] | None = None) -> str:
    """The query behind a typed view.

    With ``columns``, only those (besides ``id``, ``schema`` and ``dataset``), pivoted
    from the statements of their own properties: a narrower aggregate for bulk readers
    such as the graph build (at ten million payments the full width no longer fits a
    modest memory limit). Entities with none of those properties are left out.
    """
    chosen = view.columns
    if columns is not None:
        by_name = {c.name: c for c in view.columns}
        unknown = [c for c in columns if c not in by_name]
        if unknown:
            raise ValueError(f"View {view.name} has no column {', '.join(unknown)}")
        chosen = tuple(by_name[c] for c in columns)
    inner = [
        "s.canonical_id AS id",
        "arg_max(s.schema, m.depth) AS schema",
        "min(s.dataset) AS dataset",
    ]
    outer = ["p.id", "p.schema", "p.dataset"]
    joins = []
    for i, col in enumerate(chosen):
        inner.append(f"{_typed(col, _value_expr(col))} AS {ident(col.name)}")
        if col.kind == "ref":
            alias = f"r{i}"
            joins.append(f"LEFT JOIN resolution {alias} ON {alias}.entity_id = p.{ident(col.name)}")
            outer.append(
                f"coalesce({alias}.canonical_id, p.{ident(col.name)}) AS {ident(col.name)}"
            )
        else:
            outer.append(f"p.{ident(col.name)}")
    where = f"list_contains(m.ancestors, {string_literal(view.schema)})"
    if columns is not None:
        props = sorted({p for c in chosen for p in c.props})
        where += f" AND s.prop IN ({', '.join(string_literal(p) for p in props)})"
    return (
        f"WITH p AS (\n  SELECT {', '.join(inner)}\n"
        f"  FROM statements s JOIN ftm_schemata m ON m.name = s.schema\n"
        f"  WHERE {where}\n"
        f"  GROUP BY s.canonical_id\n)\n"
        f"SELECT {', '.join(outer)}\nFROM p\n" + "\n".join(joins)
    )


def pivot_view_sql(view: PivotView) -> str:
    """The ``CREATE VIEW`` statement for one typed view."""
    return f"CREATE OR REPLACE VIEW {ident(view.name)} AS\n" + pivot_select_sql(view)


def view_named(name: str) -> PivotView:
    """The typed view called ``name``."""
    for view in VIEWS:
        if view.name == name:
            return view
    raise KeyError(name)


#: FtM's statement id (``Statement.make_key``): a hash of the content it names. It
#: is derived, not stored, so it can never disagree with the content.
STATEMENT_ID_SQL = (
    "sha1(dataset || '.' || entity_id || '.' || prop || '.' || value "
    "|| CASE WHEN lang IS NULL THEN '' ELSE '@' || lang END "
    "|| CASE WHEN external THEN '.ext' ELSE '' END)"
)

STATIC_VIEWS: tuple[str, ...] = (
    # The statements with FtM's fields, the statement id among them, and provenance.
    f"""
    CREATE OR REPLACE VIEW ftm_statements AS
    SELECT {STATEMENT_ID_SQL} AS id, entity_id, canonical_id, schema, prop, prop_type, value,
           original_value, dataset, lang, origin, external, first_seen, last_seen,
           source_id, source_row, run_id
    FROM statements
    """,
    # One row per (canonical) entity.
    """
    CREATE OR REPLACE VIEW entities AS
    SELECT s.canonical_id AS id,
           arg_max(s.schema, m.depth) AS schema,
           coalesce(
             min(s.value) FILTER (WHERE s.prop = 'name'),
             min(s.value) FILTER (WHERE s.prop IN ('title', 'full', 'publicKey', 'username')),
             min(s.value) FILTER (WHERE s.prop IN ('transactionHash', 'ccdNumber',
                                                   'transactionNumber', 'serialNumber')),
             min(s.value) FILTER (WHERE s.prop_type = 'name'),
             s.canonical_id
           ) AS caption,
           list(DISTINCT s.dataset ORDER BY s.dataset) AS datasets,
           count(DISTINCT s.entity_id) AS referents,
           count(*) AS statements,
           min(s.first_seen) AS first_seen,
           max(s.last_seen) AS last_seen
    FROM statements s JOIN ftm_schemata m ON m.name = s.schema
    GROUP BY s.canonical_id
    """,
    """
    CREATE OR REPLACE VIEW names AS
    SELECT canonical_id AS id, entity_id, schema, prop, value, dataset, lang,
           source_id, source_row
    FROM statements WHERE prop_type = 'name'
    """,
    """
    CREATE OR REPLACE VIEW identifiers AS
    SELECT canonical_id AS id, entity_id, schema, prop, value, dataset,
           source_id, source_row
    FROM statements WHERE prop_type IN ('identifier', 'checksum')
    """,
    """
    CREATE OR REPLACE VIEW addresses AS
    SELECT canonical_id AS id, entity_id, schema, prop, value, dataset,
           source_id, source_row
    FROM statements WHERE prop_type = 'address'
    """,
    """
    CREATE OR REPLACE VIEW contacts AS
    SELECT canonical_id AS id, entity_id, schema, prop, prop_type, value, dataset,
           source_id, source_row
    FROM statements WHERE prop_type IN ('phone', 'email', 'url')
    """,
    # Every FtM edge schema (Ownership, Directorship, Family, ...) as one table.
    """
    CREATE OR REPLACE VIEW relationships AS
    WITH e AS (
      SELECT s.canonical_id AS id, arg_max(s.schema, m.depth) AS schema,
             min(s.value) FILTER (WHERE s.prop = m.edge_source) AS source_ref,
             min(s.value) FILTER (WHERE s.prop = m.edge_target) AS target_ref,
             min(s.value) FILTER (WHERE s.prop IN ('role', 'relationship', 'controlType'))
               AS role,
             TRY_CAST(left(min(s.value) FILTER (WHERE s.prop = 'startDate'), 10) AS DATE)
               AS start_date,
             TRY_CAST(left(min(s.value) FILTER (WHERE s.prop = 'endDate'), 10) AS DATE)
               AS end_date
      FROM statements s JOIN ftm_schemata m ON m.name = s.schema
      WHERE m.is_edge AND NOT list_contains(m.ancestors, 'Payment')
        AND NOT list_contains(m.ancestors, 'EconomicActivity')
      GROUP BY s.canonical_id
    )
    SELECT e.id, e.schema,
           coalesce(rs.canonical_id, e.source_ref) AS source,
           coalesce(rt.canonical_id, e.target_ref) AS target,
           e.role, e.start_date, e.end_date
    FROM e
    LEFT JOIN resolution rs ON rs.entity_id = e.source_ref
    LEFT JOIN resolution rt ON rt.entity_id = e.target_ref
    WHERE e.source_ref IS NOT NULL AND e.target_ref IS NOT NULL
    """,
)


def all_view_sql() -> list[str]:
    return [*STATIC_VIEWS, *(pivot_view_sql(v) for v in VIEWS)]
