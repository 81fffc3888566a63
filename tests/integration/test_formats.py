"""Spreadsheets, Parquet, manifest folders and the command line."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from shadowtrace.cli import app
from shadowtrace.errors import ConfigError
from shadowtrace.export.entities import iter_entities
from shadowtrace.ingest import ingest
from tests.conftest import FTM

MAPPING = """
entities:
  company:
    schema: Company
    key: id
    properties:
      name: {column: name}
      incorporationDate: {column: founded}
      country: {column: country}
  payment:
    schema: Payment
    keys: [id, paid]
    properties:
      payer: {entity: company}
      amount: {column: amount}
      date: {column: paid}
"""

ROWS = [
    {"id": 1, "name": "ТОО Алатау Транзит", "founded": date(2022, 3, 1), "country": "Kazakhstan",
     "amount": 125000.5, "paid": datetime(2024, 5, 6, 10, 30)},
    {"id": 2, "name": "Shenzhen Huaqiang Electronics Co., Ltd.", "founded": date(2001, 1, 9),
     "country": "CN", "amount": 99.0, "paid": datetime(2024, 5, 7)},
]  # fmt: skip


def _mapping(tmp_path: Path) -> str:
    path = tmp_path / "mapping.yml"
    path.write_text(MAPPING, encoding="utf-8")
    return str(path)


def _check(store, founded: str = "2022-03-01") -> None:
    entities = {e["properties"].get("name", [""])[0]: e for e in iter_entities(store)}
    company = entities["ТОО Алатау Транзит"]
    assert company["properties"]["incorporationDate"] == [founded]
    assert company["properties"]["country"] == ["kz"]
    payments = [e for e in iter_entities(store) if e["schema"] == "Payment"]
    amounts = sorted(a for p in payments for a in p["properties"]["amount"])
    # Numbers are rendered as FtM renders Python floats (3 decimals, trailing zeros cut).
    assert amounts == ["125000.5", "99"]
    dates = sorted(d for p in payments for d in p["properties"]["date"])
    assert dates == ["2024-05-06T10:30:00", "2024-05-07T00:00:00"]


def test_xlsx(tmp_path, store):
    path = tmp_path / "companies.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Registry"
    sheet.append(list(ROWS[0]))
    for row in ROWS:
        sheet.append(list(row.values()))
    book.save(path)
    report = ingest(store, [str(path)], dataset="x", mapping=_mapping(tmp_path))
    assert (report.rows_in, report.rows_stored) == (2, 2)
    # Excel has no date type: a date cell is a datetime at midnight, rendered as FtM
    # renders a Python datetime (as reading the sheet with openpyxl would give).
    _check(store, founded="2022-03-01T00:00:00")
    row = store.scalar("SELECT max(source_row) FROM statements WHERE prop = 'name'")
    assert row == 2


def test_parquet(tmp_path, store):
    path = tmp_path / "companies.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    report = ingest(store, [str(path)], dataset="x", mapping=_mapping(tmp_path))
    assert (report.rows_in, report.rows_stored) == (2, 2)
    _check(store)


def test_manifest_folder(tmp_path, store):
    world = tmp_path / "world"
    (world / "mappings").mkdir(parents=True)
    (world / "mappings" / "donations.yml").write_text(
        (FTM / "donations.yml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (world / "donations.csv").write_bytes((FTM / "donations.csv").read_bytes())
    (world / "entities.ijson").write_text(
        json.dumps({"id": "s1", "schema": "Sanction", "properties": {"program": ["X"]}}) + "\n",
        encoding="utf-8",
    )
    (world / "manifest.yml").write_text(
        "name: test world\nsources:\n"
        "  - path: donations.csv\n    dataset: donations\n    mapping: mappings/donations.yml\n"
        "  - path: entities.ijson\n    dataset: lists\n    format: ftm\n",
        encoding="utf-8",
    )
    report = ingest(store, [str(world)])
    assert [s.dataset for s in report.sources] == ["donations", "lists"]
    assert report.entities_new == 475
    names = {r[0] for r in store.con.execute("SELECT name FROM sources").fetchall()}
    assert names == {"donations.csv", "entities.ijson"}


def test_cli_ingest_status_export(tmp_path):
    runner = CliRunner()
    store = str(tmp_path / "s.duckdb")
    result = runner.invoke(
        app,
        ["--store", store, "--no-progress", "ingest", str(FTM / "donations.csv"), "-d",
         "donations", "-m", str(FTM / "donations.yml"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows_in"] == 292 and data["statements_new"] > 0
    result = runner.invoke(app, ["--store", store, "status", "--json"])
    assert json.loads(result.stdout)["entities"] == 474
    result = runner.invoke(app, ["--store", store, "export", "--format", "ftm", "--out", "-"])
    lines = result.stdout.splitlines()
    assert len(lines) == 474 and json.loads(lines[0])["id"]


def test_cli_error_is_one_line_and_nonzero(tmp_path):
    import subprocess
    import sys

    store = str(tmp_path / "s.duckdb")
    proc = subprocess.run(
        [sys.executable, "-m", "shadowtrace", "--store", store, "ingest",
         str(tmp_path / "missing.csv"), "-d", "x"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "missing.csv" in lines[0]
    assert "Traceback" not in proc.stderr


def test_cli_broken_pipe_exits_quietly(tmp_path):
    import subprocess
    import sys

    store = str(tmp_path / "s.duckdb")
    subprocess.run(
        [sys.executable, "-m", "shadowtrace", "--store", store, "-q", "ingest",
         str(FTM / "donations.ijson"), "-d", "d"],
        check=True, capture_output=True,
    )  # fmt: skip
    proc = subprocess.run(
        f"{sys.executable} -m shadowtrace --store {store} export -f statements | head -1",
        shell=True, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.stdout.startswith('"canonical_id","entity_id",')  # FtM's statement CSV layout
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr


def test_mapping_file_without_a_dataset_asks_for_one(tmp_path, store):
    """A mapping that names its own sources but no dataset needs --dataset, said plainly."""
    mapping = tmp_path / "kek.yml"
    mapping.write_text((FTM / "kek.yml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"--dataset is needed for .*kek\.yml, which names none"):
        ingest(store, [str(mapping)])
    assert store.con.execute("SELECT count(*) FROM statements").fetchone() == (0,)
