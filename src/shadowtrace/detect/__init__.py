"""Detection of shadow-economy typologies, with evidence.

Detectors are plugins in the ``shadowtrace.detectors`` entry-point group; each
returns :class:`~shadowtrace.detect.finding.Finding` objects. ``detect(store)`` runs
them over the store's graph tables and writes their findings.

>>> from shadowtrace.detect import detect
>>> from shadowtrace.store import Store
>>> with Store.open(":memory:") as store:
...     detect(store).total
0
"""

from shadowtrace.detect.base import DetectContext, Detector, Param, check_params
from shadowtrace.detect.evidence import evidence_for
from shadowtrace.detect.finding import Evidence, Finding, Step
from shadowtrace.detect.registry import detectors, get_detector
from shadowtrace.detect.run import DetectReport, DetectorRun, detect

__all__ = [
    "DetectContext",
    "DetectReport",
    "Detector",
    "DetectorRun",
    "Evidence",
    "Finding",
    "Param",
    "Step",
    "check_params",
    "detect",
    "detectors",
    "evidence_for",
    "get_detector",
]
