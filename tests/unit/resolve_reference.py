"""The name comparison as first written, kept as the reference for its fast version.

``shadowtrace.resolve.names.compare_names`` caches per-name profiles and token
similarities and pairs run-together tokens through buckets; the tests check that it
gives exactly what this straightforward version (one loop over every pair of units,
the package's ``token_sim``) gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from shadowtrace.resolve.names import (
    _CONTENT,
    _CORE,
    _MIN_SIM,
    KIND_WEIGHTS,
    Aligned,
    NameComparison,
    _discordance,
    script_rule,
    token_sim,
)
from shadowtrace.resolve.normalize import NameForm, Token, skeleton


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


def reference_compare_names(left: NameForm, right: NameForm) -> NameComparison:
    """Align two names and measure the features of the alignment (see the module doc)."""
    person = "PER" in (left.name_type, right.name_type)
    strict = script_rule(left, right)
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
            sim, how = token_sim(lu.token, ru.token, person, strict)
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
    ul = sum(KIND_WEIGHTS[t.kind] for t in rest_l if t.kind in _CONTENT)
    ur = sum(KIND_WEIGHTS[t.kind] for t in rest_r if t.kind in _CONTENT)
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
