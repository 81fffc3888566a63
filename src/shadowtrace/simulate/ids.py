"""Registration numbers with the check digits real registries use.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> inn = inn_legal(rng)
>>> len(inn), inn_legal_valid(inn)
(10, True)
>>> ogrn_valid(ogrn(rng, 2021))
True
>>> uscc_valid(uscc(rng, "440300"))
True
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "inn_legal",
    "inn_legal_valid",
    "inn_person",
    "intl_id",
    "ogrn",
    "ogrn_valid",
    "uscc",
    "uscc_valid",
]

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_W = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_W = (3, 7, 9, 10, 5, 8, 4, 2)
# Russian regions (first two digits of an INN: tax office region code).
RU_REGION_CODES = {
    "moscow": "77",
    "spb": "78",
    "rostov": "61",
    "krasnodar": "23",
    "novosibirsk": "54",
    "yekaterinburg": "66",
    "kazan": "16",
    "primorye": "25",
    "khabarovsk": "27",
    "amur": "28",
    "jewish": "79",
    "zabaykalsky": "75",
    "sakhalin": "65",
    "yakutia": "14",
    "donetsk": "93",
    "luhansk": "94",
    "zaporizhzhia": "90",
    "kherson": "95",
    "crimea": "91",
}


def _digits(rng: np.random.Generator, n: int) -> list[int]:
    return [int(d) for d in str(int(rng.integers(0, 10**n))).zfill(n)]


def _check(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_legal(rng: np.random.Generator, region: str = "77") -> str:
    """A 10-digit INN of a legal entity with a valid check digit."""
    digits = [int(region[0]), int(region[1]), *_digits(rng, 7)]
    return "".join(map(str, digits)) + str(_check(digits, _INN10))


def inn_legal_valid(inn: str) -> bool:
    d = [int(c) for c in inn]
    return len(d) == 10 and _check(d[:9], _INN10) == d[9]


def inn_person(rng: np.random.Generator, region: str = "77") -> str:
    """A 12-digit INN of a person with valid check digits."""
    digits = [int(region[0]), int(region[1]), *_digits(rng, 8)]
    digits.append(_check(digits, _INN11))
    digits.append(_check(digits, _INN12))
    return "".join(map(str, digits))


def ogrn(rng: np.random.Generator, year: int, region: str = "77") -> str:
    """A 13-digit OGRN (sign 1, year, region, record) with its check digit."""
    body = f"1{year % 100:02d}{region}" + "".join(map(str, _digits(rng, 7)))
    return body + str(int(body) % 11 % 10)


def ogrn_valid(number: str) -> bool:
    return len(number) == 13 and int(number[:12]) % 11 % 10 == int(number[12])


def uscc(rng: np.random.Generator, division: str) -> str:
    """An 18-character Unified Social Credit Code (GB 32100-2015) of a company."""
    org = [int(x) for x in rng.integers(0, 10, size=8)]
    c9 = 11 - sum(d * w for d, w in zip(org, _ORG_W, strict=True)) % 11
    org_code = "".join(map(str, org)) + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    body = "91" + division + org_code
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_W, strict=True))
    check = (31 - total % 31) % 31
    return body + _USCC_CHARS[check]


def uscc_valid(code: str) -> bool:
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code[:17], _USCC_W, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == code[17]


def intl_id(rng: np.random.Generator, scheme: str, year: int) -> str:
    """A registration number in the format of a third country's registry."""
    d = "".join(map(str, _digits(rng, 14)))
    if scheme == "bin":  # Kazakhstan: YYMM, entity type 4, ...
        return f"{year % 100:02d}{int(rng.integers(1, 13)):02d}4{d[:7]}"
    if scheme == "inn14":  # Kyrgyzstan
        return "0" + d[:13]
    if scheme == "am_reg":
        return f"{d[:3]}.{d[3:6]}.{d[6:12]}"
    if scheme == "ge_code":
        return "4" + d[:8]
    if scheme == "ae_license":
        return f"{int(rng.integers(100000, 1000000))}"
    if scheme == "tr_vkn":
        return d[:10]
    if scheme == "hk_cr":
        return str(int(rng.integers(1000000, 3500000)))
    return d[:9]
