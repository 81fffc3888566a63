"""Hostile input: each case gets a clear error or a counted reject, and loses nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from shadowtrace.errors import ConfigError, IngestError, MappingError
from shadowtrace.export.entities import iter_entities
from shadowtrace.ingest import ingest
from tests.conftest import statement_rows

MAPPING = """
entities:
  company:
    schema: Company
    key: id
    properties:
      name: {column: name}
      address: {column: city}
"""


def _mapping(tmp_path: Path, text: str = MAPPING) -> str:
    path = tmp_path / "mapping.yml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _accounted(report) -> None:
    for src in report.sources:
        assert src.rows_in == src.rows_stored + src.rows_rejected + src.rows_filtered


def test_malformed_json_lines_are_counted_rejects(tmp_path, store):
    path = tmp_path / "entities.ijson"
    good = {"id": "p1", "schema": "Person", "properties": {"name": ["Anna Ivanova"]}}
    lines = [
        json.dumps(good),
        '{"id": "p2", "schema": "Person", "properties": {"name": ["broken"]',
        "[1, 2, 3]",
        json.dumps({"schema": "Person", "properties": {}}),
        "",
        json.dumps({"id": "p3", "schema": "Person", "properties": {"name": "Not A List"}}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest(store, [str(path)], dataset="t")
    _accounted(report)
    (src,) = report.sources
    assert src.rows_in == 5  # the blank line is no record
    assert src.rows_rejected == 3
    reasons = dict(
        store.con.execute("SELECT source_row, reason FROM rejects WHERE kind = 'row'").fetchall()
    )
    assert reasons == {2: "malformed JSON", 3: "not a JSON object", 4: "no entity id"}
    names = sorted(e["properties"]["name"][0] for e in iter_entities(store))
    assert names == ["Anna Ivanova", "Not A List"]


def test_gzip_json_lines(tmp_path, store):
    path = tmp_path / "entities.ijson.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "p1", "schema": "Person", "properties": {"name": ["A"]}}) + "\n")
    report = ingest(store, [str(path)], dataset="t")
    assert report.rows_stored == 1


def test_strict_stops_at_first_reject_naming_file_row_field(tmp_path, store):
    path = tmp_path / "entities.ijson"
    path.write_text(
        json.dumps({"id": "p1", "schema": "Person", "properties": {"nmae": ["typo"]}}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(IngestError) as info:
        ingest(store, [str(path)], dataset="t", strict=True)
    err = info.value
    assert (err.file, err.row, err.field) == (str(path), 1, "nmae")
    assert "unknown property Person.nmae" in str(err)
    assert store.scalar("SELECT count(*) FROM statements") == 0
    assert store.scalar("SELECT count(*) FROM runs") == 0


def test_unknown_schema_and_property(tmp_path, store):
    path = tmp_path / "entities.ijson"
    rows = [
        {"id": "x1", "schema": "Spaceship", "properties": {"name": ["Enterprise"]}},
        {"id": "x2", "schema": "Company", "properties": {"name": ["Acme"], "warpSpeed": ["9"]}},
        {"id": "x3", "schema": "Thing", "properties": {"name": ["abstract"]}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = ingest(store, [str(path)], dataset="t")
    _accounted(report)
    rejects = store.con.execute(
        "SELECT source_row, field, reason, kind FROM rejects ORDER BY source_row"
    ).fetchall()
    assert rejects == [
        (1, "schema", "unknown schema Spaceship", "row"),
        (2, "warpSpeed", "unknown property Company.warpSpeed", "value"),
        (3, "schema", "schema Thing is abstract", "row"),
    ]
    assert [e["properties"] for e in iter_entities(store)] == [{"name": ["Acme"]}]


def test_unknown_schema_in_mapping_is_a_clear_error(tmp_path, store):
    mapping = _mapping(tmp_path, "entities:\n  a:\n    schema: Spaceship\n    key: id\n")
    csv = tmp_path / "a.csv"
    csv.write_text("id\n1\n", encoding="utf-8")
    with pytest.raises(MappingError, match="unknown schema 'Spaceship'"):
        ingest(store, [str(csv)], dataset="t", mapping=mapping)
    mapping = _mapping(
        tmp_path,
        "entities:\n  a:\n    schema: Company\n    key: id\n    properties:\n      nmae: {column: id}\n",
    )
    with pytest.raises(MappingError, match="has no property 'nmae'"):
        ingest(store, [str(csv)], dataset="t", mapping=mapping)


@pytest.mark.parametrize("encoding", ["cp1251", "utf-8-sig", "utf-16"])
def test_encodings(tmp_path, store, encoding):
    path = tmp_path / "companies.csv"
    text = "id,name,city\n1,ООО «Ромашка»,Москва\n2,АО Восток,Владивосток\n"
    path.write_bytes(text.encode(encoding))
    report = ingest(store, [str(path)], dataset="t", mapping=_mapping(tmp_path))
    _accounted(report)
    names = sorted(e["properties"]["name"][0] for e in iter_entities(store))
    assert names == ["АО Восток", "ООО «Ромашка»"]


def test_ragged_rows_are_counted_with_their_record_number(tmp_path, store):
    path = tmp_path / "ragged.csv"
    path.write_text(
        'id,name,city\n1,"Multi\nLine Ltd",Riga\n2,Short\n3,Too,Many,Cells\n4,Fine,Oslo\n',
        encoding="utf-8",
    )
    report = ingest(store, [str(path)], dataset="t", mapping=_mapping(tmp_path))
    _accounted(report)
    (src,) = report.sources
    assert (src.rows_in, src.rows_stored, src.rows_rejected) == (4, 2, 2)
    rejects = store.con.execute(
        "SELECT source_row, reason, raw FROM rejects ORDER BY source_row"
    ).fetchall()
    assert [r[0] for r in rejects] == [2, 3]
    assert "MISSING COLUMNS" in rejects[0][1] and rejects[0][2] == "2,Short"
    assert "TOO MANY COLUMNS" in rejects[1][1]
    # Record 4 keeps its own number even though records before it were rejected.
    row = store.scalar("SELECT source_row FROM statements WHERE prop = 'name' AND value = 'Fine'")
    assert row == 4


def test_ten_megabyte_field_is_a_counted_reject_kept_whole(tmp_path, store):
    path = tmp_path / "big.csv"
    big = "x" * (10 * 1024 * 1024)
    path.write_text(f"id,name,city\n1,{big},Kyiv\n2,Small Co,Lviv\n", encoding="utf-8")
    report = ingest(store, [str(path)], dataset="t", mapping=_mapping(tmp_path))
    _accounted(report)
    (src,) = report.sources
    assert src.rows_stored == 2 and src.values_rejected == 1
    reason = store.scalar("SELECT reason FROM rejects")
    assert "longer than the limit" in reason
    names = sorted(v for e in iter_entities(store) for v in e["properties"].get("name", []))
    assert names == ["Small Co"]


def test_formula_strings_are_stored_verbatim_and_neutralised_on_csv_export(tmp_path, store):
    path = tmp_path / "f.csv"
    formula = '=HYPERLINK("http://evil.example","click")'
    path.write_text(
        f'id,name,city\n1,"{formula.replace(chr(34), chr(34) * 2)}",@SUM(A1)\n', encoding="utf-8"
    )
    ingest(store, [str(path)], dataset="t", mapping=_mapping(tmp_path))
    (entity,) = list(iter_entities(store))
    assert entity["properties"]["name"] == [formula]
    from shadowtrace.export import export

    out = tmp_path / "csv"
    export(store, "csv", str(out))
    text = (out / "Company.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text
    assert ',"=HYPERLINK' not in text


@pytest.mark.parametrize(
    "name",
    [
        "O'Brien & Sons'); DROP TABLE statements;--",
        'Robert"); DELETE FROM statements WHERE ("1"="1',
        "%_\\; SELECT * FROM rejects",
        "ООО «Рога и копыта» 有限公司 \x01\x02",
    ],
)
def test_sql_metacharacters_in_names(tmp_path, store, name):
    path = tmp_path / "n.ijson"
    path.write_text(json.dumps({"id": name, "schema": "Company", "properties": {"name": [name]}}))
    ingest(store, [str(path)], dataset="t")
    (entity,) = list(iter_entities(store))
    assert entity["id"] == name
    assert store.scalar("SELECT count(*) FROM statements") == 2


@pytest.mark.parametrize("dataset", ["x'; DROP TABLE statements;--", 'a"b', "../etc", "", "a b"])
def test_hostile_dataset_names_are_refused(tmp_path, store, dataset):
    path = tmp_path / "n.ijson"
    path.write_text(json.dumps({"id": "1", "schema": "Company", "properties": {"name": ["A"]}}))
    with pytest.raises(ConfigError, match="Invalid dataset name"):
        ingest(store, [str(path)], dataset=dataset)
    assert store.scalar("SELECT count(*) FROM statements") == 0


def test_hostile_column_names_are_quoted(tmp_path, store):
    path = tmp_path / "c.csv"
    path.write_text('"id""; DROP TABLE x;--","na me"\n1,Acme\n', encoding="utf-8")
    mapping = _mapping(
        tmp_path,
        "entities:\n  c:\n    schema: Company\n    key: 'id\"; DROP TABLE x;--'\n"
        "    properties:\n      name: {column: na me}\n",
    )
    ingest(store, [str(path)], dataset="t", mapping=mapping)
    assert [e["properties"]["name"] for e in iter_entities(store)] == [["Acme"]]


def test_path_traversal_in_manifest_is_refused(tmp_path, store):
    secret = tmp_path / "secret.csv"
    secret.write_text("id,name,city\n1,Secret,X\n", encoding="utf-8")
    world = tmp_path / "world"
    world.mkdir()
    (world / "mapping.yml").write_text(MAPPING, encoding="utf-8")
    for bad in ["../secret.csv", str(secret), "sub/../../secret.csv"]:
        (world / "manifest.yml").write_text(
            f"sources:\n  - path: {json.dumps(bad)}\n    dataset: t\n    mapping: mapping.yml\n",
            encoding="utf-8",
        )
        with pytest.raises(ConfigError, match=r"outside|relative"):
            ingest(store, [str(world)])
    (world / "manifest.yml").write_text(
        "sources:\n  - path: ok.csv\n    dataset: t\n    mapping: ../mapping.yml\n",
        encoding="utf-8",
    )
    (world / "ok.csv").write_text("id,name,city\n1,A,B\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="outside"):
        ingest(store, [str(world)])
    assert store.scalar("SELECT count(*) FROM statements") == 0


def test_path_traversal_in_mapping_url_is_refused(tmp_path, store):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "secret.csv").write_text("id,name,city\n1,S,X\n", encoding="utf-8")
    mapping = inner / "m.yml"
    mapping.write_text("csv_url: ../secret.csv\n" + MAPPING, encoding="utf-8")
    with pytest.raises(ConfigError, match="outside"):
        ingest(store, [str(mapping)], dataset="t")


def test_empty_and_missing_files(tmp_path, store):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        ingest(store, [str(empty)], dataset="t", mapping=_mapping(tmp_path))
    with pytest.raises(IngestError, match="no such file"):
        ingest(store, [str(tmp_path / "nope.json")], dataset="t")


def test_a_failed_file_leaves_the_store_as_it_was(tmp_path, store):
    good = tmp_path / "good.ijson"
    good.write_text(json.dumps({"id": "1", "schema": "Company", "properties": {"name": ["A"]}}))
    ingest(store, [str(good)], dataset="t")
    before = statement_rows(store)
    other = tmp_path / "other.ijson"
    other.write_text(json.dumps({"id": "2", "schema": "Company", "properties": {"name": ["B"]}}))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,city\n1,A,B\n", encoding="utf-8")
    mapping = _mapping(tmp_path, "entities:\n  c:\n    schema: Company\n    key: nope\n")
    # other.ijson reads fine, then bad.csv fails: nothing of the run lands.
    with pytest.raises(MappingError):
        ingest(store, [str(other), str(bad)], dataset="t", mapping=mapping)
    assert statement_rows(store) == before
    assert store.scalar("SELECT count(*) FROM runs") == 1
