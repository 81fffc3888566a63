"""Decide what an ingest reads: files, folders with a manifest, SQL databases.

``shadowtrace ingest`` takes files (FtM JSON lines, FtM statements CSV, or CSV /
XLSX / Parquet with a mapping), a folder holding a ``manifest.yml`` that names
each file with its dataset and mapping, a mapping whose queries name their own
files or database, or a database URL with a mapping.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shadowtrace.errors import ConfigError, IngestError
from shadowtrace.ingest.mapping import MappingSpec, load_mapping
from shadowtrace.ingest.sources import expand_database_url, safe_url

__all__ = [
    "DATASET_NAME",
    "MANIFEST_NAMES",
    "Item",
    "check_dataset_name",
    "inside",
    "plan_ingest",
    "read_manifest",
]

DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
MANIFEST_NAMES = ("manifest.yml", "manifest.yaml")
JSON_SUFFIXES = (".json", ".ijson", ".jsonl", ".ndjson")
FORMATS = ("csv", "parquet", "xlsx", "ftm", "statements", "sql")


@dataclass
class Item:
    """One source of a run."""

    kind: str  # csv, parquet, xlsx, ftm, statements, sql
    dataset: str
    display: str  # the name recorded as the source's provenance
    path: Path | None = None
    url: str | None = None
    mapping: MappingSpec | None = None
    mapping_path: str | None = None
    sha256: str = ""
    size: int = 0
    queries: tuple[int, ...] | None = None  # which queries of the mapping apply; None: all


def check_dataset_name(name: str) -> str:
    if not DATASET_NAME.match(name):
        raise ConfigError(
            f"Invalid dataset name {name!r}: use letters, digits, '_', '-' and '.', "
            "starting with a letter or digit, at most 128 characters"
        )
    return name


def inside(base: Path, relative: str, what: str) -> Path:
    """Resolve ``relative`` under ``base``, refusing paths that leave it."""
    if not relative or "\x00" in relative:
        raise ConfigError(f"{what}: empty or invalid path {relative!r}")
    candidate = Path(relative)
    if candidate.is_absolute():
        raise ConfigError(f"{what}: {relative!r} must be a path relative to {base}")
    resolved = (base / candidate).resolve()
    root = base.resolve()
    if resolved != root and root not in resolved.parents:
        raise ConfigError(f"{what}: {relative!r} points outside {base}")
    return resolved


def _kind_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(JSON_SUFFIXES):
        return "ftm"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if name.endswith((".yml", ".yaml")):
        return "mapping"
    raise IngestError(
        "unknown file type: expected .json/.ijson (FtM entities), .csv (statements or with a "
        "mapping), .xlsx, .parquet, or a mapping .yml",
        file=str(path),
    )


def file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _csv_header(path: Path) -> list[str]:
    import csv
    import gzip

    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:
            return next(csv.reader(fh), [])
    except (OSError, csv.Error):
        return []


def read_manifest(folder: Path) -> tuple[Path, dict[str, Any]]:
    for name in MANIFEST_NAMES:
        path = folder / name
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
            if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
                raise ConfigError(f"{path}: a manifest needs a `sources` list")
            return path, data
    raise ConfigError(
        f"{folder} is a folder without a manifest ({' or '.join(MANIFEST_NAMES)}) naming its "
        "files, datasets and mappings"
    )


def _items_from_manifest(folder: Path, dataset_override: str | None) -> list[Item]:
    path, data = read_manifest(folder)
    items: list[Item] = []
    for i, src in enumerate(data["sources"]):
        where = f"{path}: sources[{i}]"
        if not isinstance(src, dict) or not src.get("path"):
            raise ConfigError(f"{where}: each source needs a `path`")
        rel = str(src["path"])
        file = inside(folder, rel, where)
        if not file.is_file():
            raise ConfigError(f"{where}: no file {rel!r} in {folder}")
        dataset = check_dataset_name(str(dataset_override or src.get("dataset") or ""))
        kind = str(src.get("format") or _kind_of(file))
        if kind not in FORMATS:
            raise ConfigError(f"{where}: unknown format {kind!r}")
        mapping = None
        mapping_path = None
        if src.get("mapping"):
            mpath = inside(folder, str(src["mapping"]), where)
            mapping = load_mapping(mpath)
            mapping_path = str(src["mapping"])
        elif kind in ("csv", "parquet", "xlsx"):
            if kind == "csv" and _is_statements(file):
                kind = "statements"
            else:
                raise ConfigError(f"{where}: {rel} needs a `mapping`")
        items.append(
            Item(
                kind=kind,
                dataset=dataset,
                display=rel,
                path=file,
                mapping=mapping,
                mapping_path=mapping_path,
            )
        )
    return items


def _is_statements(path: Path) -> bool:
    from shadowtrace.ingest.readers import is_statements_header

    return is_statements_header(_csv_header(path))


def plan_ingest(
    inputs: list[str],
    dataset: str | None = None,
    mapping: str | None = None,
) -> list[Item]:
    """Turn command-line inputs into the list of sources of one run."""
    spec = load_mapping(mapping) if mapping else None
    items: list[Item] = []

    def need_dataset(what: str) -> str:
        if dataset is None:
            raise ConfigError(f"--dataset is needed for {what}")
        return check_dataset_name(dataset)

    if not inputs and spec is None:
        raise ConfigError("Nothing to ingest: give files, a folder with a manifest, or --mapping")

    if not inputs and spec is not None:
        # The mapping names its own sources.
        ds = check_dataset_name(
            dataset or spec.dataset or need_dataset(f"{mapping}, which names none")
        )
        items.extend(_items_from_mapping(spec, ds, mapping or ""))
        return items

    for raw in inputs:
        if "://" in raw:
            if spec is None:
                raise ConfigError(f"{safe_url(raw)}: a database needs --mapping")
            items.append(
                Item(
                    kind="sql",
                    dataset=need_dataset("a database"),
                    display=safe_url(raw),
                    url=raw,
                    mapping=spec,
                    mapping_path=mapping,
                )
            )
            continue
        path = Path(raw)
        if path.is_dir():
            items.extend(_items_from_manifest(path, dataset))
            continue
        if not path.is_file():
            raise IngestError("no such file", file=raw)
        kind = _kind_of(path)
        if kind == "mapping":
            own = load_mapping(path)
            ds = check_dataset_name(
                dataset or own.dataset or need_dataset(f"{raw}, which names none")
            )
            items.extend(_items_from_mapping(own, ds, str(path)))
            continue
        if kind == "ftm":
            items.append(Item(kind="ftm", dataset=need_dataset(raw), display=raw, path=path))
            continue
        if spec is None:
            if kind == "csv" and _is_statements(path):
                items.append(
                    Item(kind="statements", dataset=need_dataset(raw), display=raw, path=path)
                )
                continue
            raise ConfigError(f"{raw}: a {kind.upper()} file needs --mapping")
        items.append(
            Item(
                kind=kind,
                dataset=need_dataset(raw),
                display=raw,
                path=path,
                mapping=spec,
                mapping_path=mapping,
            )
        )
    return items


def _items_from_mapping(spec: MappingSpec, dataset: str, mapping_path: str) -> list[Item]:
    """Items for the files and databases a mapping's queries name themselves."""
    base = Path(spec.base_dir)
    by_key: dict[str, Item] = {}
    for q in spec.queries:
        src = q.source
        if src.kind == "sql":
            assert src.database is not None
            url = expand_database_url(src.database, f"{mapping_path}: database")
            key = "sql:" + url
            if key not in by_key:
                by_key[key] = Item(
                    kind="sql",
                    dataset=dataset,
                    display=safe_url(url),
                    url=url,
                    mapping=spec,
                    mapping_path=mapping_path,
                    queries=(),
                )
            item = by_key[key]
            item.queries = (*(item.queries or ()), q.index)
            continue
        if src.kind == "file":
            raise ConfigError(f"{mapping_path}: query {q.index} names no file; give the file")
        for url in src.urls:
            if url.startswith(("http://", "https://")):
                raise ConfigError(
                    f"{mapping_path}: {url} is remote; shadowtrace reads local files only"
                )
            path = inside(base, url, f"{mapping_path}: query {q.index}")
            if not path.is_file():
                raise IngestError("no such file (named by the mapping)", file=str(path))
            key = str(path)
            if key not in by_key:
                by_key[key] = Item(
                    kind=src.kind,
                    dataset=dataset,
                    display=url,
                    path=path,
                    mapping=spec,
                    mapping_path=mapping_path,
                    queries=(),
                )
            item = by_key[key]
            item.queries = (*(item.queries or ()), q.index)
    return list(by_key.values())
