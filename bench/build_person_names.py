"""Derive the person-name symbol table that ``resolve.persons`` ships from rigour's data.

    python bench/build_person_names.py [--corpus person_names.txt] [--symbols symbols.json]

rigour tags person names with an Aho-Corasick automaton that it builds, on first use
in every process, from its person-name corpus (about 170,000 groups of spellings of
one given or family name, from Wikidata) and its name symbols. Building it takes
several seconds, which dominated the start-up of ``shadowtrace resolve``. This script
writes the same mapping, *normalised phrase → symbols*, as a sorted Parquet table
(``src/shadowtrace/resolve/data/person_names.parquet``), built exactly as rigour's
``build_person_tagger`` builds its automaton:

* every phrase is normalised with rigour's ``normalize(…, CASEFOLD | NAME)``;
* corpus groups with fewer than two distinct normalised spellings are skipped;
* ``person_symbols`` become ``SYMBOL:…``, ``person_name_parts`` ``NAME:…`` and
  ``person_nick`` ``NICK:…`` (upper-cased keys), corpus groups ``NAME:<group id>``.

The corpus and the symbols are read from files when given (``rust/data/names/`` in
rigour's source distribution), otherwise from the installed rigour extension module,
which carries both as zstd frames; the frames are found by their content. The table
records the rigour version it was derived from; at run time a different version of
rigour makes ``resolve.persons`` fall back to rigour's own tagger.
"""

from __future__ import annotations

import argparse
import json
import re
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import rigour
from rigour.text.normalize import Cleanup, Normalize, normalize

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "shadowtrace" / "resolve" / "data" / "person_names.parquet"
FLAGS = Normalize.CASEFOLD | Normalize.NAME
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _frame_end(data: bytes, start: int) -> int | None:
    """The end offset of the zstd frame starting at ``start`` (RFC 8878), or None."""
    pos = start + 4
    if pos >= len(data):
        return None
    fhd = data[pos]
    pos += 1
    fcs_flag, single, checksum, dict_flag = fhd >> 6, (fhd >> 5) & 1, (fhd >> 2) & 1, fhd & 3
    if (fhd >> 3) & 1:  # reserved bit
        return None
    if not single:
        pos += 1
    pos += (0, 1, 2, 4)[dict_flag]
    pos += (1 if single else 0, 2, 4, 8)[fcs_flag]
    while pos + 3 <= len(data):
        header = int.from_bytes(data[pos : pos + 3], "little")
        pos += 3
        last, kind, size = header & 1, (header >> 1) & 3, header >> 3
        if kind == 3:
            return None
        pos += 1 if kind == 1 else size
        if last:
            return pos + (4 if checksum else 0)
    return None


def _frames(path: Path) -> list[bytes]:
    """Every zstd frame in ``path`` that decompresses, decompressed."""
    data = path.read_bytes()
    out: list[bytes] = []
    for match in re.finditer(re.escape(ZSTD_MAGIC), data):
        end = _frame_end(data, match.start())
        if end is None or end > len(data):
            continue
        try:
            stream = pa.CompressedInputStream(pa.BufferReader(data[match.start() : end]), "zstd")
            out.append(stream.read())
        except (OSError, pa.ArrowInvalid):
            continue
    return out


def _from_extension() -> tuple[str, str]:
    module = next(Path(rigour.__file__).parent.glob("_core*.so"), None)
    if module is None:
        raise SystemExit("rigour's extension module was not found: pass --corpus and --symbols")
    corpus = symbols = None
    for blob in _frames(module):
        text = blob.decode("utf-8", "replace")
        if corpus is None and re.match(r"[^\n]*, [^\n]* => [QX]\d", text):
            corpus = text
        elif symbols is None and text.lstrip().startswith("{") and '"person_nick"' in text:
            symbols = text
    if corpus is None or symbols is None:
        raise SystemExit("rigour's person-name data was not found: pass --corpus and --symbols")
    return corpus, symbols


def build(corpus: str, symbols: str) -> dict[str, set[str]]:
    mapping: dict[str, set[str]] = {}

    def add(alias: str, symbol: str) -> None:
        key = normalize(alias, FLAGS, Cleanup.Noop)
        if key:
            mapping.setdefault(key, set()).add(symbol)

    data = json.loads(symbols)
    for category, section in (
        ("SYMBOL", "person_symbols"),
        ("NAME", "person_name_parts"),
        ("NICK", "person_nick"),
    ):
        for key, aliases in data[section].items():
            for alias in aliases:
                add(alias, f"{category}:{key.upper()}")
    for line in corpus.splitlines():
        line = line.strip()
        forms, sep, gid = line.rpartition(" => ")
        if not sep:
            continue
        normed = {k for k in (normalize(a, FLAGS, Cleanup.Noop) for a in forms.split(", ")) if k}
        if len(normed) < 2:
            continue
        for key in normed:
            mapping.setdefault(key, set()).add(f"NAME:{gid}")
    return mapping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", help="rigour's rust/data/names/person_names.txt")
    parser.add_argument("--symbols", help="rigour's rust/data/names/symbols.json")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if args.corpus and args.symbols:
        corpus = Path(args.corpus).read_text("utf-8")
        symbols = Path(args.symbols).read_text("utf-8")
    else:
        corpus, symbols = _from_extension()
    mapping = build(corpus, symbols)
    phrases: list[str] = []
    values: list[str] = []
    for phrase in sorted(mapping):
        for symbol in sorted(mapping[phrase]):
            phrases.append(phrase)
            values.append(symbol)
    table = pa.table({"phrase": pa.array(phrases), "symbol": pa.array(values)})
    table = table.replace_schema_metadata(
        {"rigour": version("rigour"), "max_tokens": str(max(p.count(" ") + 1 for p in mapping))}
    )
    pq.write_table(
        table,
        args.out,
        compression="zstd",
        compression_level=19,
        row_group_size=65536,
        use_dictionary=False,
        column_encoding={"phrase": "DELTA_BYTE_ARRAY", "symbol": "DELTA_BYTE_ARRAY"},
    )
    size = Path(args.out).stat().st_size
    print(f"{len(mapping):,} phrases, {len(phrases):,} rows -> {args.out} ({size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
