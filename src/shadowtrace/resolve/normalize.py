"""Normalise names, identifiers, phones and addresses into compare forms.

A *compare form* is what two records are compared on: not for display, but
built so that the spellings of one thing in different scripts, transliterations and
legal-form conventions come out alike.

Names are analysed with rigour (prefix removal, org-type compare forms, part tags,
cross-script name symbols, metaphone), after Han-script text has been rewritten
into Latin words: a Chinese company name is split into place, trade name, line of
business and legal form (``resolve/data/han.yml``), places and trade names are
romanised with pypinyin, the rest is replaced by its English word.

>>> form = name_form("ООО Восток-Трейд", "ORG")
>>> form.key
'ooo vostok treid'
>>> [t.kind for t in form.tokens]
['legal', 'name', 'name']
>>> name_form("深圳市华强电子有限公司", "ORG").key
'shenzhen huaqiang electronics coltd'
>>> name_form("习近平", "PER").key
'xi jinping'
>>> skeleton("treyd") == skeleton("trejd") == skeleton("treid")
True
>>> normalize_identifier("7707083893").scheme
'inn'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Final, Literal, NamedTuple

import yaml
from rigour.addresses import normalize_address
from rigour.ids import IBAN as IBAN_ID
from rigour.ids import IMO as IMO_ID
from rigour.ids import INN, LEI, OGRN, USCC, IdentifierFormat
from rigour.names import Name, NamePartTag, NameTypeTag, Symbol, SymbolCategory, analyze_names
from rigour.text.scripts import text_scripts

from shadowtrace.resolve import persons

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_TOKENS",
    "PERSONAL_SCHEMES",
    "STRONG_SCHEMES",
    "Identifier",
    "NameForm",
    "NameType",
    "Token",
    "TokenKind",
    "clean_text",
    "han_pinyin_table",
    "han_to_latin",
    "name_form",
    "name_forms",
    "name_type_of_schema",
    "normalize_address_text",
    "normalize_identifier",
    "normalize_phone",
    "pinyin_to_english",
    "scripts_of",
    "skeleton",
    "wade_giles_to_pinyin",
]

MAX_NAME_CHARS: Final = 300
"""Longer names are cut to this many characters before they are compared."""

MAX_TOKENS: Final = 24
"""At most this many tokens of one name take part in a comparison."""

NameType = Literal["PER", "ORG", "ENT", "OBJ"]
TokenKind = Literal["name", "initial", "legal", "generic", "place", "number", "stop"]

_TYPE_TAGS: Final[dict[str, NameTypeTag]] = {
    "PER": NameTypeTag.PER,
    "ORG": NameTypeTag.ORG,
    "ENT": NameTypeTag.ENT,
    "OBJ": NameTypeTag.OBJ,
}


def name_type_of_schema(schema: str) -> NameType:
    """The kind of name an entity of ``schema`` carries (person, organisation, object).

    >>> name_type_of_schema("Person"), name_type_of_schema("Company")
    ('PER', 'ORG')
    """
    from shadowtrace.model import get_model

    model = get_model()
    found = model.get(schema)
    if found is None:
        return "ENT"
    if found.is_a("Person"):
        return "PER"
    if found.is_a("Organization"):
        return "ORG"
    if found.is_a("Vessel") or found.is_a("Asset") or found.is_a("Airplane"):
        return "OBJ"
    return "ENT"


# --------------------------------------------------------------------------- text

_SPACE = re.compile(r"\s+")


def clean_text(value: str, limit: int = MAX_NAME_CHARS) -> str:
    """NFC-normalise, drop control and format characters, collapse spaces, cut to ``limit``.

    >>> clean_text("  Acme\\x00\\u200b Ltd\\t ")
    'Acme Ltd'
    """
    value = value[: limit * 4]
    if value.isprintable():
        # No control, format or separator characters but the ASCII space: the common case.
        if not unicodedata.is_normalized("NFC", value):
            value = unicodedata.normalize("NFC", value)
        return " ".join(value.split())[:limit].strip()
    value = unicodedata.normalize("NFC", value)
    kept = []
    for char in value:
        category = unicodedata.category(char)
        if category[0] == "C":
            kept.append(" " if char in "\t\n\r\x0b\x0c" else "")
        else:
            kept.append(char)
    return _SPACE.sub(" ", "".join(kept)).strip()[:limit].strip()


def scripts_of(value: str) -> frozenset[str]:
    """The Unicode scripts the letters of ``value`` are written in.

    >>> sorted(scripts_of("ООО Vostok 华强"))
    ['Cyrillic', 'Han', 'Latin']
    """
    return frozenset(text_scripts(value))


# ----------------------------------------------------------------- Chinese (Han)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


@dataclass(frozen=True, slots=True)
class _HanGlossary:
    words: dict[str, str]
    """Chinese word → Latin replacement (legal forms, business words)."""
    places: frozenset[str]
    place_suffixes: tuple[str, ...]
    compound_family: frozenset[str]
    longest: int


@cache
def _han_glossary() -> _HanGlossary:
    text = resources.files("shadowtrace.resolve").joinpath("data/han.yml").read_text("utf-8")
    data = yaml.safe_load(text)
    words: dict[str, str] = {}
    words.update({str(k): str(v) for k, v in data["legal_forms"].items()})
    words.update({str(k): str(v) for k, v in data["terms"].items()})
    places = frozenset(str(p) for p in data["places"])
    suffixes = tuple(sorted((str(s) for s in data["place_suffixes"]), key=len, reverse=True))
    longest = max(len(w) for w in [*words, *places])
    return _HanGlossary(
        words=words,
        places=places,
        place_suffixes=suffixes,
        compound_family=frozenset(str(n) for n in data["compound_family_names"]),
        longest=longest,
    )


def _pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin  # loads its phrase tables: only when Han text is seen

    return "".join(lazy_pinyin(text, errors="ignore")).lower()


def _han_org(run: str) -> list[str]:
    """Split a Han run of an organisation name into Latin words."""
    glossary = _han_glossary()
    out: list[str] = []
    pending = ""  # Han characters not covered by the glossary: a trade name

    def flush() -> None:
        nonlocal pending
        if pending:
            out.append(_pinyin(pending))
            pending = ""

    i = 0
    while i < len(run):
        match = None
        for size in range(min(glossary.longest, len(run) - i), 0, -1):
            word = run[i : i + size]
            if word in glossary.words or word in glossary.places:
                match = word
                break
        # A place suffix (市, 省 …) right after uncovered characters makes them a place.
        if match is None and pending:
            for suffix in glossary.place_suffixes:
                if run.startswith(suffix, i):
                    flush()
                    i += len(suffix)
                    break
            else:
                pending += run[i]
                i += 1
            continue
        if match is None:
            pending += run[i]
            i += 1
            continue
        flush()
        out.append(glossary.words.get(match) or _pinyin(match))
        i += len(match)
        for suffix in glossary.place_suffixes:
            if match in glossary.places and run.startswith(suffix, i):
                i += len(suffix)
                break
    flush()
    return out


def _han_person(run: str) -> list[str]:
    """A Chinese person name: family name first, then the given name as one word."""
    glossary = _han_glossary()
    split = 2 if run[:2] in glossary.compound_family else 1
    family, given = run[:split], run[split:]
    return [w for w in (_pinyin(family), _pinyin(given)) if w]


_HAN_PINYIN_HEADER: Final = """\
# Toneless pinyin of the words of han.yml (two or more syllables, written together)
# -> the English words han.yml gives them. Written by bench/build_han_pinyin.py from
# han.yml with pypinyin; do not edit by hand.
"""


def han_pinyin_table() -> str:
    """The text of ``data/han_pinyin.yml``, computed from ``han.yml`` (needs pypinyin)."""
    from pypinyin import lazy_pinyin

    glossary = _han_glossary()
    table: dict[str, str] = {}
    for word, english in sorted(glossary.words.items()):
        syllables = lazy_pinyin(word, errors="ignore", v_to_u=True)
        if len(syllables) >= 2:
            table.setdefault(_fold("".join(syllables)), english)
    return _HAN_PINYIN_HEADER + yaml.safe_dump(table, allow_unicode=True, sort_keys=True)


def _fold(word: str) -> str:
    """Lower case without tone marks or other accents (``Yǒuxiàn`` -> ``youxian``)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _han_pinyin() -> tuple[dict[str, str], int]:
    text = resources.files("shadowtrace.resolve").joinpath("data/han_pinyin.yml").read_text()
    table = {str(k): str(v) for k, v in (yaml.safe_load(text) or {}).items()}
    return table, max((len(k) for k in table), default=0)


_LATIN_WORD = re.compile(r"[^\W\d_]+")
_PINYIN_RUN: Final = 4
"""Words of a pinyin business term are looked for in runs of at most this many."""


def pinyin_to_english(value: str) -> str:
    """Replace the pinyin spellings of the business words of ``han.yml`` by their English.

    >>> pinyin_to_english("Heihe Xinan Guoji Maoyi Youxian Gongsi")
    'Heihe Xinan international trading co ltd'
    >>> pinyin_to_english("Xúzhōu Chéngtōng Rìyòng Pǐn Yǒuxiàn Gōngsī")
    'Xúzhōu Chéngtōng daily necessities co ltd'
    >>> pinyin_to_english("Vostok Trade LLC")
    'Vostok Trade LLC'
    """
    table, longest = _han_pinyin()
    words = _LATIN_WORD.findall(value)
    folded = [_fold(w) for w in words]
    out: list[str] = []
    i = 0
    changed = False
    while i < len(words):
        for size in range(min(_PINYIN_RUN, len(words) - i), 0, -1):
            key = "".join(folded[i : i + size])
            if len(key) <= longest and key in table:
                out.append(table[key])
                i += size
                changed = True
                break
        else:
            out.append(words[i])
            i += 1
    return " ".join(out) if changed else value


#: A hyphenated run of Latin syllables, as Wade-Giles writes the syllables of one word.
_HYPHENATED = re.compile(
    r"[^\W\d_][^\W\d_'’ʻ‘]*(?:['’ʻ‘][^\W\d_]+)?(?:-[^\W\d_]+(?:['’ʻ‘][^\W\d_]+)?)+"
)
_APOSTROPHES = str.maketrans({"’": "'", "ʻ": "'", "‘": "'"})


@cache
def _wade_giles() -> dict[str, str]:
    """Wade-Giles syllables (lower case, ASCII apostrophe, with and without the umlaut
    and the aspiration mark) -> toneless pinyin, from pypinyin's conversion table. A
    spelling without its aspiration mark reads as the unaspirated syllable, which is
    what it means in Wade-Giles. Empty where the installed pypinyin has no table."""
    try:
        from pypinyin.style.wadegiles import _convert_table
    except ImportError:  # pragma: no cover - pypinyin without the table
        return {}
    table: dict[str, str] = {}
    for pinyin, wade in _convert_table:
        if "v" in pinyin or not pinyin.replace("ü", "").isascii():
            continue
        plain = pinyin.replace("ü", "u")
        table.setdefault(wade, plain)
    for wade, plain in list(table.items()):
        # what is often dropped: the umlaut, then the aspiration mark
        table.setdefault(wade.replace("ü", "u"), plain)
    for wade, plain in list(table.items()):
        if "'" in wade:
            table.setdefault(wade.replace("'", ""), plain)
    return table


def wade_giles_to_pinyin(value: str) -> str:
    """Rewrite Wade-Giles words (syllables joined by hyphens: ``Hei-ho``, ``T'o-t'eng``)
    as pinyin words (``Heihe``, ``Tuoteng``), so that a word is one token whichever
    system spelled it. A hyphenated run is rewritten only when every part is a
    Wade-Giles syllable (``Vostok-Treyd`` and ``Jean-Paul`` stay as they are).

    >>> wade_giles_to_pinyin("Hei-ho T'o-t'eng Communication Equipment Co., Ltd.")
    'Heihe Tuoteng Communication Equipment Co., Ltd.'
    >>> wade_giles_to_pinyin("Shen-chen Hua-ch’iang Electronics")
    'Shenzhen Huaqiang Electronics'
    >>> wade_giles_to_pinyin("Vostok-Treyd, Jean-Paul Sartre, Ho-ho-kus")
    'Vostok-Treyd, Jean-Paul Sartre, Ho-ho-kus'
    """
    if "-" not in value:
        return value
    table = _wade_giles()

    def replace(match: re.Match[str]) -> str:
        run = match.group(0)
        parts = run.translate(_APOSTROPHES).lower().split("-")
        pinyin = [table.get(part) for part in parts]
        if not table or any(p is None for p in pinyin):
            return run
        word = "".join(p for p in pinyin if p is not None)
        return word.capitalize() if run[0].isupper() else word

    return _HYPHENATED.sub(replace, value)


def han_to_latin(value: str, name_type: NameType = "ORG") -> str:
    """Rewrite every Han run in ``value`` into Latin words (see the module docstring).

    >>> han_to_latin("华为技术有限公司")
    'huawei technology co ltd'
    >>> han_to_latin("欧阳震华", "PER")
    'ouyang zhenhua'
    """
    if not _HAN.search(value):
        return value

    def replace(match: re.Match[str]) -> str:
        run = match.group(0)
        words = _han_person(run) if name_type == "PER" else _han_org(run)
        return " " + " ".join(words) + " "

    return _SPACE.sub(" ", _HAN.sub(replace, value)).strip()


# ------------------------------------------------------------------ names, tokens

# Folds the spellings that transliteration systems (GOST, BGN/PCGN, ISO 9, Wade-Giles
# vs pinyin, French/German renderings) produce for one sound into one key.
_SKELETON_RULES: Final[tuple[tuple[str, str], ...]] = (
    ("shch", "sh"),
    ("sch", "sh"),
    ("tch", "ch"),
    ("tsch", "ch"),
    ("kh", "h"),
    ("ck", "k"),
    ("ph", "f"),
    ("ts", "c"),
    ("tz", "c"),
    ("ou", "u"),
    ("q", "k"),
    ("x", "ks"),
    ("w", "v"),
    ("y", "i"),
    ("j", "i"),
    ("ie", "i"),
    ("ei", "i"),
    ("ee", "i"),
)
_DOUBLE = re.compile(r"(.)\1+")


@lru_cache(maxsize=65536)
def skeleton(word: str) -> str:
    """A transliteration-insensitive key of a Latin lower-case word.

    >>> skeleton("sergey"), skeleton("sergej"), skeleton("serguei")
    ('sergi', 'sergi', 'sergui')
    >>> skeleton("dmitriy") == skeleton("dmitrii") == skeleton("dmitry")
    True
    """
    for old, new in _SKELETON_RULES:
        if old in word:
            word = word.replace(old, new)
    word = _DOUBLE.sub(r"\1", word)
    if len(word) > 3 and word.endswith("i") and word[-2] == "i":
        word = word[:-1]
    return word


class Token(NamedTuple):
    """One word of a name in compare form (a named tuple: cheap to build by the million)."""

    text: str
    """Latin, lower-case, ASCII."""
    skeleton: str
    phonetic: str
    kind: TokenKind
    symbols: frozenset[str]
    """rigour symbols (``NAME:Q…`` for a given name across scripts, ``ORGCLS:LLC`` …)."""
    number: int | None = None
    native: str = ""
    """The word as written (lower case), in its own script."""


@dataclass(frozen=True, slots=True)
class NameForm:
    """A name, ready to be compared."""

    original: str
    name_type: NameType
    tokens: tuple[Token, ...]
    scripts: frozenset[str]
    key: str = field(init=False, compare=False)
    """The tokens joined by spaces: equal keys mean equal names."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", " ".join(t.text for t in self.tokens))

    @property
    def core(self) -> tuple[str, ...]:
        """Tokens that name this thing (no legal forms, stop or generic words)."""
        return tuple(t.text for t in self.tokens if t.kind in ("name", "number", "place"))

    @property
    def compact(self) -> str:
        """The skeletons of its words run together, legal forms and stop words left out
        (a person's in alphabetical order): "Global Supply LLP", "GlobalSupply Ltd" and
        "GLOBAL-SUPPLY" are all ``globalsupli``.
        """
        words = [t.skeleton for t in self.tokens if t.kind not in ("legal", "stop")]
        if self.name_type == "PER":
            words.sort()
        return "".join(words)


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"


_ROMAN = re.compile(r"^(?=[ivxlc]+$)(c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES: Final = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def _roman(word: str) -> int | None:
    if not word or len(word) > 6 or not _ROMAN.match(word):
        return None
    total = 0
    for i, char in enumerate(word):
        value = _ROMAN_VALUES[char]
        nxt = _ROMAN_VALUES[word[i + 1]] if i + 1 < len(word) else 0
        total += -value if value < nxt else value
    return total


def _kind_of(
    tag: NamePartTag,
    categories: set[SymbolCategory] | frozenset[SymbolCategory],
    text: str,
    name_type: NameType,
) -> TokenKind:
    if tag == NamePartTag.LEGAL or Symbol.Category.ORG_CLASS in categories:
        return "legal"
    if tag == NamePartTag.NUM:
        return "number"
    if tag == NamePartTag.STOP:
        return "stop"
    if name_type == "PER":
        return "initial" if len(text) == 1 else "name"
    if Symbol.Category.DOMAIN in categories or Symbol.Category.SYMBOL in categories:
        return "generic"
    if Symbol.Category.LOCATION in categories:
        return "place"
    return "name"


_WANTED_SYMBOLS: Final = frozenset(
    {
        Symbol.Category.NAME,
        Symbol.Category.NICK,
        Symbol.Category.ORG_CLASS,
        Symbol.Category.DOMAIN,
        Symbol.Category.SYMBOL,
        Symbol.Category.LOCATION,
    }
)


_INITIALS = re.compile(r"(?<=\w)\.(?=\w)")
_LATIN: Final = frozenset({"Latin"})


def _prepare_text(value: str, name_type: NameType) -> tuple[str, frozenset[str]] | None:
    """The cleaned text of a name as rigour will analyse it, and its scripts."""
    text = clean_text(value)
    if not text:
        return None
    if name_type == "PER" and "." in text:
        # "Румянцева В.И.", "J.R. Smith": initials run together by full stops
        text = _INITIALS.sub(". ", text)
    if name_type == "PER" and text.count(",") == 1:
        # "FAMILY, Given" as lists write it
        family, given = text.split(",")
        text = f"{given.strip()} {family.strip()}".strip()
    scripts = scripts_of(text)
    if "Han" in scripts:
        text = han_to_latin(text, name_type)
    elif scripts == _LATIN:
        text = wade_giles_to_pinyin(text)
        if name_type in ("ORG", "ENT"):
            text = pinyin_to_english(text)
    return text, scripts


_ORG_UPGRADE_CHARS: Final = 3
"""rigour's ORG_CLASS_UPGRADE_MIN_CHARS: a legal form this long makes an ENT name an ORG."""


def _org_upgrade(name: Name) -> bool:
    """Whether rigour would upgrade this (org-tagged) ENT name to ORG."""
    for span in name.spans:
        if (
            span.symbol.category == Symbol.Category.ORG_CLASS
            and sum(len(part.form) for part in span.parts) >= _ORG_UPGRADE_CHARS
        ):
            return True
    return False


Extra = dict[int, set[str]]
"""Symbols (as text) of the parts of a name that the person-name table supplied."""


def _analyze(
    texts: Sequence[str], name_type: NameType, table: bool = True
) -> list[tuple[Name, Extra] | None]:
    """rigour's analysis of each text (one ``Name`` or ``None``), with its symbols.

    rigour tags person names, and entity names without a legal form, with an
    automaton it builds from its person-name corpus on first use (seconds). With
    ``table`` (and a table that fits the installed rigour), those names are analysed
    without it, and the symbols come from the shipped person-name table in one batch
    (``persons``): persons with ``symbols=False``; entities as organisations (the org
    tagger, the same rewrite) plus the person symbols when rigour would not have
    upgraded them to organisations. The result is rigour's own (see the tests).
    """
    fast = table and name_type in ("PER", "ENT") and persons.available()
    out: list[tuple[Name, Extra] | None] = []
    if not fast:
        tag = _TYPE_TAGS[name_type]
        for text in texts:
            names = analyze_names(tag, [text], consolidate=False)
            out.append((next(iter(names)), {}) if names else None)
        return out
    person = name_type == "PER"
    tag = NameTypeTag.PER if person else NameTypeTag.ORG
    analysed: list[Name | None] = []
    for text in texts:
        names = analyze_names(tag, [text], consolidate=False, symbols=not person)
        analysed.append(next(iter(names)) if names else None)
    tagged = [n for n in analysed if n is not None and (person or not _org_upgrade(n))]
    extras = iter(persons.part_symbols(tagged) or [{} for _ in tagged])
    for name in analysed:
        if name is None:
            out.append(None)
        elif person or not _org_upgrade(name):
            out.append((name, next(extras)))
        else:
            out.append((name, {}))
    return out


_NO_TEXTS: Final[frozenset[str]] = frozenset()
_NO_CATEGORIES: Final[frozenset[SymbolCategory]] = frozenset()
_CATEGORY_OF: Final[dict[str, SymbolCategory]] = {
    "NAME": Symbol.Category.NAME,
    "NICK": Symbol.Category.NICK,
    "SYMBOL": Symbol.Category.SYMBOL,
}


@lru_cache(maxsize=200_000)
def _symbol_text(symbol: Symbol) -> str:
    return str(symbol).strip("[]")


def _form_of(
    value: str, name_type: NameType, name: Name, scripts: frozenset[str], extra: Extra
) -> NameForm | None:
    part_symbols: dict[int, set[Symbol]] = {}
    for span in name.spans:
        if span.symbol.category not in _WANTED_SYMBOLS:
            continue
        for part in span.parts:
            part_symbols.setdefault(part.index, set()).add(span.symbol)
    person = name_type == "PER"
    tokens: list[Token] = []
    for part in name.parts[:MAX_TOKENS]:
        comparable = part.comparable
        if not comparable.isascii():
            # Scripts that rigour does not latinise (Arabic, Devanagari …) stay as written.
            comparable = part.ascii or comparable
        comparable = comparable.lower()
        if not comparable.isalnum():
            comparable = "".join(c for c in comparable if _is_word_char(c))
            if not comparable:
                continue
        index = part.index
        symbols = part_symbols.get(index)
        added = extra.get(index) if extra else None
        if symbols is None and added is None:
            categories: set[SymbolCategory] | frozenset[SymbolCategory] = _NO_CATEGORIES
            texts = _NO_TEXTS
        else:
            categories = {s.category for s in symbols} if symbols else set()
            texts = frozenset(_symbol_text(s) for s in symbols) if symbols else _NO_TEXTS
            if added:
                categories.update(_CATEGORY_OF[t.partition(":")[0]] for t in added)
                texts = texts.union(added)
        kind = _kind_of(part.tag, categories, comparable, name_type)
        comparable = comparable[:64]
        number = part.integer if part.numeric else None
        if number is None and kind != "legal" and tokens and not person:
            number = _roman(comparable)
            if number is not None:
                kind = "number"
        tokens.append(
            Token(
                comparable,
                skeleton(comparable),
                part.metaphone or "",
                kind,
                texts,
                number,
                part.form,
            )
        )
    if not tokens:
        return None
    return NameForm(original=value, name_type=name_type, tokens=tuple(tokens), scripts=scripts)


def name_forms(
    values: Sequence[str], name_type: NameType = "ENT", table: bool = True
) -> list[NameForm | None]:
    """``name_form`` of many names of one type at once (one table lookup for persons).

    ``table=False`` has rigour tag every name itself (the reference for the tests).
    """
    prepared = [_prepare_text(v, name_type) for v in values]
    texts = [p[0] for p in prepared if p is not None]
    analysed = iter(_analyze(texts, name_type, table))
    out: list[NameForm | None] = []
    for value, prep in zip(values, prepared, strict=True):
        if prep is None:
            out.append(None)
            continue
        found = next(analysed)
        if found is None:
            out.append(None)
        else:
            out.append(_form_of(value, name_type, found[0], prep[1], found[1]))
    return out


@lru_cache(maxsize=200_000)
def name_form(value: str, name_type: NameType = "ENT") -> NameForm | None:
    """Analyse one name into its compare form; ``None`` when nothing comparable is left.

    >>> name_form("Mr. John Smith", "PER").key
    'john smith'
    >>> name_form("", "PER") is None, name_form("\\x00 -- ", "ORG") is None
    (True, True)
    """
    return name_forms([value], name_type)[0]


# ---------------------------------------------------------------------- identifiers


@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier in compare form, with the scheme it was recognised as."""

    scheme: str
    """``inn``, ``ogrn``, ``uscc``, ``lei``, ``imo``, ``iban``, ``bic``, ``wallet``,
    ``username``, ``national_id``, ``passport`` or ``id`` (recognised by none)."""
    value: str
    valid: bool

    @property
    def strong(self) -> bool:
        """Strong schemes identify one entity: two different values are a conflict."""
        return self.scheme in STRONG_SCHEMES and self.valid

    @property
    def personal(self) -> bool:
        """An identity document: one person's, but a person may hold several."""
        return self.scheme in PERSONAL_SCHEMES


STRONG_SCHEMES: Final = frozenset({"inn", "ogrn", "uscc", "lei", "imo", "wallet", "username"})
"""One value per entity: a shared value identifies it, different values are a veto."""
PERSONAL_SCHEMES: Final = frozenset({"national_id", "passport"})
"""Identity documents: a shared number identifies a person as strongly as a strong
scheme; different numbers weigh against a match but do not veto it (documents are
renewed, and people hold more than one)."""

_CHECKED: Final[dict[str, type[IdentifierFormat]]] = {
    "inn": INN,
    "ogrn": OGRN,
    "uscc": USCC,
    "lei": LEI,
    "imo": IMO_ID,
    "iban": IBAN_ID,
}

# FtM property → the scheme its values are in (``None``: recognise by form).
PROP_SCHEMES: Final[dict[str, str | None]] = {
    "innCode": "inn",
    "ogrnCode": "ogrn",
    "leiCode": "lei",
    "uscCode": "uscc",
    "imoNumber": "imo",
    "iban": "iban",
    "swiftBic": "bic",
    "bicCode": "bic",
    "publicKey": "wallet",
    "cryptoAddress": "wallet",
    "accountNumber": None,
    "bic": "bic",
    "accountId": None,
    "registrationNumber": None,
    "taxNumber": None,
    "vatCode": None,
    "idNumber": "national_id",
    "passportNumber": "passport",
    "username": "username",
    "okpoCode": None,
    "uniqueEntityId": None,
    "npiCode": None,
    "dunsCode": None,
    "mmsi": None,
    "callSign": None,
}

_ALNUM = re.compile(r"[^0-9A-Za-z]")
_ETH = re.compile(r"^0x[0-9a-fA-F]{40}$")
_TRON = re.compile(r"^T[1-9A-HJ-NP-Za-km-z]{33}$")
_BTC = re.compile(r"^(bc1[02-9ac-hj-np-z]{11,71}|[13][1-9A-HJ-NP-Za-km-z]{25,34})$", re.I)
_BIC = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")


def _wallet(value: str) -> str | None:
    value = value.strip()
    if _ETH.match(value):
        return value.lower()
    if _TRON.match(value):
        return value
    if _BTC.match(value):
        return value.lower() if value.lower().startswith("bc1") else value
    return None


def _checked(scheme: str, compact: str) -> Identifier | None:
    fmt = _CHECKED[scheme]
    if fmt.is_valid(compact):
        return Identifier(scheme, fmt.normalize(compact) or compact, True)
    return None


def normalize_identifier(value: str, scheme: str | None = None) -> Identifier | None:
    """Normalise an identifier; recognise its scheme when ``scheme`` is ``None``.

    Values that fail their scheme's check digit keep the scheme but are not ``valid``
    (they still agree with an identical value; they never veto a match).

    >>> normalize_identifier("77 0708 3893", "inn")
    Identifier(scheme='inn', value='7707083893', valid=True)
    >>> normalize_identifier("0xAbC0000000000000000000000000000000000001").value
    '0xabc0000000000000000000000000000000000001'
    >>> normalize_identifier("--") is None
    True
    """
    value = clean_text(value, limit=200)
    if not value:
        return None
    if scheme == "wallet" or scheme is None:
        wallet = _wallet(value)
        if wallet is not None:
            return Identifier("wallet", wallet, True)
        if scheme == "wallet":
            compact = value.strip()
            return Identifier("wallet", compact, False) if len(compact) >= 8 else None
    compact = _ALNUM.sub("", value).upper()
    if compact.startswith("IMO") and (scheme in (None, "imo")):
        compact = compact[3:]
        scheme = "imo"
    if len(compact) < 4:
        return None
    if scheme == "bic":
        return Identifier("bic", compact[:8], bool(_BIC.match(compact)))
    if scheme in _CHECKED:
        found = _checked(scheme, compact)
        return found if found is not None else Identifier(scheme, compact, False)
    if scheme is not None:
        # A scheme without a check digit (usernames, identity documents): taken as given.
        return Identifier(scheme, compact, True)
    for guess in ("uscc", "lei", "iban", "ogrn", "inn"):
        found = _checked(guess, compact)
        if found is not None:
            return found
    return Identifier("id", compact, False)


def identifiers_of(props: dict[str, list[str]]) -> set[Identifier]:
    """All identifiers of an entity's properties (see ``PROP_SCHEMES``)."""
    out: set[Identifier] = set()
    for prop, values in props.items():
        if prop not in PROP_SCHEMES:
            continue
        scheme = PROP_SCHEMES[prop]
        for value in values:
            found = normalize_identifier(value, scheme)
            if found is not None:
                out.add(found)
    return out


# ----------------------------------------------------------------- phones, addresses


def normalize_phone(value: str, country: str | None = None) -> str | None:
    """E.164 form of a phone number, or ``None`` if it is not one.

    >>> normalize_phone("+7 (495) 123-45-67")
    '+74951234567'
    >>> normalize_phone("8 495 123 45 67", "ru")
    '+74951234567'
    """
    value = clean_text(value, limit=64)
    if sum(c.isdigit() for c in value) < 6:
        return None
    import phonenumbers  # its metadata loads on first use

    region = country.upper() if country and len(country) == 2 else None
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_address_text(value: str) -> str | None:
    """A Latin, keyword-shortened compare form of a postal address.

    >>> normalize_address_text("Ул. Ленина, д. 5, Москва")
    'ul lenina d 5 moskva'
    """
    value = clean_text(value, limit=500)
    if not value:
        return None
    if "Han" in scripts_of(value):
        value = han_to_latin(value, "ENT")
    return normalize_address(value, latinize=True)


def first_values(values: Iterable[str], limit: int = 50) -> list[str]:
    """At most ``limit`` distinct values, in order (guards against entities with huge lists)."""
    seen: dict[str, None] = {}
    for value in values:
        if len(seen) >= limit:
            break
        seen.setdefault(value, None)
    return list(seen)
