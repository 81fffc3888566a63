from pathlib import Path

import pytest

from shadowtrace.errors import ConfigError
from shadowtrace.simulate import load_policy, load_scenario, scenario_names
from shadowtrace.simulate.scenario import REQUIRED, seed_figures


def test_shipped_scenarios_load_and_every_parameter_has_a_source():
    assert {"default", "hard"} <= set(scenario_names())
    for name in ("default", "hard"):
        scn = load_scenario(name)
        assert set(REQUIRED) <= set(scn.params)
        for p in scn.params.values():
            assert p.source.startswith("assumption:") or p.source in seed_figures()


def test_hard_overrides_default():
    d, h = load_scenario("default"), load_scenario("hard")
    assert h.num("typo_rate") > d.num("typo_rate")
    assert h.num("adapt_probability") > d.num("adapt_probability")
    assert h.num("cn_bank_rejection_rate") == d.num("cn_bank_rejection_rate")


def test_bad_scenario_names_file_and_key(tmp_path: Path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\nextends: default\nparameters:\n  typo_rate: {value: 0.1}\n")
    with pytest.raises(ConfigError, match=r"bad.yml: parameters.typo_rate.source"):
        load_scenario(bad)
    bad.write_text(
        "name: x\nextends: default\nparameters:\n  typo_rate: {value: 0.1, source: nowhere.key}\n"
    )
    with pytest.raises(ConfigError, match="neither a key"):
        load_scenario(bad)
    with pytest.raises(ConfigError, match="unknown scenario"):
        load_scenario("no-such-scenario")


def test_policy_validation(tmp_path: Path):
    pol = load_policy(
        {
            "from_date": "2024-07-01",
            "sanction": ["ent-000001"],
            "close_channels": ["channel:usdt", "bank:ent-000002"],
        }
    )
    assert pol.closed("channel") == {"usdt"}
    with pytest.raises(ConfigError, match="close_channels"):
        load_policy({"from_date": "2024-07-01", "close_channels": ["teleport:x"]})
    with pytest.raises(ConfigError, match="from_date"):
        load_policy({"sanction": ["x"]})
    f = tmp_path / "p.yml"
    f.write_text("sanction: [a]\nfrom_date: nope\n")
    with pytest.raises(ConfigError, match=r"p.yml: from_date"):
        load_policy(f)


def test_bound_figures_need_a_floor_or_ceiling_with_a_reason(tmp_path: Path):
    scn = load_scenario("default")
    checks = {c.key: c for c in scn.calibration}
    revenue = checks["russian_far_east.dprk_revenue_usd_per_year"]
    assert revenue.check == "upper_bound" and revenue.floor and revenue.reason
    official = checks["russian_far_east.dprk_workers_official"]
    assert official.check == "lower_bound" and official.ceiling and official.reason
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: x\nextends: default\ncalibration:\n"
        "  - {key: russian_far_east.dprk_revenue_usd_per_year, metric: dprk_revenue_usd_2024,"
        " tolerance: {rel: 0.05}}\n"
    )
    with pytest.raises(ConfigError, match="state the floor and the reason"):
        load_scenario(bad)


def test_one_sided_checks_pass_inside_the_bound_and_fail_outside():
    from shadowtrace.simulate.calibration import _judge
    from shadowtrace.simulate.scenario import CalibrationSpec

    upper = CalibrationSpec("k", "m", rel_tol=0.05, check="upper_bound", floor=250.0, reason="r")
    assert _judge(upper, 500.0, 480.0)[0] and _judge(upper, 500.0, 520.0)[0]
    assert not _judge(upper, 500.0, 530.0)[0] and not _judge(upper, 500.0, 200.0)[0]
    lower = CalibrationSpec("k", "m", rel_tol=0.05, check="lower_bound", ceiling=900.0, reason="r")
    assert _judge(lower, 500.0, 800.0)[0] and not _judge(lower, 500.0, 950.0)[0]
    assert not _judge(lower, 500.0, 470.0)[0]
    two = CalibrationSpec("k", "m", abs_tol=0.03)
    assert _judge(two, 0.8, 0.82)[0] and not _judge(two, 0.8, 0.84)[0]
    assert not _judge(two, 0.8, float("nan"))[0]
