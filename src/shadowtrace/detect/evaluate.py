"""Measure findings against a simulated world's ground truth: precision and recall per
typology.

The ground truth (``ground_truth/`` beside a simulated world's ``manifest.yml``) is read
here and nowhere in the pipeline. Store entities are mapped to true ids through the
records they were read from (``entity_sources`` → source file and row → the ground
truth's ``records.parquet``); a canonical entity stands for every true id among its
records.

A finding *matches* a ground-truth scheme of the same typology by one of two rules:

``records``
    at least half the source records a finding rests on (the customs declarations,
    payments, transfers, sales, contracts or assets of its steps) are evidence of
    schemes of its typology; it matches each scheme it shares a record with.
``subject``
    the finding's subject (its first entity) is one of the scheme's subjects: the
    intermediary of a pass-through scheme, the successor or renamed party of a
    sanctions-proximity scheme, a company of a front-company scheme. For pass-through
    precision, the parties the simulator passes money through less a fee without a
    pass-through scheme of their own also count as true (the middle of a goods chain,
    the agents of a payment rerouted through agents), and for front-company precision
    every company the simulator made a front (its schemes cover only the fronts at
    mass-registration addresses); recall counts schemes only.

Precision is the share of findings that match a scheme; recall the share of schemes
matched by a finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from shadowtrace.errors import NotFound
from shadowtrace.store import Store

__all__ = ["RULES", "TypologyScore", "evaluate"]

RULES: dict[str, str] = {
    "multilayer_transshipment": "records",
    "dual_use_supply": "records",
    "rerouted_payment": "records",
    "netting": "records",
    "stablecoin_rail": "records",
    "cash_structuring": "records",
    "infrastructure_dependency": "records",
    "dprk_labour": "records",
    "pass_through_intermediary": "subject",
    "front_company": "subject",
    "sanctions_proximity": "subject",
}


@dataclass
class TypologyScore:
    """Precision and recall of one typology."""

    typology: str
    rule: str
    findings: int
    matched_findings: int
    schemes: int
    found_schemes: int

    @property
    def precision(self) -> float | None:
        return self.matched_findings / self.findings if self.findings else None

    @property
    def recall(self) -> float | None:
        return self.found_schemes / self.schemes if self.schemes else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "typology": self.typology,
            "rule": self.rule,
            "findings": self.findings,
            "matched_findings": self.matched_findings,
            "schemes": self.schemes,
            "found_schemes": self.found_schemes,
            "precision": self.precision,
            "recall": self.recall,
        }


def _register(store: Store, name: str, path: Path) -> None:
    if not path.exists():
        raise NotFound(f"No ground truth file {path}")
    store.con.complete()
    store.con.register(name, pq.read_table(path))


def _subjects_sql() -> str:
    # The subjects of each scheme: pass-through → its first member (the intermediary);
    # sanctions proximity → its first member (the successor or renamed party); front
    # companies → its members that are companies (the last member is their director).
    # Rows without a scheme are further true subjects that count for precision only:
    # parties the simulator passes money through less a fee without a pass-through
    # scheme of their own (the middle of a goods chain, the agents of a rerouted payment),
    # and every company the simulator made a front (its schemes list only the fronts
    # registered at mass-registration addresses).
    return """
    SELECT s.scheme_id, s.typology, m.true_id
    FROM _gt_schemes s, unnest(s.members) AS m(true_id)
    JOIN _gt_entities e ON e.true_id = m.true_id
    WHERE s.typology = 'front_company' AND e.kind = 'company'
    UNION ALL
    SELECT s.scheme_id, s.typology, s.members[1]
    FROM _gt_schemes s
    WHERE s.typology IN ('pass_through_intermediary', 'sanctions_proximity')
    UNION ALL
    SELECT NULL, 'pass_through_intermediary', m.true_id
    FROM _gt_schemes s, unnest(s.members[2:len(s.members) - 2]) AS m(true_id)
    WHERE s.typology = 'multilayer_transshipment'
    UNION ALL
    SELECT NULL, 'pass_through_intermediary', m.true_id
    FROM _gt_schemes s, unnest(s.members[2:len(s.members) - 1]) AS m(true_id)
    WHERE s.typology = 'rerouted_payment' AND s.label = 'bank_agent'
    UNION ALL
    SELECT NULL, 'front_company', true_id FROM _gt_entities WHERE role = 'front'
    """


def evaluate(
    store: Store, world: str | Path, typologies: Iterable[str] | None = None
) -> list[TypologyScore]:
    """Precision and recall per typology of the findings in ``store`` against the ground
    truth of the simulated world in folder ``world``."""
    gt = Path(world) / "ground_truth"
    con = store.con
    names = {
        "_gt_records": gt / "records.parquet",
        "_gt_schemes": gt / "schemes.parquet",
        "_gt_evidence": gt / "evidence.parquet",
        "_gt_entities": gt / "entities.parquet",
    }
    for name, path in names.items():
        _register(store, name, path)
    try:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _ev_truth AS
            SELECT DISTINCT coalesce(r.canonical_id, es.entity_id) AS canonical_id,
                   g.true_id
            FROM entity_sources es
            JOIN sources s ON s.source_id = es.source_id
            JOIN _gt_records g ON g.file = s.name AND g.row = es.source_row
                              AND g.origin = es.origin
            LEFT JOIN resolution r ON r.entity_id = es.entity_id
            """
        )
        # The records each finding rests on: those of its steps' edge entities.
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _ev_frows AS
            WITH canon AS (
              SELECT coalesce(r.canonical_id, es.entity_id) AS canonical_id,
                     s.name AS file, es.source_row AS row
              FROM entity_sources es
              JOIN sources s ON s.source_id = es.source_id
              LEFT JOIN resolution r ON r.entity_id = es.entity_id
            )
            SELECT DISTINCT f.finding_id, f.typology, c.file, c.row
            FROM findings f
            JOIN finding_steps st ON st.finding_id = f.finding_id
            JOIN canon c ON c.canonical_id = st.entity_id
            """
        )
        # A finding matches when at least half its records are evidence of schemes of its
        # typology; it then matches each of those schemes.
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _ev_match_records AS
            WITH ev AS (
              SELECT DISTINCT ge.scheme_id, gs.typology, ge.file, ge.row
              FROM _gt_evidence ge JOIN _gt_schemes gs ON gs.scheme_id = ge.scheme_id
            ), hits AS (
              SELECT fr.finding_id, fr.file, fr.row, ev.scheme_id
              FROM _ev_frows fr
              LEFT JOIN ev ON ev.file = fr.file AND ev.row = fr.row AND ev.typology = fr.typology
            ), share AS (
              SELECT finding_id,
                     count(DISTINCT file || ':' || row) AS n,
                     count(DISTINCT file || ':' || row) FILTER (WHERE scheme_id IS NOT NULL)
                       AS hit
              FROM hits GROUP BY finding_id
            )
            SELECT DISTINCT h.finding_id, h.scheme_id
            FROM hits h JOIN share s ON s.finding_id = h.finding_id
            WHERE h.scheme_id IS NOT NULL AND s.hit >= 1 AND 2 * s.hit >= s.n
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _ev_match_subject AS
            WITH subj AS ({_subjects_sql()}),
            fs AS (
              SELECT f.finding_id, f.typology, t.true_id
              FROM findings f JOIN _ev_truth t ON t.canonical_id = f.entities[1]
            )
            SELECT DISTINCT fs.finding_id, subj.scheme_id
            FROM fs JOIN subj ON subj.true_id = fs.true_id AND subj.typology = fs.typology
            """
        )
        wanted = sorted(
            set(typologies)
            if typologies is not None
            else {
                str(r[0])
                for r in con.execute(
                    "SELECT typology FROM findings UNION SELECT typology FROM _gt_schemes"
                ).fetchall()
            }
        )
        scores = []
        for typology in wanted:
            rule = RULES.get(typology, "records")
            table = "_ev_match_records" if rule == "records" else "_ev_match_subject"
            row = con.execute(
                f"""
                SELECT
                  (SELECT count(*) FROM findings WHERE typology = ?),
                  (SELECT count(DISTINCT m.finding_id) FROM {table} m
                     JOIN findings f ON f.finding_id = m.finding_id WHERE f.typology = ?),
                  (SELECT count(*) FROM _gt_schemes WHERE typology = ?),
                  (SELECT count(DISTINCT m.scheme_id) FROM {table} m
                     JOIN _gt_schemes s ON s.scheme_id = m.scheme_id WHERE s.typology = ?)
                """,
                [typology] * 4,
            ).fetchone()
            assert row is not None
            scores.append(TypologyScore(typology, rule, *(int(x) for x in row)))
        return scores
    finally:
        con.complete()
        for name in names:
            con.unregister(name)
        for table in ("_ev_truth", "_ev_frows", "_ev_match_records", "_ev_match_subject"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
