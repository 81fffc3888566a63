"""Commands beyond the foundation, registered on the shared Typer app."""

from __future__ import annotations

from shadowtrace.cli import export_cmd  # noqa: F401

__all__: list[str] = []
