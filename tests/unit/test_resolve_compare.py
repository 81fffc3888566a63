from __future__ import annotations

from collections.abc import Sequence

import pytest

from shadowtrace.resolve.compare import VETO_CAP, compare, prepare
from shadowtrace.resolve.names import compare_names, name_model
from shadowtrace.resolve.normalize import name_form


def ent(eid: str, schema: str, **props: Sequence[str]) -> dict[str, object]:
    return {"id": eid, "schema": schema, "properties": {k: list(v) for k, v in props.items()}}


def score(a: dict[str, object], b: dict[str, object]) -> float:
    return compare(prepare(a), prepare(b)).score  # type: ignore[arg-type]


THRESHOLD = name_model().threshold


@pytest.mark.parametrize(
    ("schema", "left", "right"),
    [
        ("Company", "ООО Восток-Трейд", "OOO Vostok-Treyd"),
        ("Company", "ООО Восток-Трейд", "Vostok Trade LLC"),
        ("Company", "深圳市华强电子有限公司", "Shenzhen Huaqiang Electronics Co., Ltd."),
        ("Person", "Сергей Викторович Лавров", "Sergey Viktorovich Lavrov"),
        ("Person", "Sergei Lavrov", "LAVROV, Sergey"),
        ("Person", "习近平", "Xi Jinping"),
        ("Company", "Siemens Aktiengesellschaft", "SiemensAG"),
        (
            "Company",
            "Hei-ho T'o-t'eng Communication Equipment Co., Ltd.",
            "黑河拓腾通信设备有限公司",
        ),
        ("Company", "Shen-chen Hua-ch'iang Electronics", "Shenzhen Huaqiang Electronics Co., Ltd."),
    ],
)
def test_same_entity_across_scripts_scores_high(schema: str, left: str, right: str) -> None:
    assert score(ent("a", schema, name=[left]), ent("b", schema, name=[right])) >= THRESHOLD


@pytest.mark.parametrize(
    ("schema", "left", "right"),
    [
        ("Company", "ООО Восток-Трейд", "ООО Запад-Трейд"),
        ("Person", "Hans Friedrich", "Hans Gruber"),
        ("Company", "Deutsche Bank AG", "Deutsche Bank GmbH"),
        ("Person", "AHMAD BIN HASAN AL-UBAIDI", "AHMAD BIN HASAN AL-TIKRITI"),
        ("Company", "Shenzhen Huaqiang Electronics", "Shenzhen Huawei Electronics"),
        # one place and trade name, another line of business: two companies
        (
            "Company",
            "Changsha Tengzhi International Trading Co., Ltd.",
            "Changsha Tengzhi Microelectronics Co., Ltd.",
        ),
        ("Company", "上海市新腾矿山机械有限公司", "SHANGHAI XINTENG TIMBER CO LTD"),
        (
            "Company",
            "Hei-ho T'o-t'eng Communication Equipment Co., Ltd.",
            "Heihe Tengtai Communication Equipment Co., Ltd.",
        ),
    ],
)
def test_different_entities_score_low(schema: str, left: str, right: str) -> None:
    assert score(ent("a", schema, name=[left]), ent("b", schema, name=[right])) < THRESHOLD


def test_identifier_agreement_confirms_a_weak_name_match() -> None:
    a = ent("a", "Company", name=["Vostok Trade"], innCode=["7707083893"])
    b = ent("b", "Company", name=["Восток Сервис"], innCode=["7707083893"])
    without = score(
        ent("a", "Company", name=["Vostok Trade"]), ent("b", "Company", name=["Восток Сервис"])
    )
    assert without < 0.9
    assert score(a, b) > 0.9


def test_identifier_conflict_vetoes_an_exact_name() -> None:
    a = ent("a", "Company", name=["Vostok Trade LLC"], innCode=["7707083893"])
    b = ent("b", "Company", name=["Vostok Trade LLC"], innCode=["5003052454"])
    result = compare(prepare(a), prepare(b))  # type: ignore[arg-type]
    assert result.vetoed
    assert result.score <= VETO_CAP
    assert any(f.name == "identifier_conflict" for f in result.features)


def test_invalid_identifier_does_not_veto() -> None:
    a = ent("a", "Company", name=["Vostok Trade LLC"], innCode=["7707083893"])
    b = ent("b", "Company", name=["Vostok Trade LLC"], innCode=["1234567890"])
    assert score(a, b) >= THRESHOLD


def test_person_and_company_never_match() -> None:
    assert score(ent("a", "Person", name=["Vostok"]), ent("b", "Company", name=["Vostok"])) == 0.0


def test_birth_dates_and_countries_qualify_the_name() -> None:
    base = {"name": ["Ivan Petrov"]}
    same = score(
        ent("a", "Person", **base, birthDate=["1970-01-02"], country=["ru"]),
        ent("b", "Person", **base, birthDate=["1970-01-02"], country=["ru"]),
    )
    other = score(
        ent("a", "Person", **base, birthDate=["1970-01-02"], country=["ru"]),
        ent("b", "Person", **base, birthDate=["1985-06-30"], country=["ua"]),
    )
    plain = score(ent("a", "Person", **base), ent("b", "Person", **base))
    assert same > plain > other
    assert other < THRESHOLD


def test_every_score_is_explained() -> None:
    a = ent("a", "Company", name=["ООО Восток-Трейд"], phone=["+7 495 123 45 67"])
    b = ent("b", "Company", name=["Vostok Trade LLC"], phone=["8 (495) 123-45-67"], country=["ru"])
    result = compare(prepare(a), prepare(b))  # type: ignore[arg-type]
    names = [f.name for f in result.features]
    assert names == ["name", "contact"]
    assert "vostok" in result.explain()
    data = result.to_dict()
    assert data["score"] == round(result.score, 4)


def test_name_alignment_reports_leftovers() -> None:
    a, b = (
        name_form("AHMAD BIN HASAN AL-UBAIDI", "PER"),
        name_form("AHMAD BIN HASAN AL-TIKRITI", "PER"),
    )
    assert a is not None and b is not None
    cmp = compare_names(a, b)
    assert cmp.unmatched_left == ["ubaidi"] and cmp.unmatched_right == ["tikriti"]
    assert cmp.conflict > 0


@pytest.mark.parametrize(
    "hostile", ["", "\x00", "x" * 10_000, "'; DROP TABLE statements; --", "ООО 华强 Vostok\u200b"]
)
def test_hostile_entities_score_without_error(hostile: str) -> None:
    a = ent("a", "Company", name=[hostile], innCode=[hostile], address=[hostile], phone=[hostile])
    b = ent("b", "Company", name=[hostile, "Vostok"], email=[hostile])
    value = score(a, b)
    assert 0.0 <= value <= 1.0


def test_entities_without_names() -> None:
    assert score(ent("a", "Company"), ent("b", "Company")) == 0.0
