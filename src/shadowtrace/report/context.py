"""What every report section reads from: the store, the options and shared look-ups.

A section gathers its data through a :class:`ReportContext`, which caches what
several sections need (the sanctioned entities, the country of each party, the
caption of an entity) so that each is read from the store once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, cast

from shadowtrace.detect.common import DEFAULT_FX
from shadowtrace.store import Store

__all__ = ["CHINESE_COUNTRIES", "DEFAULT_RATES_TO_USD", "ReportContext", "ReportOptions", "clip"]

#: Indicative exchange rates (US dollars per unit) used to put amounts in different
#: currencies on one scale: the detectors' own mid rates over 2023 to mid-2025, so that
#: the report and the findings agree. The report states them. An amount its source
#: already gives in US dollars (``amountUsd``) is used as is.
DEFAULT_RATES_TO_USD: Mapping[str, float] = MappingProxyType(
    {currency: 1.0 / per_usd for currency, per_usd in sorted(DEFAULT_FX.items())}
)

T = TypeVar("T")

#: Countries whose suppliers count as Chinese in the dependency inventory: mainland
#: China. Hong Kong and Macao are shown as origins of their own, so that a reader
#: sees them and can count them in (``ReportOptions(chinese_countries=...)``).
CHINESE_COUNTRIES: frozenset[str] = frozenset({"cn"})


@dataclass(frozen=True)
class ReportOptions:
    """What goes into a report and how much of it.

    ``max_findings`` bounds the findings shown in full (the counts cover all of
    them), except that the best ``min_per_typology`` of each typology are always shown;
    ``max_findings_bytes`` bounds their size as JSON (the best of each typology go in
    first); ``max_evidence`` bounds the statements listed per step; ``top`` bounds
    the rows of ranking tables.
    """

    title: str = "shadowtrace report"
    max_findings: int = 150
    min_per_typology: int = 10
    max_evidence: int = 20
    max_findings_bytes: int = 3_000_000
    top: int = 25
    max_text: int = 2000
    rates_to_usd: Mapping[str, float] = field(default_factory=lambda: DEFAULT_RATES_TO_USD)
    chinese_countries: frozenset[str] = CHINESE_COUNTRIES


def clip(value: str | None, limit: int) -> str | None:
    """A value cut to ``limit`` characters (with an ellipsis), so that one huge
    value cannot swell the report."""
    if value is None or len(value) <= limit:
        return value
    return value[: max(0, limit - 1)] + "…"


class ReportContext:
    """The store, the options and cached look-ups shared by the sections."""

    def __init__(self, store: Store, options: ReportOptions | None = None) -> None:
        self.store = store
        self.options = options or ReportOptions()
        self._sanctioned: frozenset[str] | None = None
        self._countries: dict[str, str] | None = None
        self._entities: dict[str, dict[str, Any]] = {}
        self._cache: dict[str, Any] = {}

    def cached(self, key: str, fn: Callable[[ReportContext], T]) -> T:
        """``fn(self)``, computed once per report: data several sections share."""
        if key not in self._cache:
            self._cache[key] = fn(self)
        return cast(T, self._cache[key])

    # -- queries ---------------------------------------------------------------

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a query as dictionaries."""
        cur = self.store.con.execute(sql, list(params))
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def table_exists(self, name: str) -> bool:
        n = self.store.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        )
        return bool(n)

    # -- shared look-ups -------------------------------------------------------

    @property
    def sanctioned(self) -> frozenset[str]:
        """Canonical ids of sanctioned entities: the targets of ``Sanction``
        entities, and entities with the FtM topic ``sanction``."""
        if self._sanctioned is None:
            rows = self.store.con.execute(
                "SELECT entity FROM sanctions WHERE entity IS NOT NULL "
                "UNION SELECT canonical_id FROM statements "
                "WHERE prop = 'topics' AND value = 'sanction'"
            ).fetchall()
            self._sanctioned = frozenset(str(r[0]) for r in rows)
        return self._sanctioned

    @property
    def countries(self) -> dict[str, str]:
        """Country of each party with one: ``country``, else ``jurisdiction``, else
        ``nationality`` (the smallest value where there are several)."""
        if self._countries is None:
            rows = self.store.con.execute(
                "SELECT canonical_id, coalesce("
                "  min(value) FILTER (WHERE prop = 'country'),"
                "  min(value) FILTER (WHERE prop = 'jurisdiction'),"
                "  min(value) FILTER (WHERE prop = 'nationality')) "
                "FROM statements WHERE prop IN ('country', 'jurisdiction', 'nationality') "
                "GROUP BY canonical_id"
            ).fetchall()
            self._countries = {str(r[0]): str(r[1]) for r in rows if r[1] is not None}
        return self._countries

    def canonical(self, ids: Iterable[str]) -> dict[str, str]:
        """The canonical id of each id (itself when it was never merged), so that
        findings written before a merge still point at the merged entity."""
        wanted = sorted({i for i in ids if i})
        if not wanted:
            return {}
        rows = self.store.con.execute(
            "SELECT q.id, coalesce(r.canonical_id, q.id) FROM (SELECT unnest(?) AS id) q "
            "LEFT JOIN resolution r ON r.entity_id = q.id",
            [wanted],
        ).fetchall()
        return {str(a): str(b) for a, b in rows}

    def entities(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Caption, schema, country, datasets and flags of entities by canonical id.

        An id the store does not know comes back with itself as caption and schema
        ``None``: a finding may name an entity that a later ingest removed.
        """
        missing = sorted({i for i in ids if i and i not in self._entities})
        if missing:
            limit = self.options.max_text
            rows = self.store.con.execute(
                """
                SELECT s.canonical_id AS id,
                       arg_max(s.schema, m.depth) AS schema,
                       coalesce(
                         min(s.value) FILTER (WHERE s.prop = 'name'),
                         min(s.value) FILTER (WHERE s.prop IN ('title', 'full', 'publicKey',
                                                               'username')),
                         min(s.value) FILTER (WHERE s.prop IN ('transactionHash', 'ccdNumber',
                                                 'transactionNumber', 'serialNumber')),
                         min(s.value) FILTER (WHERE s.prop_type = 'name'),
                         s.canonical_id) AS caption,
                       list(DISTINCT s.dataset ORDER BY s.dataset) AS datasets,
                       count(DISTINCT s.entity_id) AS records
                FROM statements s
                JOIN (SELECT unnest(?) AS id) q ON q.id = s.canonical_id
                JOIN ftm_schemata m ON m.name = s.schema
                GROUP BY s.canonical_id
                """,
                [missing],
            ).fetchall()
            found = {str(r[0]): r for r in rows}
            sanctioned = self.sanctioned
            countries = self.countries
            for eid in missing:
                row = found.get(eid)
                self._entities[eid] = {
                    "id": eid,
                    "caption": clip(str(row[2]), limit) if row else eid,
                    "schema": str(row[1]) if row else None,
                    "country": countries.get(eid),
                    "datasets": list(row[3]) if row else [],
                    "records": int(row[4]) if row else 0,
                    "sanctioned": eid in sanctioned,
                }
        return {i: self._entities[i] for i in ids if i in self._entities}

    def to_usd_sql(self) -> tuple[str, list[Any]]:
        """A subquery of the exchange rates, ``(currency, usd)``, with its parameters."""
        rates = self.options.rates_to_usd
        codes = sorted(rates)
        sql = "(SELECT unnest(?::VARCHAR[]) AS currency, unnest(?::DOUBLE[]) AS usd)"
        return sql, [codes, [float(rates[c]) for c in codes]]
