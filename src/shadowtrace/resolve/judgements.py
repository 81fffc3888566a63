"""Judgements: an analyst's decision that two entities are, or are not, the same.

Judgements are kept in the ``judgements`` table, append-only: the newest row for a
pair is in force (``judgements_current``), the older ones are its history. They
refer to entity ids as ingest made them, so they survive re-ingest and re-resolve,
and clustering treats them as hard constraints that win over the scorer.

Import and export use nomenklatura's resolver format: one JSON list per line,
``[target, source, judgement, score, user, created_at]``, where ``target`` is the
larger of the two ids. Ids of nomenklatura's canonical nodes (``NK-…``) are resolved
through the positive edges of the same file to the entities they stand for.

>>> from shadowtrace.store import Store
>>> store = Store.open(":memory:")
>>> add_judgement(store, "b", "a", "negative", user="ana", reason="different INN")
>>> [(j.left_id, j.right_id, j.judgement) for j in current_judgements(store)]
[('a', 'b', 'negative')]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Final, Literal

from shadowtrace.errors import ConfigError
from shadowtrace.store import Store

__all__ = [
    "JUDGEMENTS",
    "Judgement",
    "JudgementValue",
    "add_judgement",
    "current_judgements",
    "export_judgements",
    "import_judgements",
]

JudgementValue = Literal["positive", "negative", "unsure", "no_judgement"]
JUDGEMENTS: Final = ("positive", "negative", "unsure", "no_judgement")
_NK_PREFIX: Final = "NK-"


@dataclass(frozen=True, slots=True)
class Judgement:
    left_id: str
    right_id: str
    judgement: str
    user: str
    created_at: datetime
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "left_id": self.left_id,
            "right_id": self.right_id,
            "judgement": self.judgement,
            "user": self.user,
            "created_at": self.created_at.isoformat(),
            "reason": self.reason,
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def add_judgement(
    store: Store,
    left_id: str,
    right_id: str,
    judgement: str,
    user: str,
    reason: str | None = None,
    score: float | None = None,
    created_at: datetime | None = None,
) -> None:
    """Record a judgement on a pair of entity ids (in either order)."""
    if judgement not in JUDGEMENTS:
        raise ConfigError(f"Unknown judgement {judgement!r}: use one of {', '.join(JUDGEMENTS)}")
    if not left_id or not right_id or left_id == right_id:
        raise ConfigError("A judgement needs two different entity ids")
    if not user:
        raise ConfigError("A judgement needs a user")
    low, high = sorted((left_id, right_id))
    store.con.execute(
        'INSERT INTO judgements (left_id, right_id, judgement, "user", created_at, reason, score) '
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [low, high, judgement, user, created_at or _now(), reason, score],
    )


def current_judgements(store: Store, judgement: str | None = None) -> list[Judgement]:
    """The judgements in force, optionally only one kind."""
    sql = 'SELECT left_id, right_id, judgement, "user", created_at, reason FROM judgements_current'
    params: list[Any] = []
    if judgement is not None:
        sql += " WHERE judgement = ?"
        params.append(judgement)
    sql += " ORDER BY left_id, right_id"
    return [Judgement(*row) for row in store.con.execute(sql, params).fetchall()]


def export_judgements(store: Store, out: IO[str]) -> int:
    """Write the judgements in force in nomenklatura's resolver line format."""
    count = 0
    for j in current_judgements(store):
        if j.judgement == "no_judgement":
            continue
        row = [j.right_id, j.left_id, j.judgement, None, j.user, j.created_at.isoformat()]
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def _read_lines(lines: Iterable[str]) -> Iterator[tuple[str, str, str, str, datetime | None]]:
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
            target, source, judgement = str(row[0]), str(row[1]), str(row[2])
            user = str(row[4]) if len(row) > 4 and row[4] else "import"
            created = datetime.fromisoformat(str(row[5])[:26]) if len(row) > 5 and row[5] else None
        except (ValueError, IndexError, TypeError) as exc:
            raise ConfigError(f"line {number}: not a resolver edge ({exc})") from exc
        if len(row) > 6 and row[6]:
            continue  # deleted edge
        if judgement not in JUDGEMENTS:
            raise ConfigError(f"line {number}: unknown judgement {judgement!r}")
        yield target, source, judgement, user, created


def import_judgements(store: Store, lines: Iterable[str], user: str | None = None) -> int:
    """Read nomenklatura resolver lines into the judgements table. Returns the count."""
    edges = list(_read_lines(lines))
    # Canonical NK- nodes stand for the entities positively linked to them.
    members: dict[str, list[str]] = {}
    for target, source, judgement, _, _ in edges:
        if judgement != "positive":
            continue
        for node, other in ((target, source), (source, target)):
            if node.startswith(_NK_PREFIX) and not other.startswith(_NK_PREFIX):
                members.setdefault(node, []).append(other)

    def stand_in(node: str) -> str | None:
        if not node.startswith(_NK_PREFIX):
            return node
        found = sorted(members.get(node, []))
        return found[0] if found else None

    count = 0
    with store.transaction():
        for target, source, judgement, who, created in edges:
            left, right = stand_in(target), stand_in(source)
            if left is None or right is None or left == right:
                continue
            add_judgement(
                store,
                left,
                right,
                judgement,
                user=user or who,
                reason="imported from a nomenklatura resolver file",
                created_at=created,
            )
            count += 1
    return count
