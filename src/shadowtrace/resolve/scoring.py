"""Score the candidate pairs in bulk: SQL for every feature but the names, Python
(on both cores) for the names, once per distinct pair of name forms.

The features and weights are those of ``compare.compare`` (see there), computed
over the tables of ``entities.analyse`` for all candidate pairs at once: identifier
agreement and conflict, countries, dates, addresses and contacts are joins and list
operations in SQL. Only the name model needs Python; it runs once per distinct pair
of name forms (``fid``) that some candidate pair puts side by side, in worker
processes forked after the forms are built (so they are shared, not copied), and a
pair of identical forms reuses that form's comparison with itself. The result,
``_rs_scored``, holds each pair's score, veto and features as JSON, and equals
``compare(prepare(a), prepare(b))`` for every pair (tested).
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from shadowtrace.resolve import parallel
from shadowtrace.resolve.compare import VETO_CAP, WEIGHTS
from shadowtrace.resolve.names import (
    NameModel,
    NameProfile,
    TokenSims,
    align,
    explain_alignment,
    name_model,
)
from shadowtrace.resolve.normalize import NameForm, Token
from shadowtrace.store import Store

__all__ = ["EXPLAIN_FLOOR", "NameScores", "score_name_pairs", "score_pairs"]

EXPLAIN_FLOOR: Final = 0.02
"""Name pairs at least this probable keep their token alignment in the explanation."""
_CHUNK: Final = 50_000
_PARALLEL_MIN: Final = 40_000
"""Fewer distinct name pairs than this are scored in-process (forking costs more)."""

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


@dataclass
class NameScores:
    logits: FloatArray
    explains: list[str | None]
    worker_peak_rss: int = 0
    """Largest peak RSS of a worker process, in bytes (0 when scored in-process)."""
    timings: dict[str, float] = field(default_factory=dict)


class _Worker:
    """What one process keeps between spans: name profiles and token similarities."""

    def __init__(self, forms: Sequence[NameForm]) -> None:
        self.forms = forms
        self.profiles: dict[int, NameProfile] = {}
        self.token_ids: dict[Token, int] = {}
        self.sims = TokenSims()

    def profile(self, fid: int) -> NameProfile:
        found = self.profiles.get(fid)
        if found is None:
            form = self.forms[fid]
            ids = self.token_ids
            tids = tuple(ids.setdefault(t, len(ids)) for t in form.tokens)
            found = self.profiles[fid] = NameProfile(form, tids)
        return found


_WORKER: _Worker | None = None


def _score_span(span: tuple[int, int]) -> tuple[bytes, list[str | None], int]:
    global _WORKER
    forms, left, right, model, floor = parallel.state()
    if _WORKER is None or _WORKER.forms is not forms:
        _WORKER = _Worker(forms)
    worker = _WORKER
    profile = worker.profile
    sims = worker.sims
    start, end = span
    logits = np.empty(end - start, dtype=np.float64)
    explains: list[str | None] = []
    same: dict[int, tuple[float, str | None]] = {}
    for i in range(start, end):
        fl, fr = int(left[i]), int(right[i])
        cached = same.get(fl) if fl == fr else None
        if cached is None:
            lp, rp = profile(fl), profile(fr)
            found = align(lp, rp, sims)
            logit = model.logit_of(found[0])
            explain = explain_alignment(lp, rp, found) if logit >= floor else None
            if fl == fr:
                same[fl] = (logit, explain)
        else:
            logit, explain = cached
        logits[i - start] = logit
        explains.append(explain)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return logits.tobytes(), explains, peak


def score_name_pairs(
    forms: Sequence[NameForm],
    left: IntArray,
    right: IntArray,
    model: NameModel | None = None,
    workers: int | None = None,
) -> NameScores:
    """The name model's log-odds for each pair ``(forms[left[i]], forms[right[i]])``.

    ``workers`` processes (default: the usable cores, at most two) share the work when
    there is enough of it; the result does not depend on their number.
    """
    global _WORKER
    model = model or name_model()
    floor = math.log(EXPLAIN_FLOOR / (1.0 - EXPLAIN_FLOOR))
    count = len(left)
    if workers is None:
        workers = parallel.default_workers()
    if count < _PARALLEL_MIN:
        workers = 1
    spans = [(i, min(i + _CHUNK, count)) for i in range(0, count, _CHUNK)]
    try:
        parts = parallel.fork_map(_score_span, spans, (forms, left, right, model, floor), workers)
    finally:
        _WORKER = None
    peak = max((p[2] for p in parts), default=0) if workers > 1 else 0
    logits = np.frombuffer(b"".join(p[0] for p in parts), dtype=np.float64)
    explains = [e for p in parts for e in p[1]]
    return NameScores(logits=logits, explains=explains, worker_peak_rss=peak)


def _sigmoid_sql(x: str) -> str:
    """Python's ``_sigmoid`` in SQL (the same formula on each side of zero)."""
    return f"CASE WHEN {x} >= 0 THEN 1.0 / (1.0 + exp(-({x}))) ELSE exp({x}) / (1.0 + exp({x})) END"


def _feature(name: str, weight: str, detail: str) -> str:
    return f"{{'name': '{name}', 'weight': round({weight}, 4), 'detail': {detail}}}"


def score_pairs(
    store: Store,
    forms: Sequence[NameForm],
    model: NameModel | None = None,
    workers: int | None = None,
) -> NameScores:
    """Fill ``_rs_scored(l, r, score, vetoed, features)`` for the pairs of ``_rs_pairs``."""
    model = model or name_model()
    con = store.con
    mark = time.perf_counter()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_fpairs AS "
        "SELECT DISTINCT a.fid AS fl, b.fid AS fr FROM _rs_pairs p "
        "JOIN _rs_name a ON a.eno = p.l JOIN _rs_name b ON b.eno = p.r ORDER BY fl, fr"
    )
    fpairs = con.sql("SELECT fl, fr FROM _rs_fpairs").to_arrow_table()
    left = fpairs.column("fl").to_numpy().astype(np.int32)
    right = fpairs.column("fr").to_numpy().astype(np.int32)
    started = time.perf_counter()
    scores = score_name_pairs(forms, left, right, model, workers)
    scores.timings["name pairs"] = round(started - mark, 3)
    mark = time.perf_counter()
    scores.timings["names scored"] = round(mark - started, 3)
    con.register(
        "_rs_flogit_arrow",
        pa.table(
            {
                "fl": pa.array(left, pa.int32()),
                "fr": pa.array(right, pa.int32()),
                "logit": pa.array(scores.logits, pa.float64()),
                "explain": pa.array(scores.explains, pa.string()),
            }
        ),
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_pname AS "
        "SELECT p.l, p.r, max(x.logit) AS logit, "
        "  arg_max({'lv': a.value, 'rv': b.value, 'ex': x.explain}, x.logit) AS best "
        "FROM _rs_pairs p JOIN _rs_name a ON a.eno = p.l JOIN _rs_name b ON b.eno = p.r "
        "JOIN _rs_flogit_arrow x ON x.fl = a.fid AND x.fr = b.fid GROUP BY p.l, p.r"
    )
    con.unregister("_rs_flogit_arrow")
    con.execute("DROP TABLE _rs_fpairs")
    # Identifiers: agreement (any shared identifier, the strongest counts) and conflict
    # (a strong scheme both carry, on which none of their values agree).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_pshared AS "
        "SELECT p.l, p.r, a.scheme, a.value, a.strong OR a.personal AS strong FROM _rs_pairs p "
        "JOIN _rs_ident a ON a.eno = p.l JOIN _rs_ident b ON b.eno = p.r "
        "AND b.scheme = a.scheme AND b.value = a.value AND b.valid = a.valid"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_pid AS "
        "SELECT l, r, bool_or(strong) AS strong, "
        "  arg_max(scheme || ' ' || value || ' on both', strong::INTEGER) AS detail "
        "FROM _rs_pshared GROUP BY l, r"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_pconf AS "
        "WITH strong_ids AS ("
        "  SELECT eno, scheme, min(value) AS v FROM _rs_ident WHERE strong GROUP BY eno, scheme"
        ") "
        "SELECT p.l, p.r, arg_min(a.scheme || ' ' || a.v || ' vs ' || b.v || ': veto', a.scheme) "
        "  AS detail "
        "FROM _rs_pairs p JOIN strong_ids a ON a.eno = p.l "
        "JOIN strong_ids b ON b.eno = p.r AND b.scheme = a.scheme "
        "WHERE NOT EXISTS (SELECT 1 FROM _rs_pshared s "
        "  WHERE s.l = p.l AND s.r = p.r AND s.scheme = a.scheme) "
        "GROUP BY p.l, p.r"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_pmis AS "
        "WITH documents AS ("
        "  SELECT eno, scheme, min(value) AS v FROM _rs_ident WHERE personal GROUP BY eno, scheme"
        ") "
        "SELECT p.l, p.r, arg_min(a.scheme || ' ' || a.v || ' vs ' || b.v, a.scheme) AS detail "
        "FROM _rs_pairs p JOIN documents a ON a.eno = p.l "
        "JOIN documents b ON b.eno = p.r AND b.scheme = a.scheme "
        "WHERE NOT EXISTS (SELECT 1 FROM _rs_pshared s "
        "  WHERE s.l = p.l AND s.r = p.r AND s.scheme = a.scheme) "
        "GROUP BY p.l, p.r"
    )
    # Lists per entity for the set features.
    for table, source, column in (
        ("_rs_lc", "_rs_country", "code"),
        ("_rs_la", "_rs_addr", "address"),
        ("_rs_lk", "_rs_contact", "contact"),
    ):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT eno, "
            f"list_sort(list(DISTINCT {column})) AS vals FROM {source} GROUP BY eno"
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_ld AS SELECT eno, prop, "
        "list_sort(list(DISTINCT day)) AS days, list_distinct(list(left(day, 4))) AS years "
        "FROM _rs_date GROUP BY eno, prop"
    )
    date_order = "CASE a.prop " + " ".join(
        f"WHEN '{p}' THEN {i}"
        for i, p in enumerate(("birthDate", "incorporationDate", "buildDate"))
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_pdate AS "
        "SELECT l, r, sum(w) AS w, list(f ORDER BY ord) AS feats FROM ("
        "  SELECT p.l, p.r, " + date_order + " END AS ord, "
        "    CASE WHEN list_has_any(a.days, b.days) THEN ? ELSE ? END AS w, "
        + _feature(
            "date",
            "CASE WHEN list_has_any(a.days, b.days) THEN ? ELSE ? END",
            "CASE WHEN list_has_any(a.days, b.days) "
            "THEN a.prop || ' ' || list_sort(list_intersect(a.days, b.days))[1] "
            "ELSE a.prop || ' ' || a.days[1] || ' vs ' || b.days[1] END",
        )
        + " AS f "
        "  FROM _rs_pairs p JOIN _rs_ld a ON a.eno = p.l "
        "  JOIN _rs_ld b ON b.eno = p.r AND b.prop = a.prop "
        "  WHERE list_has_any(a.days, b.days) OR NOT list_has_any(a.years, b.years)"
        ") GROUP BY l, r",
        [WEIGHTS["date_match"], WEIGHTS["date_mismatch"]] * 2,
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_parts AS "
        "SELECT p.l, p.r, "
        "  list_contains(ml.ancestors, er.schema) OR list_contains(mr.ancestors, el.schema) "
        "    AS compatible, el.schema AS ls, er.schema AS rs, "
        "  n.logit, n.best, "
        "  CASE WHEN n.logit IS NOT NULL THEN greatest(n.logit, -30.0) END AS name_w, "
        "  i.strong AS id_strong, i.detail AS id_detail, c.detail AS conf_detail, "
        "  mi.detail AS mis_detail, "
        "  lc.vals AS lcs, rc.vals AS rcs, "
        "  list_sort(list_intersect(lc.vals, rc.vals)) AS common_c, "
        "  list_sort(list_intersect(la.vals, ra.vals)) AS common_a, "
        "  list_sort(list_intersect(lk.vals, rk.vals)) AS common_k, "
        "  d.w AS date_w, d.feats AS date_feats "
        "FROM _rs_pairs p "
        "JOIN _rs_ent el ON el.eno = p.l JOIN _rs_ent er ON er.eno = p.r "
        "JOIN ftm_schemata ml ON ml.name = el.schema JOIN ftm_schemata mr ON mr.name = er.schema "
        "LEFT JOIN _rs_pname n ON n.l = p.l AND n.r = p.r "
        "LEFT JOIN _rs_pid i ON i.l = p.l AND i.r = p.r "
        "LEFT JOIN _rs_pconf c ON c.l = p.l AND c.r = p.r "
        "LEFT JOIN _rs_pmis mi ON mi.l = p.l AND mi.r = p.r "
        "LEFT JOIN _rs_lc lc ON lc.eno = p.l LEFT JOIN _rs_lc rc ON rc.eno = p.r "
        "LEFT JOIN _rs_la la ON la.eno = p.l LEFT JOIN _rs_la ra ON ra.eno = p.r "
        "LEFT JOIN _rs_lk lk ON lk.eno = p.l LEFT JOIN _rs_lk rk ON rk.eno = p.r "
        "LEFT JOIN _rs_pdate d ON d.l = p.l AND d.r = p.r"
    )
    id_w = "CASE WHEN id_strong THEN ? WHEN id_strong IS NOT NULL THEN ? END"
    mis_w = "CASE WHEN mis_detail IS NOT NULL THEN ? END"
    country_w = (
        "CASE WHEN len(common_c) > 0 THEN ? WHEN lcs IS NOT NULL AND rcs IS NOT NULL THEN ? END"
    )
    addr_w = "CASE WHEN len(common_a) > 0 THEN ? END"
    contact_w = "CASE WHEN len(common_k) > 0 THEN ? END"
    weights = [
        WEIGHTS["identifier_strong"],
        WEIGHTS["identifier_weak"],
        WEIGHTS["identifier_mismatch"],
        WEIGHTS["country_match"],
        WEIGHTS["country_mismatch"],
        WEIGHTS["address_match"],
        WEIGHTS["contact_match"],
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_terms AS "
        f"SELECT *, {id_w} AS id_w, {mis_w} AS mis_w, {country_w} AS country_w, "
        f"{addr_w} AS addr_w, "
        f"{contact_w} AS contact_w FROM _rs_parts",
        weights,
    )
    total = (
        "coalesce(name_w, 0.0) + coalesce(id_w, 0.0) + coalesce(mis_w, 0.0) "
        "+ coalesce(country_w, 0.0) "
        "+ coalesce(date_w, 0.0) + coalesce(addr_w, 0.0) + coalesce(contact_w, 0.0)"
    )
    featured = (
        "(logit IS NOT NULL OR id_w IS NOT NULL OR conf_detail IS NOT NULL OR mis_w IS NOT NULL "
        "OR country_w IS NOT NULL OR date_w IS NOT NULL OR addr_w IS NOT NULL "
        "OR contact_w IS NOT NULL)"
    )
    name_detail = "'''' || best.lv || ''' ~ ''' || best.rv || '''' || coalesce(': ' || best.ex, '')"
    country_detail = (
        "CASE WHEN len(common_c) > 0 THEN array_to_string(common_c, ', ') "
        "ELSE array_to_string(lcs, ',') || ' vs ' || array_to_string(rcs, ',') END"
    )
    pieces = [
        ("logit IS NOT NULL", _feature("name", "name_w", name_detail)),
        ("id_w IS NOT NULL", _feature("identifier", "id_w", "id_detail")),
        ("conf_detail IS NOT NULL", _feature("identifier_conflict", "0.0", "conf_detail")),
        ("mis_w IS NOT NULL", _feature("identifier_mismatch", "mis_w", "mis_detail")),
        ("country_w IS NOT NULL", _feature("country", "country_w", country_detail)),
        (None, "date_feats"),
        ("addr_w IS NOT NULL", _feature("address", "addr_w", "common_a[1]")),
        ("contact_w IS NOT NULL", _feature("contact", "contact_w", "common_k[1]")),
    ]
    listed = " || ".join(
        "coalesce(date_feats, [])"
        if cond is None
        else f"(CASE WHEN {cond} THEN [{item}] ELSE [] END)"
        for cond, item in pieces
    )
    schema_feature = _feature(
        "schema", "'-Infinity'::DOUBLE", "ls || ' and ' || rs || ' cannot be one entity'"
    )
    features = f"CASE WHEN NOT compatible THEN [{schema_feature}] ELSE {listed} END"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_scored AS "
        "SELECT l, r, CASE "
        f"  WHEN NOT compatible OR NOT {featured} THEN 0.0 "
        f"  WHEN conf_detail IS NOT NULL THEN least({_sigmoid_sql(total)}, ?) "
        f"  ELSE {_sigmoid_sql(total)} END AS score, "
        "  compatible AND conf_detail IS NOT NULL AS vetoed, "
        f"  to_json({features}) AS features "
        "FROM _rs_terms",
        [VETO_CAP],
    )
    store.drop_tables(
        "_rs_pname",
        "_rs_pshared",
        "_rs_pid",
        "_rs_pconf",
        "_rs_pmis",
        "_rs_lc",
        "_rs_la",
        "_rs_lk",
        "_rs_ld",
        "_rs_pdate",
        "_rs_parts",
        "_rs_terms",
    )
    scores.timings["features"] = round(time.perf_counter() - mark, 3)
    return scores
