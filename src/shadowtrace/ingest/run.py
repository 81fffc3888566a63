"""One ingest run: read every source, map, clean, and merge into the store.

A run is one transaction: if anything fails (bad input under ``--strict``, a
crash, Ctrl-C, a killed process) the store is left exactly as it was. A run is
idempotent: statement ids derive from their content (FtM's ``make_key``), so the
same fact read twice is one row, and a file already read with the same dataset
and mapping is skipped unless ``force`` is given. Every run accounts for its
rows: ``rows_in = rows_stored + rows_rejected + rows_filtered`` for each source,
and every rejected row or value is kept with its file, row, field and reason.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from shadowtrace.errors import IngestError, MappingError
from shadowtrace.ingest.clean import warm_up
from shadowtrace.ingest.compile import REJECT_COLUMNS, raw_columns, run_query
from shadowtrace.ingest.mapping import QuerySpec
from shadowtrace.ingest.plan import Item, file_digest, plan_ingest
from shadowtrace.ingest.readers import FTM_ORIGIN, read_ftm_json, read_statements
from shadowtrace.ingest.sources import (
    LoadedTable,
    detect_encoding,
    load_csv,
    load_parquet,
    load_sql,
    load_xlsx,
    temp_dir,
)
from shadowtrace.store import Store, streamed
from shadowtrace.store.sql import ident

__all__ = ["IngestReport", "Reject", "SourceReport", "ingest"]

log = logging.getLogger(__name__)

Stage = Callable[[str], None]
CHUNK_ENV = "SHADOWTRACE_INGEST_CHUNK"
#: Records mapped and merged at a time: as many as make about ``CHUNK_SLOTS``
#: statements at most (one per mapping entity and property mapping of each query),
#: within these bounds. On the 1M-record donations bench (19 such slots a record) at
#: the default memory limit, chunks of 500,000 records took 27.0 s, of 250,000 29.4 s
#: and of 1,000,000 29.5 s (the grouping spills to disk).
CHUNK_SLOTS = 10_000_000
MIN_CHUNK, MAX_CHUNK = 50_000, 500_000
#: Raw statements gathered before they are merged into the store.
MERGE_ROWS = 2_000_000


@dataclass
class Reject:
    file: str
    row: int | None
    field: str | None
    reason: str
    kind: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.reason}"


@dataclass
class SourceReport:
    path: str
    format: str
    dataset: str
    source_id: int
    rows_in: int = 0
    rows_stored: int = 0
    rows_rejected: int = 0
    rows_filtered: int = 0
    values_rejected: int = 0
    skipped: str | None = None


@dataclass
class IngestReport:
    run_id: int
    sources: list[SourceReport] = field(default_factory=list)
    statements_new: int = 0
    statements_seen: int = 0
    entities_new: int = 0
    entities_touched: int = 0
    rejects: list[Reject] = field(default_factory=list)
    rejects_total: int = 0
    seconds: float = 0.0

    @property
    def rows_in(self) -> int:
        return sum(s.rows_in for s in self.sources)

    @property
    def rows_stored(self) -> int:
        return sum(s.rows_stored for s in self.sources)

    @property
    def rows_rejected(self) -> int:
        return sum(s.rows_rejected for s in self.sources)

    @property
    def rows_filtered(self) -> int:
        return sum(s.rows_filtered for s in self.sources)

    @property
    def values_rejected(self) -> int:
        return sum(s.values_rejected for s in self.sources)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rejects"] = [asdict(r) for r in self.rejects]
        for key in ("rows_in", "rows_stored", "rows_rejected", "rows_filtered", "values_rejected"):
            data[key] = getattr(self, key)
        return data


def _noop(_: str) -> None:
    return None


#: Rows of each CSV source read to guess whether its countries are all codes.
COUNTRY_SAMPLE_ROWS = 2000


def _country_sample(items: list[Item]) -> Callable[[], Iterator[str]] | None:
    """The country values of the first rows of each mapped CSV source, read lazily;
    None when a source is of another kind (its values are not sampled)."""
    sources: list[tuple[Path, str | None, str, set[str]]] = []
    for item in items:
        if item.mapping is None:
            continue
        queries = [
            q for q in item.mapping.queries if item.queries is None or q.index in item.queries
        ]
        columns = {
            ref
            for q in queries
            for entity in q.entities
            for prop in entity.properties
            if prop.prop_type == "country"
            for ref in prop.refs
        }
        if not columns:
            continue
        if item.kind != "csv" or item.path is None:
            return None
        spec = queries[0].source
        sources.append((item.path, spec.encoding, spec.delimiter or ",", columns))

    def sample() -> Iterator[str]:
        for path, declared, delimiter, columns in sources:
            encoding = detect_encoding(path, declared)
            with path.open(encoding=encoding, errors="replace", newline="") as fh:
                rows = csv.DictReader(fh, delimiter=delimiter)
                for row in itertools.islice(rows, COUNTRY_SAMPLE_ROWS):
                    for column in columns:
                        value = row.get(column)
                        if isinstance(value, str):
                            yield value

    return sample


def ingest(
    store: Store,
    inputs: list[str],
    dataset: str | None = None,
    mapping: str | None = None,
    strict: bool = False,
    force: bool = False,
    stage: Stage = _noop,
) -> IngestReport:
    """Ingest files, manifest folders or databases into ``store`` in one run.

    >>> from shadowtrace.store import Store
    >>> store = Store.open(":memory:")
    >>> report = ingest(store, ["tests/fixtures/ftm/donations.ijson"], dataset="donations")
    >>> report.rows_in == report.rows_stored + report.rows_rejected + report.rows_filtered
    True
    """
    items = plan_ingest(inputs, dataset=dataset, mapping=mapping)
    started = time.monotonic()
    warm_up(
        (
            prop.prop_type
            for item in items
            if item.mapping is not None
            for query in item.mapping.queries
            for entity in query.entities
            for prop in entity.properties
        ),
        _country_sample(items),
    )
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return _ingest(store, items, inputs, dataset, mapping, strict, force, stage, started, now)


def _ingest(
    store: Store,
    items: list[Item],
    inputs: list[str],
    dataset: str | None,
    mapping: str | None,
    strict: bool,
    force: bool,
    stage: Stage,
    started: float,
    now: datetime,
) -> IngestReport:
    con = store.con
    with store.transaction(), temp_dir() as tmp, store.scratch() as scratch:
        run_id = store.next_id("runs", "run_id")
        args = {"inputs": inputs, "dataset": dataset, "mapping": mapping, "force": force}
        con.execute(
            "INSERT INTO runs (run_id, command, dataset, started_at, status, args) "
            "VALUES (?, 'ingest', ?, ?, 'running', ?)",
            [run_id, dataset, now, json.dumps(args, ensure_ascii=False)],
        )
        report = IngestReport(run_id=run_id)
        prior = bool(con.execute("SELECT 1 FROM statements LIMIT 1").fetchall())
        run = _Run(run_id, now, prior, *raw_columns(scratch, *_known_values(items)))
        _raw_tables(scratch, run)
        sql = f"CREATE OR REPLACE TEMP TABLE _rej ({REJECT_COLUMNS})"
        scratch.execute(sql)
        scratch.execute("CREATE OR REPLACE TEMP TABLE _passed (src INTEGER, source_row BIGINT)")
        scratch.execute(
            "CREATE OR REPLACE TEMP TABLE _srcmap (src INTEGER, source_id INTEGER, mapped BOOLEAN, "
            "is_new BOOLEAN, display VARCHAR)"
        )
        next_source = store.next_id("sources", "source_id")
        for src, item in enumerate(items):
            stage(f"reading {item.display}")
            next_source = _read_item(
                store, scratch, report, item, src, run, next_source, force, strict, Path(tmp),
                stage,
            )  # fmt: skip
        stage("merging statements")
        _maybe_merge(store, scratch, report, run, final=True)
        if strict:
            # Merging can reject too (schema conflicts between sources).
            for src, item in enumerate(items):
                _raise_first_reject(scratch, src, item.display)
        stage("recording sources and rejects")
        _record(store, scratch, report, items, run_id)
        report.seconds = time.monotonic() - started
        con.execute(
            "UPDATE runs SET finished_at = ?, status = 'ok', rows_in = ?, rows_stored = ?, "
            "rows_rejected = ?, rows_filtered = ?, statements_new = ?, statements_seen = ?, "
            "entities_new = ? WHERE run_id = ?",
            [
                datetime.now(UTC).replace(tzinfo=None),
                report.rows_in,
                report.rows_stored,
                report.rows_rejected,
                report.rows_filtered,
                report.statements_new,
                report.statements_seen,
                report.entities_new,
                run_id,
            ],
        )
    return report


@dataclass(frozen=True)
class _Run:
    """What the steps of one ingest run share."""

    id: int
    #: When the run started: the first and last time seen of what it reads.
    now: datetime
    #: Whether the store held statements before the run.
    prior: bool
    #: The columns of the raw statement table and of the table of records seen.
    raw_columns: str
    seen_columns: str


def _known_values(items: list[Item]) -> tuple[list[str] | None, list[str] | None]:
    """The origins and datasets the run's raw statements can have, when the items
    say before they are read: not when a statements file brings its own."""
    if any(item.kind == "statements" for item in items):
        return None, None
    origins = {
        entity.name
        for item in items
        if item.mapping is not None
        for query in item.mapping.queries
        for entity in query.entities
    }
    if any(item.kind == "ftm" for item in items):
        origins.add(FTM_ORIGIN)
    return sorted(origins), sorted({item.dataset for item in items})


#: ``k``, the first sighting of a statement in a run, packs the source (its index in
#: the run), the record number and the mapping entity that made it (its index among
#: the chunk's origins) into one BIGINT: ``min(k)`` then finds all three at once,
#: which is much cheaper than ``arg_min`` over strings.
RECORD_SPAN = 100_000_000_000
ORIGIN_SPAN = 256


def _statements_sql(
    *,
    has_original: bool,
    has_seen: bool,
    dataset: str | None,
    has_lang: bool,
    has_external: bool,
    origins: list[str],
    direct: list[int],
    raw: str = "_raw",
    narrow: bool = False,
    schemas: str | None = None,
) -> tuple[str, list[Any]]:
    """The SELECT that makes one row per distinct fact of ``raw`` (``_raw``, or a
    subquery over it).

    Columns that are the same on every row of the chunk (one dataset, no language,
    nothing external: the common case) are constants rather than grouping keys,
    and ``schema`` (one per entity by now) and ``prop_type`` (given by the schema
    and the property) are keys rather than aggregates: narrower keys and fewer
    aggregate states roughly halve the cost.

    Rows of the mapped sources in ``direct`` whose entity was made from a single
    record of the chunk (``_many`` lists the others) are facts already: the mapping
    wrote each at most once per record and entity. Only the rest is grouped.

    ``narrow`` leaves out the columns that are constants (:func:`_constants`): the
    reader adds them, so that they do not cross to it row by row.

    ``schemas`` names a table of (entity_id, schema) for the entities given more than
    one schema: their rows take that schema. They must all be in ``_many`` (grouped).
    """
    params: list[Any] = []
    keys = ["entity_id", "prop", "value", "schema", "prop_type"]
    cols = list(keys)
    if dataset is None:
        keys.append("dataset")
        cols.append("dataset")
    elif not narrow:
        cols.append("?::VARCHAR AS dataset")
        params.append(dataset)
    for flag, name, constant in (
        (has_lang, "lang", "NULL::VARCHAR"),
        (has_external, "external", "FALSE"),
    ):
        if flag:
            keys.append(name)
            cols.append(name)
        elif not narrow:
            cols.append(f"{constant} AS {name}")
    plain = list(cols)
    plain_params = list(params)
    record = f"(CAST(src AS BIGINT) * {RECORD_SPAN} + source_row)"
    k_params: list[Any] = []
    if len(origins) < ORIGIN_SPAN:
        k = f"{record} * {ORIGIN_SPAN} + coalesce(list_position(?::VARCHAR[], origin), 0)"
        k_params.append(origins)
        cols.append(f"list_extract(?::VARCHAR[], min(k) % {ORIGIN_SPAN}) AS origin")
        params.append(origins)
    else:  # pragma: no cover - a mapping with hundreds of entities
        k = f"{record} * {ORIGIN_SPAN}"
        cols.append("arg_min(origin, k) AS origin")
    plain.append("origin")
    if has_original:
        cols.append("arg_min(original_value, k) AS original_value")
        plain.append("original_value")
    elif not narrow:
        cols.append("NULL::VARCHAR AS original_value")
        plain.append("original_value")
    if has_seen:
        cols += ["min(first_seen) AS first_seen", "max(last_seen) AS last_seen"]
        plain += ["first_seen", "last_seen"]
    elif not narrow:
        seen = ["NULL::TIMESTAMP AS first_seen", "NULL::TIMESTAMP AS last_seen"]
        cols += seen
        plain += seen
    cols.append("min(k) AS k")
    plain.append("k")
    grouped = raw
    if schemas is not None:
        grouped = (
            f"(SELECT r.* REPLACE (coalesce(e.schema, r.schema) AS schema) FROM {raw} r "
            f"LEFT JOIN {schemas} e ON e.entity_id = r.entity_id)"
        )
    if not direct:
        sql = (
            f"SELECT {', '.join(cols)} FROM (SELECT *, {k} AS k FROM {grouped}) "
            f"GROUP BY {', '.join(keys)}"
        )
        return sql, params + k_params
    srcs = ", ".join(str(int(x)) for x in direct)
    sql = (
        f"SELECT {', '.join(cols)} FROM (SELECT *, {k} AS k FROM {grouped} r "
        f"WHERE src NOT IN ({srcs}) "
        f"UNION ALL SELECT *, {k} AS k FROM {grouped} r SEMI JOIN _many m USING (entity_id) "
        f"WHERE src IN ({srcs})) GROUP BY {', '.join(keys)} "
        f"UNION ALL SELECT {', '.join(plain)} FROM (SELECT *, {k} AS k FROM {raw} r "
        f"ANTI JOIN _many m USING (entity_id) WHERE src IN ({srcs}))"
    )
    return sql, params + k_params + k_params + plain_params + k_params


def _constants(flags: dict[str, Any]) -> dict[str, str]:
    """The columns of :func:`_statements_sql` that are one constant for the whole
    chunk, as SQL for the reader (``$dataset`` is bound to the dataset)."""
    constants = {}
    if flags["dataset"] is not None:
        constants["dataset"] = "$dataset"
    if not flags["has_lang"]:
        constants["lang"] = "NULL::VARCHAR"
    if not flags["has_external"]:
        constants["external"] = "FALSE"
    if not flags["has_original"]:
        constants["original_value"] = "NULL::VARCHAR"
    if not flags["has_seen"]:
        constants["first_seen"] = constants["last_seen"] = "NULL::TIMESTAMP"
    return constants


def _raw_tables(con: duckdb.DuckDBPyConnection, run: _Run) -> None:
    """(Re)create the empty tables that gather the statements of a chunk."""
    for sql in (
        f"CREATE OR REPLACE TEMP TABLE _raw ({run.raw_columns})",
        f"CREATE OR REPLACE TEMP TABLE _seen ({run.seen_columns})",
    ):
        con.execute(sql)


def _raise_first_reject(scratch: duckdb.DuckDBPyConnection, src: int, display: str) -> None:
    rows = scratch.execute(
        "SELECT source_row, field, reason FROM _rej WHERE src = ? "
        "ORDER BY source_row NULLS FIRST LIMIT 1",
        [src],
    ).fetchall()
    if rows:
        row, fld, reason = rows[0]
        raise IngestError(
            str(reason), file=display, row=None if row is None else int(row), field=fld
        )


def _queries(item: Item) -> list[QuerySpec]:
    assert item.mapping is not None
    queries = list(item.mapping.queries)
    if item.queries is not None:
        queries = [q for q in queries if q.index in item.queries]
    if item.kind == "sql":
        return [q for q in queries if q.source.kind == "sql"]
    return [q for q in queries if q.source.kind != "sql"]


def _read_item(
    store: Store,
    scratch: duckdb.DuckDBPyConnection,
    report: IngestReport,
    item: Item,
    src: int,
    run: _Run,
    next_source: int,
    force: bool,
    strict: bool,
    tmp: Path,
    stage: Stage,
) -> int:
    """Read, map and merge one source; returns the next free source id."""
    con = store.con
    mapping_sha = item.mapping.sha256 if item.mapping else None
    if item.path is not None:
        item.sha256, item.size = file_digest(item.path)
    else:
        assert item.url is not None
        item.sha256 = hashlib.sha256(item.display.encode()).hexdigest()
    existing = con.execute(
        "SELECT source_id, run_id FROM sources WHERE sha256 = ? AND dataset = ? "
        "AND mapping_sha256 IS NOT DISTINCT FROM ? ORDER BY source_id LIMIT 1",
        [item.sha256, item.dataset, mapping_sha],
    ).fetchall()
    is_new = not existing
    source_id = int(existing[0][0]) if existing else next_source
    if is_new:
        next_source += 1
    sr = SourceReport(
        path=item.display, format=item.kind, dataset=item.dataset, source_id=source_id
    )
    report.sources.append(sr)
    if existing and not force and item.kind != "sql":
        sr.skipped = (
            f"already ingested in run {existing[0][1]} with the same content, dataset and "
            "mapping (use --force to read it again)"
        )
        return next_source
    scratch.execute(
        "INSERT INTO _srcmap VALUES (?, ?, ?, ?, ?)",
        [src, source_id, item.mapping is not None, is_new, item.display],
    )

    table = f"_src{src}"
    # Record numbers come from scan order: reading keeps the file's order.
    scratch.execute("SET preserve_insertion_order = true")
    try:
        with _appends_uncompressed(scratch):
            loaded = _load(scratch, item, src, table, tmp)
    finally:
        scratch.execute("SET preserve_insertion_order = false")
    sr.rows_in = loaded.rows_in
    if item.mapping is None:
        sr.rows_stored += _rows_made(scratch, src, (1, loaded.rows_in))
        if strict:
            _raise_first_reject(scratch, src, item.display)
        _maybe_merge(store, scratch, report, run)
    else:
        # Records are independent of each other: map and merge them in chunks, so
        # that memory stays bounded whatever the size of the file.
        chunk = chunk_rows(item)
        for lo in range(1, max(loaded.rows_in, 1) + 1, chunk):
            hi = lo + chunk - 1
            if loaded.rows_in > chunk:
                stage(f"{item.display}: rows {lo:,}–{min(hi, loaded.rows_in):,}")
            with _appends_uncompressed(scratch):
                _map(scratch, item, src, loaded, (lo, hi))
            sr.rows_stored += _rows_made(scratch, src, (lo, hi))
            if strict:
                _raise_first_reject(scratch, src, item.display)
            _maybe_merge(store, scratch, report, run)
    sql = f"DROP TABLE IF EXISTS {ident(table)}"
    scratch.execute(sql)
    if loaded.rejects:
        sql = f"DROP TABLE IF EXISTS {ident(loaded.rejects)}"
        scratch.execute(sql)
    # A rejected record made nothing (rejected values leave the rest of the record).
    sr.rows_rejected = int(
        scratch.execute(
            "SELECT count(DISTINCT source_row) FROM _rej WHERE src = ? AND kind = 'row'", [src]
        ).fetchall()[0][0]
    )
    sr.rows_filtered = sr.rows_in - sr.rows_stored - sr.rows_rejected
    if sr.rows_filtered < 0:  # pragma: no cover - an accounting bug, never bad input
        raise RuntimeError(f"row accounting does not add up for {item.display}: {sr}")
    return next_source


def _rows_made(scratch: duckdb.DuckDBPyConnection, src: int, rows: tuple[int, int]) -> int:
    """Records of ``src`` in ``rows`` (inclusive) that made at least one statement."""
    return int(
        scratch.execute(
            "SELECT count(DISTINCT source_row) FROM (SELECT src, source_row FROM _raw "
            "UNION ALL SELECT src, source_row FROM _seen) WHERE src = ? "
            "AND source_row BETWEEN ? AND ?",
            [src, rows[0], rows[1]],
        ).fetchall()[0][0]
    )


def _maybe_merge(
    store: Store,
    scratch: duckdb.DuckDBPyConnection,
    report: IngestReport,
    run: _Run,
    final: bool = False,
) -> None:
    """Merge the raw statements gathered so far once there are enough of them (or at
    the end of the run): small sources share one merge, big ones merge by chunk."""
    rows = int(scratch.execute("SELECT count(*) FROM _raw").fetchall()[0][0])
    if rows and (final or rows >= MERGE_ROWS):
        _merge_chunk(store, scratch, report, run)


@contextmanager
def _appends_uncompressed(scratch: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Within the block, rows appended to a table are stored uncompressed.

    Reading and mapping append rows to the run's temporary tables many times over;
    DuckDB compresses each full row group of an append (as it would for a table on
    disk), only for the next query to decompress it, a tenth of the mapping time.
    The setting is the database's, not the connection's: the block must not write
    to the store itself (reading and mapping only write temporary tables), and the
    setting is given back as it was, on error too."""
    (before,) = scratch.execute("SELECT current_setting('force_compression')").fetchall()[0]
    scratch.execute("SET force_compression = 'uncompressed'")
    try:
        yield
    finally:
        scratch.execute("SET force_compression = ?", [before])


def chunk_rows(item: Item) -> int:
    """Records of a mapped source mapped and merged at a time: see ``CHUNK_SLOTS``,
    or ``$SHADOWTRACE_INGEST_CHUNK``."""
    given = os.environ.get(CHUNK_ENV)
    if given:
        return max(1, int(given))
    slots = sum(len(e.properties) + 1 for q in _queries(item) for e in q.entities)
    return max(MIN_CHUNK, min(MAX_CHUNK, CHUNK_SLOTS // max(slots, 1)))


def _load(
    con: duckdb.DuckDBPyConnection, item: Item, src: int, table: str, tmp: Path
) -> LoadedTable:
    """Read the source into a temp table (FtM formats: straight into ``_raw``)."""
    if item.kind == "ftm":
        assert item.path is not None
        return read_ftm_json(con, item.path, src, item.display, item.dataset)
    if item.kind == "statements":
        assert item.path is not None
        loaded = load_csv(con, item.path, table, tmp, display=item.display)
        _copy_parse_rejects(con, loaded, src)
        read_statements(con, loaded, src, item.dataset)
        return loaded
    queries = _queries(item)
    if not queries:
        raise MappingError(f"{item.mapping_path}: no query applies to {item.display}")
    if item.kind == "sql":
        assert item.url is not None
        refs: set[str] = set()
        for q in queries:
            refs |= q.refs
        loaded = load_sql(con, queries[0].source, refs, table, item.url)
    elif item.kind == "csv":
        assert item.path is not None
        loaded = load_csv(con, item.path, table, tmp, queries[0].source, display=item.display)
    elif item.kind == "parquet":
        assert item.path is not None
        loaded = load_parquet(con, item.path, table, display=item.display)
    elif item.kind == "xlsx":
        assert item.path is not None
        loaded = load_xlsx(con, item.path, table, queries[0].source.sheet, item.display)
    else:  # pragma: no cover - plan_ingest only makes the kinds above
        raise MappingError(f"cannot map a {item.kind} source")
    _copy_parse_rejects(con, loaded, src)
    return loaded


def _map(
    con: duckdb.DuckDBPyConnection, item: Item, src: int, loaded: LoadedTable, rows: tuple[int, int]
) -> None:
    """Run the mapping's queries over records ``rows`` (inclusive) of a loaded table."""
    for q in _queries(item):
        run_query(
            con, q, loaded.table, loaded.columns, src, item.dataset, f"_q{src}_{q.index}",
            item.display, rows,
        )  # fmt: skip
    # Records that passed a query's filters but made no entity.
    con.execute(
        "INSERT INTO _rej SELECT p.src, p.source_row, NULL, "
        "'no entity could be made from this record (key values empty or a required "
        "value missing)', NULL, 'row' FROM (SELECT DISTINCT src, source_row FROM _passed "
        "WHERE src = ?) p ANTI JOIN (SELECT source_row FROM _raw WHERE src = ? UNION "
        "SELECT source_row FROM _seen WHERE src = ?) r ON r.source_row = p.source_row",
        [src, src, src],
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _passed (src INTEGER, source_row BIGINT)")


def _copy_parse_rejects(con: duckdb.DuckDBPyConnection, loaded: LoadedTable, src: int) -> None:
    if loaded.rejects:
        con.execute(
            f"INSERT INTO _rej SELECT ?, source_row, field, reason, raw, 'row' "
            f"FROM {ident(loaded.rejects)}",
            [src],
        )


def _merge_chunk(
    store: Store,
    scratch: duckdb.DuckDBPyConnection,
    report: IngestReport,
    run: _Run,
) -> None:
    """Merge the raw statements of one chunk (``_raw``) into ``statements``, then
    empty ``_raw``. Only entities the store already has are looked up in it.

    The grouping runs on the scratch connection; what the store's transaction needs
    from it (the chunk's entity ids, its statements, where each entity was read)
    crosses as Arrow tables, and the store's entities seen before cross back. The
    queries name those tables by their Python variable (DuckDB's replacement scan):
    an Arrow table registered on the store's connection would stay in memory until
    the run's transaction ends, unregistered or not."""
    con, w = store.con, scratch
    run_id, now = run.id, run.now
    # Sources read through a mapping: every entity they made has its ``id`` row.
    direct = [int(x) for (x,) in w.execute("SELECT src FROM _srcmap WHERE mapped").fetchall()]
    mapped = ", ".join(map(str, direct))
    cent = (
        f"SELECT entity_id, schema FROM _raw WHERE prop = 'id' AND src IN ({mapped}) "
        f"UNION SELECT entity_id, schema FROM _raw WHERE src NOT IN ({mapped})"
        if direct
        else "SELECT DISTINCT entity_id, schema FROM _raw"
    )
    w.execute("CREATE OR REPLACE TEMP TABLE _cent AS " + cent)
    chunk_ids = w.sql("SELECT DISTINCT entity_id FROM _cent").to_arrow_table()
    con.complete()
    old = con.sql(
        "SELECT DISTINCT st.entity_id, st.schema "
        "FROM statements st SEMI JOIN chunk_ids c ON c.entity_id = st.entity_id"
    ).to_arrow_table()
    del chunk_ids
    w.execute("CREATE OR REPLACE TEMP TABLE _old AS FROM old")
    chunk_entities, pairs = w.execute(
        "SELECT count(DISTINCT entity_id), count(*) FROM _cent"
    ).fetchall()[0]
    # The schema of each entity given more than one (here, or here and before): the
    # most specific one. Nearly every entity has one schema and is left alone.
    multi = (
        "SELECT o.entity_id FROM _old o JOIN _cent c USING (entity_id) WHERE o.schema <> c.schema"
    )
    if pairs > chunk_entities:
        multi += " UNION SELECT entity_id FROM _cent GROUP BY entity_id HAVING count(*) > 1"
    sql = "CREATE OR REPLACE TEMP TABLE _multi AS " + multi
    w.execute(sql)
    w.execute(
        "CREATE OR REPLACE TEMP TABLE _ent AS SELECT s.entity_id, arg_max(s.schema, m.depth) AS "
        "schema, list(DISTINCT s.schema) AS schemata FROM (SELECT * FROM _cent SEMI JOIN _multi "
        "USING (entity_id) UNION ALL SELECT * FROM _old SEMI JOIN _multi USING (entity_id)) s "
        "JOIN ftm_schemata m ON m.name = s.schema GROUP BY s.entity_id"
    )
    conflicts = w.execute(
        "SELECT count(*) FROM (SELECT e.entity_id, e.schema, unnest(e.schemata) AS other "
        "FROM _ent e) c JOIN ftm_schemata m ON m.name = c.schema "
        "WHERE NOT list_contains(m.ancestors, c.other)"
    ).fetchall()[0][0]
    if conflicts:
        # An id given two unrelated schemata (a Person here, a Company there): keep the
        # most specific lineage and reject the statements that contradict it.
        w.execute(
            "INSERT INTO _rej SELECT DISTINCT r.src, r.source_row, 'schema', 'entity ' || "
            "r.entity_id || ' is a ' || e.schema || ' elsewhere and cannot also be a ' || "
            "r.schema, NULL, 'value' FROM (SELECT src, source_row, entity_id, schema FROM _raw "
            "UNION ALL SELECT src, source_row, entity_id, schema FROM _seen) r "
            "JOIN _ent e USING (entity_id) JOIN ftm_schemata m ON m.name = e.schema "
            "WHERE NOT list_contains(m.ancestors, r.schema)"
        )
        for table in ("_raw", "_seen"):
            w.execute(
                f"DELETE FROM {table} r USING _ent e, ftm_schemata m "
                "WHERE r.entity_id = e.entity_id AND m.name = e.schema "
                "AND NOT list_contains(m.ancestors, r.schema)"
            )
    old_entities = old.num_rows and len(old.column("entity_id").unique())
    report.entities_touched += int(chunk_entities)
    report.entities_new += int(chunk_entities) - old_entities
    # The rows of entities given more than one schema take the most specific one as
    # they are grouped (an update of the rows would leave DuckDB cleanup work that
    # stalls the statements after it).
    multiple = bool(w.execute("SELECT 1 FROM _ent LIMIT 1").fetchall())
    # Entities of mapped sources made from more than one record of the chunk (or by
    # more than one mapping entity, or given several schemata): their facts may
    # repeat and are grouped.
    if direct:
        w.execute(
            "CREATE OR REPLACE TEMP TABLE _many AS SELECT entity_id FROM _raw WHERE prop = 'id' "
            "GROUP BY entity_id HAVING count(*) > 1 UNION SELECT entity_id FROM _raw "
            f"WHERE src NOT IN ({mapped})"
            + (" UNION SELECT entity_id FROM _ent" if multiple else "")
        )
    # One row per distinct fact (the content FtM's statement id hashes); provenance
    # from its first sighting in this run (k orders by source, then record).
    has_original, has_seen, datasets, dataset, has_lang, has_external, origins = w.execute(
        "SELECT bool_or(original_value IS NOT NULL), bool_or(first_seen IS NOT NULL "
        "OR last_seen IS NOT NULL), count(DISTINCT dataset), any_value(dataset), "
        "bool_or(lang IS NOT NULL), bool_or(external), "
        "list(DISTINCT origin ORDER BY origin) FILTER (origin IS NOT NULL) FROM _raw"
    ).fetchall()[0]
    flags: dict[str, Any] = {
        "has_original": bool(has_original),
        "has_seen": bool(has_seen),
        "dataset": None if datasets > 1 else dataset,
        "has_lang": bool(has_lang),
        "has_external": bool(has_external),
        "origins": list(origins or []),
        "direct": direct,
        "schemas": "_ent" if multiple else None,
    }
    key = (
        "s.entity_id = t.entity_id AND s.prop = t.prop AND s.value = t.value "
        "AND s.dataset = t.dataset AND s.lang IS NOT DISTINCT FROM t.lang "
        "AND s.external = t.external"
    )
    # src -> source_id as a CASE over the run's few sources, not a join.
    srcmap = w.execute("SELECT src, source_id FROM _srcmap").fetchall()
    source_id = (
        f"CASE t.k // {RECORD_SPAN * ORIGIN_SPAN} "
        + " ".join(f"WHEN {int(a)} THEN {int(b)}" for a, b in srcmap)
        + " END"
    )
    resolved = bool(con.execute("SELECT 1 FROM resolution LIMIT 1").fetchall())
    canonical = "coalesce(res.canonical_id, t.entity_id)" if resolved else "t.entity_id"
    resolution = "LEFT JOIN resolution res ON res.entity_id = t.entity_id " if resolved else ""
    constants = _constants(flags)

    def insert(rows: str, narrow: bool) -> str:
        def col(name: str) -> str:
            return constants[name] if narrow and name in constants else f"t.{name}"

        return (
            "INSERT INTO statements (entity_id, canonical_id, schema, prop, prop_type, value, "
            "original_value, dataset, lang, origin, external, first_seen, last_seen, "
            f"source_id, source_row, run_id) SELECT t.entity_id, {canonical}, t.schema, "
            f"t.prop, t.prop_type, t.value, {col('original_value')}, {col('dataset')}, "
            f"{col('lang')}, t.origin, {col('external')}, coalesce({col('first_seen')}, $now), "
            f"coalesce({col('last_seen')}, {col('first_seen')}, $now), {source_id}, "
            f"t.k // {ORIGIN_SPAN} % {RECORD_SPAN}, $run FROM {rows} t {resolution}"
        )

    binds: dict[str, Any] = {"now": now, "run": run_id}
    if "dataset" in constants:
        binds["dataset"] = flags["dataset"]
    schemas = w.sql("SELECT entity_id, schema FROM _ent").to_arrow_table()
    if old_entities:
        # The facts of entities the store has already: few, and each may be a repeat,
        # so they are read twice (to insert the new ones, to update the seen ones).
        sql, params = _statements_sql(
            **flags, raw="(SELECT * FROM _raw SEMI JOIN _old USING (entity_id))"
        )
        repeats = w.sql(sql, params=params).to_arrow_table()
        known = "(SELECT * FROM statements WHERE entity_id IN (SELECT entity_id FROM old))"
        inserted = con.execute(
            insert("repeats", narrow=False) + f"ANTI JOIN {known} s ON {key}",
            {"now": now, "run": run_id},
        ).fetchall()
        new = int(inserted[0][0])
        report.statements_new += new
        report.statements_seen += repeats.num_rows - new
        if run.prior and repeats.num_rows - new:
            # Facts seen in an earlier run are seen again now (no statement predates
            # the run in a store that had none).
            con.execute(
                "UPDATE statements s SET last_seen = greatest(s.last_seen, "
                f"coalesce(t.last_seen, ?)) FROM repeats t WHERE {key} AND s.run_id <> ? "
                "AND s.entity_id IN (SELECT entity_id FROM old)",
                [now, run_id],
            )
        del repeats
    # The facts of the chunk's other entities are all new: streamed, read once.
    raw = "(SELECT * FROM _raw ANTI JOIN _old USING (entity_id))" if old_entities else "_raw"
    sql, params = _statements_sql(**flags, raw=raw, narrow=True)
    with streamed(w.sql(sql, params=params)) as fresh:  # noqa: F841 - read by name
        inserted = con.execute(insert("fresh", narrow=True), binds).fetchall()
    report.statements_new += int(inserted[0][0])
    upgraded = con.execute(
        "SELECT count(*) FROM old o JOIN schemas e USING (entity_id) WHERE o.schema <> e.schema"
    ).fetchall()[0][0]
    if upgraded:
        # Entities seen before and now given a more specific schema.
        con.execute(
            "UPDATE statements SET schema = e.schema FROM schemas e "
            "WHERE statements.entity_id = e.entity_id AND statements.schema <> e.schema "
            "AND e.entity_id IN (SELECT o.entity_id FROM old o JOIN schemas x "
            "USING (entity_id) WHERE o.schema <> x.schema)"
        )
    del old, schemas  # read above by name
    # Every record each entity was read from. Sources read before (--force) may
    # have these rows already.
    reread = w.execute("SELECT count(*) FROM _srcmap WHERE NOT is_new").fetchall()[0][0]
    anti_es = (
        "ANTI JOIN entity_sources es ON es.entity_id = r.entity_id AND es.source_id = r.source_id "
        "AND es.source_row = r.source_row AND es.origin = r.origin "
        if reread
        else ""
    )
    read_from = w.sql(
        "SELECT DISTINCT r.entity_id, m.source_id, r.source_row, r.origin "
        "FROM (SELECT src, source_row, origin, entity_id FROM _raw WHERE prop = 'id' "
        "UNION ALL SELECT src, source_row, origin, entity_id FROM _seen) r "
        "JOIN _srcmap m ON m.src = r.src"
    )
    with streamed(read_from) as rows:  # noqa: F841 - read by name
        con.execute(
            "INSERT INTO entity_sources SELECT r.entity_id, r.source_id, r.source_row, "
            f"r.origin, ? FROM rows r {anti_es}",
            [run_id],
        )
    for name in ("_cent", "_old", "_multi", "_ent", "_many"):
        sql = f"DROP TABLE IF EXISTS {name}"
        w.execute(sql)
    # Recreated rather than emptied: DuckDB keeps deleted rows of a temp table in
    # memory (or spilled to disk) until the table is dropped.
    _raw_tables(w, run)


def _record(
    store: Store,
    scratch: duckdb.DuckDBPyConnection,
    report: IngestReport,
    items: list[Item],
    run_id: int,
) -> None:
    con, w = store.con, scratch
    for src, (item, sr) in enumerate(zip(items, report.sources, strict=True)):
        if sr.skipped is not None:
            continue
        # The merge may have rejected values too (schema conflicts): count again.
        sr.values_rejected = int(
            w.execute(
                "SELECT count(*) FROM _rej WHERE src = ? AND kind = 'value'", [src]
            ).fetchall()[0][0]
        )
        is_new = w.execute("SELECT is_new FROM _srcmap WHERE src = ?", [src]).fetchall()[0][0]
        if is_new:
            con.execute(
                "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sr.source_id,
                    str(item.path.resolve()) if item.path else item.display,
                    item.display,
                    item.sha256,
                    item.size,
                    item.kind,
                    item.dataset,
                    item.mapping_path,
                    item.mapping.sha256 if item.mapping else None,
                    run_id,
                    sr.rows_in,
                    sr.rows_stored,
                    sr.rows_rejected,
                    sr.rows_filtered,
                    0,
                ],
            )
        new = con.execute(
            "SELECT count(*) FROM statements WHERE run_id = ? AND source_id = ?",
            [run_id, sr.source_id],
        ).fetchall()[0][0]
        if is_new:
            con.execute(
                "UPDATE sources SET statements_new = ? WHERE source_id = ?", [new, sr.source_id]
            )
    run_rejects = w.sql(
        "SELECT m.source_id, m.display, r.source_row, r.field, r.reason, r.raw, r.kind "
        "FROM _rej r JOIN _srcmap m ON m.src = r.src"
    )
    with streamed(run_rejects) as rejected:  # noqa: F841 - read by name
        con.execute("INSERT INTO rejects SELECT ?, * FROM rejected", [run_id])
    report.rejects_total = int(w.execute("SELECT count(*) FROM _rej").fetchall()[0][0])
    rows = w.execute(
        "SELECT m.display, r.source_row, r.field, r.reason, r.kind FROM _rej r "
        "JOIN _srcmap m ON m.src = r.src ORDER BY r.src, r.source_row NULLS FIRST LIMIT 20"
    ).fetchall()
    report.rejects = [
        Reject(str(d), None if row is None else int(row), f, str(reason), str(kind))
        for d, row, f, reason, kind in rows
    ]
