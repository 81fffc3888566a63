"""The demo command runs every stage and ends with the report's path on stdout."""

from __future__ import annotations

from pathlib import Path

import report_world
from shadowtrace import demo as demo_module
from shadowtrace.demo import demo_command


def test_demo_ends_with_the_report_path(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_simulate(scenario, seed, scale, out):
        calls.append(("simulate", scenario, seed, scale))
        out.mkdir(parents=True, exist_ok=True)
        report_world.write_world(out)
        # a manifest, so the folder ingests as the simulator's would
        (out / "manifest.yml").write_text(
            f"sources:\n- path: {report_world.FILE}\n  dataset: report_world\n  format: ftm\n"
        )

    monkeypatch.setattr("shadowtrace.simulate.simulate", fake_simulate)
    demo_command(out=tmp_path / "demo", scale=0.001, seed=3, scenario="default")
    printed = capsys.readouterr().out.strip().splitlines()
    report = tmp_path / "demo" / "report.html"
    assert printed == [str(report.resolve())]
    assert report.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert calls == [("simulate", "default", 3, 0.001)]
    assert (tmp_path / "demo" / "shadowtrace.duckdb").exists()
    assert demo_module.__all__ == ["demo", "demo_command"]
    assert Path(printed[0]).name == "report.html"
