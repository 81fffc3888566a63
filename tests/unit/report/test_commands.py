"""The report command: writes the file, prints its path, refuses a missing folder."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

import report_world
from shadowtrace.errors import ConfigError
from shadowtrace.report.commands import register, report_step
from shadowtrace.store import Store


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    """A closed store file with the small world, for the command to open read-only."""
    folder = tmp_path_factory.mktemp("cmd")
    with Store.open(folder / "world.duckdb") as store:
        report_world.build(store, folder)
    return str(folder / "world.duckdb")


def app() -> typer.Typer:
    a = typer.Typer()
    register(a)

    @a.command()
    def other() -> None:  # a second command, so that `report` is a subcommand
        pass

    return a


def test_report_command(store_path, tmp_path):
    out = tmp_path / "out.html"
    result = CliRunner().invoke(app(), ["report", "--store", store_path, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(out.resolve())
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_report_command_needs_the_folder(store_path, tmp_path):
    out = tmp_path / "missing" / "out.html"
    result = CliRunner().invoke(app(), ["report", "--store", store_path, "--out", str(out)])
    assert isinstance(result.exception, ConfigError)
    assert not out.exists()


def test_report_step_prints_only_the_path(world, tmp_path, capsys):
    store, _ = world
    path = report_step(store, tmp_path / "r.html")
    captured = capsys.readouterr()
    assert captured.out == f"{path.resolve()}\n"
    assert "Report written" in captured.err
