"""Entity resolution: who is who across scripts, transliterations and registers.

``normalize`` builds compare forms of names, identifiers, phones and addresses;
``names`` and ``compare`` score a pair with explained features; ``blocking`` finds
candidate pairs in SQL on the store; ``cluster`` groups them without chaining;
``run`` writes canonical ids (``resolve``, ``merge``, ``split``); ``judgements`` keeps
the analyst's decisions; ``matching`` screens one query against the store.
"""

from __future__ import annotations

from shadowtrace.resolve.compare import Comparison, Feature, compare, prepare
from shadowtrace.resolve.judgements import (
    add_judgement,
    current_judgements,
    export_judgements,
    import_judgements,
)
from shadowtrace.resolve.matching import MatchResult, match
from shadowtrace.resolve.run import ResolveReport, apply_resolution, merge, resolve, split

__all__ = [
    "Comparison",
    "Feature",
    "MatchResult",
    "ResolveReport",
    "add_judgement",
    "apply_resolution",
    "compare",
    "current_judgements",
    "export_judgements",
    "import_judgements",
    "match",
    "merge",
    "prepare",
    "resolve",
    "split",
]
