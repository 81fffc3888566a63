"""Commands beyond the foundation, registered on the shared Typer app."""

from __future__ import annotations

from shadowtrace.cli import export_cmd, pipeline  # noqa: F401
from shadowtrace.cli.app import app
from shadowtrace.resolve.commands import register as register_resolve

__all__: list[str] = []

register_resolve(app)
