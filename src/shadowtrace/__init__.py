"""shadowtrace: resolve, link, detect and plan over the records of a shadow economy."""

from __future__ import annotations

from shadowtrace.errors import (
    ConfigError,
    DependencyMissing,
    IngestError,
    MappingError,
    NotFound,
    ShadowtraceError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DependencyMissing",
    "IngestError",
    "MappingError",
    "NotFound",
    "ShadowtraceError",
    "StoreError",
    "__version__",
]
