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

import gc
import json
import logging
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from shadowtrace.detect.base import DetectContext, RunCache, check_params
from shadowtrace.detect.evidence import EVIDENCE_ORDER, default_evidence
from shadowtrace.detect.finding import Evidence, Finding
from shadowtrace.detect.registry import detectors
from shadowtrace.errors import ConfigError, NotFound
from shadowtrace.graph import ensure_edges
from shadowtrace.store import Store, streamed
from shadowtrace.store.sql import ident

__all__ = ["DetectReport", "DetectorRun", "FindingColumns", "detect", "write_findings"]

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
    write_seconds: float = 0.0  # writing the findings and their evidence
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
            "write_seconds": self.write_seconds,
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
    keep: bool = False,
) -> DetectReport:
    """Run detectors and write their findings (see the module docstring).

    ``params`` maps a detector's name to parameter overrides, e.g.
    ``{"sanctions_proximity": {"max_hops": 3}}``. Every parameter is checked before
    any detector runs, so a bad value fails fast and writes nothing.

    A written run turns each detector's findings into columns as it finishes and
    drops the objects (a ten-million-transaction world makes hundreds of thousands
    of findings); ``keep`` keeps them in ``report.findings`` too. A run that does
    not write (``write=False``) returns them with their evidence filled in.
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
    columns = FindingColumns()
    with _cycles_uncollected():
        _run_detectors(store, registry, names, checked, cache, columns, report, stage, write, keep)
        del cache  # its memoised tables, before the findings are written
        t0 = time.perf_counter()
        if write:
            report.run_id = write_findings(store, columns, names)
        else:
            report.findings = _fill_evidence(store, report.findings)
        report.write_seconds = round(time.perf_counter() - t0, 3)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


@contextmanager
def _cycles_uncollected() -> Iterator[None]:
    """Python's cycle collector paused for the run, and run once after it.

    Detectors make millions of small objects (rows, steps, findings) that hold no
    cycles, which reference counting frees. Left on, the collector walks every live
    object again and again as they are made: on a world of ten million transactions
    that was about 40 s of a run of under 200 s.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


def _run_detectors(
    store: Store,
    registry: Mapping[str, Any],
    names: list[str],
    checked: Mapping[str, dict[str, Any]],
    cache: RunCache,
    columns: FindingColumns,
    report: DetectReport,
    stage: Callable[[str], None] | None,
    write: bool,
    keep: bool,
) -> None:
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
        if write:
            columns.add(name, found)
        if keep or not write:
            report.findings.extend(found)
        del found
        log.info("%s: %d findings in %.1f s", name, run.findings, run.seconds)


class FindingColumns:
    """Findings as Arrow columns, gathered detector by detector: the rows of the
    ``findings``, ``finding_steps`` and ``finding_evidence`` tables (the evidence the
    detectors gave). A finding id seen before (the same finding twice, from one
    detector or two) keeps its first."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.findings: list[pa.Table] = []
        self.steps: list[pa.Table] = []
        self.evidence: list[pa.Table] = []

    def add(self, detector: str, found: Iterable[Finding]) -> None:
        kept = []
        for f in found:
            if f.id not in self.seen:
                self.seen.add(f.id)
                kept.append(f)
        # one comprehension per column: several times faster than appending row by
        # row when a detector returns hundreds of thousands of findings
        step_rows = [(f.id, i, s) for f in kept for i, s in enumerate(f.steps)]
        evidence_rows = [(fid, i, e) for fid, i, s in step_rows for e in s.evidence]
        places = [k for _, _, s in step_rows for k in range(len(s.evidence))]
        findings = {
            "finding_id": [f.id for f in kept],
            "typology": [f.typology for f in kept],
            "score": [f.score for f in kept],
            "title": [f.title for f in kept],
            "explanation": [f.explanation for f in kept],
            "entities": [list(f.entities) for f in kept],
            "metrics": [json.dumps(f.metrics, sort_keys=True) for f in kept],
            "detector": [detector] * len(kept),
        }
        self.findings.append(pa.Table.from_pydict(findings, schema=_FINDINGS_SCHEMA))
        self.steps.append(_attribute_table(step_rows, _STEPS_SCHEMA))
        evidence = _attribute_table(evidence_rows, _EVIDENCE_SCHEMA.remove(8))
        self.evidence.append(evidence.append_column("ord", pa.array(places, pa.int64())))


def _attribute_table(rows: list[tuple[str, int, Any]], schema: pa.Schema) -> pa.Table:
    """``(finding id, step, object)`` rows as a table of ``schema``: the finding id and
    step, then the object's attribute of each further column's name."""
    columns: dict[str, list[Any]] = {
        "finding_id": [fid for fid, _, _ in rows],
        "step": [i for _, i, _ in rows],
    }
    for name in schema.names[2:]:
        columns[name] = [getattr(obj, name) for _, _, obj in rows]
    return pa.Table.from_pydict(columns, schema=schema)


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(tables) if tables else schema.empty_table()


def write_findings(store: Store, columns: FindingColumns, names: list[str]) -> int:
    """Replace the findings of detectors ``names`` with ``columns``, in one transaction.

    Steps without evidence get their default evidence
    (:func:`~shadowtrace.detect.evidence.default_evidence`), gathered on a scratch
    connection before the transaction begins and streamed into it."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    # Read by their Python names (DuckDB's replacement scan): an Arrow table
    # registered inside the transaction would be kept until it ends.
    new_findings = _concat(columns.findings, _FINDINGS_SCHEMA)
    new_steps = _concat(columns.steps, _STEPS_SCHEMA)
    new_evidence = _concat(columns.evidence, _EVIDENCE_SCHEMA)
    columns.findings, columns.steps, columns.evidence = [], [], []
    with _defaults(store, new_steps, new_evidence) as defaults, store.transaction() as con:
        run_id = store.next_id("runs", "run_id")
        con.execute(
            "INSERT INTO runs (run_id, command, started_at, finished_at, status, args) "
            "VALUES (?, 'detect', ?, ?, 'ok', ?)",
            [run_id, now, now, json.dumps({"detectors": names})],
        )
        _delete_findings(con, names, new_findings)
        if new_findings.num_rows:
            con.execute(
                "INSERT INTO findings SELECT finding_id, typology, score, title, "
                "explanation, entities, CAST(metrics AS JSON), detector, ?, ? "
                "FROM new_findings",
                [run_id, now],
            )
        if new_steps.num_rows:
            con.execute("INSERT INTO finding_steps BY NAME SELECT * FROM new_steps")
        if new_evidence.num_rows:
            con.execute("INSERT INTO finding_evidence BY NAME SELECT * FROM new_evidence")
        with streamed(defaults) as rows:  # noqa: F841 - read by name
            con.execute("INSERT INTO finding_evidence BY NAME SELECT * FROM rows")
    del new_findings, new_steps, new_evidence  # read above by name
    return run_id


@contextmanager
def _defaults(store: Store, steps: pa.Table, given: pa.Table) -> Iterator[duckdb.DuckDBPyRelation]:
    """The default evidence of the steps in ``steps`` that have none in ``given``
    (:func:`~shadowtrace.detect.evidence.default_evidence`), gathered on a scratch
    connection; its rows are read while the block lasts."""
    with store.scratch() as scratch:
        # registered on the scratch connection, which commits on its own: nothing
        # is kept until the store's transaction ends
        scratch.register("_ev_steps", steps)
        scratch.register("_ev_given", given)
        with default_evidence(scratch, "_ev_steps", "_ev_given") as rows:
            yield rows


def _fill_evidence(store: Store, findings: list[Finding]) -> list[Finding]:
    """The findings with the default evidence on every step that had none: what
    writing them stores, for a run that does not write."""
    columns = FindingColumns()
    columns.add("", findings)
    steps = _concat(columns.steps, _STEPS_SCHEMA)
    given = _concat(columns.evidence, _EVIDENCE_SCHEMA)
    with _defaults(store, steps, given) as rows:
        ordered = rows.order(f"finding_id, step, {EVIDENCE_ORDER}").fetchall()
    found: dict[tuple[str, int], list[Evidence]] = {}
    for fid, i, sid, eid, prop, value, source, row, _ in ordered:
        found.setdefault((fid, int(i)), []).append(Evidence(sid, eid, prop, value, source, row))
    return [
        replace(
            f,
            steps=tuple(
                s if s.evidence else replace(s, evidence=tuple(found.get((f.id, i), ())))
                for i, s in enumerate(f.steps)
            ),
        )
        for f in findings
    ]


def _delete_findings(
    con: duckdb.DuckDBPyConnection, names: list[str], new_findings: pa.Table
) -> None:
    """Delete the findings of detectors ``names``, and those that are about to be
    written again (a finding id another detector wrote before is this run's now)."""
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
    if new_findings.num_rows:  # read by name below
        for table in ("finding_evidence", "finding_steps", "findings"):
            delete = (
                f"DELETE FROM {ident(table)} WHERE finding_id IN "
                "(SELECT finding_id FROM new_findings)"
            )
            con.execute(delete)


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
        ("ord", pa.int64()),
    ]
)
