"""Ingest real data and compare, entity by entity, with followthemoney's own output."""

from __future__ import annotations

import re

from followthemoney.proxy import EntityProxy

from shadowtrace.export.entities import iter_entities
from shadowtrace.ingest import ingest
from shadowtrace.ingest.mapping import load_mapping
from shadowtrace.model import get_model
from tests.conftest import FTM, read_ijson


def _props(entity: dict) -> dict[str, list[str]]:
    return {p: sorted(v) for p, v in entity["properties"].items()}


def test_donations_match_ftm_entity_by_entity(store):
    report = ingest(
        store, [str(FTM / "donations.csv")], dataset="donations", mapping=str(FTM / "donations.yml")
    )
    assert report.rows_in == 292
    assert report.rows_in == report.rows_stored + report.rows_rejected + report.rows_filtered
    ours = {e["id"]: e for e in iter_entities(store)}
    gold = read_ijson(FTM / "donations.ijson")
    assert len(gold) == 474
    assert set(ours) == set(gold)
    counts: dict[str, int] = {}
    for entity in ours.values():
        counts[entity["schema"]] = counts.get(entity["schema"], 0) + 1
    assert counts == {
        "Payment": 290,
        "Company": 56,
        "Person": 22,
        "Organization": 17,
        "Address": 89,
    }

    whitespace_only: list[str] = []
    for eid, g in gold.items():
        o = ours[eid]
        assert o["schema"] == g["schema"], eid
        gp, op = _props(g), _props(o)
        if gp == op:
            continue
        # Known, stated difference: donations.ijson was made by a followthemoney that
        # did not strip source values, so an Address `full` built by the template
        # "{{Street}}, {{City}}" from a street with a trailing space reads
        # "Street 5 , City" there, beside "Street 5, City" from other rows.
        # Current followthemoney strips source values (sanitize_text), as we do, so
        # only the second form exists here. Nothing else may differ.
        assert g["schema"] == "Address", eid
        assert set(gp) == set(op), eid
        for prop in gp:
            if prop == "full":
                squeezed = sorted({re.sub(r"\s+,", ",", v) for v in gp[prop]})
                assert squeezed == op[prop], eid
            else:
                assert gp[prop] == op[prop], (eid, prop)
        whitespace_only.append(eid)
    assert len(whitespace_only) == 18


def _ftm_reference(mapping_path, dataset: str) -> dict[str, EntityProxy]:
    """Map with followthemoney's own row-by-row engine and merge as `ftm aggregate` does."""
    spec = load_mapping(mapping_path)
    model = get_model()
    import yaml

    with open(mapping_path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    entities: dict[str, EntityProxy] = {}
    queries = [data] if "entities" in data else data.get("queries", [])
    assert len(queries) == len(spec.queries)
    for query in queries:
        mapping = model.make_mapping(query, key_prefix=dataset)
        for record in mapping.source.records:
            for entity in mapping.map(record).values():
                if entity.id in entities:
                    entities[entity.id] = entities[entity.id].merge(entity)
                else:
                    entities[entity.id] = entity
    return entities


def test_kek_sql_mapping_matches_ftm(store, kek_env):
    report = ingest(store, [str(FTM / "kek.yml")], dataset="kek")
    assert report.rows_in == report.rows_stored + report.rows_rejected + report.rows_filtered
    ours = {e["id"]: e for e in iter_entities(store)}
    counts: dict[str, int] = {}
    for entity in ours.values():
        counts[entity["schema"]] = counts.get(entity["schema"], 0) + 1
    assert counts == {"Company": 2705, "Ownership": 2902}
    reference = _ftm_reference(FTM / "kek.yml", "kek")
    assert set(ours) == set(reference)
    for eid, ref in reference.items():
        assert ours[eid]["schema"] == ref.schema.name
        assert _props(ours[eid]) == {p: sorted(v) for p, v in ref.to_dict()["properties"].items()}


def test_provenance_points_at_source_rows(store):
    ingest(
        store, [str(FTM / "donations.csv")], dataset="donations", mapping=str(FTM / "donations.yml")
    )
    # Every statement names its source file and row; every entity its records.
    missing = store.scalar(
        "SELECT count(*) FROM statements WHERE source_id IS NULL OR source_row IS NULL"
    )
    assert missing == 0
    rows = store.con.execute(
        "SELECT s.source_row, s.value, src.name FROM statements s JOIN sources src USING (source_id) "
        "WHERE s.prop = 'amountEur' ORDER BY s.source_row LIMIT 1"
    ).fetchall()
    row, value, name = rows[0]
    assert name.endswith("donations.csv")
    with open(FTM / "donations.csv", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert value.split(".")[0] in lines[row]  # header is line 0, record 1 is line 1
    n = store.scalar(
        "SELECT count(DISTINCT source_row) FROM entity_sources WHERE origin = 'donation'"
    )
    assert n == 292
