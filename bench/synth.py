"""A synthetic register of companies and persons for resolution at scale, with truth.

    python bench/synth.py OUT_DIR --records 1000000 [--seed 7]

Writes ``OUT_DIR/parties.csv`` (one record per row), ``parties.yml`` (its ingest
mapping: each row is its own Company or Person entity, keyed by its record number)
and ``truth.parquet`` (row -> true id). About 1.8 records per true party, so a
million records stand for about 560,000 parties.

Names are real spellings, not random strings:

* persons: a given and a family name drawn from rigour's person-name corpus (the
  table ``resolve/data/person_names.parquet`` ships: 170,000 groups of spellings of
  one name across scripts, from Wikidata), each record of a person written in one
  script (Latin, Cyrillic, or another the corpus has for both names), in either
  order, sometimes in capitals, with initials, or with a typing error;
* Russian companies: a family name or two syllable-built words plus a line of
  business (Трейд, Строй, Логистик …) and ООО/АО, written in Cyrillic or in one of
  four transliteration systems, with Russian or English legal forms;
* Chinese companies: the simulator's builder (city, two brand characters, line of
  business; characters, English, pinyin with and without tones, Wade-Giles);
* other companies: a family name or a word plus a business word and a legal form
  (LLC, LLP, Ltd, FZE, GmbH …).

A share of parties carry identifiers with valid check digits (INN and OGRN, USCC,
passport numbers), countries, birth or incorporation dates; each record repeats each
of them with some probability, and some records carry a typing error in the name.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shadowtrace.simulate.ids import uscc  # noqa: E402
from shadowtrace.simulate.names import cn_company, name_data, typo  # noqa: E402
from shadowtrace.simulate.translit import CYRILLIC_SYSTEMS, cyr_to_latin  # noqa: E402
from shadowtrace.simulate.world import CN_DIVISIONS  # noqa: E402

MAPPING = """\
# Synthetic parties (bench/synth.py): each row is one Company or Person record.
queries:
  - csv_url: parties.csv
    filters: {kind: company}
    entities:
      party:
        schema: Company
        key: record
        properties:
          name: {column: name}
          country: {column: country}
          innCode: {column: inn}
          ogrnCode: {column: ogrn}
          uscCode: {column: uscc}
          registrationNumber: {column: reg}
          incorporationDate: {column: date}
  - csv_url: parties.csv
    filters: {kind: person}
    entities:
      party:
        schema: Person
        key: record
        properties:
          name: {column: name}
          country: {column: country}
          passportNumber: {column: passport}
          birthDate: {column: date}
"""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


COLUMNS = ("record", "kind", "name", "country", "inn", "ogrn", "uscc", "reg", "passport", "date")

RU_SYLLABLES = _words(
    "ал ма тек ст рой ком про вест ра нор ди ка ле он сиб ур ан тал ав то газ мет сан лит "
    "ор бис кор гал пол вол дон ин фо"
)
RU_BUSINESS = _words(
    "Трейд Строй Логистик Сервис Инвест Групп Импорт Экспорт Снаб Техно Пром Ресурс Энерго "
    "Транс Маркет Холдинг Альянс Системы Капитал Опт"
)
RU_LEGAL = {"ООО": ("OOO", "LLC"), "АО": ("AO", "JSC")}
INTL_WORDS = _words(
    "Trading Logistics Supply Partners Industrial Systems Solutions Distribution Global "
    "Invest Holding Group Ventures Resources Technologies Energy Commerce Shipping"
)
INTL_LEGAL = {
    "kz": ("LLP", "TOO"),
    "ae": ("FZE", "FZCO", "LLC"),
    "tr": ("Ltd. Şti.", "A.Ş."),
    "hk": ("Limited", "Ltd", "Co., Limited"),
    "ge": ("LLC", "Ltd"),
    "am": ("LLC", "CJSC"),
    "de": ("GmbH", "AG"),
    "gb": ("Ltd", "Limited", "PLC"),
}


def inn10(rng: np.random.Generator) -> str:
    digits = [int(d) for d in rng.integers(0, 10, 9)]
    digits[0] = digits[0] or 7
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    check = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11 % 10
    return "".join(map(str, digits)) + str(check)


def ogrn13(rng: np.random.Generator) -> str:
    body = "1" + "".join(str(int(d)) for d in rng.integers(0, 10, 11))
    return body + str(int(body) % 11 % 10)


def uscc18(rng: np.random.Generator, city: str) -> str:
    """A valid Unified Social Credit Code of a company registered in ``city``."""
    return uscc(rng, CN_DIVISIONS[city])


class PersonNames:
    """Groups of spellings of one name, by script, from the shipped person-name table."""

    def __init__(self) -> None:
        table = pq.read_table(ROOT / "src/shadowtrace/resolve/data/person_names.parquet")
        groups: dict[str, dict[str, list[str]]] = {}
        for phrase, symbol in zip(
            table.column("phrase").to_pylist(), table.column("symbol").to_pylist(), strict=True
        ):
            if not symbol.startswith("NAME:Q") or " " in phrase or len(phrase) < 3:
                continue
            groups.setdefault(symbol, {}).setdefault(_script(phrase), []).append(phrase)
        self.groups = [g for g in groups.values() if "latin" in g]
        self.cyrillic = [g for g in self.groups if "cyrillic" in g]

    def pick(self, rng: np.random.Generator, cyrillic: bool = False) -> dict[str, list[str]]:
        pool = self.cyrillic if cyrillic else self.groups
        return pool[int(rng.integers(0, len(pool)))]


def _script(word: str) -> str:
    if word.isascii():
        return "latin"
    if all("\u0400" <= c <= "\u04ff" for c in word):
        return "cyrillic"
    if all(c.isalpha() and (c < "\u0250" or "\u1e00" <= c <= "\u1eff") for c in word):
        return "latin"
    return "other"


def _one(rng: np.random.Generator, items: list[str] | tuple[str, ...]) -> str:
    return items[int(rng.integers(0, len(items)))]


def _date(rng: np.random.Generator, first: int, last: int) -> str:
    year, month, day = rng.integers(first, last), rng.integers(1, 13), rng.integers(1, 29)
    return f"{int(year)}-{int(month):02d}-{int(day):02d}"


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def person_records(names: PersonNames, rng: np.random.Generator, n: int) -> list[dict[str, str]]:
    given, family = names.pick(rng), names.pick(rng)
    scripts = [s for s in given if s in family]
    country = _one(rng, ("ru", "cn", "kz", "de", "tr", "ae", "us", "gb"))
    passport = "".join(str(int(d)) for d in rng.integers(0, 10, 10)) if rng.random() < 0.5 else ""
    birth = _date(rng, 1940, 2000)
    out = []
    for _ in range(n):
        script = "latin" if rng.random() < 0.7 or len(scripts) == 1 else _one(rng, scripts)
        first = _cap(_one(rng, given[script]))
        last = _cap(_one(rng, family[script]))
        roll = rng.random()
        if roll < 0.25:
            name = f"{last} {first}"
        elif roll < 0.32:
            name = f"{first[0]}. {last}"
        elif roll < 0.40:
            name = f"{last.upper()} {first}"
        else:
            name = f"{first} {last}"
        if rng.random() < 0.06:
            name = typo(name, rng)
        out.append(
            {
                "kind": "person",
                "name": name,
                "country": country if rng.random() < 0.6 else "",
                "passport": passport if passport and rng.random() < 0.5 else "",
                "date": birth if rng.random() < 0.4 else "",
            }
        )
    return out


def ru_company_records(
    names: PersonNames, rng: np.random.Generator, n: int
) -> list[dict[str, str]]:
    if rng.random() < 0.5:
        word = _cap(_one(rng, names.pick(rng, cyrillic=True)["cyrillic"]))
    else:
        word = _cap("".join(_one(rng, RU_SYLLABLES) for _ in range(int(rng.integers(2, 4)))))
    business = _one(rng, RU_BUSINESS)
    core = f"{word}-{business}" if rng.random() < 0.5 else f"{word}{business.lower()}"
    legal = "ООО" if rng.random() < 0.8 else "АО"
    inn = inn10(rng) if rng.random() < 0.7 else ""
    ogrn = ogrn13(rng) if inn and rng.random() < 0.5 else ""
    founded = _date(rng, 1992, 2024)
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.45:
            name = _one(rng, (f"{legal} «{core}»", f'{legal} "{core}"', f"{core}, {legal}"))
        else:
            latin = cyr_to_latin(core, _one(rng, CYRILLIC_SYSTEMS))
            form = _one(rng, RU_LEGAL[legal])
            name = _one(rng, (f'{form} "{latin}"', f"{latin.upper()} {form}", f"{form} {latin}"))
        if rng.random() < 0.05:
            name = typo(name, rng)
        out.append(
            {
                "kind": "company",
                "name": name,
                "country": "ru" if rng.random() < 0.7 else "",
                "inn": inn if rng.random() < 0.6 else "",
                "ogrn": ogrn if rng.random() < 0.3 else "",
                "date": founded if rng.random() < 0.2 else "",
            }
        )
    return out


def cn_company_records(rng: np.random.Generator, n: int) -> list[dict[str, str]]:
    data = name_data()["cn"]
    city = _one(rng, [c["zh"] for c in data["cities"]])
    brand = _one(rng, data["brand_chars"]) + _one(rng, data["brand_chars"])
    industry = data["industries"][_one(rng, list(data["industries"]))]
    names = cn_company(city, brand, industry["zh"], industry["en"], rng)
    uscc = uscc18(rng, city) if rng.random() < 0.6 else ""
    spellings = [*names.native, *names.latin]
    out = []
    for _ in range(n):
        name = _one(rng, spellings)
        if rng.random() < 0.04:
            name = typo(name, rng)
        out.append(
            {
                "kind": "company",
                "name": name,
                "country": "cn" if rng.random() < 0.7 else "",
                "uscc": uscc if rng.random() < 0.5 else "",
            }
        )
    return out


def intl_company_records(
    names: PersonNames, rng: np.random.Generator, n: int
) -> list[dict[str, str]]:
    country = _one(rng, list(INTL_LEGAL))
    word = _cap(_one(rng, names.pick(rng)["latin"]))
    core = f"{word} {_one(rng, INTL_WORDS)}"
    if rng.random() < 0.3:
        core = f"{core} {_one(rng, INTL_WORDS)}"
    legal = INTL_LEGAL[country]
    reg = "".join(str(int(d)) for d in rng.integers(0, 10, 12)) if rng.random() < 0.5 else ""
    out = []
    for _ in range(n):
        form = _one(rng, legal)
        roll = rng.random()
        if roll < 0.15:
            name = f"{core.upper()} {form.upper()}"
        elif roll < 0.25:
            name = f'"{core}" {form}'
        elif roll < 0.32:
            name = core
        else:
            name = f"{core} {form}"
        if rng.random() < 0.05:
            name = typo(name, rng)
        out.append(
            {
                "kind": "company",
                "name": name,
                "country": country if rng.random() < 0.6 else "",
                "reg": reg if rng.random() < 0.5 else "",
            }
        )
    return out


def generate(out: Path, records: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    names = PersonNames()
    out.mkdir(parents=True, exist_ok=True)
    truth_rows: list[int] = []
    truth_ids: list[str] = []
    written = 0
    party = 0
    with (out / "parties.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        while written < records:
            n = min(int(rng.geometric(0.55)), 6, records - written)
            roll = rng.random()
            if roll < 0.40:
                rows = person_records(names, rng, n)
            elif roll < 0.65:
                rows = ru_company_records(names, rng, n)
            elif roll < 0.82:
                rows = cn_company_records(rng, n)
            else:
                rows = intl_company_records(names, rng, n)
            for row in rows:
                written += 1
                row["record"] = f"r{written}"
                writer.writerow(row)
                truth_rows.append(written)
                truth_ids.append(f"p{party}")
            party += 1
    pq.write_table(
        pa.table({"row": pa.array(truth_rows, pa.int64()), "true_id": pa.array(truth_ids)}),
        out / "truth.parquet",
    )
    (out / "parties.yml").write_text(MAPPING, encoding="utf-8")
    return party


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    parties = generate(Path(args.out), args.records, args.seed)
    print(f"{args.records:,} records of {parties:,} parties -> {args.out}")


if __name__ == "__main__":
    main()
