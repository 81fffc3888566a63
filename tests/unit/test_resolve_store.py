from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shadowtrace.errors import ConfigError, NotFound
from shadowtrace.ingest.run import ingest
from shadowtrace.resolve.cluster import cluster
from shadowtrace.resolve.judgements import (
    add_judgement,
    current_judgements,
    export_judgements,
    import_judgements,
)
from shadowtrace.resolve.matching import match
from shadowtrace.resolve.run import merge, resolve, split
from shadowtrace.store import Store

FIXTURES = Path(__file__).parents[1] / "fixtures"

WORLD = [
    {
        "id": "ru-1",
        "schema": "Company",
        "properties": {"name": ["ООО Восток-Трейд"], "innCode": ["7707083893"], "country": ["ru"]},
    },
    {
        "id": "ru-2",
        "schema": "Company",
        "properties": {"name": ["OOO Vostok-Treyd"], "country": ["ru"]},
    },
    {
        "id": "ru-3",
        "schema": "Company",
        "properties": {"name": ["Vostok Trade LLC"], "innCode": ["7707083893"]},
    },
    {
        "id": "ru-4",
        "schema": "Company",
        "properties": {"name": ["Vostok Trade LLC"], "innCode": ["5003052454"]},
    },
    {
        "id": "cn-1",
        "schema": "Company",
        "properties": {"name": ["深圳市华强电子有限公司"], "country": ["cn"]},
    },
    {
        "id": "cn-2",
        "schema": "Company",
        "properties": {"name": ["Shenzhen Huaqiang Electronics Co., Ltd."], "country": ["cn"]},
    },
    {
        "id": "p-1",
        "schema": "Person",
        "properties": {"name": ["Сергей Викторович Лавров"], "birthDate": ["1950-03-21"]},
    },
    {
        "id": "p-2",
        "schema": "Person",
        "properties": {"name": ["Sergey Viktorovich Lavrov"], "birthDate": ["1950-03-21"]},
    },
    {"id": "p-3", "schema": "Person", "properties": {"name": ["Sergei Lavrov"]}},
    {
        "id": "x-1",
        "schema": "Company",
        "properties": {"name": ["'; DROP TABLE statements; --", "x" * 10_000, "\x00\x07"]},
    },
    {"id": "x-2", "schema": "Company", "properties": {"name": ["'; DROP TABLE statements; --"]}},
    {"id": "x-3", "schema": "Company", "properties": {"name": ["ООО 华强 Vostok\u200b"]}},
]


def write_world(path: Path) -> Path:
    out = path / "world.csv"
    import csv

    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "schema", "prop", "value"])
        for entity in WORLD:
            for prop, values in entity["properties"].items():  # type: ignore[attr-defined]
                for value in values:
                    writer.writerow([entity["id"], entity["schema"], prop, value])
    return out


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store.open(":memory:")
    _load(st, tmp_path)
    yield st
    st.close()


def _load(st: Store, tmp_path: Path) -> None:
    import duckdb

    rows = []
    for entity in WORLD:
        for prop, values in entity["properties"].items():  # type: ignore[attr-defined]
            for value in values:
                rows.append((entity["id"], entity["schema"], prop, value))
    path = tmp_path / "world.ijson"
    with path.open("w", encoding="utf-8") as fh:
        for entity in WORLD:
            fh.write(json.dumps(entity, ensure_ascii=False) + "\n")
    try:
        ingest(st, [str(path)], dataset="world")
    except Exception:  # JSON lines reader unavailable: write statements directly
        from followthemoney.types import registry

        from shadowtrace.model import get_model

        model = get_model()
        for i, (eid, schema, prop, value) in enumerate(rows):
            ptype = model.get(schema).get(prop).type.name  # type: ignore[union-attr]
            st.con.execute(
                "INSERT INTO statements (id, entity_id, canonical_id, schema, prop, prop_type, "
                "value, dataset, first_seen, last_seen, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'world', now(), now(), 1)",
                [f"s{i}", eid, eid, schema, prop, ptype, value],
            )
        del registry, duckdb


def canon(st: Store, eid: str) -> str:
    row = st.con.execute(
        "SELECT any_value(canonical_id) FROM statements WHERE entity_id = ?", [eid]
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_resolve_merges_across_scripts_and_respects_identifier_conflicts(store: Store) -> None:
    report = resolve(store)
    assert canon(store, "ru-1") == canon(store, "ru-2") == canon(store, "ru-3")
    assert canon(store, "ru-4") != canon(store, "ru-3")  # different INN: vetoed
    assert canon(store, "cn-1") == canon(store, "cn-2")
    assert canon(store, "p-1") == canon(store, "p-2")
    assert report.records == len(WORLD)
    assert report.entities < report.records
    assert report.vetoed >= 1
    # Only canonical ids changed: every statement is still there under its entity id.
    assert store.scalar("SELECT count(DISTINCT entity_id) FROM statements") == len(WORLD)


def test_resolution_table_matches_statements(store: Store) -> None:
    resolve(store)
    wrong = store.scalar(
        "SELECT count(*) FROM statements s LEFT JOIN resolution r USING (entity_id) "
        "WHERE s.canonical_id <> coalesce(r.canonical_id, s.entity_id)"
    )
    assert wrong == 0


def test_split_undoes_a_merge_and_survives_re_resolve(store: Store) -> None:
    resolve(store)
    assert canon(store, "cn-1") == canon(store, "cn-2")
    members = split(store, "cn-2", user="ana", reason="different firms")
    assert set(members) == {"cn-1", "cn-2"}
    assert canon(store, "cn-1") != canon(store, "cn-2")
    assert canon(store, "cn-2") == "cn-2"
    resolve(store)
    assert canon(store, "cn-1") != canon(store, "cn-2")
    judged = current_judgements(store, "negative")
    assert [(j.left_id, j.right_id, j.user) for j in judged] == [("cn-1", "cn-2", "ana")]


def test_merge_wins_over_the_scorer_and_survives_re_resolve(store: Store) -> None:
    resolve(store)
    assert canon(store, "ru-4") != canon(store, "ru-3")
    canonical = merge(store, ["ru-4", "ru-3"], user="ana", reason="INN typo in source")
    assert canon(store, "ru-4") == canon(store, "ru-3") == canonical
    resolve(store)
    assert canon(store, "ru-4") == canon(store, "ru-3")


def test_merge_and_split_errors(store: Store) -> None:
    with pytest.raises(ConfigError):
        merge(store, ["ru-1"], user="ana")
    with pytest.raises(NotFound):
        merge(store, ["ru-1", "nope"], user="ana")
    with pytest.raises(NotFound):
        split(store, "nope", user="ana")


def test_judgements_round_trip_in_nomenklatura_format(store: Store) -> None:
    add_judgement(store, "ru-1", "ru-2", "positive", user="ana")
    add_judgement(store, "cn-1", "p-1", "negative", user="bo")
    buffer = io.StringIO()
    assert export_judgements(store, buffer) == 2
    lines = buffer.getvalue().splitlines()
    first = json.loads(lines[0])
    assert first[:3] == ["p-1", "cn-1", "negative"]  # target is the larger id
    other = Store.open(":memory:")
    assert import_judgements(other, lines) == 2
    assert [(j.left_id, j.right_id, j.judgement) for j in current_judgements(other)] == [
        ("cn-1", "p-1", "negative"),
        ("ru-1", "ru-2", "positive"),
    ]


def test_import_resolves_canonical_nodes() -> None:
    st = Store.open(":memory:")
    lines = [
        json.dumps(["a", "NK-1", "positive", None, "x", "2024-01-01T00:00:00"]),
        json.dumps(["b", "NK-1", "positive", None, "x", "2024-01-01T00:00:00"]),
        json.dumps(["c", "NK-1", "negative", None, "x", "2024-01-01T00:00:00"]),
    ]
    assert import_judgements(st, lines) == 2
    pairs = {(j.left_id, j.right_id, j.judgement) for j in current_judgements(st)}
    assert pairs == {("a", "b", "positive"), ("a", "c", "negative")}
    with pytest.raises(ConfigError):
        import_judgements(st, ["not json"])


def test_newest_judgement_wins(store: Store) -> None:
    add_judgement(store, "ru-1", "ru-2", "positive", user="ana")
    add_judgement(store, "ru-2", "ru-1", "negative", user="bo", reason="checked register")
    judged = current_judgements(store)
    assert [(j.judgement, j.user) for j in judged] == [("negative", "bo")]
    assert store.scalar("SELECT count(*) FROM judgements") == 2
    with pytest.raises(ConfigError):
        add_judgement(store, "a", "b", "maybe", user="x")


def test_match_ranks_and_explains(store: Store) -> None:
    resolve(store)
    hits = match(store, {"schema": "Company", "properties": {"name": ["Vostok Treid"]}})
    assert hits and hits[0].score > 0.5
    assert hits[0].id == canon(store, "ru-1")
    assert any(f.name == "name" for f in hits[0].features)
    by_id = match(store, {"schema": "Company", "properties": {"innCode": ["7707083893"]}})
    assert by_id[0].id == canon(store, "ru-1")
    assert match(store, {"schema": "Company", "properties": {}}) == []
    hostile = match(store, {"schema": "Company", "properties": {"name": ["'; DROP TABLE x; --"]}})
    assert all(0 <= h.score <= 1 for h in hostile)
    assert store.scalar("SELECT count(*) FROM statements") > 0


def test_resolve_on_mapped_csv() -> None:
    st = Store.open(":memory:")
    ingest(
        st,
        [str(FIXTURES / "ftm" / "donations.csv")],
        dataset="donations",
        mapping=str(FIXTURES / "ftm" / "donations.yml"),
    )
    report = resolve(st)
    assert report.entities < report.records
    assert st.summary().entities < st.summary().entity_ids


def test_cluster_does_not_chain_across_weak_links() -> None:
    pairs = [
        ("a", "b", 0.9, False),
        ("b", "c", 0.9, False),
        ("c", "d", 0.9, False),
        ("a", "c", 0.1, False),
        ("a", "d", 0.1, False),
        ("b", "d", 0.1, False),
    ]
    groups: dict[str, set[str]] = {}
    for member, head in cluster(pairs, threshold=0.7).items():
        groups.setdefault(head, set()).add(member)
    assert all(len(g) <= 2 for g in groups.values())
    # single link would have joined all four
    assert len(groups) == 2


def test_cluster_judgements_are_hard_constraints() -> None:
    pairs = [("a", "b", 0.99, False), ("c", "d", 0.1, False), ("a", "e", 0.99, True)]
    heads = cluster(pairs, 0.7, positive=[("c", "d")], negative=[("a", "b")])
    assert heads.get("a") != heads.get("b") or "a" not in heads
    assert heads["c"] == heads["d"]
    assert "e" not in heads  # vetoed pair never merges
