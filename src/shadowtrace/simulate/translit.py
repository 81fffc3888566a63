"""Transliteration of Russian Cyrillic and Chinese as it appears in real records.

Cyrillic systems: ``gost779b`` (GOST 7.79-2000 system B), ``iso9`` (ISO 9:1995, the
same as GOST 7.79 system A), ``bgn`` (BGN/PCGN 1947) and ``icao`` (ICAO Doc 9303,
used in Russian passports since 2013).

>>> cyr_to_latin("Щукин Юрий", "bgn")
'Shchukin Yuriy'
>>> cyr_to_latin("Щукин Юрий", "iso9")
'Ŝukin Ûrij'
>>> cyr_to_latin("Щукин Юрий", "icao")
'Shchukin Iurii'
>>> pinyin("深圳", "wade")
'Shen-chen'
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Literal

from pypinyin import Style, lazy_pinyin

__all__ = ["CYRILLIC_SYSTEMS", "cyr_to_latin", "pinyin"]

CyrSystem = Literal["gost779b", "iso9", "bgn", "icao"]
CYRILLIC_SYSTEMS: tuple[CyrSystem, ...] = ("gost779b", "iso9", "bgn", "icao")

_COMMON = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "з": "z",
    "и": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
}

_TABLES: dict[str, dict[str, str]] = {
    "gost779b": {
        **_COMMON,
        "е": "e",
        "ё": "yo",
        "ж": "zh",
        "й": "j",
        "х": "x",
        "ц": "cz",
        "ч": "ch",
        "ш": "sh",
        "щ": "shh",
        "ъ": "``",
        "ы": "y'",
        "ь": "`",
        "э": "e`",
        "ю": "yu",
        "я": "ya",
    },
    "iso9": {
        **_COMMON,
        "е": "e",
        "ё": "ë",
        "ж": "ž",
        "й": "j",
        "х": "h",
        "ц": "c",
        "ч": "č",
        "ш": "š",
        "щ": "ŝ",
        "ъ": "ʺ",
        "ы": "y",
        "ь": "ʹ",
        "э": "è",
        "ю": "û",
        "я": "â",
    },
    "bgn": {
        **_COMMON,
        "е": "e",
        "ё": "ë",
        "ж": "zh",
        "й": "y",
        "х": "kh",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ъ": "”",
        "ы": "y",
        "ь": "’",
        "э": "e",
        "ю": "yu",
        "я": "ya",
    },
    "icao": {
        **_COMMON,
        "е": "e",
        "ё": "e",
        "ж": "zh",
        "й": "i",
        "х": "kh",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ъ": "ie",
        "ы": "y",
        "ь": "",
        "э": "e",
        "ю": "iu",
        "я": "ia",
    },
}

_VOWELS = set("аеёиоуыэюяъь")
_TOKENS = re.compile(r"\w+|\W+")


@lru_cache(maxsize=1 << 16)
def _word(word: str, system: CyrSystem) -> str:
    # names repeat (first names, surnames, company words): each word is worked out once
    table = _TABLES[system]
    bgn = system == "bgn"
    out: list[str] = []
    prev = ""
    for low in word.lower():
        lat = table.get(low, low)
        if bgn and low in "её" and (not prev or prev in _VOWELS):
            lat = "ye" if low == "е" else "yë"
        out.append(lat)
        prev = low
    text = "".join(out)
    if len(word) > 1 and word.isupper():
        return text.upper()
    if word[:1].isupper() and text:
        return text[0].upper() + text[1:]
    return text


def cyr_to_latin(text: str, system: CyrSystem) -> str:
    """Transliterate Russian Cyrillic ``text`` with one of ``CYRILLIC_SYSTEMS``."""
    return "".join(_word(tok, system) if tok.isalpha() else tok for tok in _TOKENS.findall(text))


@cache
def _syllables(text: str, style: str) -> tuple[str, ...]:
    st = {"plain": Style.NORMAL, "tone": Style.TONE, "wade": Style.WADEGILES}[style]
    return tuple(lazy_pinyin(text, style=st, v_to_u=True, neutral_tone_with_five=False))


@lru_cache(maxsize=1 << 16)
def pinyin(word: str, style: Literal["plain", "tone", "wade"] = "plain") -> str:
    """One Chinese word romanised: syllables joined (pinyin) or hyphenated (Wade-Giles)."""
    syl = [s.replace("v", "ü") for s in _syllables(word, style)]
    if not syl:
        return word
    text = "-".join(syl) if style == "wade" else "".join(syl)
    return text[0].upper() + text[1:]
