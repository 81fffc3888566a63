from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadowtrace.resolve.normalize import (
    MAX_NAME_CHARS,
    clean_text,
    han_to_latin,
    name_form,
    normalize_address_text,
    normalize_identifier,
    normalize_phone,
    skeleton,
    wade_giles_to_pinyin,
)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("ООО Восток-Трейд", "OOO Vostok-Treid"),
        ("Сергей Лавров", "Sergey Lavrov"),
        ("Дмитрий Юрьевич", "Dmitriy Yurevich"),
        ("深圳市华强电子有限公司", "Shenzhen Huaqiang Electronics Co., Ltd."),
        ("Siemens Aktiengesellschaft", "Siemens AG"),
    ],
)
def test_spellings_across_scripts_share_a_compare_form(left: str, right: str) -> None:
    a, b = name_form(left, "ORG"), name_form(right, "ORG")
    assert a is not None and b is not None
    assert [t.skeleton for t in a.tokens] == [t.skeleton for t in b.tokens]


def test_legal_forms_in_two_languages_share_a_symbol() -> None:
    ooo = name_form("ООО Восток", "ORG")
    llc = name_form("Vostok LLC", "ORG")
    assert ooo is not None and llc is not None
    legal_ooo = next(t for t in ooo.tokens if t.kind == "legal")
    legal_llc = next(t for t in llc.tokens if t.kind == "legal")
    assert legal_ooo.symbols & legal_llc.symbols


def test_chinese_names() -> None:
    assert han_to_latin("华为技术有限公司") == "huawei technology co ltd"
    assert han_to_latin("上海某某贸易有限公司").endswith("trading co ltd")
    person = name_form("欧阳震华", "PER")
    assert person is not None and person.key == "ouyang zhenhua"


def test_person_prefix_and_list_order() -> None:
    form = name_form("Mr. John Smith", "PER")
    assert form is not None and form.key == "john smith"
    listed = name_form("SMITH, John", "PER")
    assert listed is not None and listed.key == "john smith"


def test_skeleton_folds_transliterations() -> None:
    assert skeleton("treyd") == skeleton("trejd") == skeleton("treid")
    assert skeleton("yurij") == skeleton("yuri")
    assert skeleton("khodorkovsky") == skeleton("hodorkovskii")


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        " ",
        "\x00\x01\x02",
        "x" * 10_000,
        "'; DROP TABLE statements; --",
        "\u202e\u200bevil",
        "🙂🙂",
    ],
)
def test_hostile_names_do_not_break_analysis(hostile: str) -> None:
    form = name_form(hostile, "ORG")
    if form is not None:
        assert len(form.key) <= MAX_NAME_CHARS
        assert all(t.text for t in form.tokens)


def test_mixed_scripts_in_one_name() -> None:
    form = name_form("ООО Vostok 华强 Trade", "ORG")
    assert form is not None
    assert {"Cyrillic", "Latin", "Han"} <= form.scripts
    assert "huaqiang" in form.key


def test_clean_text_drops_control_characters_and_cuts() -> None:
    assert clean_text("A\x00B\tC") == "AB C"
    assert len(clean_text("y" * 10_000)) == MAX_NAME_CHARS


@given(st.text(max_size=400))
@settings(max_examples=200, deadline=None)
def test_any_text_is_safe(text: str) -> None:
    for kind in ("PER", "ORG", "OBJ", "ENT"):
        form = name_form(text, kind)  # type: ignore[arg-type]
        if form is not None:
            assert form.tokens


@pytest.mark.parametrize(
    ("value", "scheme", "expected"),
    [
        ("77-0708-3893", "inn", ("inn", "7707083893", True)),
        ("7707083893", None, ("inn", "7707083893", True)),
        ("1027700132195", "ogrn", ("ogrn", "1027700132195", True)),
        ("IMO 9321483", None, ("imo", "IMO9321483", True)),
        ("9321483", "imo", ("imo", "IMO9321483", True)),
        ("5299 0075 5XH1 4ZMR 8U66", "lei", ("lei", "529900755XH14ZMR8U66", False)),
        ("DE89 3704 0044 0532 0130 00", None, ("iban", "DE89370400440532013000", True)),
        (
            "0xAbC0000000000000000000000000000000000001",
            None,
            ("wallet", "0xabc0000000000000000000000000000000000001", True),
        ),
        ("91350100M000100Y43", None, ("uscc", "91350100M000100Y43", True)),
        ("7707083894", "inn", ("inn", "7707083894", False)),
    ],
)
def test_identifiers(value: str, scheme: str | None, expected: tuple[str, str, bool]) -> None:
    found = normalize_identifier(value, scheme)
    assert found is not None
    assert (found.scheme, found.value, found.valid) == expected


def test_identifier_junk() -> None:
    assert normalize_identifier("") is None
    assert normalize_identifier("--") is None
    assert normalize_identifier("'; DROP TABLE x; --") is not None  # kept as a plain id


def test_phones_and_addresses() -> None:
    assert normalize_phone("+7 (495) 123-45-67") == "+74951234567"
    assert normalize_phone("8 495 123 45 67", "ru") == "+74951234567"
    assert normalize_phone("call me") is None
    assert normalize_address_text("Ул. Ленина, д. 5, Москва") == "ul lenina d 5 moskva"


@pytest.mark.parametrize(
    ("wade_giles", "pinyin"),
    [
        (
            "Hei-ho T'o-t'eng Communication Equipment Co., Ltd.",
            "Heihe Tuoteng Communication Equipment Co., Ltd.",
        ),
        ("Shen-chen Hua-ch’iang", "Shenzhen Huaqiang"),
        ("Hsia-men Yüan-hang", "Xiamen Yuanhang"),
        ("hsia-men yuan-hang", "xiamen yuanhang"),
        ("Chang Wei-ming", "Chang Weiming"),
    ],
)
def test_wade_giles_words_become_pinyin_words(wade_giles: str, pinyin: str) -> None:
    assert wade_giles_to_pinyin(wade_giles) == pinyin
    assert name_form(wade_giles, "ORG").key == name_form(pinyin, "ORG").key


@pytest.mark.parametrize(
    "text",
    [
        "Vostok-Treyd",
        "Jean-Paul Sartre",
        "Rolls-Royce",
        "Coca-Cola",
        "Ho-ho-kus",
        "Al-Shan",
        "-",
        "a--b",
        "Ma-",
    ],
)
def test_other_hyphenated_words_stay(text: str) -> None:
    assert wade_giles_to_pinyin(text) == text
