"""Run a simulation: build the world, generate batch by batch, write every file, the
manifest, the ground truth and the calibration report."""

from __future__ import annotations

import json
import math
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from shadowtrace.errors import ConfigError
from shadowtrace.simulate.calibration import CalibrationRow, calibrate
from shadowtrace.simulate.flows import BatchGen
from shadowtrace.simulate.policy import Policy, load_policy
from shadowtrace.simulate.records import Calib, Out
from shadowtrace.simulate.scenario import Scenario, load_scenario
from shadowtrace.simulate.structural import (
    bulk_trade,
    inventory,
    investment,
    labour,
    registries,
    sanctions_list,
)
from shadowtrace.simulate.world import World, build_world

__all__ = ["SOURCES", "SimulationResult", "simulate"]

# path, dataset, format, description. The mapping is mappings/<dataset>.yml.
SOURCES: list[tuple[str, str, str, str]] = [
    (
        "registry_ru.csv",
        "registry_ru",
        "csv",
        "Russian company registry extract (EGRUL-like), Cyrillic, INN/OGRN",
    ),
    (
        "registry_cn.csv",
        "registry_cn",
        "csv",
        "Chinese company registry extract, Chinese characters, USCC",
    ),
    (
        "registry_intl.csv",
        "registry_intl",
        "csv",
        "Third-country company registries (KZ, KG, AM, GE, AE, TR, HK, UZ), Latin script",
    ),
    (
        "customs_declarations.csv",
        "customs",
        "csv",
        "Customs declarations: Chinese and transit-country exports, Russian imports",
    ),
    (
        "bank_payments.csv",
        "bank_payments",
        "csv",
        "Bank payment messages with their status (accepted or rejected)",
    ),
    (
        "usdt_transfers.parquet",
        "usdt_transfers",
        "parquet",
        "USDT (TRON) transfers: hash, from, to, amount, token, timestamp",
    ),
    ("wallet_labels.csv", "wallet_labels", "csv", "Wallet attributions of exchanges and OTC desks"),
    (
        "app_payments.csv",
        "app_payments",
        "csv",
        "Alipay and WeChat Pay transfers between app accounts",
    ),
    (
        "cash_yuan_sales.csv",
        "cash_yuan_sales",
        "csv",
        "Cash-yuan sales at bank branches in the occupied territories",
    ),
    (
        "netting_ledger.csv",
        "netting_ledger",
        "csv",
        "Seized ledger of a friend-transaction (netting) broker",
    ),
    (
        "asset_inventory.csv",
        "asset_inventory",
        "csv",
        "Inventory of base stations and quarry and mining machinery",
    ),
    (
        "labour_contracts.csv",
        "labour_contracts",
        "csv",
        "Labour contracts and requests for foreign workers, Far East",
    ),
    (
        "investment_projects.csv",
        "investment_projects",
        "csv",
        "Register of Chinese investment projects in the Far East",
    ),
    (
        "sanctions.ftm.json",
        "sanctions",
        "ftm",
        "Sanctions list as FtM entity JSON lines (entities and Sanction records)",
    ),
]
RECORDS_SCHEMA = pa.schema(
    [("file", pa.string()), ("row", pa.int64()), ("origin", pa.string()), ("true_id", pa.string())]
)
# Written as dictionaries (file and origin take few values), read back as plain strings:
# the file stores no Arrow schema.
_RECORDS_WRITE = pa.schema(
    [
        ("file", pa.dictionary(pa.int32(), pa.string())),
        ("row", pa.int64()),
        ("origin", pa.dictionary(pa.int32(), pa.string())),
        ("true_id", pa.large_string()),
    ]
)
BATCH_RECORDS = 600_000  # about this many transactions per batch (two held at a time)


@dataclass
class SimulationResult:
    """What a simulation wrote: counts per file, calibration rows, paths."""

    scenario: str
    seed: int
    scale: float
    out: Path
    counts: dict[str, int]
    calibration: list[CalibrationRow]
    policy: dict[str, Any] = field(default_factory=dict)

    @property
    def transactions(self) -> int:
        keys = (
            "bank_payments.csv",
            "usdt_transfers.parquet",
            "app_payments.csv",
            "cash_yuan_sales.csv",
            "customs_declarations.csv",
        )
        return sum(self.counts.get(k, 0) for k in keys)

    @property
    def calibrated(self) -> bool:
        return all(row.passed for row in self.calibration)

    def to_dict(self, *, with_out: bool = True) -> dict[str, Any]:
        """The result as plain data; ``with_out=False`` leaves out the output folder (the
        written ``calibration.json`` does, so that its bytes do not depend on where it is)."""
        data: dict[str, Any] = {
            "scenario": self.scenario,
            "seed": self.seed,
            "scale": self.scale,
        }
        if with_out:
            data["out"] = str(self.out)
        return data | {
            "counts": self.counts,
            "transactions": self.transactions,
            "calibrated": self.calibrated,
            "calibration": [row.to_dict() for row in self.calibration],
            "policy": self.policy,
        }


class _Writers:
    """Appends sorted batches to each source file and writes the ground truth beside them."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: dict[str, int] = {}
        self.handles: dict[str, IO[bytes]] = {}
        self.pq: dict[str, pq.ParquetWriter] = {}
        gt = out / "ground_truth"
        gt.mkdir(parents=True, exist_ok=True)
        self.records = pq.ParquetWriter(
            gt / "records.parquet",
            _RECORDS_WRITE,
            compression="zstd",
            use_dictionary=["file", "origin"],  # true ids are nearly all distinct
            store_schema=False,
        )
        self.gt_writers: dict[str, pq.ParquetWriter] = {}
        self.rid_map: list[pl.DataFrame] = []

    def _gt(self, name: str, df: pl.DataFrame) -> None:
        if df.is_empty():
            return
        table = df.to_arrow()
        if name not in self.gt_writers:
            self.gt_writers[name] = pq.ParquetWriter(
                self.out / "ground_truth" / f"{name}.parquet", table.schema, compression="zstd"
            )
        self.gt_writers[name].write_table(table.cast(self.gt_writers[name].schema))

    def write(self, batch: Out) -> None:
        rid_frames = []
        for file in sorted(batch.frames):
            df = pl.concat(batch.frames[file], how="diagonal_relaxed").sort(["_day", "_rid"])
            start = self.rows.get(file, 0)
            n = df.height
            rows = np.arange(start + 1, start + n + 1, dtype=np.int64)
            self.rows[file] = start + n
            visible = df.select([c for c in df.columns if not c.startswith("_")])
            if file.endswith(".parquet"):
                table = visible.to_arrow()
                if file not in self.pq:
                    # hashes are all distinct: a dictionary would only cost time
                    strings = [f.name for f in table.schema if pa.types.is_large_string(f.type)]
                    self.pq[file] = pq.ParquetWriter(
                        self.out / file,
                        table.schema,
                        compression="zstd",
                        use_dictionary=[c for c in strings if c not in ("tx_hash",)],
                    )
                self.pq[file].write_table(table.cast(self.pq[file].schema))
            elif file.endswith(".json"):
                fh = self._handle(file)
                fh.write(("\n".join(df["_line"].to_list()) + "\n").encode("utf-8"))
            else:
                fh = self._handle(file)
                visible.write_csv(fh, include_header=start == 0, float_precision=6)
            # one ground-truth row per (record, origin) with an entity, in row then origin
            # order: the truth columns side by side, flattened row by row
            truth_cols = sorted(c for c in df.columns if c.startswith("_t_"))
            if truth_cols:
                k = len(truth_cols)
                stacked = pl.concat([df[c] for c in truth_cols])  # column after column
                valid = np.stack(
                    [df[c].is_not_null().to_numpy() for c in truth_cols], axis=1
                ).ravel()
                at = (np.arange(n)[:, None] + np.arange(k)[None, :] * n).ravel()[valid]
                rec = pa.table(
                    {
                        "file": pa.DictionaryArray.from_arrays(
                            pa.array(np.zeros(len(at), dtype=np.int32)), pa.array([file])
                        ),
                        "row": pa.array(np.repeat(rows, k)[valid]),
                        "origin": pa.DictionaryArray.from_arrays(
                            pa.array(np.tile(np.arange(k, dtype=np.int32), n)[valid]),
                            pa.array([c[3:] for c in truth_cols]),
                        ),
                        "true_id": stacked.gather(at).to_arrow(),
                    },
                    schema=_RECORDS_WRITE,
                )
                self.records.write_table(rec)
            rid_frames.append(
                pl.DataFrame({"_rid": df["_rid"], "row": rows}).with_columns(
                    pl.lit(file).alias("file")
                )
            )
        rid_map = pl.concat(rid_frames) if rid_frames else None
        if batch.schemes:
            self._gt("schemes", pl.concat(batch.schemes, how="diagonal_relaxed"))
        if batch.evidence and rid_map is not None:
            ev = pl.concat(batch.evidence).join(rid_map, on="_rid", how="inner")
            self._gt(
                "evidence",
                ev.select("scheme_id", "file", "row", "origin").sort(["scheme_id", "file", "row"]),
            )
        if batch.flows:
            flows = pl.concat(batch.flows, how="diagonal_relaxed")
            self._gt("flows", flows.select([c for c in _FLOW_ORDER if c in flows.columns]))
        if batch.wallets:
            wl = pl.concat(batch.wallets)
            self._gt("wallets", wl)

    def known_wallets(self, wallets: pl.DataFrame) -> None:
        """The wallets known before generation; the rails' fresh wallets follow them."""
        self._gt("wallets", wallets)

    def _handle(self, file: str) -> IO[bytes]:
        if file not in self.handles:
            self.handles[file] = (self.out / file).open("wb")
        return self.handles[file]

    def close(self) -> None:
        for fh in self.handles.values():
            fh.close()
        for w in self.pq.values():
            w.close()
        for w in self.gt_writers.values():
            w.close()
        self.records.close()


_FLOW_ORDER = [
    "flow_id",
    "typology",
    "channel",
    "status",
    "illicit",
    "rerouted",
    "value_usd",
    "intended_value_usd",
    "date",
    "source_id",
    "sink_id",
    "hops",
    "hs_code",
    "chpl",
]


def _entities_table(w: World) -> pl.DataFrame:
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "true_id",
            "kind",
            "role",
            "sector",
            "country",
            "canonical_name",
            "latin_name",
            "sanctioned",
            "listed_date",
            "adaptation",
            "predecessor_id",
            "substitute_for_id",
            "holder_id",
        )
    }
    seen: set[str] = set()
    for p in w.parties:
        tid = w.true_id(p.idx)
        if tid in seen:
            continue
        seen.add(tid)
        rows["true_id"].append(tid)
        rows["kind"].append(p.kind)
        rows["role"].append(p.role)
        rows["sector"].append(p.sector or None)
        rows["country"].append(p.country)
        rows["canonical_name"].append(p.names.canonical)
        rows["latin_name"].append(p.names.latin[0])
        rows["sanctioned"].append(p.listed is not None)
        rows["listed_date"].append(p.listed.isoformat() if p.listed else None)
        rows["adaptation"].append(p.extra.get("adapt_mode") or ("blocked" if p.listed else None))
        rows["predecessor_id"].append(w.true_id(p.predecessor) if p.predecessor >= 0 else None)
        sub = p.extra.get("substitute_for")
        rows["substitute_for_id"].append(w.true_id(sub) if sub is not None else None)
        rows["holder_id"].append(None)
    return pl.DataFrame(rows)


def _wallet_labels(w: World, out: Out) -> None:
    addrs, labels, names, cats, tids, holders = [], [], [], [], [], []
    for k, (addr, holder, _label) in enumerate(w.wallets):
        p = w.parties[holder]
        addrs.append(addr)
        cats.append("exchange" if p.role == "exchange" else "otc_desk")
        labels.append(f"{cats[-1]}: {p.names.latin[0]}")
        names.append(p.names.latin[0])
        tids.append(f"wal-k{k:06d}")
        holders.append(w.true_id(holder))
    n = len(addrs)
    out.emit(
        "wallet_labels.csv",
        {
            "address": pl.Series(addrs),
            "label": pl.Series(labels),
            "entity_name": pl.Series(names),
            "category": pl.Series(cats),
            "source": "attribution export",
        },
        {"wallet": pl.Series(tids), "holder": pl.Series(holders)},
        np.zeros(n, dtype=np.int64),
    )


def _known_wallets(w: World) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "true_id": [f"wal-k{k:06d}" for k in range(len(w.wallets))],
            "address": [x[0] for x in w.wallets],
            "holder": [w.true_id(x[1]) for x in w.wallets],
            "label": [x[2] for x in w.wallets],
        }
    ).vstack(
        pl.DataFrame(
            {
                "true_id": w.noise_tid,
                "address": w.noise_addr,
                "holder": pl.Series([None] * len(w.noise_tid), dtype=pl.String),
                "label": pl.Series(["retail"] * len(w.noise_tid)),
            }
        )
    )


def simulate(
    scenario: str | Path | Scenario,
    seed: int,
    scale: float,
    out: Path,
    policy: Path | dict[str, Any] | None = None,
    progress: Any = None,
) -> SimulationResult:
    """Generate a world and write it to ``out`` as source files with a manifest.

    >>> import tempfile, pathlib
    >>> from shadowtrace.simulate import simulate
    >>> result = simulate("default", seed=1, scale=0.01, out=pathlib.Path(tempfile.mkdtemp()))
    >>> result.calibrated
    True
    """
    if scale <= 0 or not math.isfinite(scale):
        raise ConfigError(f"scale must be a positive number, got {scale!r}")
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    pol: Policy = load_policy(policy)
    out = Path(out)
    if out.exists():
        for name in [*(s[0] for s in SOURCES), "manifest.yml", "calibration.json"]:
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "ground_truth", ignore_errors=True)
        shutil.rmtree(out / "mappings", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    world = build_world(scn, pol, seed, scale)
    cal = Calib()
    writers = _Writers(out)
    writers.known_wallets(_known_wallets(world))
    # structural layers first (batch 0), then the scaled transactions in time slices
    rng0 = np.random.Generator(np.random.PCG64([seed, 2]))
    out0 = Out(0, 0)
    gen0 = BatchGen(world, out0, rng0, cal)
    registries(world, out0)
    _wallet_labels(world, out0)
    inventory(world, out0, gen0, rng0, cal)
    investment(world, out0, rng0, cal)
    bulk_trade(world, out0, gen0, rng0, cal)
    labour(world, out0, gen0, rng0, cal)
    sanctions_list(world, out0)
    # A writer thread writes each batch while the next is generated (polars and pyarrow
    # release the GIL); at most two batches are held at a time. Batches are written in
    # order, so the files do not depend on the timing.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulate-writer")
    try:
        pending = pool.submit(writers.write, out0)
        rid = out0.rid
        pending = _generate(world, scale, seed, cal, writers, pool, pending, rid, progress)
        pending.result()
    finally:
        pool.shutdown(wait=True)
        writers.close()

    gt = out / "ground_truth"
    _entities_table(world).write_parquet(
        gt / "entities.parquet", compression="zstd", statistics=False
    )
    counts = {s[0]: writers.rows.get(s[0], 0) for s in SOURCES}
    rows = calibrate(scn, cal)
    result = SimulationResult(scn.name, seed, scale, out, counts, rows, pol.to_dict())
    _write_manifest(out, scn, seed, scale, pol)
    (out / "calibration.json").write_text(
        json.dumps(result.to_dict(with_out=False), indent=2, ensure_ascii=False, sort_keys=True)
        + "\n",
        encoding="utf-8",
    )
    (gt / "README.md").write_text(_GT_README, encoding="utf-8")
    return result


def _generate(
    world: World,
    scale: float,
    seed: int,
    cal: Calib,
    writers: _Writers,
    pool: ThreadPoolExecutor,
    pending: Future[None],
    rid: int,
    progress: Any,
) -> Future[None]:
    """Generate the scaled transactions in time slices, handing each batch to the writer."""
    scn = world.scenario
    per_scale = {
        "trade": scn.num("trade_orders_per_scale"),
        "sme": scn.num("sme_payments_per_scale"),
        "domestic": scn.num("domestic_payments_per_scale"),
        "crypto": scn.num("crypto_noise_per_scale"),
        "app": scn.num("app_noise_per_scale"),
        "cash": scn.num("cash_legit_per_scale"),
    }
    totals = {k: round(v * scale) for k, v in per_scale.items()}
    approx = 250_000 * scale
    n_batches = max(1, math.ceil(approx / BATCH_RECORDS))
    span = world.end - world.start + 1
    for b in range(n_batches):
        d0 = world.start + span * b // n_batches
        d1 = world.start + span * (b + 1) // n_batches
        rng = np.random.Generator(np.random.PCG64([seed, 1000 + b]))
        batch = Out(rid, b + 1)
        gen = BatchGen(world, batch, rng, cal)

        def share(k: str, b: int = b) -> int:
            return totals[k] * (b + 1) // n_batches - totals[k] * b // n_batches

        gen.trade_orders(share("trade"), d0, d1)
        gen.sme_needs(share("sme"), d0, d1)
        gen.domestic(share("domestic"), d0, d1)
        gen.crypto_noise(share("crypto"), d0, d1)
        gen.app_noise(share("app"), d0, d1)
        gen.cash_noise(share("cash"), d0, d1)
        pending.result()  # the previous batch is written (its errors surface here)
        pending = pool.submit(writers.write, batch)
        rid = batch.rid
        if progress is not None:
            progress(b + 1, n_batches)
    return pending


def _write_manifest(out: Path, scn: Scenario, seed: int, scale: float, pol: Policy) -> None:
    maps = out / "mappings"
    maps.mkdir(exist_ok=True)
    src = resources.files("shadowtrace.simulate").joinpath("mappings")
    sources = []
    for path, dataset, fmt, desc in SOURCES:
        entry: dict[str, Any] = {"path": path, "dataset": dataset}
        if fmt != "ftm":
            text = src.joinpath(f"{dataset}.yml").read_text(encoding="utf-8")
            (maps / f"{dataset}.yml").write_text(text, encoding="utf-8")
            entry["mapping"] = f"mappings/{dataset}.yml"
        entry["format"] = fmt
        entry["description"] = desc
        sources.append(entry)
    manifest = {
        "name": f"{scn.name}-seed{seed}-scale{scale:g}",
        "scenario": scn.name,
        "seed": seed,
        "scale": scale,
        "policy": pol.to_dict() if not pol.empty else None,
        "sources": sources,
        "ground_truth": "ground_truth/",
    }
    (out / "manifest.yml").write_text(
        yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )


_GT_README = """# Ground truth (read by no pipeline stage)

- records.parquet: file, row, origin, true_id. `file` is the source path in the manifest,
  `row` the 1-based record number (header not counted; JSON lines: line number; parquet:
  row index + 1), `origin` the entity name in the mapping (`ftm` for FtM JSON lines).
- entities.parquet: true_id, kind, role, sector, country, canonical_name, latin_name,
  sanctioned, listed_date, adaptation (rename | reregister | new_intermediary | blocked),
  predecessor_id, substitute_for_id.
- wallets.parquet: true_id, address, holder (true id of the party; null for retail wallets), label.
  Bank accounts are `acc-<n>` and app accounts `app-<n>` for party `ent-<n>`.
- schemes.parquet: scheme_id, typology, members (true ids), label.
- evidence.parquet: scheme_id, file, row, origin: the records that evidence each scheme.
- flows.parquet: flow_id, typology, channel, status (delivered | blocked), illicit, rerouted,
  value_usd (delivered), intended_value_usd, date, source_id, sink_id, hops (true ids in order),
  hs_code, chpl.
"""
