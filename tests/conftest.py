from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shadowtrace.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
FTM = FIXTURES / "ftm"


@pytest.fixture
def store() -> Iterator[Store]:
    st = Store.open(":memory:")
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[Store]:
    st = Store.open(tmp_path / "store.duckdb")
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def kek_env(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{FTM / 'kek.sqlite'}"
    monkeypatch.setenv("FTM_TEST_DATABASE_URI", url)
    return url


def read_ijson(path: Path) -> dict[str, dict]:
    out = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            data = json.loads(line)
            out[data["id"]] = data
    return out


def statement_rows(store: Store) -> list[tuple]:
    return store.con.execute(
        "SELECT id, entity_id, schema, prop, value, dataset FROM ftm_statements ORDER BY id"
    ).fetchall()


@pytest.fixture(autouse=True)
def _no_store_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHADOWTRACE_STORE", raising=False)
    os.environ.setdefault("COLUMNS", "160")
