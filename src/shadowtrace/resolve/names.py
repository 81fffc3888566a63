"""Compare two names token by token, and say why they agree or differ.

Both names are in compare form (``normalize.name_form``): Latin tokens, each with a
kind (name, initial, number, place, generic word, legal form, stop word), a
transliteration skeleton, a metaphone key and rigour's symbols. The comparison
aligns the tokens one to one (a token may also match two run-together tokens on
the other side, "SiemensAG" ~ "Siemens AG"), and then measures what is left over:

* ``coverage``: how much of both names the aligned tokens cover, weighted by kind
  (a legal form weighs less than a trade name) and by how close each pair is;
* ``conflict``: name tokens left unaligned on *both* sides, i.e. one word replaced by
  a different one ("al-Tikriti" vs "al-Mosuli"): strong evidence of two entities;
* ``extra``: name tokens present on one side only (a middle name left out);
* ``fuzz``: the spelling distance inside the aligned pairs;
* ``order``: for persons, the share of aligned name pairs in a different order
  ("Hans Friedrich" vs "Friedrich Hans", a father's and a son's name swapped);
* ``number_conflict`` and ``legal_conflict``: different numbers ("Fund IV" vs
  "Fund V") or incompatible legal forms ("AG" vs "GmbH").

``NameModel`` turns these features into a log-odds and a probability with a logistic
model whose coefficients are data (``data/name_model.yml``), fitted by
``bench/fit_names.py`` on labelled name pairs with cross-validation.

>>> from shadowtrace.resolve.normalize import name_form
>>> m = compare_names(name_form("ООО Восток-Трейд", "ORG"), name_form("Vostok Trade LLC", "ORG"))
>>> round(m.coverage, 2), m.conflict, [a.how for a in m.aligned]
(0.93, 0, ['legal form', 'exact', 'phonetic'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Final

import yaml
from rigour.text import levenshtein

from shadowtrace.resolve.normalize import NameForm, Token, TokenKind, skeleton

__all__ = [
    "FEATURES",
    "KIND_WEIGHTS",
    "Aligned",
    "NameComparison",
    "NameModel",
    "compare_names",
    "name_model",
]

KIND_WEIGHTS: Final[dict[TokenKind, float]] = {
    "name": 1.0,
    "number": 1.0,
    "initial": 0.6,
    "place": 0.7,
    "generic": 0.45,
    "legal": 0.25,
    "stop": 0.15,
}
_CORE: Final = frozenset({"name", "number", "initial", "place"})
_MIN_SIM: Final = 0.55


@dataclass(frozen=True, slots=True)
class Aligned:
    """A pair of aligned tokens (text of each side), their similarity and why."""

    left: str
    right: str
    sim: float
    how: str
    weight: float
    core: bool


@dataclass(slots=True)
class NameComparison:
    """The alignment of two names and the features measured on it."""

    left: str
    right: str
    aligned: list[Aligned] = field(default_factory=list)
    unmatched_left: list[str] = field(default_factory=list)
    unmatched_right: list[str] = field(default_factory=list)
    coverage: float = 0.0
    core_coverage: float = 0.0
    conflict: float = 0.0
    extra: float = 0.0
    fuzz: float = 0.0
    number_conflict: float = 0.0
    legal_conflict: float = 0.0
    exact: float = 0.0
    short: float = 0.0
    order: float = 0.0

    def vector(self) -> list[float]:
        """The features in the order of ``FEATURES``."""
        return [getattr(self, name) for name in FEATURES]

    def explain(self) -> str:
        """One line: the aligned pairs and the leftovers."""
        parts = [
            f"{a.left}={a.right}"
            if a.how == "exact"
            else f"{a.left}~{a.right} ({a.how} {a.sim:.2f})"
            for a in self.aligned
        ]
        if self.unmatched_left or self.unmatched_right:
            left = " ".join(self.unmatched_left) or "-"
            right = " ".join(self.unmatched_right) or "-"
            parts.append(f"unmatched: [{left}] vs [{right}]")
        return "; ".join(parts)


FEATURES: Final[tuple[str, ...]] = (
    "coverage",
    "core_coverage",
    "conflict",
    "extra",
    "fuzz",
    "number_conflict",
    "legal_conflict",
    "exact",
    "short",
    "order",
)


def _edit_sim(a: str, b: str) -> float:
    longest = max(len(a), len(b))
    if longest == 0:
        return 0.0
    budget = max(1, longest // 3)
    if abs(len(a) - len(b)) > budget:
        return 0.0
    distance = levenshtein(a, b, max_edits=budget + 1)
    if distance > budget:
        return 0.0
    return 1.0 - distance / longest


def token_sim(a: Token, b: Token, person: bool) -> tuple[float, str]:
    """How alike two tokens are, in [0, 1], and the rule that said so."""
    if a.kind == "number" or b.kind == "number":
        if a.number is not None and a.number == b.number:
            return 1.0, "number"
        return (1.0, "exact") if a.text == b.text else (0.0, "")
    if a.text == b.text:
        return 1.0, "exact"
    if a.kind == "legal" or b.kind == "legal":
        if a.kind == b.kind and a.symbols & b.symbols:
            return 1.0, "legal form"
        return 0.0, ""
    if a.skeleton == b.skeleton:
        return 0.95, "transliteration"
    if person and (a.kind == "initial" or b.kind == "initial"):
        if a.text[0] == b.text[0]:
            return 0.8, "initial"
        return 0.0, ""
    best, how = 0.0, ""
    if a.symbols & b.symbols:
        shared = a.symbols & b.symbols
        if any(s.startswith("NAME:") for s in shared):
            best, how = 0.9, "same name"
        elif any(s.startswith("NICK:") for s in shared):
            best, how = 0.8, "nickname"
        else:
            best, how = 0.85, "synonym"
    sim = max(_edit_sim(a.skeleton, b.skeleton), _edit_sim(a.text, b.text))
    if sim > best:
        best, how = sim, "spelling"
    if a.phonetic and a.phonetic == b.phonetic and len(a.phonetic) >= 2 and best < 0.8:
        best, how = 0.8, "phonetic"
    return best, how


@dataclass(frozen=True, slots=True)
class _Unit:
    """One token, or two adjacent tokens run together."""

    idx: tuple[int, ...]
    token: Token


@lru_cache(maxsize=100_000)
def _units(tokens: tuple[Token, ...]) -> list[_Unit]:
    units = [_Unit((i,), t) for i, t in enumerate(tokens)]
    for size in (2, 3):
        for i in range(len(tokens) - size + 1):
            run = tokens[i : i + size]
            if any(t.kind == "number" for t in run):
                continue
            text = "".join(t.text for t in run)
            joined = Token(text, skeleton(text), "", "name", frozenset())
            units.append(_Unit(tuple(range(i, i + size)), joined))
    return units


def _discordance(pairs: list[tuple[int, int]]) -> float:
    """Share of aligned pairs whose order differs between the two names."""
    if len(pairs) < 2:
        return 0.0
    crossing = 0
    total = 0
    for i in range(len(pairs)):
        for j in range(i + 1, len(pairs)):
            total += 1
            if (pairs[i][0] - pairs[j][0]) * (pairs[i][1] - pairs[j][1]) < 0:
                crossing += 1
    return crossing / total


def compare_names(left: NameForm, right: NameForm) -> NameComparison:
    """Align two names and measure the features of the alignment (see the module doc)."""
    person = "PER" in (left.name_type, right.name_type)
    result = NameComparison(left=left.original, right=right.original)
    lt, rt = left.tokens, right.tokens
    candidates: list[tuple[float, int, _Unit, _Unit, str]] = []
    right_units = _units(rt)
    for lu in _units(lt):
        for ru in right_units:
            if len(lu.idx) > 1 or len(ru.idx) > 1:
                # A run-together unit only ever pairs with one token that spells it.
                if len(lu.idx) > 1 and len(ru.idx) > 1:
                    continue
                a, b = lu.token.text, ru.token.text
                if a[0] != b[0] or abs(len(a) - len(b)) > 2:
                    continue
            sim, how = token_sim(lu.token, ru.token, person)
            if len(lu.idx) + len(ru.idx) > 2:
                # A run-together pair must spell the same word.
                if sim < 0.9:
                    continue
                how = "joined"
            if sim >= _MIN_SIM:
                candidates.append((sim, len(lu.token.text) + len(ru.token.text), lu, ru, how))
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    used_l: set[int] = set()
    used_r: set[int] = set()
    total_l = sum(KIND_WEIGHTS[t.kind] for t in lt)
    total_r = sum(KIND_WEIGHTS[t.kind] for t in rt)
    core_l = sum(KIND_WEIGHTS[t.kind] for t in lt if t.kind in _CORE)
    core_r = sum(KIND_WEIGHTS[t.kind] for t in rt if t.kind in _CORE)
    matched = 0.0
    matched_core = 0.0
    order: list[tuple[int, int]] = []
    for sim, _, lu, ru, how in candidates:
        if used_l.intersection(lu.idx) or used_r.intersection(ru.idx):
            continue
        used_l.update(lu.idx)
        used_r.update(ru.idx)
        wl = sum(KIND_WEIGHTS[lt[i].kind] for i in lu.idx)
        wr = sum(KIND_WEIGHTS[rt[i].kind] for i in ru.idx)
        core = any(lt[i].kind in _CORE for i in lu.idx) or any(rt[i].kind in _CORE for i in ru.idx)
        matched += sim * (wl + wr)
        if core:
            order.append((lu.idx[0], ru.idx[0]))
            matched_core += sim * (wl + wr)
            result.fuzz += 1.0 - sim
        result.aligned.append(
            Aligned(
                left=" ".join(lt[i].text for i in lu.idx),
                right=" ".join(rt[i].text for i in ru.idx),
                sim=sim,
                how=how,
                weight=(wl + wr) / 2,
                core=core,
            )
        )
    # Order the explanation as the left name reads.
    result.aligned.sort(key=lambda a: left.key.find(a.left))
    rest_l = [t for i, t in enumerate(lt) if i not in used_l]
    rest_r = [t for i, t in enumerate(rt) if i not in used_r]
    result.unmatched_left = [t.text for t in rest_l]
    result.unmatched_right = [t.text for t in rest_r]
    result.coverage = matched / (total_l + total_r) if total_l + total_r else 0.0
    result.core_coverage = matched_core / (core_l + core_r) if core_l + core_r else 0.0
    ul = sum(KIND_WEIGHTS[t.kind] for t in rest_l if t.kind in _CORE)
    ur = sum(KIND_WEIGHTS[t.kind] for t in rest_r if t.kind in _CORE)
    result.conflict = min(ul, ur)
    result.extra = abs(ul - ur)
    nums_l = {t.number for t in lt if t.kind == "number"}
    nums_r = {t.number for t in rt if t.kind == "number"}
    if nums_l != nums_r and (nums_l or nums_r):
        result.number_conflict = 1.0
    legal_l = [t for t in lt if t.kind == "legal"]
    legal_r = [t for t in rt if t.kind == "legal"]
    if legal_l and legal_r:
        syms_l = frozenset().union(*(t.symbols for t in legal_l))
        syms_r = frozenset().union(*(t.symbols for t in legal_r))
        if not syms_l & syms_r:
            result.legal_conflict = 1.0
    if person:
        result.order = _discordance(order)
    result.exact = 1.0 if left.key == right.key else 0.0
    core_tokens = min(sum(1 for t in lt if t.kind in _CORE), sum(1 for t in rt if t.kind in _CORE))
    result.short = 1.0 if core_tokens <= 1 else 0.0
    return result


@dataclass(frozen=True, slots=True)
class NameModel:
    """A logistic model over the name features; its coefficients are data."""

    intercept: float
    coefficients: dict[str, float]
    threshold: float
    source: str

    def logit(self, comparison: NameComparison) -> float:
        total = self.intercept
        for name, value in zip(FEATURES, comparison.vector(), strict=True):
            total += self.coefficients.get(name, 0.0) * value
        return total

    def contributions(self, comparison: NameComparison) -> dict[str, float]:
        """Each feature's share of the log-odds (the intercept is left out)."""
        out: dict[str, float] = {}
        for name, value in zip(FEATURES, comparison.vector(), strict=True):
            weight = self.coefficients.get(name, 0.0) * value
            if weight:
                out[name] = weight
        return out

    def probability(self, comparison: NameComparison) -> float:
        return _sigmoid(self.logit(comparison))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@cache
def name_model() -> NameModel:
    """The name model shipped in ``data/name_model.yml``."""
    text = resources.files("shadowtrace.resolve").joinpath("data/name_model.yml").read_text()
    data = yaml.safe_load(text)
    return NameModel(
        intercept=float(data["intercept"]),
        coefficients={str(k): float(v) for k, v in data["coefficients"].items()},
        threshold=float(data["threshold"]),
        source=str(data["source"]),
    )
