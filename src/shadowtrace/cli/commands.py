"""Commands beyond the foundation, registered on the shared Typer app.

Each stage keeps its commands beside its code (``shadowtrace.<stage>.commands``)
and exposes a ``register(app)``; this module is the one place that calls them, in
the order ``shadowtrace --help`` lists them.
"""

from __future__ import annotations

from shadowtrace.cli import export_cmd, pipeline  # noqa: F401
from shadowtrace.cli.app import app
from shadowtrace.detect.commands import register as register_detect
from shadowtrace.plan.commands import register as register_plan
from shadowtrace.report.commands import register as register_report
from shadowtrace.resolve.commands import register as register_resolve

__all__: list[str] = []

register_resolve(app)
register_detect(app)
register_plan(app)
register_report(app)
