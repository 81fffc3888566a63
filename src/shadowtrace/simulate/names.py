"""Names of simulated parties and the ways records spell them.

Each builder returns a ``NameSet``: the registry's own form (``canonical``, native
script), the other native-script spellings, and Latin spellings: Cyrillic through
GOST 7.79, ISO 9, BGN/PCGN and ICAO; Chinese as English trade names, pinyin with and
without tones and Wade-Giles; legal forms as ООО / OOO / LLC, 有限公司 / Co., Ltd.
``typo`` adds the typing errors a clerk makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from shadowtrace.simulate.translit import CYRILLIC_SYSTEMS, cyr_to_latin, pinyin

__all__ = ["NameSet", "name_data", "typo"]

_RU_LEGAL_LATIN = {
    "ООО": ["OOO", "LLC", "Limited Liability Company", "OOO"],
    "АО": ["AO", "JSC", "Joint Stock Company", "AO"],
    "ПАО": ["PAO", "PJSC", "Public Joint Stock Company", "PAO"],
    "ГУП": ["GUP", "SUE", "State Unitary Enterprise", "GUP"],
}
_CN_LEGAL_EN = ["Co., Ltd.", "Co. Ltd", "Company Limited", "Co., Ltd", "CO.,LTD", "Limited"]
_KOREAN_SOUTH = {
    "chol": "cheol",
    "song": "seong",
    "yong": "yeong",
    "myong": "myeong",
    "hyok": "hyeok",
}


@dataclass
class NameSet:
    """All the spellings of one party's name."""

    canonical: str
    native: list[str]
    latin: list[str]
    first: str = ""
    last: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def aliases(self) -> list[str]:
        seen: dict[str, None] = {}
        for name in [*self.native, *self.latin]:
            if name != self.canonical:
                seen.setdefault(name, None)
        return list(seen)


@cache
def name_data() -> dict[str, Any]:
    text = resources.files("shadowtrace.simulate").joinpath("data/names.yml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _pick(rng: np.random.Generator, items: list[Any]) -> Any:
    return items[int(rng.integers(0, len(items)))]


def _uniq(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def ru_company_core(rng: np.random.Generator) -> str:
    d = name_data()["ru"]
    head = _pick(rng, d["company_head"])
    tail = _pick(rng, d["company_tail"])
    if rng.random() < 0.25:
        return f"{head}-{tail.capitalize()}"
    return f"{head}{tail}"


def ru_company(core: str, legal: str, full_legal: str, rng: np.random.Generator) -> NameSet:
    canonical = f"{legal} «{core}»"
    native = _uniq(
        [
            canonical,
            f'{legal} "{core}"',
            f"{core}, {legal}",
            f"{legal} {core}",
            f"{full_legal} «{core}»",
            f'{legal} "{core.upper()}"',
        ]
    )
    latin: list[str] = []
    forms = _RU_LEGAL_LATIN.get(legal, [legal] * 4)
    for i, system in enumerate(CYRILLIC_SYSTEMS):
        t = cyr_to_latin(core, system)
        latin.append(f'{forms[i]} "{t}"')
        latin.append(f"{t.upper()} {forms[0]}")
        latin.append(f"{forms[1]} {t}")
    latin = _uniq(latin)
    order = rng.permutation(len(latin))
    latin = [latin[0]] + [latin[i] for i in order if i != 0]
    return NameSet(canonical, native, latin, extra={"full": f"{full_legal} «{core}»"})


def _pairs(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(0, len(text), 2)]


def cn_company(
    city: str, brand: str, industry_zh: str, industry_en: str, rng: np.random.Generator
) -> NameSet:
    canonical = f"{city}市{brand}{industry_zh}有限公司"
    native = _uniq(
        [
            canonical,
            f"{city}{brand}{industry_zh}有限公司",
            f"{brand}{industry_zh}（{city}）有限公司",
            f"{brand}{industry_zh}",
        ]
    )
    city_p, brand_p = pinyin(city), pinyin(brand)
    english = f"{city_p} {brand_p} {industry_en}"
    latin = [f"{english} Co., Ltd."]
    for form in _CN_LEGAL_EN[1:]:
        latin.append(f"{english} {form}")
    latin.append(f"{brand_p} {industry_en} ({city_p}) Co., Ltd.")
    latin.append(f"{english.upper()} CO LTD")
    words = [city, brand, *_pairs(industry_zh), "有限", "公司"]
    latin.append(" ".join(pinyin(w) for w in words))
    latin.append(" ".join(pinyin(w, "tone") for w in words))
    latin.append(" ".join(pinyin(w, "wade") for w in (city, brand)) + f" {industry_en} Co., Ltd.")
    return NameSet(canonical, native, _uniq(latin))


def intl_company(core: str, tail: str, legal: list[str], rng: np.random.Generator) -> NameSet:
    main_legal = legal[0]
    canonical = f"{core} {tail} {main_legal}"
    latin = [canonical]
    for form in legal[1:]:
        latin.append(f"{core} {tail} {form}")
    latin += [
        f"{core.upper()} {tail.upper()} {main_legal.upper()}",
        f"{core}{tail} {main_legal}",
        f'"{core} {tail}" {main_legal}',
        f"{core} {tail}",
    ]
    latin = _uniq(latin)
    return NameSet(canonical, latin, latin)


def ru_person(rng: np.random.Generator) -> NameSet:
    d = name_data()["ru"]
    female = rng.random() < 0.3
    last = _pick(rng, d["surnames"])
    patr_stem = _pick(rng, d["patronymic_stems"])
    if female:
        first = _pick(rng, d["female_first"])
        last = last + "а"
        patr = patr_stem[:-2] + "овна" if patr_stem.endswith("ов") else patr_stem[:-2] + "евна"
    else:
        first = _pick(rng, d["male_first"])
        patr = patr_stem[:-2] + "ович" if patr_stem.endswith("ов") else patr_stem[:-2] + "евич"
    canonical = f"{last} {first} {patr}"
    native = _uniq(
        [canonical, f"{first} {patr} {last}", f"{last} {first[0]}.{patr[0]}.", canonical.upper()]
    )
    latin = []
    for system in CYRILLIC_SYSTEMS:
        latin.append(cyr_to_latin(f"{last} {first} {patr}", system))
        latin.append(cyr_to_latin(f"{first} {last}", system))
    latin.append(cyr_to_latin(f"{last} {first} {patr}", "icao").upper())
    latin = _uniq(latin)
    ns = NameSet(canonical, native, latin, first=first, last=last)
    ns.extra["patronymic"] = patr
    return ns


def cn_person(rng: np.random.Generator) -> NameSet:
    d = name_data()["cn"]
    surname = _pick(rng, list(d["surnames"]))
    n_given = 1 if rng.random() < 0.35 else 2
    given = "".join(_pick(rng, d["given_chars"]) for _ in range(n_given))
    canonical = surname + given
    sp, gp = pinyin(surname), pinyin(given)
    latin = _uniq(
        [
            f"{sp} {gp}",
            f"{gp} {sp}",
            f"{sp.upper()} {gp}",
            f"{pinyin(surname, 'tone')} {pinyin(given, 'tone')}",
            f"{pinyin(surname, 'wade')} {pinyin(given, 'wade')}",
            f"{sp} {gp[:1]}.",
        ]
    )
    return NameSet(canonical, [canonical], latin, first=given, last=surname)


def kp_person(rng: np.random.Generator) -> NameSet:
    d = name_data()["kp"]
    sur_h = _pick(rng, list(d["surnames"]))
    g1, g2 = _pick(rng, list(d["given"])), _pick(rng, list(d["given"]))
    sur = d["surnames"][sur_h]
    r1, r2 = d["given"][g1], d["given"][g2]
    canonical = f"{sur} {r1.capitalize()} {r2.capitalize()}"
    south = f"{sur} {_KOREAN_SOUTH.get(r1, r1).capitalize()}-{_KOREAN_SOUTH.get(r2, r2)}"
    latin = _uniq(
        [
            canonical,
            f"{sur} {r1.capitalize()}-{r2}",
            f"{sur.upper()} {r1.capitalize()} {r2.capitalize()}",
            f"{sur} {r1.capitalize()}{r2}",
            south,
            canonical.replace("Ri ", "Lee ").replace("Pak ", "Park "),
        ]
    )
    hangul = sur_h + g1 + g2
    return NameSet(canonical, _uniq([canonical, hangul]), latin, first=f"{r1} {r2}", last=sur)


def intl_person(country: str, rng: np.random.Generator) -> NameSet:
    d = name_data()["intl"]["countries"][country]
    first, last = _pick(rng, d["first"]), _pick(rng, d["last"])
    canonical = f"{first} {last}"
    latin = _uniq([canonical, f"{last.upper()} {first}", f"{last} {first}", f"{first[0]}. {last}"])
    return NameSet(canonical, latin, latin, first=first, last=last)


_KEYBOARD_NEIGHBOURS = {
    "a": "sq",
    "e": "wr",
    "i": "uo",
    "o": "ip",
    "n": "bm",
    "s": "ad",
    "t": "ry",
    "r": "et",
    "а": "вп",
    "е": "кн",
    "о": "лр",
    "и": "мт",
    "н": "ег",
    "р": "по",
    "с": "чм",
    "т": "иь",
}


def typo(name: str, rng: np.random.Generator) -> str:
    """``name`` with one typing error: a dropped, doubled, swapped or mistyped letter."""
    positions = [i for i, c in enumerate(name) if c.isalpha()]
    if len(positions) < 4:
        return name + name[-1:]
    i = positions[int(rng.integers(1, len(positions)))]
    op = int(rng.integers(0, 4))
    if op == 0:
        return name[:i] + name[i + 1 :]
    if op == 1:
        return name[:i] + name[i] + name[i:]
    if op == 2 and i + 1 < len(name):
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    low = name[i].lower()
    repl = _KEYBOARD_NEIGHBOURS.get(low)
    if not repl:
        return name[:i] + name[i + 1 :]
    c = repl[int(rng.integers(0, len(repl)))]
    if name[i].isupper():
        c = c.upper()
    return name[:i] + c + name[i + 1 :]
