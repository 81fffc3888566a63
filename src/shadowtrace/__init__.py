"""shadowtrace: resolve, link, detect and plan over the records of a shadow economy."""

from __future__ import annotations

import sys

from shadowtrace.errors import (
    ConfigError,
    DependencyMissing,
    IngestError,
    MappingError,
    NotFound,
    ShadowtraceError,
    StoreError,
)


def _import_followthemoney() -> None:
    """Import FtM with its schema YAML read by libyaml.

    ``import followthemoney`` builds FtM's stock model at once, reading some seventy
    YAML files with PyYAML's pure-Python parser, at every start of every command.
    libyaml's parser, where PyYAML has it, reads the same mappings faster (importing
    ingest and resolve: 1.2 s to 1.0 s). ``yaml.safe_load`` is swapped only while FtM
    is imported.
    """
    if "followthemoney" in sys.modules:
        return
    import yaml

    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        return
    safe_load = yaml.safe_load
    yaml.safe_load = lambda stream: yaml.load(stream, Loader=loader)  # noqa: S506
    try:
        import followthemoney  # noqa: F401
    finally:
        yaml.safe_load = safe_load


_import_followthemoney()

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
