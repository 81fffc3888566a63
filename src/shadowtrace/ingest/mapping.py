"""Ingest mappings in followthemoney's mapping format.

A mapping says how the records of a table (a CSV, spreadsheet, Parquet file or SQL
query) become FtM entities: which schema, which key columns make the id, which
columns fill which properties, which entities reference each other. The format is
FtM's own (``ftm map`` reads the same files)::

    donations:               # optional dataset wrapper
      queries:
        - csv_url: donations.csv
          filters: {DonorType: PERSON}
          entities:
            donor:
              schema: Person
              key: Donor
              properties:
                name: {column: Donor}

shadowtrace adds ``parquet_url`` and ``xlsx_url`` (with ``sheet``) beside
``csv_url``, and ``encoding`` / ``delimiter`` for CSV. This module parses and
validates a mapping into typed specs; :mod:`shadowtrace.ingest.compile` turns
them into SQL.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from followthemoney.model import Model

from shadowtrace.errors import MappingError
from shadowtrace.model import get_model

__all__ = [
    "EntitySpec",
    "MappingSpec",
    "PropertySpec",
    "QuerySpec",
    "SourceSpec",
    "load_mapping",
    "parse_mapping",
]

TEMPLATE_REF = re.compile(r"{{([^(}})]*)}}")
SOURCE_KEYS = {
    "csv": ("csv_url", "csv_urls"),
    "parquet": ("parquet_url", "parquet_urls"),
    "xlsx": ("xlsx_url", "xlsx_urls"),
}


@dataclass(frozen=True)
class PropertySpec:
    prop: str
    prop_type: str
    columns: tuple[str, ...] = ()
    literals: tuple[str, ...] = ()
    template: str | None = None
    entity: str | None = None
    join: str | None = None
    split: str | None = None
    format: str | None = None
    fuzzy: bool = False
    required: bool = False

    @property
    def refs(self) -> tuple[str, ...]:
        if self.template is not None:
            return tuple(TEMPLATE_REF.findall(self.template))
        return self.columns


@dataclass(frozen=True)
class EntitySpec:
    name: str
    schema: str
    keys: tuple[str, ...] = ()
    key_literal: str | None = None
    id_column: str | None = None
    properties: tuple[PropertySpec, ...] = ()

    @property
    def dependencies(self) -> set[str]:
        return {p.entity for p in self.properties if p.entity is not None}

    @property
    def refs(self) -> set[str]:
        refs = set(self.keys)
        if self.id_column is not None:
            refs.add(self.id_column)
        for prop in self.properties:
            refs.update(prop.refs)
        return refs


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # csv, parquet, xlsx, sql
    urls: tuple[str, ...] = ()
    database: str | None = None
    tables: tuple[tuple[str, str], ...] = ()  # (table, alias)
    joins: tuple[tuple[str, str], ...] = ()
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None


@dataclass(frozen=True)
class QuerySpec:
    index: int
    source: SourceSpec
    entities: tuple[EntitySpec, ...]  # in dependency order
    filters: tuple[tuple[str, tuple[str | None, ...]], ...] = ()
    filters_not: tuple[tuple[str, tuple[str | None, ...]], ...] = ()

    @property
    def refs(self) -> set[str]:
        refs: set[str] = set()
        for entity in self.entities:
            refs.update(entity.refs)
        refs.update(k for k, _ in self.filters)
        refs.update(k for k, _ in self.filters_not)
        return refs


@dataclass(frozen=True)
class MappingSpec:
    path: str | None
    dataset: str | None
    queries: tuple[QuerySpec, ...]
    sha256: str
    base_dir: str = field(default=".")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool) or value is None:
        raise MappingError(f"{where}: expected text, got {value!r}")
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise MappingError(f"{where}: expected text, got {type(value).__name__}")
    return value


def _keys(data: dict[str, Any], one: str, many: str, where: str) -> tuple[str, ...]:
    values = _as_list(data.get(one)) + _as_list(data.get(many))
    return tuple(_text(v, f"{where}.{one}") for v in values)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _parse_property(
    model: Model, schema_name: str, name: str, data: Any, where: str
) -> PropertySpec:
    schema = model.get(schema_name)
    assert schema is not None
    prop = schema.get(name)
    if prop is None:
        raise MappingError(f"{where}: schema {schema_name} has no property {name!r}")
    if prop.stub:
        raise MappingError(f"{where}: property {prop.qname} is a reverse (stub) property")
    if not isinstance(data, dict):
        raise MappingError(f"{where}: expected a mapping of options, got {data!r}")
    known = {
        "column", "columns", "literal", "literals", "template", "entity", "join",
        "split", "format", "fuzzy", "required",
    }  # fmt: skip
    unknown = set(data) - known
    if unknown:
        raise MappingError(f"{where}: unknown option(s) {', '.join(sorted(unknown))}")
    entity = data.get("entity")
    template = data.get("template")
    spec = PropertySpec(
        prop=prop.name,
        prop_type=prop.type.name,
        columns=_keys(data, "column", "columns", where),
        literals=_keys(data, "literal", "literals", where),
        template=None if template is None else _text(template, f"{where}.template"),
        entity=None if entity is None else _text(entity, f"{where}.entity"),
        join=None if data.get("join") is None else _text(data["join"], f"{where}.join"),
        split=None if data.get("split") is None else _text(data["split"], f"{where}.split"),
        format=None if data.get("format") is None else _text(data["format"], f"{where}.format"),
        fuzzy=_bool(data.get("fuzzy", False)),
        required=_bool(data.get("required", False)),
    )
    if spec.entity is not None and prop.type.name != "entity":
        raise MappingError(f"{where}: only entity properties can take `entity:`")
    if spec.split == "":
        raise MappingError(f"{where}.split: must not be empty")
    return spec


def _parse_entity(model: Model, name: str, data: Any, where: str) -> EntitySpec:
    if not isinstance(data, dict):
        raise MappingError(f"{where}: expected a mapping, got {data!r}")
    schema_name = data.get("schema")
    if not schema_name:
        raise MappingError(f"{where}: no schema")
    schema = model.get(schema_name)
    if schema is None:
        raise MappingError(f"{where}: unknown schema {schema_name!r}")
    if schema.abstract:
        raise MappingError(f"{where}: schema {schema.name} is abstract")
    keys = _keys(data, "key", "keys", where)
    id_column = data.get("id_column")
    if not keys and id_column is None:
        raise MappingError(f"{where}: no keys or id_column")
    if keys and id_column is not None:
        raise MappingError(f"{where}: use either keys or id_column, not both")
    props_data = data.get("properties") or {}
    if not isinstance(props_data, dict):
        raise MappingError(f"{where}.properties: expected a mapping")
    props = tuple(
        _parse_property(model, schema.name, str(pname), pdata, f"{where}.properties.{pname}")
        for pname, pdata in props_data.items()
    )
    key_literal = data.get("key_literal")
    return EntitySpec(
        name=name,
        schema=schema.name,
        keys=keys,
        key_literal=None if key_literal is None else _text(key_literal, f"{where}.key_literal"),
        id_column=None if id_column is None else _text(id_column, f"{where}.id_column"),
        properties=props,
    )


def _order(entities: list[EntitySpec], model: Model, where: str) -> tuple[EntitySpec, ...]:
    by_name = {e.name: e for e in entities}
    for entity in entities:
        schema = model.get(entity.schema)
        assert schema is not None
        for prop in entity.properties:
            if prop.entity is None:
                continue
            target = by_name.get(prop.entity)
            if target is None:
                raise MappingError(
                    f"{where}.{entity.name}.properties.{prop.prop}: no entity {prop.entity!r}"
                )
            prange = schema.get(prop.prop)
            assert prange is not None
            target_schema = model.get(target.schema)
            assert target_schema is not None
            if prange.range is None or not target_schema.is_a(prange.range):
                raise MappingError(
                    f"{where}.{entity.name}.properties.{prop.prop}: must be a "
                    f"{prange.range.name if prange.range else '?'} (not {target.schema})"
                )
    ordered: list[EntitySpec] = []
    done: set[str] = set()
    pending = list(entities)
    while pending:
        ready = [e for e in pending if e.dependencies <= done]
        if not ready:
            names = ", ".join(e.name for e in pending)
            raise MappingError(f"{where}: circular entity references among {names}")
        for entity in ready:
            ordered.append(entity)
            done.add(entity.name)
            pending.remove(entity)
    return tuple(ordered)


def _filters(data: Any, where: str) -> tuple[tuple[str, tuple[str | None, ...]], ...]:
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise MappingError(f"{where}: expected a mapping of column: value(s)")
    out = []
    for key, value in data.items():
        values = tuple(None if v is None else _text(v, f"{where}.{key}") for v in _as_list(value))
        out.append((str(key), values))
    return tuple(out)


def _parse_source(data: dict[str, Any], where: str) -> SourceSpec:
    if "database" in data:
        tables: list[tuple[str, str]] = []
        for t in _as_list(data.get("table")) + _as_list(data.get("tables")):
            if isinstance(t, str):
                tables.append((t, t))
            elif isinstance(t, dict) and t.get("table"):
                name = _text(t["table"], f"{where}.tables")
                tables.append((name, _text(t.get("alias", name), f"{where}.tables.alias")))
            else:
                raise MappingError(f"{where}.tables: each table needs a name")
        if not tables:
            raise MappingError(f"{where}: a database query needs at least one table")
        joins = []
        for j in _as_list(data.get("joins")):
            if not isinstance(j, dict) or "left" not in j or "right" not in j:
                raise MappingError(f"{where}.joins: each join needs left and right")
            joins.append((_text(j["left"], f"{where}.joins"), _text(j["right"], f"{where}.joins")))
        return SourceSpec(
            kind="sql",
            database=_text(data["database"], f"{where}.database"),
            tables=tuple(tables),
            joins=tuple(joins),
        )
    for kind, (one, many) in SOURCE_KEYS.items():
        urls = _keys(data, one, many, where)
        if urls:
            return SourceSpec(
                kind=kind,
                urls=urls,
                sheet=None if data.get("sheet") is None else _text(data["sheet"], where),
                encoding=None if data.get("encoding") is None else _text(data["encoding"], where),
                delimiter=None
                if data.get("delimiter") is None
                else _text(data["delimiter"], where),
            )
    # No url: the files come from the command line or the manifest.
    return SourceSpec(
        kind="file",
        encoding=None if data.get("encoding") is None else _text(data["encoding"], where),
        delimiter=None if data.get("delimiter") is None else _text(data["delimiter"], where),
        sheet=None if data.get("sheet") is None else _text(data["sheet"], where),
    )


def _parse_query(model: Model, index: int, data: Any, where: str) -> QuerySpec:
    if not isinstance(data, dict):
        raise MappingError(f"{where}: expected a mapping")
    ents = data.get("entities")
    if not isinstance(ents, dict) or not ents:
        raise MappingError(f"{where}: no entities are defined")
    entities = [
        _parse_entity(model, str(name), edata, f"{where}.entities.{name}")
        for name, edata in ents.items()
    ]
    return QuerySpec(
        index=index,
        source=_parse_source(data, where),
        entities=_order(entities, model, f"{where}.entities"),
        filters=_filters(data.get("filters"), f"{where}.filters"),
        filters_not=_filters(data.get("filters_not"), f"{where}.filters_not"),
    )


def parse_mapping(
    data: Any, path: str | None = None, raw: bytes | None = None, base_dir: str = "."
) -> MappingSpec:
    """Parse a mapping already read from YAML (a dict)."""
    model = get_model()
    where = path or "mapping"
    if not isinstance(data, dict):
        raise MappingError(f"{where}: a mapping must be a YAML mapping, not {type(data).__name__}")
    dataset: str | None = None
    body = data
    if "queries" not in data and "query" not in data and "entities" not in data:
        # Dataset wrapper: {name: {queries: [...]}}
        if len(data) != 1:
            raise MappingError(f"{where}: expected `queries`, `entities` or one dataset name")
        dataset, body = next(iter(data.items()))
        dataset = str(dataset)
        if not isinstance(body, dict):
            raise MappingError(f"{where}.{dataset}: expected a mapping")
    if "queries" in body or "query" in body:
        queries = _as_list(body.get("query")) + _as_list(body.get("queries"))
    else:
        queries = [body]
    if not queries:
        raise MappingError(f"{where}: no queries")
    specs = tuple(
        _parse_query(model, i, q, f"{where}: queries[{i}]") for i, q in enumerate(queries)
    )
    digest = hashlib.sha256(raw if raw is not None else repr(data).encode()).hexdigest()
    return MappingSpec(path=path, dataset=dataset, queries=specs, sha256=digest, base_dir=base_dir)


def load_mapping(path: str | os.PathLike[str]) -> MappingSpec:
    """Read and validate a mapping file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise MappingError(f"Cannot read mapping {p}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(raw.decode("utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MappingError(f"{p}: not valid YAML: {exc}") from exc
    return parse_mapping(data, path=str(p), raw=raw, base_dir=str(p.parent))
