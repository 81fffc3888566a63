"""Score a resolved store against a simulated world's ground truth.

    python bench/_world_eval.py STORE WORLD_DIR [--errors N]

The items are the entity ids that ``resolve`` works on (parties, accounts, wallets,
vehicles: ``shadowtrace.resolve.entities.RESOLVED_ROOTS``); records of events are
not resolved and not counted. Each entity id is traced to the source records it came
from (``entity_sources``: source, row, origin) and through them to the simulator's
``ground_truth/records.parquet`` (file, row, origin, true_id); ingest keys every
record of one true entity alike or not at all, so each entity id has one true id
(checked: the impure ones are counted and reported). The predicted cluster of an entity id is its
canonical id.

Pairwise precision and recall are over pairs of entity ids (same predicted cluster
vs. same true entity); B-cubed averages, over entity ids, the share of its predicted
cluster that is truly its entity (precision) and the share of its true entity that
is in its predicted cluster (recall).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shadowtrace.resolve.entities import RESOLVED_ROOTS  # noqa: E402
from shadowtrace.store import Store  # noqa: E402


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(store: Store, world: Path, errors: int = 0) -> dict[str, Any]:
    con = store.con
    records = world / "ground_truth" / "records.parquet"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ev_items AS "
        "WITH deepest AS ("
        "  SELECT s.entity_id, arg_max(s.schema, m.depth) AS schema, "
        "    any_value(s.canonical_id) AS canonical_id "
        "  FROM statements s JOIN ftm_schemata m ON m.name = s.schema GROUP BY s.entity_id"
        "), truth AS ("
        "  SELECT es.entity_id, min(g.true_id) AS true_id, "
        "    count(DISTINCT g.true_id) AS trues "
        "  FROM entity_sources es JOIN sources src ON src.source_id = es.source_id "
        "  JOIN read_parquet(?) g ON g.file = src.name AND g.row = es.source_row "
        "    AND g.origin = es.origin "
        "  GROUP BY es.entity_id"
        ") "
        "SELECT d.entity_id, d.schema, d.canonical_id AS pred, t.true_id AS truth, t.trues "
        "FROM deepest d JOIN ftm_schemata m ON m.name = d.schema "
        "JOIN truth t ON t.entity_id = d.entity_id "
        "WHERE list_has_any(m.ancestors, ?)",
        [str(records), list(RESOLVED_ROOTS)],
    )
    row = con.execute(
        "WITH cells AS (SELECT pred, truth, count(*) AS n FROM _ev_items GROUP BY pred, truth), "
        "preds AS (SELECT pred, count(*) AS n FROM _ev_items GROUP BY pred), "
        "truths AS (SELECT truth, count(*) AS n FROM _ev_items GROUP BY truth) "
        "SELECT (SELECT count(*) FROM _ev_items), "
        "  (SELECT count(*) FROM _ev_items WHERE trues > 1), "
        "  (SELECT count(*) FROM preds), (SELECT count(*) FROM truths), "
        "  (SELECT sum(n * (n - 1) / 2) FROM cells), "
        "  (SELECT sum(n * (n - 1) / 2) FROM preds), "
        "  (SELECT sum(n * (n - 1) / 2) FROM truths), "
        "  (SELECT sum(c.n * c.n / p.n) FROM cells c JOIN preds p USING (pred)), "
        "  (SELECT sum(c.n * c.n / t.n) FROM cells c JOIN truths t USING (truth))"
    ).fetchall()[0]
    items, impure, clusters, true_entities, tp, pred_pairs, true_pairs, bp, br = row
    tp, pred_pairs, true_pairs = float(tp or 0), float(pred_pairs or 0), float(true_pairs or 0)
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    b_precision = float(bp) / items if items else 1.0
    b_recall = float(br) / items if items else 1.0
    out: dict[str, Any] = {
        "items": int(items),
        "impure_items": int(impure),
        "predicted_entities": int(clusters),
        "true_entities": int(true_entities),
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "pairwise_f1": _f1(precision, recall),
        "bcubed_precision": b_precision,
        "bcubed_recall": b_recall,
        "bcubed_f1": _f1(b_precision, b_recall),
    }
    if errors:
        out["by_schema"] = [
            list(r)
            for r in con.execute(
                "WITH cells AS (SELECT pred, truth, count(*) AS n FROM _ev_items "
                "  GROUP BY pred, truth), "
                "preds AS (SELECT pred, count(*) AS n FROM _ev_items GROUP BY pred), "
                "truths AS (SELECT truth, count(*) AS n FROM _ev_items GROUP BY truth), "
                "items AS (SELECT i.*, c.n AS cell, p.n AS pn, t.n AS tn FROM _ev_items i "
                "  JOIN cells c USING (pred, truth) JOIN preds p USING (pred) "
                "  JOIN truths t USING (truth)) "
                "SELECT schema, count(*), round(avg(cell / pn), 4) AS bp, "
                "  round(avg(cell / tn), 4) AS br FROM items GROUP BY schema ORDER BY 2 DESC"
            ).fetchall()
        ]
        out["false_merges"] = [
            list(r)
            for r in con.execute(
                "SELECT i.pred, list(DISTINCT i.truth), "
                "  list(DISTINCT s.value ORDER BY s.value)[1:6] "
                "FROM _ev_items i JOIN statements s ON s.entity_id = i.entity_id "
                "AND s.prop = 'name' WHERE i.pred IN ("
                "  SELECT pred FROM _ev_items GROUP BY pred HAVING count(DISTINCT truth) > 1"
                ") GROUP BY i.pred ORDER BY hash(i.pred) LIMIT ?",
                [errors],
            ).fetchall()
        ]
        out["missed"] = [
            list(r)
            for r in con.execute(
                "SELECT i.truth, list(DISTINCT i.schema), count(DISTINCT i.pred), "
                "  list(DISTINCT s.value ORDER BY s.value)[1:8] "
                "FROM _ev_items i JOIN statements s ON s.entity_id = i.entity_id "
                "AND s.prop IN ('name', 'username', 'publicKey', 'accountNumber') "
                "WHERE i.truth IN ("
                "  SELECT truth FROM _ev_items GROUP BY truth HAVING count(DISTINCT pred) > 1"
                ") GROUP BY i.truth ORDER BY hash(i.truth) LIMIT ?",
                [errors],
            ).fetchall()
        ]
    con.execute("DROP TABLE _ev_items")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("store")
    parser.add_argument("world")
    parser.add_argument("--errors", type=int, default=0)
    args = parser.parse_args()
    with Store.open(args.store) as store:
        result = evaluate(store, Path(args.world), args.errors)
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
