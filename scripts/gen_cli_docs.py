"""Write docs/cli.md from the command line's own help (tests/test_docs.py checks it).

Usage: python scripts/gen_cli_docs.py [--check]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "cli.md"


def _help(args: list[str]) -> str:
    from typer.testing import CliRunner

    from shadowtrace.cli import app

    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "100", "TERM": "dumb"})
    if result.exit_code != 0:  # pragma: no cover - a broken command
        raise RuntimeError(f"shadowtrace {' '.join(args)} --help failed: {result.output}")
    return result.output.rstrip()


def _names(group: Any, prefix: list[str]) -> list[list[str]]:
    ctx = group.make_context("shadowtrace", [], resilient_parsing=True)
    out: list[list[str]] = []
    for name in sorted(group.list_commands(ctx)):
        cmd = group.get_command(ctx, name)
        if cmd is None or getattr(cmd, "hidden", False):
            continue
        out.append([*prefix, name])
        if hasattr(cmd, "list_commands"):
            out.extend(_names(cmd, [*prefix, name]))
    return out


def render() -> str:
    import typer.main

    from shadowtrace.cli import app

    os.environ["COLUMNS"] = "100"
    root = typer.main.get_command(app)
    parts = [
        "# Command line\n",
        "Generated from the commands' own help by `scripts/gen_cli_docs.py`; a test fails when",
        "it is out of date.\n",
        "```text",
        _help([]),
        "```\n",
    ]
    for args in _names(root, []):
        parts += [f"## shadowtrace {' '.join(args)}\n", "```text", _help(args), "```\n"]
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        return 0 if TARGET.exists() and TARGET.read_text(encoding="utf-8") == text else 1
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
