"""Run detectors over a store and write their findings.

``detect(store)`` makes sure the graph tables are current (rebuilding them after a
resolve or ingest), runs every registered detector (or those named in ``only``) with
its parameters, and replaces the findings of the detectors that ran in the
``findings``, ``finding_steps`` and ``finding_evidence`` tables, in one transaction.

>>> from shadowtrace.store import Store
>>> with Store.open(":memory:") as store:
...     report = detect(store)
>>> report.total
0
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from shadowtrace.detect.base import DetectContext, RunCache, check_params
from shadowtrace.detect.evidence import (
    PER_STEP,
    default_evidence_sql,
    fill_evidence,
    register_evidence_inputs,
    unregister_evidence_inputs,
)
from shadowtrace.detect.finding import Finding
from shadowtrace.detect.registry import detectors
from shadowtrace.errors import ConfigError, NotFound
from shadowtrace.graph import ensure_edges
from shadowtrace.store import Store
from shadowtrace.store.sql import ident

__all__ = ["DetectReport", "DetectorRun", "detect", "write_findings"]

log = logging.getLogger(__name__)


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # kilobytes on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@dataclass
class DetectorRun:
    """One detector's run: findings, seconds, and the process's peak RSS after it."""

    detector: str
    findings: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "findings": self.findings,
            "seconds": self.seconds,
            "peak_rss_mb": self.peak_rss_mb,
            "params": self.params,
        }


@dataclass
class DetectReport:
    """What a detection run did: per detector, and the graph it read."""

    runs: list[DetectorRun] = field(default_factory=list)
    graph_seconds: float = 0.0
    graph_rebuilt: bool = False
    edges: int = 0
    seconds: float = 0.0
    run_id: int | None = None
    findings: list[Finding] = field(default_factory=list, repr=False)

    @property
    def total(self) -> int:
        return sum(r.findings for r in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "total": self.total,
            "seconds": self.seconds,
            "graph": {
                "seconds": self.graph_seconds,
                "rebuilt": self.graph_rebuilt,
                "edges": self.edges,
            },
            "detectors": [r.to_dict() for r in self.runs],
        }


def detect(
    store: Store,
    only: Iterable[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    stage: Callable[[str], None] | None = None,
    write: bool = True,
) -> DetectReport:
    """Run detectors and write their findings (see the module docstring).

    ``params`` maps a detector's name to parameter overrides, e.g.
    ``{"sanctions_proximity": {"max_hops": 3}}``. Every parameter is checked before
    any detector runs, so a bad value fails fast and writes nothing.
    """
    registry = detectors()
    names = list(registry) if only is None else list(dict.fromkeys(only))
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise NotFound(f"No detector {', '.join(unknown)}; known: {', '.join(registry)}")
    params = dict(params or {})
    stray = sorted(set(params) - set(registry))
    if stray:
        raise ConfigError(f"Parameters given for unknown detectors: {', '.join(stray)}")
    checked = {n: check_params(registry[n], params.get(n)) for n in names}
    if write and store.read_only:
        raise ConfigError("The store is open read-only: cannot write findings")

    started = time.perf_counter()
    report = DetectReport()
    if stage:
        stage("graph")
    graph = ensure_edges(store)
    report.graph_seconds = graph.seconds
    report.graph_rebuilt = graph.rebuilt
    report.edges = graph.edges
    cache = RunCache()
    for name in names:
        if stage:
            stage(name)
        t0 = time.perf_counter()
        ctx = DetectContext(store=store, params=checked[name], detector=name, cache=cache)
        found = list(registry[name].detect(ctx))
        for finding in found:
            if not isinstance(finding, Finding):
                raise ConfigError(f"Detector {name} returned {type(finding).__name__}, not Finding")
        run = DetectorRun(
            detector=name,
            findings=len(found),
            seconds=round(time.perf_counter() - t0, 3),
            peak_rss_mb=round(_peak_rss_mb(), 1),
            params=checked[name],
        )
        report.runs.append(run)
        report.findings.extend(found)
        log.info("%s: %d findings in %.1f s", name, run.findings, run.seconds)
    if write:
        report.run_id = write_findings(store, report, names, started)
    else:
        report.findings = fill_evidence(store, report.findings)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _by_detector(report: DetectReport) -> list[tuple[str, Finding]]:
    out: list[tuple[str, Finding]] = []
    i = 0
    for run in report.runs:
        out.extend((run.detector, f) for f in report.findings[i : i + run.findings])
        i += run.findings
    return out


def write_findings(store: Store, report: DetectReport, names: list[str], started: float) -> int:
    """Replace the findings of detectors ``names`` with the report's, in one transaction.

    Steps without evidence get their default evidence here, in one query
    (:func:`~shadowtrace.detect.evidence.default_evidence_sql`)."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    findings: dict[str, list[Any]] = {
        k: []
        for k in (
            "finding_id", "typology", "score", "title", "explanation", "entities", "metrics",
            "detector", "run_id", "created_at",
        )
    }  # fmt: skip
    steps: dict[str, list[Any]] = {
        k: []
        for k in (
            "finding_id", "step", "kind", "source", "target", "summary", "entity_id", "date",
            "amount", "currency",
        )
    }  # fmt: skip
    evidence: dict[str, list[Any]] = {
        k: []
        for k in (
            "finding_id", "step", "statement_id", "entity_id", "prop", "value", "source",
            "source_row",
        )
    }  # fmt: skip
    with store.transaction() as con:
        run_id = store.next_id("runs", "run_id")
        con.execute(
            "INSERT INTO runs (run_id, command, started_at, finished_at, status, args) "
            "VALUES (?, 'detect', ?, ?, 'ok', ?)",
            [run_id, now, now, json.dumps({"detectors": names})],
        )
        seen: set[str] = set()
        kept: list[Finding] = []
        for detector, f in _by_detector(report):
            if f.id in seen:  # the same finding twice (one detector, or two): keep the first
                continue
            seen.add(f.id)
            kept.append(f)
            findings["finding_id"].append(f.id)
            findings["typology"].append(f.typology)
            findings["score"].append(f.score)
            findings["title"].append(f.title)
            findings["explanation"].append(f.explanation)
            findings["entities"].append(list(f.entities))
            findings["metrics"].append(json.dumps(f.metrics, sort_keys=True))
            findings["detector"].append(detector)
            findings["run_id"].append(run_id)
            findings["created_at"].append(now)
            for i, s in enumerate(f.steps):
                for key, value in (
                    ("finding_id", f.id), ("step", i), ("kind", s.kind), ("source", s.source),
                    ("target", s.target), ("summary", s.summary), ("entity_id", s.entity_id),
                    ("date", s.date), ("amount", s.amount), ("currency", s.currency),
                ):  # fmt: skip
                    steps[key].append(value)
                for e in s.evidence:
                    for key, value in (
                        ("finding_id", f.id), ("step", i), ("statement_id", e.statement_id),
                        ("entity_id", e.entity_id), ("prop", e.prop), ("value", e.value),
                        ("source", e.source), ("source_row", e.source_row),
                    ):  # fmt: skip
                        evidence[key].append(value)
        marks = ", ".join("?" for _ in names)
        if names:
            for table in ("finding_evidence", "finding_steps"):
                delete = (
                    f"DELETE FROM {ident(table)} WHERE finding_id IN "
                    f"(SELECT finding_id FROM findings WHERE detector IN ({marks}))"
                )
                con.execute(delete, names)
            delete = f"DELETE FROM findings WHERE detector IN ({marks})"
            con.execute(delete, names)
        # a finding id another detector already wrote is replaced by this run's
        if findings["finding_id"]:
            _append(store, "_new_findings", findings, _FINDINGS_SCHEMA)
            for table in ("finding_evidence", "finding_steps", "findings"):
                delete = (
                    f"DELETE FROM {ident(table)} WHERE finding_id IN "
                    "(SELECT finding_id FROM _new_findings)"
                )
                con.execute(delete)
            con.execute(
                "INSERT INTO findings SELECT finding_id, typology, score, title, explanation, "
                "entities, CAST(metrics AS JSON), detector, run_id, created_at FROM _new_findings"
            )
            con.complete()
            con.unregister("_new_findings")
        if steps["finding_id"]:
            _append(store, "_new_steps", steps, _STEPS_SCHEMA)
            con.execute("INSERT INTO finding_steps SELECT * FROM _new_steps")
            con.complete()
            con.unregister("_new_steps")
        if evidence["finding_id"]:
            _append(store, "_new_evidence", evidence, _EVIDENCE_SCHEMA)
            con.execute("INSERT INTO finding_evidence SELECT * FROM _new_evidence")
            con.complete()
            con.unregister("_new_evidence")
        steps_rel, props_rel = register_evidence_inputs(store, kept)
        try:
            query = default_evidence_sql(steps_rel, props_rel)
            insert = (
                "INSERT INTO finding_evidence SELECT finding_id, step, statement_id, entity_id, "
                f"prop, value, source, source_row FROM ({query}) ORDER BY finding_id, step, n"
            )
            con.execute(insert, [PER_STEP])
        finally:
            unregister_evidence_inputs(store)
    return run_id


_FINDINGS_SCHEMA = pa.schema(
    [
        ("finding_id", pa.string()),
        ("typology", pa.string()),
        ("score", pa.float64()),
        ("title", pa.string()),
        ("explanation", pa.string()),
        ("entities", pa.list_(pa.string())),
        ("metrics", pa.string()),
        ("detector", pa.string()),
        ("run_id", pa.int32()),
        ("created_at", pa.timestamp("us")),
    ]
)
_STEPS_SCHEMA = pa.schema(
    [
        ("finding_id", pa.string()),
        ("step", pa.int32()),
        ("kind", pa.string()),
        ("source", pa.string()),
        ("target", pa.string()),
        ("summary", pa.string()),
        ("entity_id", pa.string()),
        ("date", pa.string()),
        ("amount", pa.float64()),
        ("currency", pa.string()),
    ]
)
_EVIDENCE_SCHEMA = pa.schema(
    [
        ("finding_id", pa.string()),
        ("step", pa.int32()),
        ("statement_id", pa.string()),
        ("entity_id", pa.string()),
        ("prop", pa.string()),
        ("value", pa.string()),
        ("source", pa.string()),
        ("source_row", pa.int64()),
    ]
)


def _append(store: Store, name: str, columns: dict[str, list[Any]], schema: pa.Schema) -> None:
    store.con.complete()
    store.con.register(name, pa.Table.from_pydict(columns, schema=schema))
