"""Symbols of person names (given names across scripts, nicknames) without rigour's tagger.

rigour attaches ``NAME:…`` (one given or family name in any script), ``NICK:…`` and
``SYMBOL:…`` symbols to the parts of a person name with an Aho-Corasick automaton that
it builds from its person-name corpus on first use in every process: several seconds,
paid by every ``shadowtrace resolve`` that sees a person. The same mapping, normalised
phrase → symbols, ships here as a table (``data/person_names.parquet``, derived from
rigour's data by ``bench/build_person_names.py``, sorted by phrase); the phrases of a
name (its runs of one to ``max_tokens`` parts) are looked up in it (binary search, or
one hash lookup for a batch) and applied to the name with rigour's own
``Name.apply_phrase`` (``tag_names``), as rigour's tagger applies its matches, or
handed over as strings per part (``part_symbols``), which is what ``normalize``
needs and saves building rigour's symbol objects. Loading the table takes
a fraction of a second; building rigour's automaton takes several.

The table records the rigour version it was derived from. With any other version
installed, ``available()`` is false and names are tagged by rigour itself.

>>> from rigour.names import NameTypeTag, analyze_names
>>> name = next(iter(analyze_names(NameTypeTag.PER, ["Ben Netanyahu"], symbols=False)))
>>> tag_names([name])
True
>>> "[NICK:BEN]" in {str(s) for s in name.symbols}
True
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Final, overload

import pyarrow as pa

if TYPE_CHECKING:
    from rigour.names import Name, Symbol

__all__ = ["available", "lookup", "part_symbols", "phrases_of", "tag_names"]


class _Table:
    """The phrase table: two sorted Arrow string columns, loaded once per process."""

    def __init__(self, path: Path, max_tokens: int) -> None:
        self.path = path
        self.max_tokens = max_tokens
        self._columns: tuple[pa.StringArray, pa.StringArray] | None = None
        self._sorted: _Sorted | None = None
        self._lock = threading.Lock()

    def columns(self) -> tuple[pa.StringArray, pa.StringArray]:
        with self._lock:
            if self._columns is None:
                import pyarrow.parquet as pq

                table = pq.read_table(self.path, columns=["phrase", "symbol"])
                self._columns = (
                    table.column("phrase").combine_chunks(),
                    table.column("symbol").combine_chunks(),
                )
            return self._columns

    def sorted(self) -> _Sorted:
        """The phrase column as a sequence for binary search, made once."""
        if self._sorted is None:
            self._sorted = _Sorted(self.columns()[0])
        return self._sorted


class _Sorted(Sequence[bytes]):
    """A sorted Arrow string column as a sequence of UTF-8 ``bytes`` that ``bisect``
    can search: item ``i`` is sliced from the column's data buffer by its offsets,
    without making an Arrow scalar per probe (a binary search makes about twenty).
    UTF-8 bytes sort as their code points do, so the column's order holds."""

    def __init__(self, column: pa.StringArray) -> None:
        _, offsets, data = column.buffers()
        assert offsets is not None and data is not None
        raw = memoryview(offsets).cast("B")
        wide = raw.cast("q") if pa.types.is_large_string(column.type) else raw.cast("i")
        self.offsets = wide[column.offset : column.offset + len(column) + 1]
        self.data = memoryview(data).cast("B")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...
    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return bytes(self.data[self.offsets[index] : self.offsets[index + 1]])


@cache
def _table() -> _Table | None:
    import pyarrow.parquet as pq

    path = Path(str(resources.files("shadowtrace.resolve").joinpath("data/person_names.parquet")))
    if not path.exists():
        return None
    meta = pq.read_schema(path).metadata or {}
    if meta.get(b"rigour", b"").decode() != version("rigour"):
        return None
    return _Table(path, int(meta.get(b"max_tokens", b"4")))


def available() -> bool:
    """Whether the shipped table matches the installed rigour (else use rigour's tagger)."""
    return _table() is not None


def phrases_of(name: Name, max_tokens: int | None = None) -> list[str]:
    """Every run of one to ``max_tokens`` consecutive part forms of ``name``."""
    table = _table()
    limit = max_tokens or (table.max_tokens if table is not None else 4)
    forms = [part.form for part in name.parts]
    out: list[str] = []
    for size in range(1, min(limit, len(forms)) + 1):
        for i in range(len(forms) - size + 1):
            out.append(" ".join(forms[i : i + size]))
    return out


_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_BULK: Final = 512
"""From this many phrases on, one hash lookup over the table beats binary searches."""


def lookup(phrases: Iterable[str]) -> dict[str, list[str]]:
    """The symbols (``"NAME:Q4925477"`` …) of each phrase found in the table."""
    table = _table()
    wanted = list(dict.fromkeys(phrases))
    if table is None or not wanted:
        return {}
    phrase_col, symbol_col = table.columns()
    out: dict[str, list[str]] = {}
    if len(wanted) >= _BULK:
        import pyarrow.compute as pc

        # A phrase that is not valid Unicode (a lone surrogate, from JSON) is in no table.
        valid = [p for p in wanted if p.isascii() or not _SURROGATE.search(p)]
        rows = pc.is_in(phrase_col, value_set=pa.array(valid, pa.string()))
        found = pa.table({"p": phrase_col, "s": symbol_col}).filter(rows)
        for phrase, symbol in zip(
            found.column("p").to_pylist(), found.column("s").to_pylist(), strict=True
        ):
            out.setdefault(phrase, []).append(symbol)
        return out
    ordered = table.sorted()
    size = len(ordered)
    for phrase in wanted:
        key = phrase.encode("utf-8", "surrogatepass")
        i = bisect.bisect_left(ordered, key)
        while i < size and ordered[i] == key:
            out.setdefault(phrase, []).append(str(symbol_col[i].as_py()))
            i += 1
    return out


def part_symbols(names: Sequence[Name]) -> list[dict[int, set[str]]] | None:
    """For each name, the table's symbols of each of its parts (by part index).

    A one-word phrase gives its symbols to every part spelled so. A phrase of several
    words (rare) is applied to the name with rigour's ``Name.apply_phrase`` (which
    looks for its words in order, not necessarily side by side), so that its symbols
    reach the name's spans as rigour's tagger would have put them. ``None`` when the
    table cannot be used.
    """
    table = _table()
    if table is None:
        return None
    limit = table.max_tokens
    per_name: list[list[tuple[int, int, str]]] = []
    phrases: list[str] = []
    for name in names:
        forms = [part.form for part in name.parts]
        runs = []
        for size in range(1, min(limit, len(forms)) + 1):
            for i in range(len(forms) - size + 1):
                phrase = forms[i] if size == 1 else " ".join(forms[i : i + size])
                runs.append((i, size, phrase))
                phrases.append(phrase)
        per_name.append(runs)
    found = lookup(phrases)
    out: list[dict[int, set[str]]] = []
    for name, runs in zip(names, per_name, strict=True):
        symbols: dict[int, set[str]] = {}
        if found:
            parts = name.parts
            applied: set[str] = set()
            for start, size, phrase in runs:
                hits = found.get(phrase)
                if not hits:
                    continue
                if size == 1:
                    symbols.setdefault(parts[start].index, set()).update(hits)
                elif phrase not in applied:
                    applied.add(phrase)
                    for symbol in hits:
                        name.apply_phrase(phrase, _symbol(symbol))
        out.append(symbols)
    return out


@cache
def _symbol(text: str) -> Symbol:
    from rigour.names import Symbol

    category, _, ident = text.partition(":")
    return Symbol(getattr(Symbol.Category, category), ident)


def tag_names(names: Sequence[Name]) -> bool:
    """Apply the table's symbols to ``names`` (analysed with ``symbols=False``), in place.

    Returns False, touching nothing, when the table cannot be used.
    """
    table = _table()
    if table is None:
        return False
    per_name = [phrases_of(name, table.max_tokens) for name in names]
    found = lookup(p for phrases in per_name for p in phrases)
    if not found:
        return True
    for name, phrases in zip(names, per_name, strict=True):
        for phrase in dict.fromkeys(phrases):
            for symbol in found.get(phrase, ()):
                name.apply_phrase(phrase, _symbol(symbol))
    return True
