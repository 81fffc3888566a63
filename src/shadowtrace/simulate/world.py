"""The parties of a simulated world: companies, persons, banks, branches, desks.

``build_world`` creates every party once, with its names in every spelling, its
registration numbers, address, phone, director and owner, and its sanctions history
(listing, then renaming, re-registration or replacement). Records refer to parties by
*slot*: a renamed party has a second slot with the new name and the same true id, so
that records after the renaming spell the new name while the ground truth keeps one
identity. Transaction records are generated in bulk from the arrays ``World`` exposes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import yaml

from shadowtrace.simulate import ids, names
from shadowtrace.simulate.names import NameSet
from shadowtrace.simulate.policy import Policy
from shadowtrace.simulate.scenario import Scenario
from shadowtrace.simulate.translit import cyr_to_latin, pinyin

__all__ = ["EPOCH", "OCCUPIED", "Party", "World", "build_world", "day", "goods", "places"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
EPOCH = dt.date(2000, 1, 1)
NEVER = 10**6
OCCUPIED = ("ua", "ua-dpr", "ua-lpr", "ua-cri")
# Region (places.yml key) of a person by country, for the branch they buy cash yuan at.
_PERSON_REGION = {"ua-dpr": "donetsk", "ua-lpr": "luhansk", "ua-cri": "crimea"}

CN_DIVISIONS = {
    "深圳": "440300",
    "广州": "440100",
    "东莞": "441900",
    "上海": "310115",
    "宁波": "330200",
    "义乌": "330782",
    "苏州": "320500",
    "天津": "120116",
    "徐州": "320300",
    "长沙": "430100",
    "哈尔滨": "230100",
    "绥芬河": "231081",
    "黑河": "231100",
    "满洲里": "150781",
    "乌鲁木齐": "650100",
    "厦门": "350200",
}
CN_BANKS_MAJOR = ["东岳商业银行", "北辰联合银行", "瀚海商业银行", "云岭国际银行", "锦江联合银行"]
CN_BANKS_REGIONAL = ["绥滨口岸银行", "黑水边贸银行", "珲春互市银行", "兴凯湖村镇银行"]
RU_BANKS = [
    ("Меотида", True),
    ("Кальмиус-Кредит", True),
    ("Приазовье", True),
    ("Степной", True),
    ("Таврида-Развитие", True),
    ("Восточный Мост", False),
    ("Северный Транзит", False),
    ("Амурский Кредит", False),
]
OTHER_ELECTRONICS_ORIGINS = ["tw", "my", "kr", "jp", "us"]
PYONGYANG_DISTRICTS = ["Central", "Moranbong", "Sosong", "Mangyongdae"]


def day(d: dt.date) -> int:
    """Days since 2000-01-01: the integer time axis of the generator."""
    return (d - EPOCH).days


@cache
def places() -> dict[str, Any]:
    text = resources.files("shadowtrace.simulate").joinpath("data/places.yml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@cache
def goods() -> dict[str, list[dict[str, Any]]]:
    text = resources.files("shadowtrace.simulate").joinpath("data/goods.yml").read_text("utf-8")
    data: dict[str, list[dict[str, Any]]] = yaml.safe_load(text)["categories"]
    return data


@cache
def chpl_codes() -> frozenset[str]:
    text = resources.files("shadowtrace.simulate").joinpath("data/chpl.csv").read_text("utf-8")
    return frozenset(line.split(",")[0] for line in text.splitlines()[1:] if line)


@dataclass
class Party:
    """One party (or one spelling period of a renamed party)."""

    idx: int
    true_idx: int
    kind: str  # company | person | bank | branch
    role: str
    country: str
    names: NameSet
    region: str = ""
    sector: str = ""
    registry: str = ""  # ru | cn | intl | "" (not in a registry file)
    inn: str = ""
    ogrn: str = ""
    kpp: str = ""
    uscc: str = ""
    reg_no: str = ""
    legal_form: str = ""
    address: str = ""
    phone: str = ""
    incorporated: dt.date | None = None
    director: int = -1
    owner: int = -1
    bank: int = -1
    account: str = ""
    app_account: str = ""
    bic: str = ""
    listed: dt.date | None = None
    program: str = ""
    authority: str = ""
    switch_to: int = -1  # slot used from switch_day on
    switch_day: int = NEVER
    block_day: int = NEVER  # flows through this slot stop from this day (no substitute)
    predecessor: int = -1
    previous_name: str = ""
    rename_slot: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class World:
    """All parties, and the arrays that bulk generation gathers from."""

    def __init__(self, scenario: Scenario, policy: Policy, seed: int, scale: float) -> None:
        self.scenario = scenario
        self.policy = policy
        self.seed = seed
        self.scale = scale
        self.factor = max(1.0, float(np.sqrt(scale)))
        self.parties: list[Party] = []
        self.by_role: dict[str, list[int]] = {}
        self.start = day(scenario.date("period_start"))
        self.end = day(scenario.date("period_end"))
        self.variant_rate = scenario.num("variant_rate")
        self.typo_rate = scenario.num("typo_rate")
        self.missing_id_rate = scenario.num("missing_id_rate")
        self.wallets: list[tuple[str, int, str]] = []  # address, holder slot, label
        self.wallets_of: dict[int, list[int]] = {}
        self._roles: dict[str, IntArray] | None = None

    # ---- construction ---------------------------------------------------------------
    def add(self, kind: str, role: str, country: str, ns: NameSet, **attrs: Any) -> int:
        idx = len(self.parties)
        party = Party(idx=idx, true_idx=idx, kind=kind, role=role, country=country, names=ns)
        for key, value in attrs.items():
            setattr(party, key, value)
        self.parties.append(party)
        self.by_role.setdefault(role, []).append(idx)
        return idx

    def role(self, role: str) -> IntArray:
        """Slots of the base parties with ``role`` (not renamed slots, not substitutes)."""
        if self._roles is not None:
            return self._roles.get(role, np.zeros(0, dtype=np.int64))
        return np.asarray(
            [
                i
                for i in self.by_role.get(role, [])
                if not self.parties[i].rename_slot and "substitute_for" not in self.parties[i].extra
            ],
            dtype=np.int64,
        )

    def true_id(self, idx: int) -> str:
        return f"ent-{self.parties[idx].true_idx:06d}"

    def add_wallet(self, holder: int, label: str, rng: np.random.Generator) -> int:
        address = str(tron_addresses(rng, 1)[0])
        self.wallets.append((address, holder, label))
        w = len(self.wallets) - 1
        self.wallets_of.setdefault(holder, []).append(w)
        return w

    # ---- arrays for bulk generation -------------------------------------------------
    def freeze(self) -> None:
        """Build the gather arrays once every party exists."""
        n = len(self.parties)
        native: list[str] = []
        latin: list[str] = []
        self.nat_off = np.zeros(n, dtype=np.int64)
        self.nat_n = np.zeros(n, dtype=np.int64)
        self.lat_off = np.zeros(n, dtype=np.int64)
        self.lat_n = np.zeros(n, dtype=np.int64)
        typo_nat: list[str] = []
        typo_lat: list[str] = []
        rng = np.random.Generator(np.random.PCG64([self.seed, 7]))
        for p in self.parties:
            self.nat_off[p.idx], self.nat_n[p.idx] = len(native), len(p.names.native)
            native.extend(p.names.native)
            self.lat_off[p.idx], self.lat_n[p.idx] = len(latin), len(p.names.latin)
            latin.extend(p.names.latin)
            typo_nat.append(names.typo(p.names.native[0], rng))
            typo_lat.append(names.typo(p.names.latin[0], rng))
        self.s_native = pl.Series(native, dtype=pl.String)
        self.s_latin = pl.Series(latin, dtype=pl.String)
        self.s_typo_nat = pl.Series(typo_nat, dtype=pl.String)
        self.s_typo_lat = pl.Series(typo_lat, dtype=pl.String)

        def col(attr: str) -> pl.Series:
            return pl.Series([str(getattr(p, attr) or "") for p in self.parties], dtype=pl.String)

        self.cols = {
            a: col(a)
            for a in (
                "country",
                "region",
                "inn",
                "ogrn",
                "uscc",
                "reg_no",
                "address",
                "phone",
                "account",
                "app_account",
                "bic",
                "kind",
                "role",
                "sector",
            )
        }
        self.cols["true_id"] = pl.Series([self.true_id(p.idx) for p in self.parties])
        self.cols["taxid"] = pl.Series(
            [p.inn or p.uscc or p.reg_no for p in self.parties], dtype=pl.String
        )
        self.bank_of = np.asarray([p.bank for p in self.parties], dtype=np.int64)
        self.switch_to = np.asarray([p.switch_to for p in self.parties], dtype=np.int64)
        self.switch_day = np.asarray([p.switch_day for p in self.parties], dtype=np.int64)
        self.block_day = np.asarray([p.block_day for p in self.parties], dtype=np.int64)
        # the same without the listings of the policy: what the scenario alone would do
        by_policy = np.asarray([p.program == "POLICY" for p in self.parties], dtype=bool)
        self.switch_day_base = np.where(by_policy, NEVER, self.switch_day)
        self.block_day_base = np.where(by_policy, NEVER, self.block_day)
        self.listed_day = np.asarray(
            [day(p.listed) if p.listed else NEVER for p in self.parties], dtype=np.int64
        )
        n_noise = max(500, round(5000 * self.factor))
        self.noise_addr = tron_addresses(rng, n_noise)
        self.noise_tid = pl.Series([f"wal-n{i:07d}" for i in range(n_noise)], dtype=pl.String)
        self.noise_wallets = np.arange(n_noise)
        self.exchange_wallets = [
            k for k, wl in enumerate(self.wallets) if self.parties[wl[1]].role == "exchange"
        ]
        self.w_address = pl.Series([w[0] for w in self.wallets], dtype=pl.String)
        self.w_tid = pl.Series([f"wal-k{k:06d}" for k in range(len(self.wallets))])
        self.w_holder = np.asarray([w[1] for w in self.wallets], dtype=np.int64)
        self._freeze_arrays()

    def _freeze_arrays(self) -> None:
        """Per-slot numpy arrays that bulk generation selects and compares with."""
        ps = self.parties
        n = len(ps)
        self.a_role = np.asarray([p.role for p in ps])
        self.a_sector = np.asarray([p.sector for p in ps])
        self.a_country = np.asarray([p.country for p in ps])
        # Records from the occupied territories name Russia as the country.
        self.a_paper = np.where(np.isin(self.a_country, OCCUPIED), "ru", self.a_country)
        self.cols["paper_country"] = pl.Series(self.a_paper.tolist(), dtype=pl.String)
        self.a_origin = np.asarray([str(p.extra.get("origin", "cn")) for p in ps])
        self.a_cn_side = np.asarray([bool(p.extra.get("cn_side")) for p in ps])
        self.a_base = np.asarray(
            [not p.rename_slot and "substitute_for" not in p.extra for p in ps], dtype=bool
        )
        roles: dict[str, list[int]] = {}
        for i in np.nonzero(self.a_base)[0].tolist():
            roles.setdefault(ps[i].role, []).append(i)
        self._roles = {k: np.asarray(v, dtype=np.int64) for k, v in roles.items()}
        # the region a party buys cash yuan in: its own, or its country's for persons
        keys = [x["key"] for x in places()["occupied"]]
        region = np.full(n, -1, dtype=np.int64)
        for p in ps:
            key = p.extra.get("region_key") or _PERSON_REGION.get(p.country)
            if key is None and p.country == "ua":
                key = ("zaporizhzhia", "kherson")[p.true_idx % 2]
            if key in keys:
                region[p.idx] = keys.index(key)
        self.a_region = region
        # wallets of each slot (a renamed slot uses those of its party): offsets into a list
        lists = [
            self.wallets_of.get(i) or self.wallets_of.get(p.true_idx) or []
            for i, p in enumerate(ps)
        ]
        self.wal_n = np.asarray([len(x) for x in lists], dtype=np.int64)
        self.wal_off = np.concatenate([[0], np.cumsum(self.wal_n)[:-1]]).astype(np.int64)
        self.wal_list = np.asarray([k for x in lists for k in x], dtype=np.int64)
        # the agents of each netting broker: three on the Russian side, three in China
        self.agents_ru = np.full((n, 3), -1, dtype=np.int64)
        self.agents_cn = np.full((n, 3), -1, dtype=np.int64)
        for p in ps:
            if "agents" in p.extra:
                self.agents_ru[p.idx] = p.extra["agents"][0]
                self.agents_cn[p.idx] = p.extra["agents"][1]

    def where(self, role: str, **attrs: str | tuple[str, ...]) -> IntArray:
        """Base slots of ``role`` whose attributes (sector, country) take the values given."""
        pool = self.role(role)
        arrays = {"sector": self.a_sector, "country": self.a_country}
        for attr, value in attrs.items():
            values = (value,) if isinstance(value, str) else value
            pool = pool[np.isin(arrays[attr][pool], values)]
        return pool

    def wallet_of(self, holder: IntArray, u: FloatArray) -> IntArray:
        """One known wallet (index into ``wallets``) of each holder, chosen by ``u``."""
        cnt = self.wal_n[holder]
        k = np.minimum((u * cnt).astype(np.int64), np.maximum(cnt - 1, 0))
        pos = np.minimum(self.wal_off[holder] + k, len(self.wal_list) - 1)
        return np.where(cnt > 0, self.wal_list[pos], 0)

    def name(self, idx: IntArray, ctx: str, u: FloatArray) -> pl.Series:
        """Names of the slots ``idx`` as records spell them (``ctx``: native or latin)."""
        if ctx == "native":
            off, cnt, base, typo = self.nat_off, self.nat_n, self.s_native, self.s_typo_nat
        else:
            off, cnt, base, typo = self.lat_off, self.lat_n, self.s_latin, self.s_typo_lat
        t, v = self.typo_rate, self.variant_rate
        frac = np.clip((u - t) / max(v, 1e-9), 0.0, 0.999999)
        k = np.where(u < t + v, (frac * cnt[idx]).astype(np.int64), 0)
        picked = base.gather(pl.Series(off[idx] + k))
        if t <= 0:
            return picked
        is_typo = pl.Series(u < t)
        return pl.select(
            pl.when(is_typo).then(typo.gather(pl.Series(idx))).otherwise(picked)
        ).to_series()

    def col(self, attr: str, idx: IntArray) -> pl.Series:
        return self.cols[attr].gather(pl.Series(idx))

    def maybe(self, attr: str, idx: IntArray, u: FloatArray) -> pl.Series:
        """An identifier column with some values left out (``missing_id_rate``)."""
        values = self.col(attr, idx)
        return pl.select(
            pl.when(pl.Series(u < self.missing_id_rate)).then(pl.lit(None)).otherwise(values)
        ).to_series()

    def tid(self, idx: IntArray) -> pl.Series:
        return self.cols["true_id"].gather(pl.Series(idx))

    def resolve(
        self, idx: IntArray, when: IntArray, without_policy: bool = False
    ) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """Slots actually used at days ``when``: follow renames and substitutes.

        Returns the slots and a mask of flows blocked (a listed party with no substitute).
        ``without_policy``: as if the policy had listed no one.
        """
        switch_day = self.switch_day_base if without_policy else self.switch_day
        block_day = self.block_day_base if without_policy else self.block_day
        idx = idx.copy()
        for _ in range(4):
            move = (switch_day[idx] <= when) & (self.switch_to[idx] >= 0)
            if not move.any():
                break
            idx = np.where(move, self.switch_to[idx], idx)
        return idx, block_day[idx] <= when


# ---- identifiers in bulk ----------------------------------------------------------------
_B58 = np.frombuffer(b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def tron_addresses(rng: np.random.Generator, n: int) -> pl.Series:
    """``n`` addresses in the shape of TRON addresses (T + 33 base58 characters)."""
    body = _B58[rng.integers(0, len(_B58), size=(n, 33), dtype=np.uint8)]
    raw = np.concatenate([np.full((n, 1), ord("T"), dtype=np.uint8), body], axis=1)
    return pl.Series(np.ascontiguousarray(raw).view("S34").ravel()).cast(pl.String)


# each byte as its two hex digits, read as one 16-bit unit (native byte order)
_HEX_PAIRS = np.stack([np.repeat(_HEX, 16), np.tile(_HEX, 16)], axis=1).copy().view(np.uint16)[:, 0]


def tx_hashes(rng: np.random.Generator, n: int) -> pl.Series:
    """``n`` 64-hex-digit transaction hashes (32 random bytes each)."""
    digits = _HEX_PAIRS[rng.integers(0, 256, size=(n, 32), dtype=np.uint8)]
    return pl.Series(np.ascontiguousarray(digits).view("S64").ravel()).cast(pl.String)


# ---- building the parties ------------------------------------------------------------------
def _pick(rng: np.random.Generator, items: list[Any]) -> Any:
    return items[int(rng.integers(0, len(items)))]


def _date_between(rng: np.random.Generator, lo: dt.date, hi: dt.date) -> dt.date:
    return lo + dt.timedelta(days=int(rng.integers(0, max(1, (hi - lo).days))))


class _Builder:
    def __init__(self, w: World, rng: np.random.Generator) -> None:
        self.w = w
        self.rng = rng
        self.nd = names.name_data()
        self.pl = places()
        self.used_names: set[str] = set()
        self.mass_addresses: dict[str, list[str]] = {}
        self.nominees: list[int] = []
        self.phone_pool: list[str] = []

    # -- helpers
    def phone(self, country: str) -> str:
        r = self.rng
        num = f"{int(r.integers(0, 10**7)):07d}"
        fixed = {"ua-dpr": "+7 949", "ua-lpr": "+7 959", "ua": "+7 990", "ua-cri": "+7 978",
                 "am": "+374 77", "ge": "+995 555", "ae": "+971 50", "uz": "+998 90"}  # fmt: skip
        if country in fixed:
            prefix = fixed[country]
        elif country in ("cn", "kp"):
            prefix = f"+86 13{int(r.integers(0, 10))} {int(r.integers(1000, 9999))}"
        elif country == "kz":
            prefix = f"+7 70{(1, 2, 5, 7)[int(r.integers(0, 4))]}"
        elif country == "kg":
            prefix = f"+996 55{int(r.integers(0, 10))}"
        elif country == "tr":
            prefix = f"+90 53{int(r.integers(0, 10))}"
        elif country == "hk":
            prefix = f"+852 9{(4, 6, 7)[int(r.integers(0, 3))]}"  # allocated mobile blocks
        else:  # Russian mobile codes 910 to 998 but 930, of which parts are unallocated
            code = int(r.integers(10, 98))
            prefix = f"+7 9{code + 1 if code >= 30 else code}"
        if country == "hk":
            return f"{prefix}{num[:2]} {num[2:6]}"
        if country in ("cn", "kp"):
            return f"{prefix} {num[:4]}"
        if country == "ae":
            return f"{prefix} {num[:3]} {num[3:7]}"
        if country == "am":
            return f"{prefix} {num[:6]}"
        if country == "ge":
            return f"{prefix} {num[:3]} {num[3:6]}"
        if country == "kg":
            return f"{prefix} {num[:3]} {num[3:6]}"
        return f"{prefix} {num[:3]} {num[3:5]} {num[5:7]}"

    def ru_address(self, region_key: str) -> tuple[str, str]:
        r = self.rng
        regions = {
            x["key"]: x for x in [*self.pl["occupied"], *self.pl["russia"], *self.pl["far_east"]]
        }
        reg = regions[region_key]
        city = _pick(r, reg["cities"])
        street = _pick(r, self.nd["ru"]["streets"])
        postcode = f"{int(r.integers(100000, 699999))}"
        addr = (
            f"{postcode}, {reg['region_ru']}, г. {city}, ул. {street}, д. {int(r.integers(1, 120))}"
        )
        if r.random() < 0.6:
            addr += f", оф. {int(r.integers(1, 400))}"
        return addr, reg["region_ru"]

    def unique(self, make: Any) -> NameSet:
        for _ in range(50):
            ns: NameSet = make()
            if ns.canonical not in self.used_names:
                self.used_names.add(ns.canonical)
                return ns
        return ns

    def incorporated(self, recent: bool = False) -> dt.date:
        if recent:
            return _date_between(self.rng, dt.date(2022, 3, 1), dt.date(2024, 10, 1))
        return _date_between(self.rng, dt.date(1995, 1, 1), dt.date(2021, 12, 31))

    def person(self, country: str, role: str = "director") -> int:
        r = self.rng
        if country in ("ru", "ua-dpr", "ua-lpr", "ua", "ua-cri"):
            ns = names.ru_person(r)
            region = {"ua-dpr": "donetsk", "ua-lpr": "luhansk", "ua-cri": "crimea"}.get(
                country, "moscow"
            )
            return self.w.add(
                "person",
                role,
                country,
                ns,
                inn=ids.inn_person(r, ids.RU_REGION_CODES[region]),
                phone=self.phone(country),
            )
        if country == "cn":
            return self.w.add("person", role, "cn", names.cn_person(r), phone=self.phone("cn"))
        if country == "kp":
            return self.w.add("person", role, "kp", names.kp_person(r))
        return self.w.add(
            "person", role, country, names.intl_person(country, r), phone=self.phone(country)
        )

    # -- companies
    def ru_company(
        self,
        role: str,
        region: str,
        sector: str = "",
        recent: bool = False,
        country: str = "ru",
        legal: int | None = None,
    ) -> int:
        r = self.rng
        forms = self.nd["ru"]["legal_forms"]
        if legal is None:
            weights = np.asarray([f["weight"] for f in forms])
            legal = int(r.choice(len(forms), p=weights / weights.sum()))
        form = forms[legal]
        ns = self.unique(
            lambda: names.ru_company(names.ru_company_core(r), form["short"], form["full"], r)
        )
        inc = self.incorporated(recent)
        code = ids.RU_REGION_CODES[region]
        addr, region_ru = self.ru_address(region)
        director = self.person(country)
        idx = self.w.add(
            "company",
            role,
            country,
            ns,
            region=region_ru,
            sector=sector,
            registry="ru",
            inn=ids.inn_legal(r, code),
            ogrn=ids.ogrn(r, inc.year, code),
            kpp=f"{code}{int(r.integers(1, 99)):02d}01001",
            legal_form=form["short"],
            address=addr,
            phone=self.phone(country),
            incorporated=inc,
            director=director,
        )
        self.w.parties[idx].extra["region_key"] = region
        self.w.parties[idx].account = "40702810" + "".join(str(d) for d in r.integers(0, 10, 12))
        return idx

    def cn_company(
        self,
        role: str,
        industry: str,
        sector: str = "",
        recent: bool = False,
        city: str | None = None,
    ) -> int:
        r = self.rng
        cities = self.nd["cn"]["cities"]
        c = next(x for x in cities if x["zh"] == city) if city else _pick(r, cities)
        ind = self.nd["cn"]["industries"][industry]
        brand_chars = self.nd["cn"]["brand_chars"]
        ns = self.unique(
            lambda: names.cn_company(
                c["zh"], _pick(r, brand_chars) + _pick(r, brand_chars), ind["zh"], ind["en"], r
            )
        )
        inc = self.incorporated(recent)
        road = _pick(r, self.nd["cn"]["roads"])
        addr = f"{c['province']}{c['zh']}市{c['district']}{road}{int(r.integers(1, 999))}号"
        director = self.person("cn")
        idx = self.w.add(
            "company",
            role,
            "cn",
            ns,
            region=c["province"],
            sector=sector,
            registry="cn",
            uscc=ids.uscc(r, CN_DIVISIONS[c["zh"]]),
            address=addr,
            phone=self.phone("cn"),
            incorporated=inc,
            director=director,
            legal_form="有限公司",
        )
        self.w.parties[idx].account = "".join(str(d) for d in r.integers(0, 10, 19))
        return idx

    def intl_company(
        self,
        role: str,
        country: str,
        sector: str = "",
        recent: bool = False,
        tail: str | None = None,
    ) -> int:
        r = self.rng
        d = self.nd["intl"]
        cdata = d["countries"][country]
        ns = self.unique(
            lambda: names.intl_company(
                _pick(r, d["cores"]), tail or _pick(r, d["tails"]), list(cdata["legal"]), r
            )
        )
        inc = self.incorporated(recent)
        street = f"{_pick(r, cdata['streets'])} {int(r.integers(1, 300))}"
        office = f"office {int(r.integers(1, 90))}"
        addr = f"{street}, {office}, {_pick(r, cdata['cities'])}"
        director = self.person(country)
        idx = self.w.add(
            "company",
            role,
            country,
            ns,
            sector=sector,
            registry="intl",
            reg_no=ids.intl_id(r, cdata["id"], inc.year),
            address=addr,
            phone=self.phone(country),
            incorporated=inc,
            director=director,
            legal_form=cdata["legal"][0],
        )
        prefix = country.upper() if country in ("kz", "ge", "tr", "ae") else ""
        self.w.parties[idx].account = prefix + "".join(
            str(x) for x in r.integers(0, 10, 18 if prefix else 16)
        )
        return idx


def _weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys])
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def build_world(scenario: Scenario, policy: Policy, seed: int, scale: float) -> World:
    """Create every party of the world described by ``scenario``."""
    w = World(scenario, policy, seed, scale)
    rng = np.random.Generator(np.random.PCG64([seed, 1]))
    b = _Builder(w, rng)
    f = w.factor
    s = scenario

    def n(name: str) -> int:
        return max(1, round(s.int_(name) * f))

    # Banks. Russian banks; Chinese major and regional; one or two in each transit country.
    for core, in_occupied in RU_BANKS:
        ns = names.ru_company(core, "АО", "Акционерное общество", rng)
        ns = NameSet(
            f"Банк «{core}» (АО)",
            [f"Банк «{core}» (АО)", f"АО Банк «{core}»", f"Банк {core}"],
            [
                f"Bank {cyr_to_latin(core, 'bgn')} JSC",
                f"JSC Bank {cyr_to_latin(core, 'icao')}",
            ],
        )
        swift = (cyr_to_latin(core, "icao").upper().replace("-", "").replace(" ", "") + "XXXX")[:4]
        idx = w.add(
            "bank",
            "bank_ru_occupied" if in_occupied else "bank_ru",
            "ru",
            ns,
            registry="",
            bic=f"{swift}RU{chr(65 + len(w.parties) % 26)}{chr(65 + len(w.parties) // 26 % 26)}",
        )
        w.parties[idx].extra["occupied"] = in_occupied
    for tier, bank_names in (
        ("bank_cn_major", CN_BANKS_MAJOR),
        ("bank_cn_regional", CN_BANKS_REGIONAL),
    ):
        for zh in bank_names:
            core = pinyin(zh[:2]) + " " + pinyin(zh[2:-2])
            ns = NameSet(
                zh, [zh], [f"{core} Bank", f"{core.upper()} BANK CO LTD", f"{core} Bank Co., Ltd."]
            )
            w.add("bank", tier, "cn", ns, bic=(pinyin(zh[:2])[:4].upper() + "CNBJ")[:8])
    for country in scenario.weights("transit_countries"):
        ns = names.intl_company(
            _pick(rng, names.name_data()["intl"]["cores"]), "Bank", ["JSC", "Bank"], rng
        )
        w.add(
            "bank",
            "bank_intl",
            country,
            ns,
            bic=(ns.canonical[:4].upper() + country.upper() + "XX").replace(" ", "X")[:8],
        )
    for i, p in enumerate(w.parties):
        if p.kind == "bank" and p.role.startswith("bank_ru"):
            p.account = f"301018100000000{i:05d}"

    # Mass-registration addresses and nominee directors for fronts.
    mass = [
        b.ru_address(_pick(rng, ["moscow", "rostov", "donetsk", "crimea"]))[0]
        for _ in range(s.int_("mass_addresses"))
    ]
    mass_phones = [b.phone("ru") for _ in range(s.int_("mass_addresses"))]
    nominees = [b.person("ru", "nominee_director") for _ in range(s.int_("nominee_directors"))]

    # Goods side.
    sectors = {
        "electronics": "electronics",
        "telecom": "telecom",
        "mining": "mining",
        "tools": "tools",
        "consumer": "consumer",
    }
    counts = {"electronics": 40, "telecom": 4, "mining": 14, "tools": 20, "consumer": 60}
    for sector, count in counts.items():
        k = s.int_("telecom_vendors") if sector == "telecom" else max(1, round(count * f))
        for _ in range(k):
            industry = {
                "electronics": _pick(rng, ["electronics", "components"]),
                "telecom": "telecom",
                "mining": _pick(rng, ["mining", "construction"]),
                "tools": "tools",
                "consumer": "consumer",
            }[sectors[sector]]
            b.cn_company("manufacturer", industry, sector=sector)
    for _ in range(max(2, round(8 * f))):  # electronics made outside China, shipped via Hong Kong
        idx = b.intl_company("manufacturer_other", "hk", sector="electronics", tail="Electronics")
        w.parties[idx].extra["origin"] = _pick(rng, OTHER_ELECTRONICS_ORIGINS)
    for _ in range(max(2, round(30 * f))):
        b.cn_company(
            "cn_trader",
            _pick(rng, ["trading", "supply_chain", "import_export"]),
            city=_pick(rng, ["深圳", "义乌", "绥芬河", "满洲里", "乌鲁木齐", "黑河", "广州"]),
        )
    for _ in range(max(2, round(10 * f))):
        b.intl_company("cn_trader", "hk", tail=_pick(rng, ["Trading", "Supply", "Electronics"]))

    transit = scenario.weights("transit_countries")
    for _ in range(n("intermediaries")):
        b.intl_company("intermediary", _weighted(rng, transit), recent=rng.random() < 0.6)
    for _ in range(max(2, round(25 * f))):
        b.intl_company("local_buyer", _weighted(rng, transit))
    for i in range(n("fronts")):
        ru_front = rng.random() < 0.5
        if ru_front:
            idx = b.ru_company(
                "front", _pick(rng, ["moscow", "rostov", "donetsk", "crimea"]), recent=True, legal=0
            )
        else:
            idx = b.intl_company("front", _weighted(rng, transit), recent=True)
        p = w.parties[idx]
        if rng.random() < 0.7:
            k = int(rng.integers(0, len(mass)))
            if ru_front:
                p.address, p.phone = mass[k], mass_phones[k]
            p.extra["mass_address"] = k
        if rng.random() < 0.75:
            p.director = nominees[i % len(nominees)]
    for _ in range(n("ru_importers")):
        b.ru_company(
            "importer",
            _pick(rng, ["moscow", "spb", "rostov", "krasnodar", "novosibirsk", "yekaterinburg"]),
        )
    for _ in range(max(2, round(50 * f))):
        b.ru_company(
            "legit_importer",
            _pick(rng, ["moscow", "spb", "kazan", "novosibirsk", "yekaterinburg", "krasnodar"]),
        )
    occupied = [x["key"] for x in places()["occupied"]]
    for sector, count in scenario.counts("end_users_occupied").items():
        for i in range(count):
            region = (
                "donetsk"
                if sector in ("quarrying", "coal_mining", "metallurgy") and i % 3
                else _pick(rng, occupied)
            )
            if sector == "coal_mining":
                region = _pick(rng, ["donetsk", "luhansk"])
            country = {"donetsk": "ua-dpr", "luhansk": "ua-lpr", "crimea": "ua-cri"}.get(
                region, "ua"
            )
            idx = b.ru_company(
                "end_user",
                region,
                sector=sector,
                country=country,
                legal=3 if sector in ("energy", "coal_mining") and i % 2 == 0 else None,
            )
            if sector == "quarrying" and i == 0:
                site = places()["sites"][0]
                w.parties[idx].extra["site"] = site
    for _ in range(s.int_("end_users_defence")):
        b.ru_company(
            "end_user",
            _pick(rng, ["moscow", "kazan", "yekaterinburg", "novosibirsk", "spb"]),
            sector="defence",
            legal=1,
        )
    for _ in range(max(2, round(200 * f))):
        region = _pick(rng, occupied)
        country = {"donetsk": "ua-dpr", "luhansk": "ua-lpr", "crimea": "ua-cri"}.get(region, "ua")
        b.ru_company("sme", region, sector="retail", country=country, legal=0)
    for _ in range(max(2, round(120 * f))):
        b.ru_company("ru_company", _pick(rng, ["moscow", "spb", "rostov", "kazan", "novosibirsk"]))
    for _ in range(max(2, round(60 * f))):
        b.cn_company("cn_company", _pick(rng, ["consumer", "trading", "electronics"]))

    # Money side.
    for _ in range(n("payment_agents")):
        if rng.random() < 0.3:
            b.ru_company("payment_agent", _pick(rng, ["moscow", "rostov"]), recent=True, legal=0)
        else:
            b.intl_company(
                "payment_agent",
                _weighted(rng, transit),
                recent=True,
                tail=_pick(rng, ["Commerce", "Partners", "Trading"]),
            )
    for i in range(s.int_("otc_desks")):
        if i % 3 == 0:
            idx = b.ru_company(
                "otc_desk", _pick(rng, ["moscow", "spb", "donetsk"]), recent=True, legal=0
            )
        else:
            idx = b.intl_company(
                "otc_desk",
                _pick(rng, ["ae", "hk", "kg", "tr"]),
                recent=True,
                tail=_pick(rng, ["Exchange", "Capital", "Partners"]) if False else None,
            )
        w.parties[idx].extra["cn_side"] = i % 2 == 1
    for _ in range(s.int_("exchanges")):
        b.intl_company("exchange", _pick(rng, ["ae", "hk", "kg", "ge"]), tail="Exchange")
    for _ in range(s.int_("netting_brokers")):
        broker = b.ru_company(
            "netting_broker", _pick(rng, ["moscow", "primorye", "rostov"]), legal=0
        )
        ru_agents = [
            b.ru_company(
                "netting_agent_ru",
                _pick(rng, ["moscow", "primorye", "khabarovsk"]),
                recent=True,
                legal=0,
            )
            for _ in range(3)
        ]
        cn_agents = [
            b.cn_company("netting_agent_cn", _pick(rng, ["trading", "import_export"]), recent=True)
            for _ in range(3)
        ]
        w.parties[broker].extra["agents"] = (ru_agents, cn_agents)
    for _ in range(max(2, round(30 * f))):
        b.person("cn", "app_agent")
    for _ in range(max(2, round(40 * f))):
        b.person("ua-dpr" if rng.random() < 0.5 else "ua", "cash_proxy")
    for _ in range(max(50, round(2000 * f))):
        b.person(_pick(rng, ["ua-dpr", "ua-lpr", "ua", "ua-cri"]), "individual")
    for _ in range(max(20, round(800 * f))):
        b.person("cn", "individual_cn")

    # Cash-yuan branches of the banks that operate in the occupied territories.
    occ_banks = [p.idx for p in w.parties if p.role == "bank_ru_occupied"]
    for i in range(s.int_("cash_yuan_bank_branches")):
        bank = occ_banks[i % len(occ_banks)]
        region = occupied[i % len(occupied)]
        addr, region_ru = b.ru_address(region)
        bank_name = w.parties[bank].names.canonical
        code = f"{w.parties[bank].bic[-3:]}-{i + 1:03d}"
        ns = NameSet(
            f"{bank_name}, доп. офис № {i + 1:03d}",
            [f"{bank_name}, доп. офис № {i + 1:03d}", f"ДО № {i + 1:03d} {bank_name}"],
            [f"Branch {i + 1:03d} {w.parties[bank].names.latin[0]}"],
        )
        idx = w.add(
            "branch",
            "branch",
            "ru",
            ns,
            region=region_ru,
            address=addr,
            reg_no=code,
            owner=bank,
            bank=bank,
        )
        w.parties[idx].extra["region_key"] = region

    # Infrastructure operators are end users; vendors are telecom manufacturers.
    # Far East.
    fe = [x["key"] for x in places()["far_east"]]
    for _ in range(s.int_("investment_projects") + s.int_("investment_projects_earlier")):
        b.ru_company(
            "project_company",
            _pick(rng, fe),
            sector=_pick(rng, ["agriculture", "timber", "energy", "construction", "mining"]),
        )
    for _ in range(max(10, s.int_("investment_projects") // 2)):
        b.cn_company(
            "investor",
            "investment",
            city=_pick(rng, ["哈尔滨", "上海", "深圳", "天津", "黑河", "绥芬河"]),
        )
    for _ in range(40):
        b.ru_company(
            "bulk_exporter",
            _pick(rng, fe),
            sector=_pick(rng, ["coal", "timber", "agriculture", "ore"]),
        )
    for _ in range(40):
        b.cn_company(
            "bulk_importer",
            _pick(rng, ["trading", "energy", "timber", "agriculture"]),
            city=_pick(rng, ["哈尔滨", "黑河", "绥芬河", "满洲里", "天津"]),
        )
    for _ in range(8):
        d = names.name_data()["kp"]
        ns = names.intl_company(
            _pick(rng, d["agency_cores"]), _pick(rng, d["agency_tails"]), ["", "Co."], rng
        )
        ns = NameSet(
            ns.canonical.strip(), [x.strip() for x in ns.native], [x.strip() for x in ns.latin]
        )
        w.add(
            "company",
            "dprk_supplier",
            "kp",
            ns,
            director=b.person("kp"),
            phone=b.phone("kp"),
            address=f"Pyongyang, {_pick(rng, PYONGYANG_DISTRICTS)} District",
        )
    for i in range(6):
        if i % 2:
            b.cn_company(
                "dprk_front",
                "trading",
                recent=True,
                city=_pick(rng, ["丹东", "珲春"]) if False else None,
            )
        else:
            b.ru_company("dprk_front", _pick(rng, fe), recent=True, legal=0)
    for _ in range(120):
        b.ru_company(
            "employer",
            _pick(rng, fe),
            sector=_pick(rng, ["construction", "agriculture", "timber", "fishing"]),
        )

    # Owners: a few Russian importers and fronts are owned by other parties; HK traders
    # own Chinese traders.
    cn_traders = [i for i in w.by_role["cn_trader"] if w.parties[i].country == "cn"]
    hk_traders = [i for i in w.by_role["cn_trader"] if w.parties[i].country == "hk"]
    for i in cn_traders:
        if rng.random() < 0.4 and hk_traders:
            w.parties[i].owner = _pick(rng, hk_traders)
    for i in w.by_role["front"]:
        if rng.random() < 0.3:
            w.parties[i].owner = _pick(rng, w.by_role["importer"])

    # Banks where parties hold their accounts.
    ru_banks = [p.idx for p in w.parties if p.role in ("bank_ru", "bank_ru_occupied")]
    occ = [p.idx for p in w.parties if p.role == "bank_ru_occupied"]
    cn_major = w.by_role["bank_cn_major"]
    cn_regional = w.by_role["bank_cn_regional"]
    intl_banks = {w.parties[i].country: i for i in w.by_role["bank_intl"]}
    major_share = s.num("major_bank_share")
    for p in w.parties:
        if p.kind != "company":
            if p.kind == "person":
                p.account = ("40817810" if p.country != "cn" else "6222") + "".join(
                    str(x) for x in rng.integers(0, 10, 12)
                )
                p.bank = _pick(rng, cn_major if p.country == "cn" else ru_banks)
            continue
        if p.country in ("ru", "ua", "ua-dpr", "ua-lpr", "ua-cri"):
            p.bank = _pick(rng, occ if p.country != "ru" else ru_banks)
        elif p.country == "cn":
            p.bank = _pick(rng, cn_major) if rng.random() < major_share else _pick(rng, cn_regional)
        else:
            p.bank = intl_banks.get(p.country, _pick(rng, list(intl_banks.values())))
    # App accounts (Alipay / WeChat): every person and Chinese company has one.
    for p in w.parties:
        if p.kind == "person" or p.country == "cn":
            if rng.random() < 0.5:
                p.app_account = "wxid_" + "".join(chr(97 + int(x)) for x in rng.integers(0, 26, 12))
            else:
                p.app_account = "2088" + "".join(str(x) for x in rng.integers(0, 10, 12))

    # Wallets of desks and exchanges.
    for i in [*w.by_role["otc_desk"], *w.by_role["exchange"]]:
        for _ in range(int(rng.integers(2, 6))):
            w.add_wallet(i, w.parties[i].names.latin[0], rng)

    _sanctions(w, b, rng)
    w.freeze()
    return w


def _new_successor(w: World, b: _Builder, listed: int, mode: str, when: dt.date) -> int:
    """A substitute for a listed party: renamed slot, re-registered company, or new one."""
    p = w.parties[listed]
    rng = b.rng
    if mode == "rename" and p.kind == "company":
        if p.registry == "ru":
            form = names.name_data()["ru"]["legal_forms"][0]
            ns = b.unique(
                lambda: names.ru_company(
                    names.ru_company_core(rng), form["short"], form["full"], rng
                )
            )
        elif p.registry == "cn":
            ind = names.name_data()["cn"]["industries"]["trading"]
            chars = names.name_data()["cn"]["brand_chars"]
            city = p.names.canonical.split("市")[0] if "市" in p.names.canonical else "深圳"
            ns = b.unique(
                lambda: names.cn_company(
                    city, _pick(rng, chars) + _pick(rng, chars), ind["zh"], ind["en"], rng
                )
            )
        else:
            d = names.name_data()["intl"]
            legal = d["countries"].get(p.country, {"legal": ["LLC"]})["legal"]
            ns = b.unique(
                lambda: names.intl_company(
                    _pick(rng, d["cores"]), _pick(rng, d["tails"]), list(legal), rng
                )
            )
        slot = w.add(
            p.kind,
            p.role,
            p.country,
            ns,
            region=p.region,
            sector=p.sector,
            registry="",
            inn=p.inn,
            ogrn=p.ogrn,
            kpp=p.kpp,
            uscc=p.uscc,
            reg_no=p.reg_no,
            legal_form=p.legal_form,
            address=p.address,
            phone=p.phone,
            incorporated=p.incorporated,
            director=p.director,
            owner=p.owner,
            bank=p.bank,
            account=p.account,
            app_account=p.app_account,
        )
        q = w.parties[slot]
        q.true_idx = p.true_idx
        q.rename_slot = True
        q.extra["renamed_on"] = when
        p.extra["renamed_to"] = slot
        p.extra["renamed_on"] = when
        p.previous_name = ""
        q.previous_name = p.names.canonical
        return slot
    # re-register (same director and address, new company) or a new intermediary
    if p.registry == "ru" or p.country == "ru":
        slot = b.ru_company(
            "front" if mode == "reregister" else p.role,
            p.extra.get("region_key", "moscow"),
            sector=p.sector,
            recent=True,
            legal=0,
        )
    elif p.country == "cn":
        slot = b.cn_company("front" if mode == "reregister" else p.role, "trading", recent=True)
    elif p.country == "kp" or p.kind == "person":
        return -1
    else:
        country = (
            p.country
            if mode == "reregister"
            else _weighted(rng, w.scenario.weights("transit_countries"))
        )
        slot = b.intl_company("front" if mode == "reregister" else p.role, country, recent=True)
    q = w.parties[slot]
    q.incorporated = when - dt.timedelta(days=int(rng.integers(5, 60)))
    q.bank = p.bank if mode == "reregister" else q.bank
    if mode == "reregister":
        q.director = p.director
        q.address = p.address
        q.phone = p.phone
        q.predecessor = listed
        q.extra["successor_of"] = listed
        q.role = "front"
        if q.country not in ("ru", "cn"):
            q.bank = p.bank
    q.extra["substitute_for"] = listed
    q.extra["substitute_mode"] = mode
    if q.bank < 0:
        q.bank = p.bank
    if not q.app_account:
        q.app_account = p.app_account
    if p.role in ("otc_desk", "exchange"):
        for _ in range(2):
            w.add_wallet(slot, q.names.latin[0], rng)
    return slot


def _list_party(
    w: World,
    b: _Builder,
    idx: int,
    when: dt.date,
    program: str,
    authority: str,
    rng: np.random.Generator,
) -> None:
    s = w.scenario
    p = w.parties[idx]
    if p.listed is not None and p.listed <= when:
        return
    p.listed = when
    p.program = program
    p.authority = authority
    lag = dt.timedelta(days=int(s.num("adapt_lag_days")))
    if rng.random() < s.num("adapt_probability"):
        mode = _weighted(rng, s.weights("adapt_modes"))
        slot = _new_successor(w, b, idx, mode, when + lag)
        if slot >= 0:
            p.switch_to = slot
            p.switch_day = day(when + lag)
            p.extra["adapt_mode"] = mode
            return
    p.block_day = day(when)


def _sanctions(w: World, b: _Builder, rng: np.random.Generator) -> None:
    """List parties in the scenario's waves and by the policy, and set up how they adapt."""
    s = w.scenario
    waves = list(s.dates("sanction_waves"))
    shares = s.weights("listed_share")
    role_of = {
        "intermediary": lambda p: p.role == "intermediary",
        "manufacturer_dual_use": lambda p: p.role == "manufacturer" and p.sector == "electronics",
        "otc_desk": lambda p: p.role == "otc_desk",
        "end_user_defence": lambda p: p.role == "end_user" and p.sector == "defence",
        "payment_agent": lambda p: p.role == "payment_agent",
        "dprk_supplier": lambda p: p.role == "dprk_supplier",
        "front": lambda p: p.role == "front",
    }
    base = list(w.parties)
    for key, share in shares.items():
        test = role_of.get(key)
        if test is None:
            continue
        for p in base:
            if not test(p) or rng.random() >= share:
                continue
            when = waves[0] if key == "dprk_supplier" else waves[int(rng.integers(0, len(waves)))]
            program = "UN-DPRK" if key == "dprk_supplier" else "RUSSIA-EO14024"
            _list_party(w, b, p.idx, when, program, "Simulated authority", rng)
    # The policy: parties by true id or canonical name, from its date.
    pol = w.policy
    if pol.from_date is not None and pol.sanction:
        prng = np.random.Generator(np.random.PCG64([w.seed, 99]))
        wanted = set(pol.sanction)
        for p in list(w.parties):
            if p.rename_slot:
                continue
            if w.true_id(p.idx) in wanted or p.names.canonical in wanted:
                _list_party(w, b, p.idx, pol.from_date, "POLICY", "Policy under test", prng)
