"""Group scored pairs into entities without chaining across weak links.

Single-link clustering (merge whenever one pair scores high) lets a chain of
pairwise-plausible links join entities that are plainly different end to end
("Vostok Trade" ~ "Vostok Trading" ~ "Vostok Trans" ~ …). Here two clusters merge
only when

* the *average* score of every scored pair between them reaches the threshold
  (average linkage over the evidence we have, pairs never scored do not count), and
* no pair between them is a cannot-link: a negative judgement or an identifier
  conflict (two different INNs, IMOs …), and
* the clusters do not hold different values of one exclusive identifier scheme (an
  INN, an IMO, a wallet …) with none in common: a cluster is one entity, and one
  entity has one INN, whether or not its members were ever compared pairwise.

Judgements are hard constraints: positive judgements are merged first, whatever
the scores; negative ones are never merged across.

>>> pairs = [("a", "b", 0.95, False), ("b", "c", 0.9, False), ("a", "c", 0.1, False)]
>>> sorted(cluster(pairs, threshold=0.7).items())
[('a', 'a'), ('b', 'a')]
>>> sorted(cluster(pairs, threshold=0.7, negative=[("a", "b")]).items())
[('b', 'b'), ('c', 'b')]
>>> ids = {"a": [("inn", "1")], "c": [("inn", "2")]}
>>> sorted(cluster(pairs + [("a", "c", 0.9, False)], threshold=0.7, exclusive=ids).items())
[('a', 'a'), ('b', 'a')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["cluster"]

Pair = tuple[str, str]


class _Clusters:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.members: dict[str, list[str]] = {}
        self.cannot: dict[str, set[str]] = {}
        self.links: dict[str, dict[str, list[float]]] = {}
        self.ids: dict[str, dict[str, set[str]]] = {}

    def add(self, node: str) -> None:
        if node not in self.parent:
            self.parent[node] = node
            self.members[node] = [node]
            self.cannot[node] = set()
            self.links[node] = {}

    def find(self, node: str) -> str:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def forbidden(self, ra: str, rb: str) -> bool:
        ia, ib = self.ids.get(ra), self.ids.get(rb)
        if ia and ib:
            for scheme, values in ia.items():
                other_values = ib.get(scheme)
                if other_values and values.isdisjoint(other_values):
                    return True
        small, other = (ra, rb) if len(self.cannot[ra]) <= len(self.cannot[rb]) else (rb, ra)
        return any(self.find(x) == other for x in self.cannot[small])

    def link(self, a: str, b: str, score: float) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        for x, y in ((ra, rb), (rb, ra)):
            entry = self.links[x].setdefault(y, [0.0, 0.0])
            entry[0] += score
            entry[1] += 1.0

    def average(self, ra: str, rb: str) -> float:
        entry = self.links[ra].get(rb)
        if not entry or not entry[1]:
            return 0.0
        return entry[0] / entry[1]

    def union(self, ra: str, rb: str) -> str:
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra].extend(self.members.pop(rb))
        self.cannot[ra] |= self.cannot.pop(rb)
        moved_ids = self.ids.pop(rb, None)
        if moved_ids:
            mine = self.ids.setdefault(ra, {})
            for scheme, values in moved_ids.items():
                mine.setdefault(scheme, set()).update(values)
        moved = self.links.pop(rb)
        moved.pop(ra, None)
        self.links[ra].pop(rb, None)
        for other, (total, count) in moved.items():
            entry = self.links[ra].setdefault(other, [0.0, 0.0])
            entry[0] += total
            entry[1] += count
            back = self.links[other]
            old = back.pop(rb)
            mirror = back.setdefault(ra, [0.0, 0.0])
            mirror[0] += old[0]
            mirror[1] += old[1]
        return ra


def cluster(
    pairs: Iterable[tuple[str, str, float, bool]],
    threshold: float,
    positive: Iterable[Pair] = (),
    negative: Iterable[Pair] = (),
    exclusive: Mapping[str, Iterable[tuple[str, str]]] | None = None,
) -> dict[str, str]:
    """Map every entity in a cluster of two or more to its cluster's representative.

    ``pairs`` are ``(left, right, score, vetoed)``; ``exclusive`` maps entities to
    their ``(scheme, value)`` identifiers of exclusive schemes. The representative is
    the smallest member id. Entities left alone are not in the result.
    """
    state = _Clusters()
    scored = list(pairs)
    for node, identifiers in (exclusive or {}).items():
        state.add(node)
        own = state.ids.setdefault(node, {})
        for scheme, value in identifiers:
            own.setdefault(scheme, set()).add(value)
    for a, b in negative:
        state.add(a)
        state.add(b)
        state.cannot[a].add(b)
        state.cannot[b].add(a)
    for a, b, _, vetoed in scored:
        state.add(a)
        state.add(b)
        if vetoed:
            state.cannot[a].add(b)
            state.cannot[b].add(a)
    for a, b in positive:
        state.add(a)
        state.add(b)
        ra, rb = state.find(a), state.find(b)
        if ra != rb:
            state.union(ra, rb)  # a judgement wins over every constraint
    for a, b, score, vetoed in scored:
        if not vetoed:
            state.link(a, b, score)
    for a, b, score, vetoed in sorted(scored, key=lambda p: (-p[2], p[0], p[1])):
        if score < threshold:
            break
        if vetoed:
            continue
        ra, rb = state.find(a), state.find(b)
        if ra == rb or state.forbidden(ra, rb):
            continue
        if state.average(ra, rb) >= threshold:
            state.union(ra, rb)
    out: dict[str, str] = {}
    for members in state.members.values():
        if len(members) < 2:
            continue
        head = min(members)
        for member in members:
            out[member] = head
    return out
