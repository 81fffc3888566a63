"""Value cleaning, in bulk.

FollowTheMoney cleans every value through its property type (a country name
becomes ``de``, a date in a given format becomes ISO 8601, a phone number E.164).
Doing that once per row is what makes row-by-row mapping slow. Here:

* the text clean-up FtM applies to every source value (``sanitize_text``: NFC,
  unsafe characters removed, whitespace stripped) runs as SQL in DuckDB;
* type cleaning runs in Python, but only once per *distinct* (type, value,
  format, fuzzy) combination, and the result is joined back in SQL.

The result is exactly FtM's (tests check it against FtM's own functions).
"""

from __future__ import annotations

import sys
from functools import cache

import duckdb
import pyarrow as pa
from followthemoney.types import registry
from followthemoney.types.common import PropertyType
from normality.cleaning import remove_unsafe_chars

__all__ = ["clean_distinct", "needs_python_clean", "sanitize_sql", "strip_sql"]


def _char_class(codepoints: list[int]) -> str:
    """An RE2 character class for the given code points, with ranges merged."""
    ranges: list[tuple[int, int]] = []
    for cp in sorted(codepoints):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    parts = []
    for lo, hi in ranges:
        parts.append(f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}")
    return "[" + "".join(parts) + "]"


@cache
def _classes() -> tuple[str, str, str]:
    """Derive, from normality's own function, which characters it deletes, which it
    turns into a space, and which whitespace ``str.strip`` then removes.

    All code points are probed in one pass: joined by a separator that the function
    keeps, the output splits back into one piece per code point.
    """
    sep = "a"
    cps = [
        cp
        for cp in range(sys.maxunicode + 1)
        if not 0xD800 <= cp <= 0xDFFF and cp != ord(sep)  # no surrogates in UTF-8
    ]
    probe = sep.join(chr(cp) for cp in cps)
    pieces = remove_unsafe_chars(probe).split(sep)
    if len(pieces) != len(cps):  # pragma: no cover - would mean normality changed shape
        raise RuntimeError("normality.remove_unsafe_chars changed: cannot derive its classes")
    delete = [cp for cp, out in zip(cps, pieces, strict=True) if out == ""]
    space = [cp for cp, out in zip(cps, pieces, strict=True) if out not in ("", chr(cp))]
    unsafe = set(delete) | set(space)
    strip = [cp for cp in cps if chr(cp).isspace() and cp not in unsafe]
    return _char_class(delete), _char_class(space), _char_class(strip)


def strip_sql(expr: str) -> str:
    """SQL for Python's ``str.strip()`` on an expression that has no unsafe chars."""
    _, _, strip = _classes()
    return f"regexp_replace({expr}, '^{strip}+|{strip}+$', '', 'g')"


def sanitize_sql(expr: str) -> str:
    """SQL equivalent of ``followthemoney.util.sanitize_text`` for a VARCHAR.

    Plain printable ASCII takes a fast path (NFC and the unsafe-character rules
    cannot change it; only surrounding spaces go).
    """
    delete, space, _ = _classes()
    slow = strip_sql(
        f"regexp_replace(regexp_replace(nfc_normalize({expr}), '{delete}', '', 'g'), "
        f"'{space}', ' ', 'g')"
    )
    return (
        f"nullif(CASE WHEN regexp_full_match({expr}, '[ -~]*') THEN trim({expr}) "
        f"ELSE {slow} END, '')"
    )


@cache
def needs_python_clean(type_name: str) -> bool:
    """Whether FtM's cleaning of this type does more than pass text through."""
    ptype = registry.get(type_name)
    if ptype is None or ptype is registry.entity:
        return False
    return type(ptype).clean_text is not PropertyType.clean_text


def _clean_one(type_name: str, value: str, fmt: str | None, fuzzy: bool) -> str | None:
    ptype = registry.get(type_name)
    if ptype is None:
        return None
    try:
        return ptype.clean_text(value, fuzzy=fuzzy, format=fmt)
    except (ValueError, TypeError, OverflowError):
        # A malformed `format` (for example a bad strptime pattern) or a value the
        # parser chokes on: the value cannot be read as this type.
        return None


def clean_distinct(con: duckdb.DuckDBPyConnection, source: str, target: str) -> int:
    """Clean the distinct values of ``source`` into a new temp table ``target``.

    ``source`` has columns (prop_type, raw, fmt, fuzzy); ``target`` gets the same
    plus ``value`` (NULL when the value cannot be read as its type). Returns the
    number of distinct values cleaned in Python.
    """
    rel = con.sql(f"SELECT DISTINCT prop_type, raw, fmt, fuzzy FROM {source}").to_arrow_table()
    types = rel.column("prop_type").to_pylist()
    raws = rel.column("raw").to_pylist()
    fmts = rel.column("fmt").to_pylist()
    fuzzies = rel.column("fuzzy").to_pylist()
    cache_: dict[tuple[str, str, str | None, bool], str | None] = {}
    out: list[str | None] = []
    for t, r, f, z in zip(types, raws, fmts, fuzzies, strict=True):
        key = (t, r, f, bool(z))
        if key not in cache_:
            cache_[key] = _clean_one(t, r, f, bool(z))
        out.append(cache_[key])
    table = pa.table(
        {
            "prop_type": pa.array(types, pa.string()),
            "raw": pa.array(raws, pa.string()),
            "fmt": pa.array(fmts, pa.string()),
            "fuzzy": pa.array(fuzzies, pa.bool_()),
            "value": pa.array(out, pa.string()),
        }
    )
    con.register("_clean_arrow", table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT * FROM _clean_arrow")
    finally:
        con.unregister("_clean_arrow")
    return len(out)
