"""Findings: what a detector returns and what reports, the web app and the API show.

A finding is an instance of a typology in the data: the typology, a score in [0, 1],
the entities involved, and the chain of steps that make it, each step with the
statements behind it (so the source file and row). Findings are stored in the
``findings``, ``finding_steps`` and ``finding_evidence`` tables.

>>> ev = Evidence(statement_id="ab12", entity_id="pay-1", prop="amount", value="1000")
>>> step = Step(kind="payment", source="A", target="B", summary="A paid B 1,000 USD",
...             evidence=(ev,))
>>> f = Finding.make("rerouted_payment", 0.9, "Rejected payment rerouted", ("A", "B"), (step,))
>>> f.to_dict()["steps"][0]["evidence"][0]["statement_id"]
'ab12'
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Evidence", "Finding", "Step"]


@dataclass(frozen=True)
class Evidence:
    """One statement behind a step."""

    statement_id: str  # FtM statement id (view ftm_statements.id)
    entity_id: str  # the record the statement is about
    prop: str
    value: str
    source: str | None = None  # source file (sources.name)
    source_row: int | None = None  # 1-based record number in that file


@dataclass(frozen=True)
class Step:
    """One link of a finding's chain: a shipment, payment, transfer, shared address …"""

    kind: str
    source: str  # canonical id the step goes from (or the entity it is about)
    target: str | None
    summary: str
    entity_id: str | None = None  # the canonical id of the edge entity (payment, shipment)
    date: str | None = None
    amount: float | None = None
    currency: str | None = None
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Finding:
    """An instance of a typology, with its chain of evidence."""

    id: str
    typology: str
    score: float
    title: str
    entities: tuple[str, ...]
    steps: tuple[Step, ...] = ()
    explanation: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def make(
        cls,
        typology: str,
        score: float,
        title: str,
        entities: tuple[str, ...],
        steps: tuple[Step, ...] = (),
        explanation: str = "",
        metrics: dict[str, float] | None = None,
    ) -> Finding:
        """A finding with a content-derived id: the same typology over the same
        entities and steps is the same finding on every run."""
        key = hashlib.sha1(usedforsecurity=False)
        key.update(typology.encode())
        for entity in sorted(set(entities)):
            key.update(b"\x00" + entity.encode())
        for step in steps:
            key.update(
                b"\x01" + (step.entity_id or f"{step.kind}:{step.source}>{step.target}").encode()
            )
        score = min(1.0, max(0.0, float(score)))
        return cls(
            id=f"{typology}-{key.hexdigest()[:16]}",
            typology=typology,
            score=score,
            title=title,
            entities=tuple(dict.fromkeys(entities)),
            steps=steps,
            explanation=explanation,
            metrics=dict(metrics or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
