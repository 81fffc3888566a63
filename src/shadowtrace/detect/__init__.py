"""Detection of shadow-economy typologies, with evidence.

Detectors are plugins in the ``shadowtrace.detectors`` entry-point group; each
returns :class:`~shadowtrace.detect.finding.Finding` objects.
"""

from shadowtrace.detect.finding import Evidence, Finding, Step

__all__ = ["Evidence", "Finding", "Step"]
