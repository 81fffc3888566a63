"""One exception tree for shadowtrace.

::

    ShadowtraceError
    ├── ConfigError          a setting, scenario, mapping or policy is invalid
    │   └── MappingError     an ingest mapping is invalid
    ├── IngestError          a source record cannot be read (file, row, field, reason)
    ├── StoreError           the store cannot be opened, migrated or written
    ├── NotFound             an entity, finding, run or file does not exist
    └── DependencyMissing    an optional extra is not installed

The command line prints one red line for any of these and exits non-zero; the web
API turns them into one JSON envelope. Anything else is a bug and is not caught.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DependencyMissing",
    "IngestError",
    "MappingError",
    "NotFound",
    "ShadowtraceError",
    "StoreError",
]


class ShadowtraceError(Exception):
    """Base class of every error shadowtrace raises on purpose."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ShadowtraceError):
    """A setting, scenario, mapping or policy file is invalid."""


class MappingError(ConfigError):
    """An ingest mapping is invalid."""


class StoreError(ShadowtraceError):
    """The store cannot be opened, migrated or written."""

    status = 500


class NotFound(ShadowtraceError):
    """An entity, finding, run or file does not exist."""

    status = 404


class DependencyMissing(ShadowtraceError):
    """An optional extra is needed for this feature."""

    status = 501

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs the optional extra {extra!r}: pip install 'shadowtrace[{extra}]'"
        )
        self.extra = extra


class IngestError(ShadowtraceError):
    """A source record cannot be read. Names the file, row, field and reason."""

    def __init__(
        self,
        reason: str,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.reason = reason
        parts = []
        if file is not None:
            parts.append(str(file))
        if row is not None:
            parts.append(f"row {row}")
        if field is not None:
            parts.append(f"field {field!r}")
        where = ", ".join(parts)
        super().__init__(f"{where}: {reason}" if where else reason)
