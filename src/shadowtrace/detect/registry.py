"""The detectors: plugins of the ``shadowtrace.detectors`` entry-point group.

A third party adds a detector by declaring it in its own package metadata::

    [project.entry-points."shadowtrace.detectors"]
    my_typology = "my_package.detectors:MyDetector"

The entry point names a detector object or a class that makes one without arguments;
its name is the typology id. shadowtrace's own detectors are declared the same way.

>>> "sanctions_proximity" in detectors()
True
"""

from __future__ import annotations

import logging

from shadowtrace.detect.base import Detector
from shadowtrace.errors import ConfigError, NotFound
from shadowtrace.registry import load_group

__all__ = ["GROUP", "detectors", "get_detector"]

GROUP = "shadowtrace.detectors"

log = logging.getLogger(__name__)


def detectors() -> dict[str, Detector]:
    """Every registered detector, by typology id (sorted)."""
    found: dict[str, Detector] = {}
    for name, obj in load_group(GROUP).items():
        try:
            detector = obj() if isinstance(obj, type) else obj
        except TypeError as exc:
            raise ConfigError(f"Detector plugin {name!r} ({obj!r}) cannot be made: {exc}") from exc
        if not isinstance(detector, Detector):
            raise ConfigError(
                f"Detector plugin {name!r} ({obj!r}) lacks name, title, description, "
                "parameters or detect()"
            )
        if detector.name != name:
            log.warning("Detector %r is registered as %r; using %r", detector.name, name, name)
        found[name] = detector
    return found


def get_detector(name: str) -> Detector:
    """One detector by typology id."""
    found = detectors()
    if name not in found:
        raise NotFound(f"No detector {name!r}; known: {', '.join(found) or 'none'}")
    return found[name]
