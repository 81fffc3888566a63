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
    "NameProfile",
    "TokenSims",
    "compare_names",
    "compare_profiles",
    "name_model",
    "script_rule",
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


def _typo_sim(a: str, b: str) -> float:
    """``1 - 1/length`` when ``a`` and ``b`` differ by one typing error (a letter added,
    dropped or replaced, or two adjacent letters swapped), else 0."""
    longest = max(len(a), len(b))
    if longest == 0 or abs(len(a) - len(b)) > 1:
        return 0.0
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        one = len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    else:
        one = levenshtein(a, b, max_edits=2) <= 1
    return 1.0 - 1.0 / longest if one else 0.0


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


def script_rule(left: NameForm, right: NameForm) -> int:
    """How strictly to compare the spelling of two names' words.

    ``0``: freely (up to a third of a word's letters): names written in different
    scripts, or in Latin, come through different transliterations and languages.
    ``1``: one typing error in the words as written (a letter added, dropped or
    replaced, two swapped): both names are written in the same other script, so their
    Latin forms come out of one transliteration, and a larger difference is a
    different word ("Лазарев" and "Назаров").
    ``2``: not at all: both are written in Chinese characters, where pinyin that differs
    in a letter is a different character, a different name ("何力", "何磊").
    """
    if len(left.scripts) != 1 or left.scripts != right.scripts:
        return 0
    script = next(iter(left.scripts))
    if script == "Latin":
        return 0
    return 2 if script == "Han" else 1


def token_sim(a: Token, b: Token, person: bool, strict: int = 0) -> tuple[float, str]:
    """How alike two tokens are, in [0, 1], and the rule that said so (``strict``: see
    ``script_rule``)."""
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
    if strict == 2:
        return best, how
    if strict == 1:
        sim = _typo_sim(a.native, b.native)
    else:
        sim = max(_edit_sim(a.skeleton, b.skeleton), _edit_sim(a.text, b.text))
    if sim > best:
        best, how = sim, "spelling"
    if (
        not strict
        and a.phonetic
        and a.phonetic == b.phonetic
        and len(a.phonetic) >= 2
        and best < 0.8
    ):
        best, how = 0.8, "phonetic"
    return best, how


class TokenSims:
    """A cache of ``token_sim`` results for tokens numbered by the caller.

    ``resolve`` numbers the distinct tokens of a run (``NameProfile.tids``); the same
    two words meet again and again across pairs of names (legal forms, common words,
    the names of one entity in many records).
    """

    __slots__ = ("cache",)

    def __init__(self) -> None:
        self.cache: dict[int, tuple[float, str]] = {}


class NameProfile:
    """What ``compare_names`` needs of one name, computed once per name.

    ``units`` are its tokens, then its runs of two and of three adjacent tokens (no
    numbers) run together into one word, each with the token indexes it covers.
    """

    __slots__ = (
        "by_first",
        "core_count",
        "core_total",
        "form",
        "joined",
        "legal",
        "numbers",
        "singles",
        "tids",
        "total",
        "weights",
    )

    def __init__(self, form: NameForm, tids: tuple[int, ...] | None = None) -> None:
        tokens = form.tokens
        self.form = form
        self.tids = tids
        self.weights = [KIND_WEIGHTS[t.kind] for t in tokens]
        self.total = sum(self.weights)
        self.core_total = sum(
            w for w, t in zip(self.weights, tokens, strict=True) if t.kind in _CORE
        )
        self.core_count = sum(1 for t in tokens if t.kind in _CORE)
        self.numbers = frozenset(t.number for t in tokens if t.kind == "number")
        legal = [t for t in tokens if t.kind == "legal"]
        self.legal: frozenset[str] | None = (
            frozenset().union(*(t.symbols for t in legal)) if legal else None
        )
        self.singles = tokens
        self.by_first: dict[str, list[int]] = {}
        for i, token in enumerate(tokens):
            self.by_first.setdefault(token.text[0], []).append(i)
        joined: list[tuple[tuple[int, ...], Token]] = []
        for size in (2, 3):
            for i in range(len(tokens) - size + 1):
                run = tokens[i : i + size]
                if any(t.kind == "number" for t in run):
                    continue
                text = "".join(t.text for t in run)
                joined.append((tuple(range(i, i + size)), _joined_token(text)))
        self.joined = joined


@lru_cache(maxsize=65536)
def _joined_token(text: str) -> Token:
    return Token(text, skeleton(text), "", "name", frozenset())


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
    return compare_profiles(NameProfile(left), NameProfile(right))


def compare_profiles(
    lp: NameProfile, rp: NameProfile, sims: TokenSims | None = None
) -> NameComparison:
    """``compare_names`` on profiles (built once per name), with a token-sim cache."""
    left, right = lp.form, rp.form
    person = "PER" in (left.name_type, right.name_type)
    strict = script_rule(left, right)
    result = NameComparison(left=left.original, right=right.original)
    lt, rt = lp.singles, rp.singles
    nl, nr = len(lt), len(rt)
    cache = sims.cache if sims is not None and lp.tids is not None and rp.tids is not None else None
    # Candidates as (sim, letters, left unit, right unit, how, left idx, right idx); the
    # unit numbers order ties as the nested loop over all unit pairs would.
    candidates: list[tuple[float, int, int, int, str, tuple[int, ...], tuple[int, ...]]] = []
    if cache is not None:
        ltids, rtids = lp.tids, rp.tids
        flags = (4 if person else 0) | strict
        for i, a in enumerate(lt):
            base = (ltids[i] << 28) | flags  # type: ignore[index]
            for j, b in enumerate(rt):
                key = base | (rtids[j] << 3)  # type: ignore[index]
                found = cache.get(key)
                if found is None:
                    found = cache[key] = token_sim(a, b, person, strict)
                if found[0] >= _MIN_SIM:
                    sim, how = found
                    candidates.append((sim, len(a.text) + len(b.text), i, j, how, (i,), (j,)))
    else:
        for i, a in enumerate(lt):
            for j, b in enumerate(rt):
                sim, how = token_sim(a, b, person, strict)
                if sim >= _MIN_SIM:
                    candidates.append((sim, len(a.text) + len(b.text), i, j, how, (i,), (j,)))
    # A run-together unit only ever pairs with one token that spells it.
    for u, (idx, token) in enumerate(lp.joined):
        text = token.text
        for j in rp.by_first.get(text[0], ()):
            b = rt[j]
            if abs(len(text) - len(b.text)) > 2:
                continue
            sim, _ = token_sim(token, b, person, strict)
            if sim >= 0.9:
                candidates.append((sim, len(text) + len(b.text), nl + u, j, "joined", idx, (j,)))
    for u, (idx, token) in enumerate(rp.joined):
        text = token.text
        for i in lp.by_first.get(text[0], ()):
            a = lt[i]
            if abs(len(text) - len(a.text)) > 2:
                continue
            sim, _ = token_sim(a, token, person, strict)
            if sim >= 0.9:
                candidates.append((sim, len(a.text) + len(text), i, nr + u, "joined", (i,), idx))
    candidates.sort(key=lambda c: (-c[0], -c[1], c[2], c[3]))
    used_l: set[int] = set()
    used_r: set[int] = set()
    wl_all, wr_all = lp.weights, rp.weights
    matched = 0.0
    matched_core = 0.0
    order: list[tuple[int, int]] = []
    for sim, _, _, _, how, li, ri in candidates:
        if used_l.intersection(li) or used_r.intersection(ri):
            continue
        used_l.update(li)
        used_r.update(ri)
        wl = sum(wl_all[i] for i in li)
        wr = sum(wr_all[i] for i in ri)
        core = any(lt[i].kind in _CORE for i in li) or any(rt[i].kind in _CORE for i in ri)
        matched += sim * (wl + wr)
        if core:
            order.append((li[0], ri[0]))
            matched_core += sim * (wl + wr)
            result.fuzz += 1.0 - sim
        result.aligned.append(
            Aligned(
                left=" ".join(lt[i].text for i in li),
                right=" ".join(rt[i].text for i in ri),
                sim=sim,
                how=how,
                weight=(wl + wr) / 2,
                core=core,
            )
        )
    # Order the explanation as the left name reads.
    key = left.key
    result.aligned.sort(key=lambda a: key.find(a.left))
    rest_l = [t for i, t in enumerate(lt) if i not in used_l]
    rest_r = [t for i, t in enumerate(rt) if i not in used_r]
    result.unmatched_left = [t.text for t in rest_l]
    result.unmatched_right = [t.text for t in rest_r]
    total = lp.total + rp.total
    core_total = lp.core_total + rp.core_total
    result.coverage = matched / total if total else 0.0
    result.core_coverage = matched_core / core_total if core_total else 0.0
    ul = sum(KIND_WEIGHTS[t.kind] for t in rest_l if t.kind in _CORE)
    ur = sum(KIND_WEIGHTS[t.kind] for t in rest_r if t.kind in _CORE)
    result.conflict = min(ul, ur)
    result.extra = abs(ul - ur)
    if lp.numbers != rp.numbers and (lp.numbers or rp.numbers):
        result.number_conflict = 1.0
    if lp.legal is not None and rp.legal is not None and not lp.legal & rp.legal:
        result.legal_conflict = 1.0
    if person:
        result.order = _discordance(order)
    result.exact = 1.0 if key == right.key else 0.0
    result.short = 1.0 if min(lp.core_count, rp.core_count) <= 1 else 0.0
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
