"""``resolve``: block, score, cluster, and write canonical ids on statements.

Only ``canonical_id`` on statements and the ``resolution`` table
(``entity_id → canonical_id``) change; statements are never merged or deleted, so
every merge can be undone (``split``), and judgements (``merge``, ``split``,
``review``) win over the scorer on every later run.

>>> from shadowtrace.store import Store
>>> from shadowtrace.ingest.run import ingest
>>> store = Store.open(":memory:")
>>> _ = ingest(store, ["tests/fixtures/ftm/donations.csv"], dataset="donations",
...            mapping="tests/fixtures/ftm/donations.yml")
>>> report = resolve(store)
>>> report.records > report.entities
True
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import pyarrow as pa

from shadowtrace.errors import ConfigError, NotFound
from shadowtrace.resolve.blocking import BlockingConfig, build_candidates, empty_table
from shadowtrace.resolve.cluster import cluster
from shadowtrace.resolve.compare import Comparison, Record, compare, prepare
from shadowtrace.resolve.entities import analyse, drop_tables
from shadowtrace.resolve.judgements import add_judgement, current_judgements
from shadowtrace.resolve.scoring import score_pairs
from shadowtrace.store import Store
from shadowtrace.store.sql import ident

__all__ = [
    "DEFAULT_THRESHOLD",
    "ResolveReport",
    "apply_resolution",
    "canonical_for",
    "explain_pair",
    "load_records",
    "merge",
    "resolve",
    "split",
]

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD: Final = 0.7
"""Pairs at or above this score are merged (subject to the clustering rules)."""

CANONICAL_PREFIX: Final = "ST-"
EXCLUSIVE_PREFIX: Final = "s:"
"""``resolve_keys`` rows ``s:<scheme>:<value>`` hold each entity's identifiers of
exclusive schemes, for the clustering's rule that one entity has one INN."""


@dataclass
class ResolveReport:
    """What a resolve run did."""

    records: int = 0
    """Entity ids considered (parties, accounts, wallets, vehicles: see ``entities``)."""
    entities: int = 0
    """Entities they became."""
    candidates: int = 0
    name_pairs: int = 0
    """Distinct pairs of name forms the name model scored."""
    scored: int = 0
    above_threshold: int = 0
    vetoed: int = 0
    merged_clusters: int = 0
    judgements: int = 0
    seconds: float = 0.0
    worker_peak_rss: int = 0
    """Largest peak RSS of a name-scoring worker process, in bytes (0: none forked)."""
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def canonical_for(members: Iterable[str]) -> str:
    """The canonical id of a cluster: derived from its smallest member.

    >>> canonical_for(["b", "a"]) == canonical_for(["a", "c"])
    True
    """
    head = min(members)
    return CANONICAL_PREFIX + hashlib.sha1(head.encode(), usedforsecurity=False).hexdigest()[:24]


def load_records(store: Store, ids_table: str) -> dict[str, Record]:
    """Prepare a ``Record`` for every entity id listed in temp table ``ids_table``.

    One entity at a time (``compare.prepare``): for screening and explanations, not
    for ``resolve``, which analyses all entities in bulk (``entities.analyse``).
    """
    cursor = store.con.execute(
        "SELECT s.entity_id, arg_max(s.schema, m.depth) OVER (PARTITION BY s.entity_id), "
        "s.prop, s.value FROM statements s JOIN ftm_schemata m ON m.name = s.schema "
        f"SEMI JOIN {ident(ids_table)} i ON i.entity_id = s.entity_id "
        "WHERE s.prop_type NOT IN ('entity', 'text', 'html', 'json', 'url', 'mimetype', "
        "'checksum', 'language', 'topic', 'ip', 'number', 'gender')"
    )
    entities: dict[str, tuple[str, dict[str, list[str]]]] = {}
    while True:
        batch = cursor.fetchmany(50_000)
        if not batch:
            break
        for entity_id, schema, prop, value in batch:
            entry = entities.setdefault(entity_id, (schema, {}))
            entry[1].setdefault(prop, []).append(value)
    return {
        eid: prepare({"id": eid, "schema": schema, "properties": props})
        for eid, (schema, props) in entities.items()
    }


def explain_pair(store: Store, left_id: str, right_id: str) -> Comparison:
    """Score one pair of stored entities afresh, with the full explanation."""
    store.con.execute(
        "CREATE OR REPLACE TEMP TABLE _rs_explain AS SELECT unnest([?, ?]) AS entity_id",
        [left_id, right_id],
    )
    records = load_records(store, "_rs_explain")
    store.con.execute("DROP TABLE _rs_explain")
    for eid in (left_id, right_id):
        if eid not in records:
            raise NotFound(f"No entity {eid!r} in the store")
    return compare(records[left_id], records[right_id])


def _components(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Connected components: entity id -> a representative of its component."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def apply_resolution(store: Store, threshold: float = DEFAULT_THRESHOLD) -> tuple[int, int]:
    """Cluster the stored candidates under the judgements; rewrite canonical ids.

    Clusters only ever merge along a pair at or above the threshold (or a positive
    judgement), and average linkage only weighs pairs between the two clusters, so
    only the pairs inside a connected component of those links can matter: only they
    are read and clustered (the result is that of clustering all pairs). Clusters
    never join different values of an exclusive identifier scheme (``cluster``).

    Returns ``(clusters of two or more, entity ids in them)``.
    """
    con = store.con
    positive = [(j.left_id, j.right_id) for j in current_judgements(store, "positive")]
    negative = [(j.left_id, j.right_id) for j in current_judgements(store, "negative")]
    strong = con.execute(
        "SELECT left_id, right_id FROM resolve_candidates WHERE score >= ? AND NOT vetoed",
        [threshold],
    ).fetchall()
    component = _components([*strong, *positive])
    con.register(
        "_rs_comp_arrow",
        pa.table(
            {
                "entity_id": pa.array(list(component), pa.string()),
                "comp": pa.array(list(component.values()), pa.string()),
            }
        ),
    )
    try:
        pairs = [
            (str(a), str(b), float(s), bool(v))
            for a, b, s, v in con.execute(
                "SELECT c.left_id, c.right_id, c.score, c.vetoed FROM resolve_candidates c "
                "JOIN _rs_comp_arrow x ON x.entity_id = c.left_id "
                "JOIN _rs_comp_arrow y ON y.entity_id = c.right_id AND y.comp = x.comp"
            ).fetchall()
        ]
        exclusive: dict[str, list[tuple[str, str]]] = {}
        for entity_id, key in con.execute(
            "SELECT k.entity_id, k.key FROM resolve_keys k "
            "SEMI JOIN _rs_comp_arrow x ON x.entity_id = k.entity_id "
            "WHERE starts_with(k.key, ?)",
            [EXCLUSIVE_PREFIX],
        ).fetchall():
            scheme, _, value = str(key)[len(EXCLUSIVE_PREFIX) :].partition(":")
            exclusive.setdefault(str(entity_id), []).append((scheme, value))
    finally:
        con.unregister("_rs_comp_arrow")
    heads = cluster(pairs, threshold, positive=positive, negative=negative, exclusive=exclusive)
    groups: dict[str, list[str]] = {}
    for member, head in heads.items():
        groups.setdefault(head, []).append(member)
    canon = {head: canonical_for(members) for head, members in groups.items()}
    mapping = pa.table(
        {
            "entity_id": pa.array(list(heads), pa.string()),
            "canonical_id": pa.array([canon[h] for h in heads.values()], pa.string()),
        }
    )
    with store.transaction():
        con.register("_rs_map_arrow", mapping)
        con.execute("DELETE FROM resolution")
        con.execute(
            "INSERT INTO resolution (entity_id, canonical_id) "
            "SELECT entity_id, canonical_id FROM _rs_map_arrow"
        )
        con.unregister("_rs_map_arrow")
        con.execute(
            "UPDATE statements SET canonical_id = r.canonical_id FROM resolution r "
            "WHERE statements.entity_id = r.entity_id "
            "AND statements.canonical_id <> r.canonical_id"
        )
        con.execute(
            "UPDATE statements SET canonical_id = entity_id "
            "WHERE canonical_id <> entity_id "
            "AND entity_id NOT IN (SELECT entity_id FROM resolution)"
        )
    return len(groups), len(heads)


_TEMP_TABLES: Final = ("_rs_pairs", "_rs_scored")


def resolve(
    store: Store,
    threshold: float = DEFAULT_THRESHOLD,
    blocking: BlockingConfig | None = None,
    stage: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> ResolveReport:
    """Resolve the entities of ``store``: see the module docstring.

    ``workers``: processes that analyse and score names (default: the usable cores, at
    most two); the result does not depend on their number.
    """
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"threshold must be in (0, 1], not {threshold}")
    report = ResolveReport()
    started = time.perf_counter()
    mark = started

    def step(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        report.timings[name] = round(now - mark, 3)
        mark = now
        if stage is not None:
            stage(name)

    try:
        analysed = analyse(store, workers=workers)
        report.timings.update(analysed.timings)
        mark = time.perf_counter()
        report.records = analysed.entities
        report.candidates = build_candidates(store, analysed.forms, blocking)
        store.con.execute(
            "INSERT INTO resolve_keys SELECT DISTINCT e.entity_id, ? || i.scheme || ':' || i.value "
            "FROM _rs_ident i JOIN _rs_ent e ON e.eno = i.eno WHERE i.strong",
            [EXCLUSIVE_PREFIX],
        )
        step("blocking")
        scores = score_pairs(store, analysed.forms, workers=workers)
        report.name_pairs = len(scores.logits)
        report.timings.update(scores.timings)
        report.worker_peak_rss = scores.worker_peak_rss
        del analysed
        con = store.con
        scored, vetoed, above = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE vetoed), "
            "count(*) FILTER (WHERE score >= ?) FROM _rs_scored",
            [threshold],
        ).fetchall()[0]
        report.scored, report.vetoed, report.above_threshold = int(scored), int(vetoed), int(above)
        step("scoring")
        with store.transaction():
            empty_table(store, "resolve_candidates")
            con.execute(
                "INSERT INTO resolve_candidates (left_id, right_id, score, vetoed, features) "
                "SELECT a.entity_id, b.entity_id, s.score, s.vetoed, s.features FROM _rs_scored s "
                "JOIN _rs_ent a ON a.eno = s.l JOIN _rs_ent b ON b.eno = s.r"
            )
        report.merged_clusters, _ = apply_resolution(store, threshold)
        report.judgements = len(current_judgements(store))
        report.entities = int(
            con.execute(
                "SELECT count(DISTINCT coalesce(r.canonical_id, e.entity_id)) FROM _rs_ent e "
                "LEFT JOIN resolution r ON r.entity_id = e.entity_id"
            ).fetchall()[0][0]
        )
        step("clustering")
    finally:
        drop_tables(store)
        drop_tables(store, _TEMP_TABLES)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _members(store: Store, entity_id: str) -> list[str]:
    """The entity ids of the cluster that ``entity_id`` (an entity or canonical id) is in."""
    rows = store.con.execute(
        "SELECT entity_id FROM resolution WHERE canonical_id = ? OR canonical_id = "
        "(SELECT canonical_id FROM resolution WHERE entity_id = ?) ORDER BY entity_id",
        [entity_id, entity_id],
    ).fetchall()
    return [str(r[0]) for r in rows]


def _exists(store: Store, entity_id: str) -> bool:
    row = store.con.execute(
        "SELECT 1 FROM statements WHERE entity_id = ? OR canonical_id = ? LIMIT 1",
        [entity_id, entity_id],
    ).fetchone()
    return row is not None


def merge(
    store: Store,
    ids: list[str],
    user: str,
    reason: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> str:
    """Judge the given entities (or canonical ids) to be one; returns the canonical id."""
    if len(set(ids)) < 2:
        raise ConfigError("merge needs at least two different ids")
    # Every member of every cluster named is judged one with the first: the merge
    # then holds even against identifier vetoes between members.
    everyone: list[str] = []
    for eid in ids:
        if not _exists(store, eid):
            raise NotFound(f"No entity {eid!r} in the store")
        members = _members(store, eid)
        if eid not in members and not members:
            members = [eid]
        if eid in members:
            members = [eid, *(m for m in members if m != eid)]
        everyone.extend(m for m in members if m not in everyone)
    anchor = everyone[0]
    with store.transaction():
        for other in everyone[1:]:
            add_judgement(store, anchor, other, "positive", user=user, reason=reason)
    heads = [anchor]
    apply_resolution(store, threshold)
    members = _members(store, heads[0])
    return canonical_for(members) if members else heads[0]


def split(
    store: Store,
    entity_id: str,
    user: str,
    reason: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[str]:
    """Take an entity out of its cluster, or dissolve a cluster given its canonical id.

    Records negative judgements (so no later run merges them again) and returns the
    entity ids that were separated.
    """
    members = _members(store, entity_id)
    if not members:
        if not _exists(store, entity_id):
            raise NotFound(f"No entity {entity_id!r} in the store")
        return []
    with store.transaction():
        if entity_id in members:
            for other in members:
                if other != entity_id:
                    add_judgement(store, entity_id, other, "negative", user=user, reason=reason)
        else:
            for i, left in enumerate(members):
                for right in members[i + 1 :]:
                    add_judgement(store, left, right, "negative", user=user, reason=reason)
    apply_resolution(store, threshold)
    return members
