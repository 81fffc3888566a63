"""The structural layers of a world, which do not scale with ``scale``: company
registries, the asset inventory (base stations, quarry and mining machinery), Far East
investment projects and bulk trade, North Korean labour contracts with the money that
flows back, and the sanctions list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import orjson
import polars as pl

from shadowtrace.simulate.flows import BatchGen
from shadowtrace.simulate.goods import GoodsLine, goods_table
from shadowtrace.simulate.records import Calib, Out, days_to_date, money, n_str
from shadowtrace.simulate.world import NEVER, World, day, goods, places

__all__ = ["bulk_trade", "inventory", "investment", "labour", "registries", "sanctions_list"]

IntArray = npt.NDArray[np.int64]


def _s(values: Sequence[str | None]) -> pl.Series:
    return pl.Series(values, dtype=pl.String)


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def registries(w: World, out: Out) -> None:
    """One row per registered company, as of the end of the period."""
    end = w.scenario.date("period_end")
    for reg, file in (
        ("ru", "registry_ru.csv"),
        ("cn", "registry_cn.csv"),
        ("intl", "registry_intl.csv"),
    ):
        rows: dict[str, list[str | None]] = {}
        truth: dict[str, list[str | None]] = {
            "company": [],
            "director": [],
            "directorship": [],
            "founder": [],
            "ownership": [],
        }
        days: list[int] = []

        def add(key: str, value: str | None, rows: dict[str, list[str | None]] = rows) -> None:
            rows.setdefault(key, []).append(value or None)

        for p in w.parties:
            if p.registry != reg or p.kind != "company" or p.rename_slot:
                continue
            slot = p.extra.get("renamed_to")
            shown = w.parties[slot] if slot is not None and p.extra["renamed_on"] <= end else p
            previous = p.names.canonical if shown is not p else None
            director = w.parties[p.director] if p.director >= 0 else None
            owner = w.parties[p.owner] if p.owner >= 0 else None
            ptid = w.true_id(p.idx)
            dtid = w.true_id(director.idx) if director else None
            otid = w.true_id(owner.idx) if owner else None
            truth["company"].append(ptid)
            truth["director"].append(dtid)
            truth["directorship"].append(f"dir:{ptid}:{dtid}" if dtid else None)
            owner_key = (
                owner.inn or owner.uscc or owner.reg_no or owner.names.canonical if owner else None
            )
            truth["founder"].append(otid if owner_key else None)
            truth["ownership"].append(f"own:{otid}:{ptid}" if owner_key else None)
            days.append(day(p.incorporated or end))
            if reg == "ru":
                add("ОГРН", p.ogrn)
                add("ИНН", p.inn)
                add("КПП", p.kpp)
                add("сокращенное_наименование", shown.names.canonical)
                add("полное_наименование", shown.names.extra.get("full", shown.names.canonical))
                add("прежнее_наименование", previous)
                add("дата_регистрации", _iso(p.incorporated))
                add("адрес", p.address)
                add("регион", p.region)
                add("телефон", p.phone)
                add("статус", "Действующее")
                add("руководитель_фио", director.names.canonical if director else None)
                add("руководитель_инн", director.inn if director else None)
                add("руководитель_должность", "Генеральный директор" if director else None)
                add("учредитель_наименование", owner.names.native[0] if owner else None)
                add("учредитель_инн", owner_key)
                add("учредитель_тип", ("ФЛ" if owner.kind == "person" else "ЮЛ") if owner else None)
                add("доля_процентов", "100" if owner else None)
            elif reg == "cn":
                add("统一社会信用代码", p.uscc)
                add("企业名称", shown.names.canonical)
                add("英文名称", shown.names.latin[0])
                add("曾用名", previous)
                add("法定代表人", director.names.canonical if director else None)
                add("成立日期", _iso(p.incorporated))
                add("住所", p.address)
                add("所属省份", p.region)
                add("电话", p.phone)
                add("登记状态", "存续")
                add("股东", owner.names.latin[0] if owner else None)
                add("股东证照号", owner_key)
                add("股东所在地", owner.country if owner else None)
            else:
                add("jurisdiction", p.country)
                add("registration_number", p.reg_no)
                add("company_name", shown.names.canonical)
                add("previous_name", previous)
                add("legal_form", p.legal_form)
                add("incorporation_date", _iso(p.incorporated))
                add("registered_address", p.address)
                add("phone", p.phone)
                add("status", "active")
                add("director_name", director.names.canonical if director else None)
                add("director_nationality", director.country if director else None)
                add("shareholder_name", owner.names.latin[0] if owner else None)
                add("shareholder_id", owner_key)
                add(
                    "shareholder_type",
                    ("person" if owner.kind == "person" else "company") if owner else None,
                )
                add("shareholder_country", owner.country if owner else None)
        if reg == "cn":
            # the Chinese registry keys its legal representative by name within the company
            truth["directorship"] = list(truth["directorship"])
        out.emit(
            file,
            {k: _s(v) for k, v in rows.items()},
            {k: _s(v) for k, v in truth.items()},
            np.asarray(days, dtype=np.int64),
        )

    # front-company and sanctions-proximity schemes, evidenced by registry rows
    fronts = [p for p in w.parties if p.role == "front" and not p.rename_slot]
    by_address: dict[str, list[int]] = {}
    for p in fronts:
        if "mass_address" in p.extra:
            by_address.setdefault(p.address, []).append(p.idx)
    if by_address:
        members = list(by_address.values())
        width = max(len(m) for m in members) + 1
        cols = []
        for j in range(width):
            cols.append(_s([w.true_id(m[j]) if j < len(m) else None for m in members]))
        directors = _s(
            [
                w.true_id(w.parties[m[0]].director) if w.parties[m[0]].director >= 0 else None
                for m in members
            ]
        )
        out.scheme("front_company", [*cols, directors], label=_s(["mass_address"] * len(members)))
    # A rename is a scheme only where the data record it: the register entry shows the
    # new name with the listed one as its previous name. A party on no register (a North
    # Korean supplier) or renamed after the period keeps its listed name in every record.
    prox = [
        p
        for p in w.parties
        if "successor_of" in p.extra
        or (
            "renamed_on" in p.extra
            and not p.rename_slot
            and p.registry
            and p.extra["renamed_on"] <= w.scenario.date("period_end")
        )
    ]
    if prox:
        a = _s([w.true_id(p.idx) for p in prox])
        b = _s(
            [
                w.true_id(p.extra["successor_of"]) if "successor_of" in p.extra else None
                for p in prox
            ]
        )
        c = _s([w.true_id(p.director) if p.director >= 0 else None for p in prox])
        label = _s(
            [
                "reregistered_after_listing"
                if "successor_of" in p.extra
                else "renamed_after_listing"
                for p in prox
            ]
        )
        out.scheme("sanctions_proximity", [a, b, c], label=label)


def inventory(w: World, out: Out, gen: BatchGen, rng: np.random.Generator, cal: Calib) -> None:
    """Base stations and quarry and mining machinery in the occupied territories."""
    s = w.scenario
    n_cn = s.int_("base_stations_cn_equipment")
    n_other = round(
        n_cn * s.num("base_station_non_cn_share") / (1 - s.num("base_station_non_cn_share"))
    )
    operators = [
        p.idx
        for p in w.parties
        if p.role == "end_user" and p.sector == "telecom" and not p.rename_slot
    ]
    vendors = [p.idx for p in w.parties if p.role == "manufacturer" and p.sector == "telecom"]
    others = list(w.role("manufacturer_other"))
    importers = list(w.role("importer"))
    fronts = list(w.role("front"))
    bboxes = {x["key"]: x for x in places()["occupied"]}
    n = n_cn + n_other
    op = np.asarray(operators)[rng.integers(0, len(operators), n)]
    is_cn = np.arange(n) < n_cn
    # an operator buys most of its equipment from one vendor
    pref = {o: vendors[k % len(vendors)] for k, o in enumerate(operators)}
    vendor = np.asarray(
        [
            pref[int(o)] if rng.random() < 0.8 else vendors[int(rng.integers(0, len(vendors)))]
            for o in op
        ]
    )
    vendor = np.where(is_cn, vendor, np.asarray(others)[rng.integers(0, len(others), n)])
    supplier = np.asarray([importers[(int(o) * 7) % len(importers)] for o in op])
    parts = np.asarray(
        [
            fronts[(int(o) * 3 + int(v)) % len(fronts)]
            if rng.random() < 0.6
            else importers[(int(o) * 7 + 1) % len(importers)]
            for o, v in zip(op, vendor, strict=True)
        ]
    )
    region_key = np.asarray(
        [w.parties[int(o)].extra.get("region_key", "donetsk") for o in op], dtype=object
    )
    lat = np.zeros(n)
    lon = np.zeros(n)
    settlement = []
    for i, rk in enumerate(region_key):
        b = bboxes.get(rk, bboxes["donetsk"])
        lat[i] = b["bbox"][0] + rng.random() * (b["bbox"][2] - b["bbox"][0])
        lon[i] = b["bbox"][1] + rng.random() * (b["bbox"][3] - b["bbox"][1])
        settlement.append(b["cities"][int(rng.integers(0, len(b["cities"])))])
    start = dt.date(2015, 1, 1)
    comm_days = np.where(
        is_cn,
        day(dt.date(2022, 6, 1)) + rng.integers(0, 1100, n),
        day(start) + rng.integers(0, 2400, n),
    )
    models = {
        v: f"{w.parties[v].names.latin[0].split()[1][:3].upper()}-BTS{3000 + 100 * (k % 9)}"
        for k, v in enumerate(set(vendor.tolist()))
    }
    ids_ = n_str(np.arange(n) + 1, 6, "BS-")
    cols = {
        "asset_id": ids_,
        "category": "base_station",
        "model": _s([models[int(v)] for v in vendor]),
        "serial_number": n_str(rng.integers(10**9, 10**10, n), 10, "SN"),
        "hs_code": "851761",
        "manufacturer_name": gen.names_for(vendor, np.ones(n, dtype=bool)),
        "manufacturer_country": _s([w.parties[int(v)].country for v in vendor]),
        "supplier_name": w.name(supplier, "native", rng.random(n)),
        "parts_supplier_name": w.name(parts, "native", rng.random(n)),
        "operator_name": w.name(op, "native", rng.random(n)),
        "operator_inn": w.col("inn", op),
        "site": _s([f"БС {s_} №{i + 1:04d}" for i, s_ in enumerate(settlement)]),
        "region": w.col("region", op),
        "latitude": money(lat, 5),
        "longitude": money(lon, 5),
        "commissioning_date": days_to_date(comm_days),
        "status": _s(["в работе" if x < 0.93 else "неисправна" for x in rng.random(n)]),
        "serves_population": money(rng.integers(300, 9000, n).astype(np.float64), 0),
        "output_capacity": None,
        "output_unit": None,
    }
    truth = {
        "equipment": n_str(np.arange(n) + 1, 6, "eq-bs-"),
        "manufacturer": w.tid(vendor),
        "supplier": w.tid(supplier),
        "parts_supplier": w.tid(parts),
        "operator": w.tid(op),
    }
    bs_rids = out.emit("asset_inventory.csv", cols, truth, comm_days)
    cal.base_stations_cn += int(sum(1 for v in vendor if w.parties[int(v)].country == "cn"))
    # machinery at quarries, mines, metallurgy and energy sites
    m_n = s.int_("mining_equipment")
    users = [
        p.idx
        for p in w.parties
        if p.role == "end_user"
        and p.sector in ("quarrying", "coal_mining", "metallurgy", "energy")
        and not p.rename_slot
    ]
    mfrs = [
        p.idx for p in w.parties if p.role == "manufacturer" and p.sector in ("mining", "tools")
    ]
    mining_lines = goods()["mining"] + goods()["tools"][:3]
    eu = np.asarray(users)[rng.integers(0, len(users), m_n)]
    mf = np.asarray(mfrs)[rng.integers(0, len(mfrs), m_n)]
    li = rng.integers(0, len(mining_lines), m_n)
    sup = np.asarray([importers[(int(o) * 5) % len(importers)] for o in eu])
    prt = np.asarray([fronts[(int(o) * 11) % len(fronts)] for o in eu])
    site_name = []
    for o in eu:
        site = w.parties[int(o)].extra.get("site")
        site_name.append(site["name"] if site else f"Площадка {w.parties[int(o)].names.native[3]}")
    cats = {
        "843031": "tunnelling",
        "843039": "tunnelling",
        "842952": "excavator",
        "847410": "screen",
        "847420": "crusher",
        "845710": "production_tool",
        "845811": "production_tool",
        "845961": "production_tool",
    }
    hs = [str(mining_lines[i]["hs"]) for i in li]
    mdays = day(dt.date(2022, 9, 1)) + rng.integers(0, 1000, m_n)
    eu_regions = [w.parties[int(o)].extra.get("region_key", "donetsk") for o in eu]
    mlat = np.asarray(
        [
            bboxes[r]["bbox"][0] + rng.random() * (bboxes[r]["bbox"][2] - bboxes[r]["bbox"][0])
            for r in eu_regions
        ]
    )
    mlon = np.asarray(
        [
            bboxes[r]["bbox"][1] + rng.random() * (bboxes[r]["bbox"][3] - bboxes[r]["bbox"][1])
            for r in eu_regions
        ]
    )
    for k, o in enumerate(eu):
        site = w.parties[int(o)].extra.get("site")
        if site:
            mlat[k], mlon[k] = site["lat"], site["lon"]
    mcols = {
        "asset_id": n_str(np.arange(m_n) + 1, 5, "EQ-"),
        "category": _s([cats[h] for h in hs]),
        "model": _s(
            [
                f"{w.parties[int(v)].names.latin[0].split()[1][:2].upper()}{h[-3:]}-{int(x)}"
                for v, h, x in zip(mf, hs, rng.integers(1, 9, m_n), strict=True)
            ]
        ),
        "serial_number": n_str(rng.integers(10**9, 10**10, m_n), 10, "SN"),
        "hs_code": _s(hs),
        "manufacturer_name": gen.names_for(mf, np.ones(m_n, dtype=bool)),
        "manufacturer_country": "cn",
        "supplier_name": w.name(sup, "native", rng.random(m_n)),
        "parts_supplier_name": w.name(prt, "native", rng.random(m_n)),
        "operator_name": w.name(eu, "native", rng.random(m_n)),
        "operator_inn": w.col("inn", eu),
        "site": _s(site_name),
        "region": w.col("region", eu),
        "latitude": money(mlat, 5),
        "longitude": money(mlon, 5),
        "commissioning_date": days_to_date(mdays),
        "status": "в работе",
        "serves_population": None,
        "output_capacity": money(rng.integers(50, 900, m_n).astype(np.float64), 0),
        "output_unit": "т/ч",
    }
    m_rids = out.emit(
        "asset_inventory.csv",
        mcols,
        {
            "equipment": n_str(np.arange(m_n) + 1, 5, "eq-m-"),
            "manufacturer": w.tid(mf),
            "supplier": w.tid(sup),
            "parts_supplier": w.tid(prt),
            "operator": w.tid(eu),
        },
        mdays,
    )
    # infrastructure dependency: one scheme per (operator, vendor, parts supplier)
    all_op = np.concatenate([op[is_cn], eu])
    all_v = np.concatenate([vendor[is_cn], mf])
    all_p = np.concatenate([parts[is_cn], prt])
    all_s = np.concatenate([supplier[is_cn], sup])
    all_r = np.concatenate([bs_rids[is_cn], m_rids])
    key = pl.DataFrame({"o": all_op, "v": all_v, "p": all_p, "s": all_s, "r": all_r})
    groups = (
        key.group_by(["o", "v", "p", "s"], maintain_order=True)
        .agg(pl.col("r"))
        .sort(["o", "v", "p", "s"])
    )
    inst = np.repeat(np.arange(len(groups)), groups["r"].list.len().to_numpy())
    rids = groups["r"].explode().to_numpy().astype(np.int64)
    out.scheme(
        "infrastructure_dependency",
        [w.tid(groups[c].to_numpy()) for c in ("o", "v", "s", "p")],
        evidence_lists=(inst, rids, "equipment"),
    )


def investment(w: World, out: Out, rng: np.random.Generator, cal: Calib) -> None:
    """Chinese investment projects in the Far East (the 2025 ones sum to the seed figure)."""
    s = w.scenario
    n25 = s.int_("investment_projects")
    n_early = s.int_("investment_projects_earlier")
    companies = list(w.role("project_company"))
    investors = list(w.role("investor"))
    n = n25 + n_early
    share = rng.lognormal(0.0, 1.0, n25)
    amount25 = share / share.sum() * s.num("cn_investment_2025_rub")
    early = rng.lognormal(0.0, 1.0, n_early)
    amount_e = early / early.sum() * s.num("cn_investment_2025_rub") * 0.9
    amount = np.concatenate([amount25, amount_e])
    year = np.concatenate([np.full(n25, 2025), rng.integers(2023, 2025, n_early)])
    comp = np.asarray(companies[:n])
    inv = np.asarray(investors)[rng.integers(0, len(investors), n)]
    start_days = np.asarray([day(dt.date(int(y), 1, 1)) + int(rng.integers(0, 180)) for y in year])
    enclave = rng.random(n) < 0.15
    staff = np.where(enclave, 0.85 + 0.14 * rng.random(n), 0.1 + 0.5 * rng.random(n))
    out.emit(
        "investment_projects.csv",
        {
            "project_id": n_str(np.arange(n) + 1, 4, "DV-"),
            "project_name": _s([f"Проект {w.parties[int(c)].names.native[3]}" for c in comp]),
            "region": w.col("region", comp),
            "sector": w.col("sector", comp),
            "start_year": n_str(year),
            "investment_rub": money(amount),
            "project_company": w.name(comp, "native", np.zeros(n)),
            "project_company_inn": w.col("inn", comp),
            "investor_name": w.name(inv, "latin", rng.random(n)),
            "investor_country": "cn",
            "cn_staff_share": money(staff, 2),
            "status": "реализуется",
        },
        {
            "project_company": w.tid(comp),
            "investor": w.tid(inv),
            "ownership": pl.select(
                pl.concat_str([pl.lit("own:"), w.tid(inv), pl.lit(":"), w.tid(comp)])
            ).to_series(),
        },
        start_days,
    )
    cal.investment_2025_rub += float(amount[year == 2025].sum())


def bulk_trade(w: World, out: Out, gen: BatchGen, rng: np.random.Generator, cal: Calib) -> None:
    """Far East bulk exports to China: periodic declarations whose tonnage grows as reported."""
    s = w.scenario
    t23 = s.num("bulk_tonnes_2023")
    t24 = t23 + s.num("ru_cn_trade_growth_2024_tonnes")
    h1_25 = t24 / 2 * (1 + s.num("ru_cn_trade_growth_h1_2025"))
    per = s.num("bulk_tonnes_per_declaration")
    lines = goods()["bulk_export"]
    table = goods_table()
    periods = [
        (dt.date(2023, 1, 1), dt.date(2023, 6, 30), t23 / 2),
        (dt.date(2023, 7, 1), dt.date(2023, 12, 31), t23 / 2),
        (dt.date(2024, 1, 1), dt.date(2024, 6, 30), t24 / 2),
        (dt.date(2024, 7, 1), dt.date(2024, 12, 31), t24 / 2),
        (dt.date(2025, 1, 1), dt.date(2025, 6, 30), h1_25),
    ]
    exp = w.role("bulk_exporter")
    imp = w.role("bulk_importer")
    for d0, d1, tonnes in periods:
        k = max(1, round(tonnes / per))
        weights = 0.6 + 0.8 * rng.random(k)
        t = weights / weights.sum() * tonnes
        days = day(d0) + np.sort(rng.integers(0, (d1 - d0).days + 1, k))
        li = table.start["bulk_export"] + rng.integers(0, len(lines), k)
        line = GoodsLine(li, np.round(t, 0), t * table.unit_usd[li], t * 1000.0)
        sender = gen.pick(exp, rng.random(k))
        receiver = gen.pick(imp, rng.random(k))
        gen.declarations(sender, receiver, days, line.value, line, np.full(k, "ru"))
        for y in (2023, 2024, 2025):
            m = (days >= day(dt.date(y, 1, 1))) & (days <= day(dt.date(y, 12, 31)))
            h1 = m & (days <= day(dt.date(y, 6, 30)))
            cal.tonnes[f"{y}"] += float(np.round(line.kg[m], 1).sum() / 1000)
            cal.tonnes[f"{y}H1"] += float(np.round(line.kg[h1], 1).sum() / 1000)


def labour(w: World, out: Out, gen: BatchGen, rng: np.random.Generator, cal: Calib) -> None:
    """North Korean labour: official and front contracts, requests, and the money back."""
    s = w.scenario
    lo, hi = s.range("dprk_workers_per_contract")
    employers = w.role("employer")
    suppliers = w.role("dprk_supplier")
    fronts = w.role("dprk_front")

    def sizes(total: int) -> IntArray:
        out_: list[int] = []
        left = total
        while left > 0:
            k = min(left, int(rng.integers(int(lo), int(hi) + 1)))
            out_.append(k)
            left -= k
        return np.asarray(out_, dtype=np.int64)

    official = sizes(s.int_("dprk_workers_official"))
    unofficial = sizes(s.int_("dprk_workers_unofficial") - s.int_("dprk_workers_official"))
    requested = sizes(s.int_("dprk_labour_contracts_requested"))
    kind = np.concatenate(
        [np.zeros(len(official)), np.ones(len(unofficial)), np.full(len(requested), 2)]
    ).astype(np.int64)
    workers = np.concatenate([official, unofficial, requested])
    n = len(workers)
    emp = gen.pick(employers, rng.random(n))
    true_sup = gen.pick(suppliers, rng.random(n))
    front = gen.pick(fronts, rng.random(n))
    named_sup = np.where(kind == 1, front, true_sup)
    # workers on site stay through the period (contracts are renewed); requests are recent
    start = np.where(
        kind == 2,
        day(dt.date(2025, 3, 1)) + rng.integers(0, 110, n),
        day(dt.date(2023, 1, 1)) + rng.integers(0, 180, n),
    )
    end = np.where(kind == 2, start + 365 * rng.integers(1, 3, n), start + 365 * 3)
    wage = s.num("dprk_wage_usd_month")
    rub_usd = s.num("rub_per_usd")
    occupations = ["строитель", "разнорабочий", "швея", "рабочий лесозаготовки", "отделочник"]
    cn_front = np.asarray([w.parties[int(f)].country == "cn" for f in named_sup])
    nationality = _s(
        ["kp" if k != 1 else (None if c else "cn") for k, c in zip(kind, cn_front, strict=True)]
    )
    rids = out.emit(
        "labour_contracts.csv",
        {
            "contract_number": n_str(np.arange(n) + 1, 6, "ТД-"),
            "status": _s(["действует" if k < 2 else "запрошен" for k in kind]),
            "employer_name": w.name(emp, "native", rng.random(n)),
            "employer_inn": w.col("inn", emp),
            "supplier_name": gen.names_for(named_sup, np.ones(n, dtype=bool)),
            "supplier_country": _s([w.parties[int(x)].country for x in named_sup]),
            "worker_count": n_str(workers),
            "worker_nationality": nationality,
            "occupation": _s([occupations[int(i)] for i in rng.integers(0, len(occupations), n)]),
            "work_region": w.col("region", emp),
            "permit_number": n_str(rng.integers(10**8, 10**9, n), 9, "РНР-"),
            "start_date": days_to_date(start),
            "end_date": days_to_date(end),
            "wage_bill_rub": money(workers * wage * 12 * rub_usd),
        },
        {
            "contract": n_str(np.arange(n) + 1, 6, "lc-"),
            "employer": w.tid(emp),
            "supplier": w.tid(named_sup),
        },
        start,
    )
    cal.dprk_official += int(official.sum())
    cal.dprk_total += int(official.sum() + unofficial.sum())
    cal.dprk_requested += int(requested.sum())
    # money back: quarterly transfers of the state's share, employer -> front company
    active = np.nonzero(kind < 2)[0]
    # at each calendar quarter end, so that a year has four payments per contract
    q_days = np.asarray(
        [
            day(dt.date(y, m, 30 if m in (6, 9) else 31))
            for y in range(s.date("period_start").year, s.date("period_end").year + 1)
            for m in (3, 6, 9, 12)
            if s.date("period_start") <= dt.date(y, m, 28) <= s.date("period_end")
        ],
        dtype=np.int64,
    )
    ci = np.repeat(active, len(q_days))
    qd = np.tile(q_days, len(active))
    live = (qd >= start[ci]) & (qd <= end[ci])
    ci, qd = ci[live], qd[live]
    usd = workers[ci] * wage * 3 * s.num("dprk_state_share")
    is_cn = np.asarray([w.parties[int(front[c])].country == "cn" for c in ci])
    amount = np.where(is_cn, usd * s.num("cny_per_usd"), usd * rub_usd)
    cur = _s(np.where(is_cn, "CNY", "RUB").tolist())
    pay = gen.bank(emp[ci], front[ci], amount, cur, qd, purpose="Оплата услуг по договору подряда")
    y24 = (qd >= day(dt.date(2024, 1, 1))) & (qd <= day(dt.date(2024, 12, 31)))
    cal.dprk_revenue_usd_2024 += float(usd[y24].sum())
    out.flow(
        {
            "typology": "dprk_labour",
            "channel": "bank",
            "status": "delivered",
            "value_usd": pl.Series(usd),
            "intended_value_usd": pl.Series(usd),
            "date": days_to_date(qd),
            "source_id": w.tid(emp[ci]),
            "sink_id": w.tid(true_sup[ci]),
            "hops": pl.DataFrame(
                {"a": w.tid(emp[ci]), "b": w.tid(front[ci]), "c": w.tid(true_sup[ci])}
            )
            .select(pl.concat_list(pl.all()))
            .to_series(),
            "hs_code": None,
            "chpl": False,
            "illicit": True,
            "rerouted": False,
        }
    )
    sel = np.nonzero(kind < 2)[0]
    pos = np.searchsorted(sel, ci)
    out.scheme(
        "dprk_labour",
        [w.tid(emp[sel]), w.tid(true_sup[sel]), w.tid(front[sel])],
        [(rids[sel], "contract")],
        evidence_lists=(pos, pay, "payment"),
        label=_s(["official" if k == 0 else "front" for k in kind[sel]]),
    )


def sanctions_list(w: World, out: Out) -> list[bytes]:
    """The sanctions list as FtM entity JSON lines (entities, then their Sanction)."""
    lines: list[bytes] = []
    truth: list[str] = []
    days: list[int] = []
    listed = [p for p in w.parties if p.listed is not None and not p.rename_slot]
    listed.sort(key=lambda p: (p.listed, p.idx))
    for p in listed:
        # an id, not a security measure: SHA-1 is fine for it
        eid = "sim-" + hashlib.sha1(f"{w.seed}:{p.idx}".encode()).hexdigest()[:12]  # noqa: S324
        schema = "Person" if p.kind == "person" else "Company"
        props: dict[str, list[str]] = {
            "name": [p.names.latin[0]] if p.registry != "intl" else [p.names.canonical],
            "alias": sorted({*p.names.aliases()[:4], p.names.canonical} - {p.names.latin[0]}),
            "country": [p.country],
            "topics": ["sanction"],
        }
        if p.inn:
            props["innCode"] = [p.inn]
        if p.ogrn:
            props["ogrnCode"] = [p.ogrn]
        if p.uscc:
            props["uscCode"] = [p.uscc]
        if p.reg_no and p.kind == "company":
            props["registrationNumber"] = [p.reg_no]
        if p.address:
            props["address"] = [p.address]
        lines.append(
            orjson.dumps(
                {"id": eid, "schema": schema, "properties": props, "datasets": ["sanctions"]},
                option=orjson.OPT_SORT_KEYS,
            )
        )
        truth.append(w.true_id(p.idx))
        listed_iso = _iso(p.listed) or ""
        sprops = {
            "entity": [eid],
            "authority": [p.authority],
            "program": [p.program],
            "startDate": [listed_iso],
            "listingDate": [listed_iso],
        }
        lines.append(
            orjson.dumps(
                {
                    "id": f"{eid}-sanction",
                    "schema": "Sanction",
                    "properties": sprops,
                    "datasets": ["sanctions"],
                },
                option=orjson.OPT_SORT_KEYS,
            )
        )
        truth.append(f"san:{w.true_id(p.idx)}")
        days.extend([day(p.listed) if p.listed else NEVER] * 2)
    out.emit(
        "sanctions.ftm.json",
        {"_line": _s([x.decode() for x in lines])},
        {"ftm": _s(truth)},
        np.arange(len(lines), dtype=np.int64),
    )
    return lines
