"""The SQL port of followthemoney's text clean-up gives exactly what FtM gives."""

from __future__ import annotations

import gzip
import json

import duckdb
import pyarrow as pa
from followthemoney.types import registry
from followthemoney.util import sanitize_text
from hypothesis import given, settings
from hypothesis import strategies as st

from shadowtrace.ingest.clean import (
    CLASSES_FILE,
    TERRITORIES_FILE,
    clean_distinct,
    clean_sql,
    derive_classes,
    derive_territory_names,
    sanitize_sql,
    strip_sql,
)

# Every code point but surrogates (DuckDB strings are valid UTF-8).
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
# Printable ASCII, spaces around or not: the fast paths.
ASCII = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
SPECIAL = st.sampled_from(
    [" ", "\t", "\n", "\r", "\x00", "\x0b", "\x85", "\xa0", "\u200b", "\u2003", "\u3000",
     "\ufeff", "\u00ad", "e\u0301", "Ä", "中", "ё", "\u2028", "'", '"', "a"]
)  # fmt: skip


def _sql(values: list[str]) -> list[str | None]:
    con = duckdb.connect()
    con.register("t", pa.table({"i": list(range(len(values))), "v": values}))
    rows = con.execute(f"SELECT i, {sanitize_sql('v')} FROM t ORDER BY i").fetchall()
    return [r[1] for r in rows]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(TEXT, ASCII, st.lists(SPECIAL, max_size=8).map("".join)), min_size=1, max_size=20
    )
)
def test_sanitize_sql_equals_ftm(values):
    assert _sql(values) == [sanitize_text(v) for v in values]


def test_sanitize_known_cases():
    cases = [
        "  a b ", "\xa0x\u2003y\u200b\x00z\t\n", "e\u0301", "", " ", "\ufeffabc", "\u3000中文 ",
        "\x00¡", "e\x00\u0301", "a", " a", "a ", "a b", "~!", " ", "  ", "a\tb", "a\x7f",
    ]  # fmt: skip
    assert _sql(cases) == [sanitize_text(c) for c in cases]


def test_strip_matches_python():
    con = duckdb.connect()
    for value in [" x ", "\t\n x \xa0", "x", ""]:
        got = con.execute(f"SELECT {strip_sql('?::VARCHAR')}", [value]).fetchall()[0][0]
        assert got == value.strip()


NAMEISH = st.lists(
    st.sampled_from(
        ['"', "'", " ", "  ", "\n", "\t", ";", ",", ".", "<BR>", "<BR/>", "ESQ.,", "ESQ,",
         "\u200b", "\u00ad", "\u3000", "\u0a00", "\xa0", "\x1c", "\r\n", "Ivan", "ООО", "中文", "a"]
    ),
    max_size=12,
).map("".join)  # fmt: skip


def _clean(prop_type: str, values: list[str]) -> list[str | None]:
    con = duckdb.connect()
    con.register("t", pa.table({"i": list(range(len(values))), "v": values}))
    rows = con.execute(f"SELECT i, {clean_sql(prop_type, 'v')} FROM t ORDER BY i").fetchall()
    return [r[1] for r in rows]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(NAMEISH, TEXT), min_size=1, max_size=20))
def test_name_and_address_cleaning_equal_ftm(values):
    # FtM cleans values that sanitize_text already cleaned; test on those.
    values = [v for v in (sanitize_text(x) for x in values) if v is not None] or ["x"]
    for prop_type in ("name", "address"):
        ptype = registry.get(prop_type)
        assert _clean(prop_type, values) == [ptype.clean_text(v) for v in values], prop_type


def test_shipped_character_classes_are_derived_from_the_installed_libraries():
    """The classes shipped with the package are what normality and Python give now;
    when this fails, regenerate them: ``python -m shadowtrace.ingest.clean``."""
    shipped = json.loads(CLASSES_FILE.read_text(encoding="utf-8"))
    assert shipped == derive_classes()


COUNTRY_CODES = ["ge", "GE", "de", "DEU", "ru", "su", "xk", "zz", "eu", "Q183", "q159", "cn", "HK"]
COUNTRY_TEXT = [
    "Deutschland", "Russia", "КНР", "Китай", "中国", "", " ", "ge ", "gEo", "RUS.", "Germany",
    "Federal Republic of Germany", "Russian Federation", "Росси́я", "Hong Kong", "Soviet Union",
    "Moskva", "Shenzhen", "Pyongyang", "Kosovo", "Deutschlandd", "Rusia",
]  # fmt: skip


def _clean_countries(values: list[str], fuzzy: bool) -> dict[str, str | None]:
    """Each value as the bulk cleaning makes it a country code."""
    con = duckdb.connect()
    n = len(values)
    columns = {
        "prop_type": ["country"] * n,
        "raw": values,
        "fmt": pa.array([None] * n, pa.string()),
        "fuzzy": [fuzzy] * n,
    }
    con.register("src", pa.table(columns))
    clean_distinct(con, "src", "out")
    return dict(con.execute("SELECT raw, value FROM out").fetchall())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(COUNTRY_CODES + COUNTRY_TEXT), TEXT),
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
)
def test_countries_clean_as_ftm_cleans_them(values: list[str], fuzzy: bool) -> None:
    # Codes, and names in the shipped table, are read without FtM's own table of
    # territory names; the result is FtM's, fuzzy or not.
    got = _clean_countries(values, fuzzy)
    assert got == {v: registry.country.clean_text(v, fuzzy=fuzzy) for v in values}


def test_every_territory_name_cleans_as_ftm_cleans_it() -> None:
    """Each of rigour's 25,000 territory names, as written in its data and as
    normalised, gives FtM's country code (or FtM's None)."""
    from rigour.territories.lookup import _load_territory_names

    written = {
        n for _, strong, weak, places in _load_territory_names() for n in strong + weak + places
    }
    values = sorted(written | set(derive_territory_names()["names"]))
    assert len(values) > 20_000
    got = _clean_countries(values, fuzzy=False)
    assert got == {v: registry.country.clean_text(v) for v in values}


def test_shipped_territory_names_are_derived_from_the_installed_rigour():
    """When this fails, regenerate the table: ``python -m shadowtrace.ingest.clean``."""
    shipped = json.loads(gzip.decompress(TERRITORIES_FILE.read_bytes()))
    assert shipped == derive_territory_names()
