"""The ``shadowtrace`` command line: thin commands over the library.

Logs and progress go to stderr; results go to stdout (or ``--out``). Any
:class:`~shadowtrace.errors.ShadowtraceError` is printed as one red line and the
command exits with status 1; a closed pipe exits quietly.
"""

from shadowtrace.cli import commands as _commands  # registers every command on the app
from shadowtrace.cli.app import app, main

__all__ = ["app", "main"]
del _commands
