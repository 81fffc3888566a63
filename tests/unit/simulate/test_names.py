import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from shadowtrace.simulate import ids, names
from shadowtrace.simulate.translit import cyr_to_latin, pinyin


def test_transliteration_systems_differ():
    out = {s: cyr_to_latin("Щукин Юрий", s) for s in ("gost779b", "iso9", "bgn", "icao")}
    assert out["iso9"] == "Ŝukin Ûrij"
    assert out["bgn"] == "Shchukin Yuriy"
    assert out["icao"] == "Shchukin Iurii"
    assert out["gost779b"] == "Shhukin Yurij"
    assert pinyin("深圳", "wade") == "Shen-chen"
    assert pinyin("深圳", "tone") == "Shēnzhèn"


@given(st.integers(0, 2**32 - 1))
def test_generated_ids_have_valid_check_digits(seed):
    rng = np.random.default_rng(seed)
    assert ids.inn_legal_valid(ids.inn_legal(rng, "93"))
    assert ids.ogrn_valid(ids.ogrn(rng, 2023, "93"))
    assert ids.uscc_valid(ids.uscc(rng, "440300"))


def test_name_sets_carry_legal_form_and_script_variants():
    rng = np.random.default_rng(1)
    ru = names.ru_company("Техснаб", "ООО", "Общество с ограниченной ответственностью", rng)
    assert ru.canonical == "ООО «Техснаб»"
    assert any(v.startswith("LLC") for v in ru.latin) and any("OOO" in v for v in ru.latin)
    cn = names.cn_company("深圳", "华讯", "通信设备", "Communication Equipment", rng)
    assert cn.canonical.endswith("有限公司")
    assert any("Co., Ltd." in v for v in cn.latin)
    assert any("Hua-hsün" in v for v in cn.latin)


def test_typo_changes_the_name():
    rng = np.random.default_rng(3)
    assert all(names.typo("Shenzhen Huaxun", rng) != "Shenzhen Huaxun" for _ in range(20))


def test_phone_numbers_are_valid_in_every_country():
    import phonenumbers

    from shadowtrace.simulate import load_scenario
    from shadowtrace.simulate.policy import Policy
    from shadowtrace.simulate.world import World, _Builder

    builder = _Builder(World(load_scenario("default"), Policy(), 1, 1.0), np.random.default_rng(5))
    for country in ("ru", "ua-dpr", "ua-lpr", "ua", "ua-cri", "cn", "kz", "kg", "am", "ge",
                    "ae", "tr", "hk", "uz", "kp"):  # fmt: skip
        for _ in range(300):
            number = builder.phone(country)
            assert phonenumbers.is_valid_number(phonenumbers.parse(number)), (country, number)
