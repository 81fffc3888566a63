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

import gzip
import json
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from followthemoney.types import registry
from followthemoney.types.common import PropertyType
from normality.cleaning import remove_unsafe_chars
from rigour.territories import lookup_by_identifier
from rigour.territories.util import normalize_territory_name

__all__ = [
    "SQL_CLEANED_TYPES",
    "clean_distinct",
    "clean_sql",
    "needs_python_clean",
    "sanitize_sql",
    "strip_sql",
    "warm_up",
]

#: Types whose FtM cleaning is ported to SQL (exactly; see tests/unit/test_sanitize.py).
SQL_CLEANED_TYPES = frozenset({"name", "address"})


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


#: The character classes below, derived once for a given normality and Unicode
#: version and shipped with the package (deriving them probes every code point,
#: about a second and a half at every start).
CLASSES_FILE = Path(__file__).with_name("charclasses.json")


def _fingerprint() -> dict[str, str]:
    return {"normality": version("normality"), "unicode": unicodedata.unidata_version}


def derive_classes() -> dict[str, Any]:
    """Derive, from normality's own function, which characters it deletes, which it
    turns into a space, and which whitespace ``str.strip`` then removes; and which
    characters are white space to Python's ``re``.

    All code points are probed in one pass: joined by a separator that the function
    keeps, the output splits back into one piece per code point.
    """
    import re

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
    ws = re.compile(r"\s")
    return {
        "fingerprint": _fingerprint(),
        "delete": _char_class(delete),
        "space": _char_class(space),
        "strip": _char_class(strip),
        "python_ws": [cp for cp in range(sys.maxunicode + 1) if ws.match(chr(cp))],
    }


@cache
def _derived() -> dict[str, Any]:
    """The shipped classes when they were derived for the libraries installed, else
    derived now."""
    try:
        shipped: dict[str, Any] = json.loads(CLASSES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # pragma: no cover - a damaged installation
        shipped = {}
    if shipped.get("fingerprint") == _fingerprint():
        return shipped
    return derive_classes()  # pragma: no cover - another normality or Python


def _classes() -> tuple[str, str, str]:
    d = _derived()
    return d["delete"], d["space"], d["strip"]


def strip_sql(expr: str) -> str:
    """SQL for Python's ``str.strip()`` on an expression that has no unsafe chars."""
    _, _, strip = _classes()
    return f"regexp_replace({expr}, '^{strip}+|{strip}+$', '', 'g')"


def sanitize_sql(expr: str) -> str:
    """SQL equivalent of ``followthemoney.util.sanitize_text`` for a VARCHAR.

    Plain printable ASCII takes a fast path (NFC and the unsafe-character rules
    cannot change it; only surrounding spaces go), and one that neither begins nor
    ends with a space (nearly every value) is returned as it is: one pattern match,
    not a match and a trim.
    """
    delete, space, _ = _classes()
    # DuckDB's NFC stops at a NUL byte; U+0001 behaves the same under NFC (a
    # starter that composes with nothing) and is deleted right after, like NUL.
    nfc = f"nfc_normalize(replace({expr}, chr(0), chr(1)))"
    slow = strip_sql(
        f"regexp_replace(regexp_replace({nfc}, '{delete}', '', 'g'), '{space}', ' ', 'g')"
    )
    return (
        f"nullif(CASE WHEN regexp_full_match({expr}, '[!-~](?:[ -~]*[!-~])?') THEN {expr} "
        f"WHEN regexp_full_match({expr}, '[ -~]*') THEN trim({expr}) ELSE {slow} END, '')"
    )


def _python_ws() -> tuple[int, ...]:
    return tuple(_derived()["python_ws"])


@cache
def _python_ws_class() -> str:
    """Python's Unicode ``\\s`` as an RE2 class (RE2's own ``\\s`` is ASCII only)."""
    return _char_class(list(_python_ws()))


#: normality.squash_spaces collapses these besides Python's white space.
_EXTRA_SPACES = (0x2028, 0x2029, 0x0A00, 0x1680, 0x202F, 0x205F, 0x3000, *range(0x2000, 0x200B))


@cache
def _collapse_classes() -> tuple[str, str]:
    """normality's zero-width characters, and the white space it collapses, as RE2
    classes (probing the Basic Multilingual Plane takes a tenth of a second: once)."""
    from normality.cleaning import COLLAPSE_REMOVE_RE

    remove = _char_class([cp for cp in range(0x10000) if COLLAPSE_REMOVE_RE.match(chr(cp))])
    collapse = _char_class(sorted({*_python_ws(), *_EXTRA_SPACES}))
    return remove, collapse


def _squash_sql(expr: str) -> str:
    """normality.squash_spaces: drop zero-width characters, collapse white space."""
    remove, collapse = _collapse_classes()
    removed = f"regexp_replace({expr}, '{remove}', '', 'g')"
    collapsed = f"regexp_replace({removed}, '{collapse}+', ' ', 'g')"
    return f"regexp_replace({collapsed}, '^ +| +$', '', 'g')"


@cache
def _already_clean_pattern(prop_type: str) -> str:
    """A pattern that any value the cleaning would change matches; values that do
    not match are returned as they are, skipping the rewriting passes."""
    remove, _ = _collapse_classes()
    # any white space but a plain space, two spaces, a space at either end
    other_ws = _char_class(sorted({*_python_ws(), *_EXTRA_SPACES} - {0x20}))
    parts = [remove, other_ws, "  ", "^ ", " $", "^$"]
    if prop_type == "name":
        parts += ["^[\"']", "[\"']$"]
    if prop_type == "address":
        parts += ["<BR", "ESQ", ";", ",[,.]", ",\\s[,.]"]
    return "|".join(parts)


def clean_sql(prop_type: str, expr: str) -> str:
    """SQL for FtM's ``clean_text`` of the types in :data:`SQL_CLEANED_TYPES`.

    Returns NULL where FtM returns None.
    """
    slow = _clean_sql_full(prop_type, expr)
    pattern = _already_clean_pattern(prop_type).replace("'", "''")
    fast = f"regexp_matches({expr}, '{pattern}')"
    return f"CASE WHEN {fast} THEN {slow} ELSE {expr} END"


def _clean_sql_full(prop_type: str, expr: str) -> str:
    if prop_type == "name":
        # strip_quotes: Python's `$` also matches before a final newline, RE2's not.
        unquoted = f"regexp_replace({expr}, '^[\"''](.*)[\"''](\n?)$', '\\1\\2')"
        return f"nullif({_squash_sql(unquoted)}, '')"
    if prop_type == "address":
        breaks = f"regexp_replace({expr}, '\r\n|\n|<BR/>|<BR>|\t|ESQ\\.,|ESQ,|;', ', ', 'g')"
        ws = _python_ws_class()
        commata = f"regexp_replace({breaks}, ',{ws}?[,.]', ', ', 'g')"
        return f"nullif({_squash_sql(commata)}, '')"
    raise ValueError(f"no SQL cleaning for type {prop_type!r}")


@cache
def _types() -> dict[str, PropertyType]:
    return {t.name: t for t in registry.types}


@cache
def needs_python_clean(type_name: str) -> bool:
    """Whether FtM's cleaning of this type does more than pass text through."""
    ptype = _types().get(type_name)
    if ptype is None or ptype is registry.entity or type_name in SQL_CLEANED_TYPES:
        return False
    return type(ptype).clean_text is not PropertyType.clean_text


def _clean_one(type_name: str, value: str, fmt: str | None, fuzzy: bool) -> str | None:
    ptype = _types().get(type_name)
    if ptype is None:
        return None
    try:
        return ptype.clean_text(value, fuzzy=fuzzy, format=fmt)
    except (ValueError, TypeError, OverflowError):
        # A malformed `format` (for example a bad strptime pattern) or a value the
        # parser chokes on: the value cannot be read as this type.
        return None


_warming: list[threading.Thread] = []


def _country_code(value: str) -> tuple[bool, str | None]:
    """FtM's cleaning of a country *code* (two or three letters, a Wikidata id), without
    the table of territory names it loads on first use (seconds of a start): whether
    ``value`` is such a code, and what FtM makes of it. FtM's own lookup tries the
    codes first, so the result is the same."""
    territory = lookup_by_identifier(value)
    if territory is None:
        return False, None
    return True, territory.ftm_country


#: FtM reads a country *name* through rigour's table of territory names, which rigour
#: builds on first use by normalising some 25,000 names (1.6 s of CPU at every
#: start). The table, as normalised name -> FtM's country code, derived once for a
#: given rigour and shipped with the package, gives the same result.
TERRITORIES_FILE = Path(__file__).with_name("territory_names.json.gz")


def _territories_fingerprint() -> dict[str, str]:
    return {"rigour": version("rigour")}


def derive_territory_names() -> dict[str, Any]:
    """rigour's table of territory names (normalised name -> territory), as what FtM
    makes of each: its country code, or None."""
    from rigour.territories.lookup import _get_territory_names

    names = {name: t.ftm_country for name, t in sorted(_get_territory_names().items())}
    return {
        "fingerprint": _territories_fingerprint(),
        "source": "rigour.territories, derived by `python -m shadowtrace.ingest.clean`",
        "names": names,
    }


@cache
def _territory_names() -> dict[str, str | None] | None:
    """The shipped table when it was derived from the rigour installed, else None."""
    try:
        shipped = json.loads(gzip.decompress(TERRITORIES_FILE.read_bytes()))
    except (OSError, ValueError):  # pragma: no cover - a damaged installation
        return None
    if shipped.get("fingerprint") != _territories_fingerprint():
        return None  # pragma: no cover - another rigour: FtM builds its own table
    names: dict[str, str | None] = shipped["names"]
    return names


def _country(value: str, fuzzy: bool) -> tuple[bool, str | None]:
    """FtM's cleaning of a country value, where it can be had without rigour's table
    of names: (whether it could, what FtM makes of it). It follows rigour's
    ``lookup_territory``: codes first, then the normalised name; only a fuzzy search
    for a name not in the table needs rigour's own."""
    found = _country_code(value)
    if found[0]:
        return found
    names = _territory_names()
    if names is None:
        return False, None
    normalized = normalize_territory_name(value)
    if normalized in names:
        return True, names[normalized]
    return (False, None) if fuzzy else (True, None)


def warm_up(
    type_names: Iterable[str], countries: Callable[[], Iterable[str]] | None = None
) -> None:
    """Load, in a background thread, what FtM's cleaning of these types loads on first
    use, while the main thread reads the source; :func:`clean_distinct` waits for it.

    rigour's table of territory names behind ``country`` takes seconds to build and
    is needed only for values that are neither codes nor names in the shipped table
    (or for every name, when the shipped table is for another rigour).
    ``countries``, when given, yields a sample of the source's country values (read
    in the thread); the table is built only if one of them needs it. Without it the
    table is always built. Either way the result of the cleaning is the same: a value
    that needs the table builds it itself.
    """
    names = sorted({t for t in type_names if needs_python_clean(t)})
    if not names:
        return

    def run() -> None:
        for name in names:
            if name == "country" and countries is not None:
                try:
                    sample = [v for v in countries() if v and v.strip()]
                except (OSError, ValueError):  # unreadable here: the ingest will say so
                    sample = ["Deutschland"]
                if all(_country(v, False)[0] for v in sample):
                    continue
            _clean_one(name, "Deutschland", None, False)

    thread = threading.Thread(target=run, name="shadowtrace-warm-up", daemon=True)
    thread.start()
    _warming.append(thread)


def clean_distinct(con: duckdb.DuckDBPyConnection, source: str, target: str) -> int:
    """Clean the distinct values of ``source`` into a new temp table ``target``.

    ``source`` has columns (prop_type, raw, fmt, fuzzy); ``target`` gets the same
    plus ``value`` (NULL when the value cannot be read as its type). Returns the
    number of distinct values cleaned in Python.
    """
    distinct = f"SELECT DISTINCT prop_type, raw, fmt, fuzzy FROM {source}"
    rel = con.sql(distinct).to_arrow_table()
    while _warming:
        _warming.pop().join()
    types = rel.column("prop_type").to_pylist()
    raws = rel.column("raw").to_pylist()
    fmts = rel.column("fmt").to_pylist()
    fuzzies = rel.column("fuzzy").to_pylist()
    cache_: dict[tuple[str, str, str | None, bool], str | None] = {}
    out: list[str | None] = []
    for t, r, f, z in zip(types, raws, fmts, fuzzies, strict=True):
        key = (t, r, f, bool(z))
        if key not in cache_:
            found, code = _country(r, bool(z)) if t == "country" else (False, None)
            cache_[key] = code if found else _clean_one(t, r, f, bool(z))
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
        sql = f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT * FROM _clean_arrow"
        con.execute(sql)
    finally:
        con.unregister("_clean_arrow")
    return len(out)


if __name__ == "__main__":  # pragma: no cover - run after upgrading normality, rigour or Python
    CLASSES_FILE.write_text(json.dumps(derive_classes(), indent=1) + "\n", encoding="utf-8")
    table = json.dumps(derive_territory_names(), ensure_ascii=False, sort_keys=True)
    TERRITORIES_FILE.write_bytes(gzip.compress(table.encode("utf-8"), mtime=0))
