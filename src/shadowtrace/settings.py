"""Settings shared by every command: the store file and whether progress bars show.

The ``shadowtrace`` callback fills :data:`settings` from the global options
(``shadowtrace --store X detect``); each command's own ``--store`` wins over it.
It lives outside :mod:`shadowtrace.cli` so that a stage's commands module can read it
without importing the whole command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["STORE_ENV", "Settings", "settings", "store_path"]

STORE_ENV = "SHADOWTRACE_STORE"


@dataclass
class Settings:
    store: str = field(default_factory=lambda: os.environ.get(STORE_ENV, "shadowtrace.duckdb"))
    progress: bool = True


settings = Settings()


def store_path(store: str | None) -> str:
    """The command's ``--store``, else the global one, else ``$SHADOWTRACE_STORE``."""
    return store or settings.store
