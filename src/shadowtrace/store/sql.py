"""Small helpers to compose SQL safely.

Values are always bound as parameters (``?``); identifiers that come from data or
users (column names of a CSV header, table aliases) go through :func:`ident`.

>>> ident('name')
'"name"'
>>> ident('we"ird')
'"we""ird"'
"""

from __future__ import annotations

__all__ = ["ident", "qualified", "string_literal"]


def ident(name: str) -> str:
    """Quote an identifier for DuckDB (and Spark SQL with ANSI quoting)."""
    if "\x00" in name:
        raise ValueError("identifier contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def qualified(*parts: str) -> str:
    return ".".join(ident(p) for p in parts)


def string_literal(value: str) -> str:
    """A SQL string literal, for the few places that cannot take a parameter.

    DuckDB cannot bind parameters inside some constructs (for example the
    arguments of a table function in a ``CREATE VIEW``). Use only there.
    """
    if "\x00" in value:
        raise ValueError("string contains a NUL character")
    return "'" + value.replace("'", "''") + "'"
