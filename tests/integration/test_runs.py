"""A run is idempotent, atomic (even when killed), and exports round-trip."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, tzinfo
from pathlib import Path

import pytest

from shadowtrace.errors import MappingError
from shadowtrace.export import export
from shadowtrace.ingest import ingest
from shadowtrace.ingest import run as ingest_run
from shadowtrace.store import Store
from tests.conftest import FTM, statement_rows

DONATIONS = [str(FTM / "donations.csv")]
MAPPING = str(FTM / "donations.yml")


def test_same_file_twice_adds_nothing(file_store):
    first = ingest(file_store, DONATIONS, dataset="donations", mapping=MAPPING)
    assert first.statements_new > 0
    before = statement_rows(file_store)
    provenance = file_store.scalar("SELECT count(*) FROM entity_sources")
    again = ingest(file_store, DONATIONS, dataset="donations", mapping=MAPPING)
    assert again.sources[0].skipped is not None
    forced = ingest(file_store, DONATIONS, dataset="donations", mapping=MAPPING, force=True)
    assert forced.statements_new == 0
    assert forced.statements_seen == first.statements_new
    assert statement_rows(file_store) == before
    assert file_store.scalar("SELECT count(*) FROM entity_sources") == provenance
    assert file_store.scalar("SELECT count(*) FROM sources") == 1


def test_same_facts_from_another_file_are_one_statement(tmp_path, store):
    copy = tmp_path / "copy.csv"
    copy.write_bytes((FTM / "donations.csv").read_bytes() + b"\n")
    ingest(store, DONATIONS, dataset="donations", mapping=MAPPING)
    n = store.scalar("SELECT count(*) FROM statements")
    report = ingest(store, [str(copy)], dataset="donations", mapping=MAPPING)
    assert report.statements_new == 0
    assert store.scalar("SELECT count(*) FROM statements") == n
    # ...but the second file is recorded as a source of the same entities.
    assert store.scalar("SELECT count(DISTINCT source_id) FROM entity_sources") == 2


def _big_csv(path: Path, rows: int) -> None:
    header = (FTM / "donations.csv").read_text(encoding="utf-8").splitlines()[0]
    with path.open("w", encoding="utf-8") as fh:
        fh.write(header + "\n")
        for i in range(rows):
            fh.write(f'"P{i % 50}",{1000 + i},"PERSON","Donor {i}","Street {i}","City {i % 97}",'
                     f'"Deutschland",2011-12-{1 + i % 28:02d},2011-12-30\n')  # fmt: skip


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_or_interrupted_run_leaves_store_unchanged(tmp_path, sig):
    store_path = tmp_path / "s.duckdb"
    with Store.open(store_path) as st:
        ingest(st, [str(FTM / "donations.ijson")], dataset="base")
        before = statement_rows(st)
        runs = st.scalar("SELECT count(*) FROM runs")
    big = tmp_path / "big.csv"
    _big_csv(big, 400_000)
    cmd = [
        sys.executable, "-m", "shadowtrace.cli.__main__", "--store", str(store_path),
        "--no-progress", "ingest", str(big), "-d", "big", "-m", MAPPING,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Wait until the run is under way (its temp work has started), then kill it.
    time.sleep(4.0)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    with Store.open(store_path) as st:
        assert statement_rows(st) == before
        assert st.scalar("SELECT count(*) FROM runs") == runs
        assert st.scalar("SELECT count(*) FROM sources") == 1


def test_ftm_export_reingests_to_the_same_statements(tmp_path, store):
    ingest(store, DONATIONS, dataset="donations", mapping=MAPPING)
    out = tmp_path / "entities.ijson"
    export(store, "ftm", str(out))
    with Store.open(":memory:") as again:
        ingest(again, [str(out)], dataset="donations")
        assert statement_rows(again) == statement_rows(store)


def test_statements_export_reingests_to_the_same_statements(tmp_path, store, kek_env):
    ingest(store, DONATIONS, dataset="donations", mapping=MAPPING)
    ingest(store, [str(FTM / "kek.yml")], dataset="kek")
    out = tmp_path / "statements.csv"
    export(store, "statements", str(out))
    with Store.open(":memory:") as again:
        ingest(again, [str(out)], dataset="other")
        assert statement_rows(again) == statement_rows(store)
        full = "SELECT id, first_seen, original_value, origin FROM ftm_statements ORDER BY id"
        assert again.con.execute(full).fetchall() == store.con.execute(full).fetchall()


def test_stock_export_passes_ftm_validate(tmp_path, store):
    rows = [
        {"id": "w1", "schema": "CryptoWallet", "properties": {"publicKey": ["TXa1"]}},
        {"id": "w2", "schema": "CryptoWallet", "properties": {"publicKey": ["TXb2"]}},
        {"id": "t1", "schema": "CryptoTransfer", "properties": {
            "sourceWallet": ["w1"], "targetWallet": ["w2"], "amount": ["1000"],
            "currency": ["USDT"], "transactionHash": ["abc"], "date": ["2025-01-02"]}},
        {"id": "e1", "schema": "Equipment", "properties": {
            "name": ["BS-1"], "category": ["base_station"], "model": ["X1"]}},
    ]  # fmt: skip
    src = tmp_path / "ext.ijson"
    src.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    ingest(store, [str(src)], dataset="ext")
    ingest(store, DONATIONS, dataset="donations", mapping=MAPPING)
    out = tmp_path / "stock.ijson"
    export(store, "ftm", str(out), stock=True)
    ftm = Path(sys.executable).parent / "ftm"
    result = subprocess.run(
        [str(ftm), "validate", "-i", str(out), "-o", str(tmp_path / "valid.ijson")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    validated = [json.loads(x) for x in (tmp_path / "valid.ijson").read_text().splitlines()]
    assert len(validated) == 474 + len(rows)
    by_id = {e["id"]: e for e in validated}
    assert by_id["t1"]["schema"] == "Payment"
    # Properties the stock schema lacks are kept as text (Payment has no `notes`).
    (text,) = by_id["t1"]["properties"]["description"]
    assert "Transaction hash: abc" in text and "From wallet: w1" in text
    assert by_id["e1"]["schema"] == "Asset"
    # The extended export keeps the extension schema and every property.
    full = tmp_path / "full.ijson"
    export(store, "ftm", str(full))
    entity = next(json.loads(x) for x in full.read_text().splitlines() if '"t1"' in x)
    assert entity["schema"] == "CryptoTransfer"
    assert entity["properties"]["transactionHash"] == ["abc"]


def test_chunked_mapping_gives_the_same_store(monkeypatch, store):
    ingest(store, DONATIONS, dataset="donations", mapping=MAPPING)
    expected = statement_rows(store)
    provenance = store.con.execute(
        "SELECT entity_id, source_row, origin FROM entity_sources ORDER BY ALL"
    ).fetchall()
    monkeypatch.setenv("SHADOWTRACE_INGEST_CHUNK", "7")
    with Store.open(":memory:") as chunked:
        report = ingest(chunked, DONATIONS, dataset="donations", mapping=MAPPING)
        assert report.rows_in == report.rows_stored + report.rows_rejected + report.rows_filtered
        assert report.entities_new == 474
        assert statement_rows(chunked) == expected
        assert (
            chunked.con.execute(
                "SELECT entity_id, source_row, origin FROM entity_sources ORDER BY ALL"
            ).fetchall()
            == provenance
        )
        # Provenance is the first record each fact was read from, chunk or not.
        first = "SELECT id, source_row FROM ftm_statements ORDER BY id"
        assert chunked.con.execute(first).fetchall() == store.con.execute(first).fetchall()


def test_facts_read_again_keep_first_seen_and_move_last_seen(monkeypatch, store):
    """A fact read again in a later run keeps when it was first seen and is last seen
    then; read again in the same run (a later chunk, here), it is seen once."""
    clock = [datetime(2024, 1, 1, 9, 0, 0)]

    class Clock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Clock:
            return cls.fromtimestamp(clock[0].timestamp()).replace(tzinfo=tz)

    monkeypatch.setattr(ingest_run, "datetime", Clock)
    monkeypatch.setenv("SHADOWTRACE_INGEST_CHUNK", "7")
    seen = (
        "SELECT count(*), min(first_seen), max(first_seen), min(last_seen), max(last_seen) "
        "FROM statements"
    )
    first = ingest(store, DONATIONS, dataset="donations", mapping=MAPPING)
    n = first.statements_new
    january, february = datetime(2024, 1, 1, 9), datetime(2024, 2, 1, 9)
    assert store.con.execute(seen).fetchall() == [(n, january, january, january, january)]
    clock[0] = february
    again = ingest(store, DONATIONS, dataset="donations", mapping=MAPPING, force=True)
    assert (again.statements_new, again.statements_seen) == (0, n)
    assert store.con.execute(seen).fetchall() == [(n, january, january, february, february)]


def test_run_transaction_holds_no_temporary_table(monkeypatch, file_store):
    """Reading, mapping and grouping make their temporary tables on a scratch
    connection that commits on its own, so a chunk's dropped tables are freed at once;
    dropped inside the run's transaction they would be kept (memory, then temporary
    disk) until the run ends."""
    monkeypatch.setenv("SHADOWTRACE_INGEST_CHUNK", "7")
    monkeypatch.setattr(ingest_run, "MERGE_ROWS", 1)
    counts: list[int] = []

    def stage(_: str) -> None:
        sql = "SELECT count(*) FROM duckdb_tables() WHERE temporary"
        counts.append(int(file_store.con.execute(sql).fetchall()[0][0]))

    report = ingest(file_store, DONATIONS, dataset="donations", mapping=MAPPING, stage=stage)
    assert report.entities_new == 474
    assert len(counts) > 40 and set(counts) == {0}
    assert file_store.con.execute("SELECT count(*) FROM rejects").fetchall()[0][0] == (
        report.rejects_total
    )


def test_store_compression_is_given_back(tmp_path, file_store):
    """Reading and mapping append to temporary tables uncompressed; the setting is the
    database's, so it must be the store's own again when statements are written, and
    after a run, failed or not."""
    setting = "SELECT current_setting('force_compression')"
    ingest(file_store, DONATIONS, dataset="donations", mapping=MAPPING)
    assert file_store.scalar(setting) == "auto"
    file_store.con.execute("CHECKPOINT")
    methods = {
        str(m)
        for (m,) in file_store.con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('statements')"
        ).fetchall()
    }
    assert methods - {"Uncompressed", "Constant", "Empty Validity"}, methods
    bad = tmp_path / "bad.csv"
    bad.write_text("Party,DonationEUR\nX,1\n", encoding="utf-8")
    with pytest.raises(MappingError):
        ingest(file_store, [str(bad)], dataset="donations", mapping=MAPPING)
    assert file_store.scalar(setting) == "auto"
