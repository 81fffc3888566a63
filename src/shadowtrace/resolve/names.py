"""Compare two names token by token, and say why they agree or differ.

Both names are in compare form (``normalize.name_form``): Latin tokens, each with a
kind (name, initial, number, place, generic word, legal form, stop word), a
transliteration skeleton, a metaphone key and rigour's symbols. The comparison
aligns the tokens one to one (a token may also match two run-together tokens on
the other side, "SiemensAG" ~ "Siemens AG"), and then measures what is left over:

* ``coverage``: how much of both names the aligned tokens cover, weighted by kind
  (a legal form weighs less than a trade name) and by how close each pair is;
* ``conflict``: words left unaligned on *both* sides, i.e. one word replaced by a
  different one ("al-Tikriti" vs "al-Mosuli"; a line of business, "Changsha Tengzhi
  Trading" vs "Changsha Tengzhi Microelectronics"): strong evidence of two entities.
  Name tokens and generic words count, legal forms and stop words do not;
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
(0.93, 0.0, ['legal form', 'exact', 'phonetic'])
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
    "align",
    "compare_names",
    "compare_profiles",
    "comparison_of",
    "explain_alignment",
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
_CONTENT: Final = _CORE | {"generic"}
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
        "content",
        "core_count",
        "core_total",
        "cores",
        "form",
        "joined",
        "legal",
        "lengths",
        "numbers",
        "script",
        "singles",
        "tids",
        "total",
        "weights",
    )

    def __init__(self, form: NameForm, tids: tuple[int, ...] | None = None) -> None:
        tokens = form.tokens
        self.form = form
        self.tids = tids
        weights = [KIND_WEIGHTS[t.kind] for t in tokens]
        cores = [t.kind in _CORE for t in tokens]
        self.weights = weights
        self.cores = cores
        self.content = [t.kind in _CONTENT for t in tokens]
        self.lengths = [len(t.text) for t in tokens]
        scripts = form.scripts
        script = next(iter(scripts)) if len(scripts) == 1 else None
        # The one script other than Latin the name is written in (see ``script_rule``).
        self.script = None if script == "Latin" else script
        self.total = sum(weights)
        core_total = 0.0
        core_count = 0
        for w, c in zip(weights, cores, strict=True):
            if c:
                core_total += w
                core_count += 1
        self.core_total = core_total
        self.core_count = core_count
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
        numbers = [t.kind == "number" for t in tokens]
        texts = [t.text for t in tokens]
        for size in (2, 3):
            for i in range(len(tokens) - size + 1):
                if True in numbers[i : i + size]:
                    continue
                joined.append(
                    (tuple(range(i, i + size)), _joined_token("".join(texts[i : i + size])))
                )
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


Raw = tuple[tuple[int, ...], tuple[int, ...], float, str, float, bool]
"""An aligned pair as ``align`` finds it: left and right token indexes, similarity,
the rule, weight and whether it is a core pair."""


def align(
    lp: NameProfile, rp: NameProfile, sims: TokenSims | None = None
) -> tuple[list[float], list[Raw], list[bool], list[bool]]:
    """The features of two names (in the order of ``FEATURES``) and their alignment.

    The work of ``compare_names`` without building its explanation: ``resolve`` calls
    this for every pair of names and explains only the likely matches. (Written for
    speed: names are short, so plain loops beat generators here.)
    """
    left, right = lp.form, rp.form
    person = left.name_type == "PER" or right.name_type == "PER"
    strict = 0
    if lp.script is not None and lp.script == rp.script:
        strict = 2 if lp.script == "Han" else 1
    lt, rt = lp.singles, rp.singles
    nl, nr = len(lt), len(rt)
    llen, rlen = lp.lengths, rp.lengths
    # Candidates as (-sim, -letters, left unit, right unit, rule, left idx, right idx):
    # sorted, ties fall in the order of the nested loop over all pairs of units.
    candidates: list[tuple[float, int, int, int, str, tuple[int, ...], tuple[int, ...]]] = []
    append = candidates.append
    ltids, rtids = lp.tids, rp.tids
    if sims is not None and ltids is not None and rtids is not None:
        cache = sims.cache
        get = cache.get
        flags = (4 if person else 0) | strict
        shifted = [t << 3 for t in rtids]
        for i in range(nl):
            base = (ltids[i] << 28) | flags
            for j in range(nr):
                key = base | shifted[j]
                found = get(key)
                if found is None:
                    found = cache[key] = token_sim(lt[i], rt[j], person, strict)
                if found[0] >= _MIN_SIM:
                    append((-found[0], -llen[i] - rlen[j], i, j, found[1], (i,), (j,)))
    else:
        for i in range(nl):
            for j in range(nr):
                sim, how = token_sim(lt[i], rt[j], person, strict)
                if sim >= _MIN_SIM:
                    append((-sim, -llen[i] - rlen[j], i, j, how, (i,), (j,)))
    # A run-together unit only ever pairs with one token that spells it.
    if lp.joined:
        by_first = rp.by_first
        for u, (idx, token) in enumerate(lp.joined):
            text = token.text
            size = len(text)
            for j in by_first.get(text[0], ()):
                if -2 <= size - rlen[j] <= 2:
                    sim = token_sim(token, rt[j], person, strict)[0]
                    if sim >= 0.9:
                        append((-sim, -size - rlen[j], nl + u, j, "joined", idx, (j,)))
    if rp.joined:
        by_first = lp.by_first
        for u, (idx, token) in enumerate(rp.joined):
            text = token.text
            size = len(text)
            for i in by_first.get(text[0], ()):
                if -2 <= size - llen[i] <= 2:
                    sim = token_sim(lt[i], token, person, strict)[0]
                    if sim >= 0.9:
                        append((-sim, -llen[i] - size, i, nr + u, "joined", (i,), idx))
    candidates.sort()
    used_l = [False] * nl
    used_r = [False] * nr
    wl_all, wr_all = lp.weights, rp.weights
    core_l, core_r = lp.cores, rp.cores
    matched = 0.0
    matched_core = 0.0
    fuzz = 0.0
    order: list[tuple[int, int]] = []
    raw: list[Raw] = []
    for neg_sim, _, _, _, how, li, ri in candidates:
        if len(li) == 1 and len(ri) == 1:
            i, j = li[0], ri[0]
            if used_l[i] or used_r[j]:
                continue
            used_l[i] = used_r[j] = True
            wl, wr = wl_all[i], wr_all[j]
            core = core_l[i] or core_r[j]
        else:
            if any(used_l[i] for i in li) or any(used_r[i] for i in ri):
                continue
            for i in li:
                used_l[i] = True
            for i in ri:
                used_r[i] = True
            wl = sum(wl_all[i] for i in li)
            wr = sum(wr_all[i] for i in ri)
            core = any(core_l[i] for i in li) or any(core_r[i] for i in ri)
        sim = -neg_sim
        both = wl + wr
        matched += sim * both
        if core:
            order.append((li[0], ri[0]))
            matched_core += sim * both
            fuzz += 1.0 - sim
        raw.append((li, ri, sim, how, both / 2, core))
    total = lp.total + rp.total
    core_total = lp.core_total + rp.core_total
    content_l, content_r = lp.content, rp.content
    ul = 0.0
    for i in range(nl):
        if content_l[i] and not used_l[i]:
            ul += wl_all[i]
    ur = 0.0
    for j in range(nr):
        if content_r[j] and not used_r[j]:
            ur += wr_all[j]
    number_conflict = 0.0
    if lp.numbers != rp.numbers and (lp.numbers or rp.numbers):
        number_conflict = 1.0
    legal_conflict = 0.0
    if lp.legal is not None and rp.legal is not None and not lp.legal & rp.legal:
        legal_conflict = 1.0
    vector = [
        matched / total if total else 0.0,
        matched_core / core_total if core_total else 0.0,
        ul if ul < ur else ur,
        abs(ul - ur),
        fuzz,
        number_conflict,
        legal_conflict,
        1.0 if left.key == right.key else 0.0,
        1.0 if lp.core_count <= 1 or rp.core_count <= 1 else 0.0,
        _discordance(order) if person and len(order) > 1 else 0.0,
    ]
    return vector, raw, used_l, used_r


def compare_profiles(
    lp: NameProfile, rp: NameProfile, sims: TokenSims | None = None
) -> NameComparison:
    """``compare_names`` on profiles (built once per name), with a token-sim cache."""
    return comparison_of(lp, rp, align(lp, rp, sims))


def explain_alignment(
    lp: NameProfile,
    rp: NameProfile,
    found: tuple[list[float], list[Raw], list[bool], list[bool]],
) -> str:
    """``comparison_of(lp, rp, found).explain()``, written straight from the alignment."""
    _, raw, used_l, used_r = found
    lt, rt = lp.singles, rp.singles
    key = lp.form.key
    items = []
    for li, ri, sim, how, _, _ in raw:
        left = " ".join(lt[i].text for i in li) if len(li) > 1 else lt[li[0]].text
        right = " ".join(rt[i].text for i in ri) if len(ri) > 1 else rt[ri[0]].text
        text = f"{left}={right}" if how == "exact" else f"{left}~{right} ({how} {sim:.2f})"
        items.append((key.find(left), text))
    items.sort(key=lambda item: item[0])
    parts = [text for _, text in items]
    if not all(used_l) or not all(used_r):
        left = " ".join(t.text for i, t in enumerate(lt) if not used_l[i]) or "-"
        right = " ".join(t.text for i, t in enumerate(rt) if not used_r[i]) or "-"
        parts.append(f"unmatched: [{left}] vs [{right}]")
    return "; ".join(parts)


def comparison_of(
    lp: NameProfile,
    rp: NameProfile,
    found: tuple[list[float], list[Raw], list[bool], list[bool]],
) -> NameComparison:
    """The ``NameComparison`` (features and explanation) of what ``align`` found."""
    vector, raw, used_l, used_r = found
    left, right = lp.form, rp.form
    lt, rt = lp.singles, rp.singles
    result = NameComparison(left=left.original, right=right.original)
    for name, value in zip(FEATURES, vector, strict=True):
        setattr(result, name, value)
    aligned = [
        Aligned(
            left=" ".join(lt[i].text for i in li),
            right=" ".join(rt[i].text for i in ri),
            sim=sim,
            how=how,
            weight=weight,
            core=core,
        )
        for li, ri, sim, how, weight, core in raw
    ]
    # Order the explanation as the left name reads.
    key = left.key
    aligned.sort(key=lambda a: key.find(a.left))
    result.aligned = aligned
    result.unmatched_left = [t.text for i, t in enumerate(lt) if not used_l[i]]
    result.unmatched_right = [t.text for i, t in enumerate(rt) if not used_r[i]]
    return result


@dataclass(frozen=True, slots=True)
class NameModel:
    """A logistic model over the name features; its coefficients are data."""

    intercept: float
    coefficients: dict[str, float]
    threshold: float
    source: str

    def logit(self, comparison: NameComparison) -> float:
        return self.logit_of(comparison.vector())

    def logit_of(self, vector: list[float]) -> float:
        """The log-odds of a feature vector (in the order of ``FEATURES``)."""
        total = self.intercept
        for name, value in zip(FEATURES, vector, strict=True):
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
