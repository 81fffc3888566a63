from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import report_world
from shadowtrace.detect import Finding
from shadowtrace.store import Store


def _open(folder: Path) -> tuple[Store, list[Finding]]:
    store = Store.open(folder / "world.duckdb")
    return store, report_world.build(store, folder)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[Finding]]]:
    """A store with the report's small world and its findings (tests only read it)."""
    store, found = _open(tmp_path_factory.mktemp("world"))
    try:
        yield store, found
    finally:
        store.close()


@pytest.fixture
def fresh_world(tmp_path: Path) -> Iterator[tuple[Store, list[Finding]]]:
    """The same world, for a test that changes it."""
    store, found = _open(tmp_path)
    try:
        yield store, found
    finally:
        store.close()
