"""Score a pair of entities: is this the same person, company or vessel?

An entity here is FtM-shaped data, ``{"id", "schema", "properties": {prop: [values]}}``.
``prepare`` analyses it once (names into compare forms, identifiers, countries, dates,
addresses, phones, e-mails); ``compare`` scores two prepared records.

The score is a probability built as a sum of log-odds, one term per feature, so that
every score explains itself as the list of features and what each added:

* ``name``: the name model's log-odds for the best pair of names (``names.py``);
* ``identifier``: an identifier both share (INN, OGRN, USCC, LEI, IMO, wallet … strong;
  other registration numbers weaker);
* ``identifier_conflict``: both carry a valid identifier of the same strong scheme and
  none agree: a veto, the score is held below ``VETO_CAP``;
* ``identifier_mismatch``: both carry identity documents of one kind (passport,
  national id) and none agree: a strong weight against, not a veto;
* ``country``, ``date``, ``address``, ``contact``: agreement or disagreement of the
  supporting properties.

The weights of the supporting features are log-likelihood ratios set from their
meaning: an agreeing INN is far rarer between two different companies than an
agreeing country. They are constants here, declared once, and named in every
explanation.

>>> a = prepare({"id": "a", "schema": "Company", "properties": {
...     "name": ["ООО Восток-Трейд"], "innCode": ["7707083893"]}})
>>> b = prepare({"id": "b", "schema": "Company", "properties": {
...     "name": ["Vostok Trade LLC"], "innCode": ["7707083893"]}})
>>> result = compare(a, b)
>>> result.score > 0.99, [f.name for f in result.features]
(True, ['name', 'identifier'])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, TypedDict

from followthemoney.exc import InvalidData

from shadowtrace.model import get_model
from shadowtrace.resolve.entities import (
    COUNTRY_PROPS,
    DATE_PROPS,
    MAX_NAMES,
    MAX_RAW_NAMES,
    MAX_VALUES,
    NAME_PROPS,
    PERSON_PARTS,
)
from shadowtrace.resolve.names import NameComparison, NameModel, compare_names, name_model
from shadowtrace.resolve.normalize import (
    Identifier,
    NameForm,
    NameType,
    clean_text,
    identifiers_of,
    name_forms,
    name_type_of_schema,
    normalize_address_text,
    normalize_phone,
)

__all__ = [
    "VETO_CAP",
    "WEIGHTS",
    "Comparison",
    "EntityData",
    "Feature",
    "Record",
    "compare",
    "prepare",
    "schemata_compatible",
]


class EntityData(TypedDict):
    """An entity as FtM serialises it."""

    id: str
    schema: str
    properties: Mapping[str, Sequence[str]]


WEIGHTS: Final[dict[str, float]] = {
    "identifier_strong": 7.0,
    "identifier_weak": 3.0,
    "identifier_mismatch": -3.0,
    "country_match": 0.3,
    "country_mismatch": -1.5,
    "date_match": 1.5,
    "date_mismatch": -4.0,
    "address_match": 1.2,
    "contact_match": 2.5,
}
"""Log-likelihood ratios of the supporting features."""

VETO_CAP: Final = 0.05
"""A strong identifier conflict holds the score at or below this."""


@dataclass(frozen=True, slots=True)
class Feature:
    """One term of a score: its name, the log-odds it added, and what it saw."""

    name: str
    weight: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "weight": round(self.weight, 4), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Record:
    """An entity analysed for comparison."""

    id: str
    schema: str
    name_type: NameType
    names: tuple[NameForm, ...]
    identifiers: frozenset[Identifier]
    countries: frozenset[str]
    dates: Mapping[str, frozenset[str]]
    addresses: frozenset[str]
    contacts: frozenset[str]


@dataclass(slots=True)
class Comparison:
    """The score of a pair and the features that made it."""

    left: str
    right: str
    score: float
    features: list[Feature] = field(default_factory=list)
    vetoed: bool = False

    def explain(self) -> str:
        """One line per feature, strongest first."""
        ordered = sorted(self.features, key=lambda f: -abs(f.weight))
        return "\n".join(f"{f.weight:+.2f} {f.name}: {f.detail}" for f in ordered)

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            "score": round(self.score, 4),
            "vetoed": self.vetoed,
            "features": [f.to_dict() for f in self.features],
        }


def _values(props: Mapping[str, Sequence[str]], names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        out.extend(v for v in props.get(name, ()) if isinstance(v, str))
    return out


def _first(values: Iterable[str], limit: int) -> list[str]:
    """The first ``limit`` distinct values in value order (the rule of the bulk path)."""
    return sorted({v for v in values if isinstance(v, str)})[:limit]


def _person_full_names(props: Mapping[str, Sequence[str]]) -> list[str]:
    first = _first(_values(props, PERSON_PARTS["first"]), 2)
    middle = _first(_values(props, PERSON_PARTS["middle"]), 1)
    last = _first(_values(props, PERSON_PARTS["last"]), 2)
    if not first or not last:
        return []
    return [" ".join([f, *middle, la]) for f in first for la in last]


def prepare(entity: EntityData) -> Record:
    """Analyse an entity once, for any number of comparisons.

    The rules (which names, how many values) are those of the bulk path
    (``entities.analyse``), so that both score a pair alike.
    """
    schema = str(entity.get("schema") or "LegalEntity")
    props = entity.get("properties") or {}
    name_type = name_type_of_schema(schema)
    raw_names = _values(props, NAME_PROPS)
    if name_type == "PER":
        raw_names.extend(_person_full_names(props))
    raw = _first(raw_names, MAX_RAW_NAMES)
    forms: list[NameForm] = []
    seen: set[str] = set()
    for form in name_forms(raw, name_type):
        if form is not None and form.key not in seen:
            seen.add(form.key)
            forms.append(form)
        if len(forms) >= MAX_NAMES:
            break
    countries = frozenset(
        c.lower()[:2] for c in _values(props, COUNTRY_PROPS) if len(c.strip()) >= 2
    )
    dates: dict[str, frozenset[str]] = {}
    for prop in DATE_PROPS:
        values = frozenset(clean_text(v, 10) for v in props.get(prop, ()) if v)
        if values:
            dates[prop] = values
    addresses = frozenset(
        a
        for a in (normalize_address_text(v) for v in _first(props.get("address", ()), MAX_VALUES))
        if a
    )
    contacts: set[str] = set()
    country_hint = min(countries) if countries else None
    for phone in _first(props.get("phone", ()), MAX_VALUES):
        normal = normalize_phone(phone, country_hint)
        if normal:
            contacts.add(f"phone:{normal}")
    for email in _first(props.get("email", ()), MAX_VALUES):
        email = clean_text(email, 254).lower()
        if "@" in email:
            contacts.add(f"email:{email}")
    return Record(
        id=str(entity.get("id")),
        schema=schema,
        name_type=name_type,
        names=tuple(forms),
        identifiers=frozenset(identifiers_of({k: list(v) for k, v in props.items()})),
        countries=countries,
        dates=dates,
        addresses=addresses,
        contacts=frozenset(contacts),
    )


@lru_cache(maxsize=4096)
def schemata_compatible(left: str, right: str) -> bool:
    """Could entities of these two schemata be the same thing?

    >>> schemata_compatible("Company", "Organization"), schemata_compatible("Person", "Company")
    (True, False)
    """
    if left == right:
        return True
    model = get_model()
    try:
        model.common_schema(left, right)
    except InvalidData:
        return False
    return True


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def best_name(
    left: Sequence[NameForm], right: Sequence[NameForm], model: NameModel
) -> tuple[float, NameComparison | None]:
    """The log-odds of the best-matching pair of names, and its comparison."""
    best_logit = -math.inf
    best: NameComparison | None = None
    for a in left:
        for b in right:
            cmp = compare_names(a, b)
            logit = model.logit(cmp)
            if logit > best_logit:
                best_logit, best = logit, cmp
    return best_logit, best


def compare(left: Record, right: Record, model: NameModel | None = None) -> Comparison:
    """Score two prepared entities; see the module docstring for the features."""
    model = model or name_model()
    result = Comparison(left=left.id, right=right.id, score=0.0)
    if not schemata_compatible(left.schema, right.schema):
        result.features.append(
            Feature("schema", -math.inf, f"{left.schema} and {right.schema} cannot be one entity")
        )
        return result
    total = 0.0
    if left.names and right.names:
        logit, cmp = best_name(left.names, right.names, model)
        if cmp is not None:
            shown = max(logit, -30.0)
            detail = f"{cmp.left!r} ~ {cmp.right!r}: {cmp.explain()}"
            result.features.append(Feature("name", shown, detail))
            total += shown
    strong_l = {i.scheme for i in left.identifiers if i.strong}
    strong_r = {i.scheme for i in right.identifiers if i.strong}
    shared = left.identifiers & right.identifiers
    agreed_schemes = {i.scheme for i in shared}
    if shared:
        strongest = max(shared, key=lambda i: i.strong or i.personal)
        key = "identifier_strong" if strongest.strong or strongest.personal else "identifier_weak"
        weight = WEIGHTS[key]
        result.features.append(
            Feature("identifier", weight, f"{strongest.scheme} {strongest.value} on both")
        )
        total += weight
    conflicts = sorted((strong_l & strong_r) - agreed_schemes)
    if conflicts:
        scheme = conflicts[0]
        lv = sorted(i.value for i in left.identifiers if i.scheme == scheme and i.strong)
        rv = sorted(i.value for i in right.identifiers if i.scheme == scheme and i.strong)
        result.vetoed = True
        result.features.append(
            Feature("identifier_conflict", 0.0, f"{scheme} {lv[0]} vs {rv[0]}: veto")
        )
    personal_l = {i.scheme for i in left.identifiers if i.personal}
    personal_r = {i.scheme for i in right.identifiers if i.personal}
    mismatches = sorted((personal_l & personal_r) - agreed_schemes)
    if mismatches:
        scheme = mismatches[0]
        lv = sorted(i.value for i in left.identifiers if i.scheme == scheme)
        rv = sorted(i.value for i in right.identifiers if i.scheme == scheme)
        weight = WEIGHTS["identifier_mismatch"]
        result.features.append(
            Feature("identifier_mismatch", weight, f"{scheme} {lv[0]} vs {rv[0]}")
        )
        total += weight
    if left.countries and right.countries:
        if left.countries & right.countries:
            weight = WEIGHTS["country_match"]
            detail = ", ".join(sorted(left.countries & right.countries))
        else:
            weight = WEIGHTS["country_mismatch"]
            detail = f"{','.join(sorted(left.countries))} vs {','.join(sorted(right.countries))}"
        result.features.append(Feature("country", weight, detail))
        total += weight
    for prop, values in left.dates.items():
        other = right.dates.get(prop)
        if not other:
            continue
        if values & other:
            weight, detail = WEIGHTS["date_match"], f"{prop} {sorted(values & other)[0]}"
        elif {v[:4] for v in values} & {v[:4] for v in other}:
            continue
        else:
            weight = WEIGHTS["date_mismatch"]
            detail = f"{prop} {sorted(values)[0]} vs {sorted(other)[0]}"
        result.features.append(Feature("date", weight, detail))
        total += weight
    if left.addresses & right.addresses:
        weight = WEIGHTS["address_match"]
        detail = sorted(left.addresses & right.addresses)[0]
        result.features.append(Feature("address", weight, detail))
        total += weight
    if left.contacts & right.contacts:
        weight = WEIGHTS["contact_match"]
        detail = sorted(left.contacts & right.contacts)[0]
        result.features.append(Feature("contact", weight, detail))
        total += weight
    if not result.features:
        return result
    score = _sigmoid(total) if math.isfinite(total) else (1.0 if total > 0 else 0.0)
    if result.vetoed:
        score = min(score, VETO_CAP)
    result.score = score
    return result
