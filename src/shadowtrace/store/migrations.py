"""Versioned schema migrations of the statement store.

Each migration has a version, a name and a list of SQL statements. They run in
order inside one transaction each; ``meta_migrations`` records what has run. A
store written by a newer shadowtrace (a version above the newest known here) is
refused rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIGRATIONS", "Migration"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


INITIAL = Migration(
    1,
    "statements, sources, runs, rejects",
    (
        """
        CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY,
            command VARCHAR NOT NULL,
            dataset VARCHAR,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status VARCHAR NOT NULL,
            rows_in BIGINT DEFAULT 0,
            rows_stored BIGINT DEFAULT 0,
            rows_rejected BIGINT DEFAULT 0,
            rows_filtered BIGINT DEFAULT 0,
            statements_new BIGINT DEFAULT 0,
            statements_seen BIGINT DEFAULT 0,
            entities_new BIGINT DEFAULT 0,
            args JSON
        )
        """,
        """
        CREATE TABLE sources (
            source_id INTEGER PRIMARY KEY,
            path VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            size_bytes BIGINT NOT NULL,
            format VARCHAR NOT NULL,
            dataset VARCHAR NOT NULL,
            mapping VARCHAR,
            mapping_sha256 VARCHAR,
            run_id INTEGER NOT NULL,
            rows_in BIGINT NOT NULL,
            rows_stored BIGINT NOT NULL,
            rows_rejected BIGINT NOT NULL,
            rows_filtered BIGINT NOT NULL,
            statements_new BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE statements (
            entity_id VARCHAR NOT NULL,
            canonical_id VARCHAR NOT NULL,
            schema VARCHAR NOT NULL,
            prop VARCHAR NOT NULL,
            prop_type VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            original_value VARCHAR,
            dataset VARCHAR NOT NULL,
            lang VARCHAR,
            origin VARCHAR,
            external BOOLEAN NOT NULL DEFAULT FALSE,
            first_seen TIMESTAMP NOT NULL,
            last_seen TIMESTAMP NOT NULL,
            source_id INTEGER,
            source_row BIGINT,
            run_id INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE entity_sources (
            entity_id VARCHAR NOT NULL,
            source_id INTEGER NOT NULL,
            source_row BIGINT NOT NULL,
            origin VARCHAR NOT NULL,
            run_id INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE rejects (
            run_id INTEGER NOT NULL,
            source_id INTEGER,
            path VARCHAR NOT NULL,
            source_row BIGINT,
            field VARCHAR,
            reason VARCHAR NOT NULL,
            raw VARCHAR,
            kind VARCHAR NOT NULL
        )
        """,
        """
        CREATE TABLE resolution (
            entity_id VARCHAR PRIMARY KEY,
            canonical_id VARCHAR NOT NULL,
            run_id INTEGER
        )
        """,
    ),
)

JUDGEMENTS = Migration(
    2,
    "judgements, resolution candidates and resolve runs",
    (
        # Append-only: the newest row of a pair is the judgement in force; older rows
        # are its history (who decided what, when and why).
        """
        CREATE TABLE judgements (
            left_id VARCHAR NOT NULL,
            right_id VARCHAR NOT NULL,
            judgement VARCHAR NOT NULL
                CHECK (judgement IN ('positive', 'negative', 'unsure', 'no_judgement')),
            "user" VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            reason VARCHAR,
            score DOUBLE,
            CHECK (left_id < right_id)
        )
        """,
        """
        CREATE VIEW judgements_current AS
        SELECT left_id, right_id,
               arg_max(judgement, created_at) AS judgement,
               arg_max("user", created_at) AS "user",
               max(created_at) AS created_at,
               arg_max(reason, created_at) AS reason
        FROM judgements GROUP BY left_id, right_id
        """,
        # Scored candidate pairs of the last resolve run, for review and re-clustering.
        """
        CREATE TABLE resolve_candidates (
            left_id VARCHAR NOT NULL,
            right_id VARCHAR NOT NULL,
            score DOUBLE NOT NULL,
            vetoed BOOLEAN NOT NULL DEFAULT FALSE,
            features JSON,
            run_id INTEGER,
            PRIMARY KEY (left_id, right_id)
        )
        """,
        # Blocking keys of the last resolve run, reused by screening (match).
        """
        CREATE TABLE resolve_keys (
            entity_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL
        )
        """,
    ),
)

FINDINGS = Migration(
    3,
    "findings with their steps and evidence",
    (
        """
        CREATE TABLE findings (
            finding_id VARCHAR PRIMARY KEY,
            typology VARCHAR NOT NULL,
            score DOUBLE NOT NULL,
            title VARCHAR NOT NULL,
            explanation VARCHAR,
            entities VARCHAR[] NOT NULL,
            metrics JSON,
            detector VARCHAR NOT NULL,
            run_id INTEGER,
            created_at TIMESTAMP NOT NULL
        )
        """,
        """
        CREATE TABLE finding_steps (
            finding_id VARCHAR NOT NULL,
            step INTEGER NOT NULL,
            kind VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            target VARCHAR,
            summary VARCHAR NOT NULL,
            entity_id VARCHAR,
            date VARCHAR,
            amount DOUBLE,
            currency VARCHAR
        )
        """,
        """
        CREATE TABLE finding_evidence (
            finding_id VARCHAR NOT NULL,
            step INTEGER NOT NULL,
            statement_id VARCHAR NOT NULL,
            entity_id VARCHAR NOT NULL,
            prop VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            source VARCHAR,
            source_row BIGINT
        )
        """,
    ),
)

GRAPH = Migration(
    4,
    "graph: edges and nodes over canonical entities",
    (
        # One row per edge of the canonical multigraph (see shadowtrace.graph.edges for
        # what each column holds per kind). Rebuilt from the typed views after resolve.
        """
        CREATE TABLE edges (
            kind VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            edge_id VARCHAR,
            schema VARCHAR,
            date DATE,
            ts TIMESTAMP,
            amount DOUBLE,
            currency VARCHAR,
            status VARCHAR,
            hs_code VARCHAR,
            quantity DOUBLE,
            origin_country VARCHAR,
            destination_country VARCHAR,
            value VARCHAR,
            source_account VARCHAR,
            target_account VARCHAR,
            paid_amount DOUBLE,
            paid_currency VARCHAR
        )
        """,
        # One row per canonical entity that is a node of the graph, with the attributes
        # detectors filter on.
        """
        CREATE TABLE nodes (
            id VARCHAR PRIMARY KEY,
            schema VARCHAR NOT NULL,
            caption VARCHAR,
            country VARCHAR,
            incorporation_date DATE,
            listed BOOLEAN NOT NULL,
            listed_date DATE
        )
        """,
    ),
)

PLANS = Migration(
    5,
    "plans: dismantle targets, flows before and after, replacements, channels",
    (
        """
        CREATE TABLE plans (
            plan_id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            name VARCHAR,
            created_at TIMESTAMP NOT NULL,
            params JSON,
            summary JSON
        )
        """,
        # one row per chosen target (dismantle) in the order chosen
        """
        CREATE TABLE plan_targets (
            plan_id VARCHAR NOT NULL,
            rank INTEGER NOT NULL,
            target_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            policy_ref VARCHAR,
            caption VARCHAR,
            roles VARCHAR[],
            flow_through DOUBLE,
            cut_static DOUBLE,
            cut_adapted DOUBLE,
            explanation VARCHAR,
            findings VARCHAR[],
            evidence JSON
        )
        """,
        # flow removed by a strategy at a budget, at one stage: model_static,
        # model_adapted (the network), truth_static, truth_adapted (the simulator)
        """
        CREATE TABLE plan_flows (
            plan_id VARCHAR NOT NULL,
            strategy VARCHAR NOT NULL,
            budget INTEGER,
            stage VARCHAR NOT NULL,
            base DOUBLE,
            removed DOUBLE,
            share DOUBLE,
            details JSON
        )
        """,
        """
        CREATE TABLE plan_replacements (
            plan_id VARCHAR NOT NULL,
            phase INTEGER NOT NULL,
            group_key VARCHAR NOT NULL,
            category VARCHAR,
            supplier VARCHAR,
            supplier_name VARCHAR,
            model VARCHAR,
            site VARCHAR,
            region VARCHAR,
            units INTEGER NOT NULL,
            replaced INTEGER NOT NULL,
            option VARCHAR,
            unit_cost DOUBLE,
            cost DOUBLE,
            criticality DOUBLE,
            capacity DOUBLE,
            capacity_unit VARCHAR,
            reasons JSON
        )
        """,
        # volume by channel, observed or under a policy, with the fees paid on it
        """
        CREATE TABLE plan_channels (
            plan_id VARCHAR NOT NULL,
            scenario VARCHAR NOT NULL,
            channel VARCHAR NOT NULL,
            transparent BOOLEAN NOT NULL,
            volume DOUBLE,
            records BIGINT,
            fees_low DOUBLE,
            fees_high DOUBLE,
            details JSON
        )
        """,
    ),
)

_STATEMENT_COLUMNS = (
    "entity_id, canonical_id, schema, prop, prop_type, value, original_value, dataset, lang, "
    "origin, external, first_seen, last_seen, source_id, source_row, run_id"
)

RAW_IDS = Migration(
    6,
    "statements: entity and canonical ids stored uncompressed",
    (
        # Entity ids are SHA-1 hex digests: dictionary encoding finds nothing to share
        # and FSST at best halves them, at twice the cost of writing every statement.
        # Stored plain they cost about 60% more disk and are written and scanned
        # faster (ingest, resolution and every join on an id).
        """
        CREATE TABLE statements_v6 (
            entity_id VARCHAR NOT NULL USING COMPRESSION uncompressed,
            canonical_id VARCHAR NOT NULL USING COMPRESSION uncompressed,
            schema VARCHAR NOT NULL,
            prop VARCHAR NOT NULL,
            prop_type VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            original_value VARCHAR,
            dataset VARCHAR NOT NULL,
            lang VARCHAR,
            origin VARCHAR,
            external BOOLEAN NOT NULL DEFAULT FALSE,
            first_seen TIMESTAMP NOT NULL,
            last_seen TIMESTAMP NOT NULL,
            source_id INTEGER,
            source_row BIGINT,
            run_id INTEGER NOT NULL
        )
        """,
        f"INSERT INTO statements_v6 SELECT {_STATEMENT_COLUMNS} FROM statements",
        "DROP TABLE statements",
        "ALTER TABLE statements_v6 RENAME TO statements",
    ),
)

EVIDENCE_ORDER = Migration(
    7,
    "finding evidence: the order a detector gave each step's evidence",
    (
        # ``ord`` orders the evidence a detector gave a step as it gave it; the
        # evidence chosen by default for a step has none and is shown by property and
        # value. Evidence written before kept its order in the rowid, which orders it
        # just as well (no window over a table of tens of millions of rows).
        "ALTER TABLE finding_evidence ADD COLUMN ord BIGINT",
        "UPDATE finding_evidence SET ord = rowid",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (
    INITIAL, JUDGEMENTS, FINDINGS, GRAPH, PLANS, RAW_IDS, EVIDENCE_ORDER,
)  # fmt: skip
