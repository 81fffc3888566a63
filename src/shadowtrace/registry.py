"""Plugin registries: detectors, exporters and readers are found by entry point.

Built-ins are declared in shadowtrace's own ``pyproject.toml`` under the same
entry-point groups a third-party package would use, so adding one needs no
change to shadowtrace. When shadowtrace runs from a source tree that was not
installed (no package metadata), the built-ins are loaded from the fallback
table below instead.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache
from importlib.metadata import entry_points
from typing import Any

__all__ = ["BUILTINS", "load_group"]

log = logging.getLogger(__name__)

BUILTINS: dict[str, dict[str, str]] = {
    "shadowtrace.exporters": {
        "ftm": "shadowtrace.export.formats:FtMExporter",
        "statements": "shadowtrace.export.formats:StatementsExporter",
        "csv": "shadowtrace.export.formats:CSVTablesExporter",
        "gexf": "shadowtrace.export.formats:GEXFExporter",
        "graphml": "shadowtrace.export.formats:GraphMLExporter",
        "neo4j": "shadowtrace.export.formats:Neo4jExporter",
        "parquet": "shadowtrace.export.formats:ParquetExporter",
    },
    "shadowtrace.detectors": {
        "multilayer_transshipment": (
            "shadowtrace.detect.detectors.transshipment:MultilayerTransshipment"
        ),
        "dual_use_supply": "shadowtrace.detect.detectors.dual_use:DualUseSupply",
        "rerouted_payment": "shadowtrace.detect.detectors.rerouted:ReroutedPayments",
        "netting": "shadowtrace.detect.detectors.netting:Netting",
        "stablecoin_rail": "shadowtrace.detect.detectors.stablecoin:StablecoinRails",
        "pass_through_intermediary": "shadowtrace.detect.detectors.pass_through:PassThrough",
        "cash_structuring": "shadowtrace.detect.detectors.cash:CashStructuring",
        "sanctions_proximity": "shadowtrace.detect.detectors.proximity:SanctionsProximity",
        "front_company": "shadowtrace.detect.detectors.fronts:FrontCompanies",
        "infrastructure_dependency": (
            "shadowtrace.detect.detectors.infrastructure:InfrastructureDependency"
        ),
        "dprk_labour": "shadowtrace.detect.detectors.labour:DprkLabour",
        "ownership_chain": "shadowtrace.detect.detectors.ownership:OwnershipChains",
    },
}


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@cache
def load_group(group: str) -> dict[str, Any]:
    """Every plugin of an entry-point group, by name (built-ins included)."""
    found: dict[str, Any] = {}
    eps = entry_points(group=group)
    for ep in eps:
        try:
            found[ep.name] = ep.load()
        except (ImportError, AttributeError) as exc:
            log.warning("Cannot load %s plugin %r (%s): %s", group, ep.name, ep.value, exc)
    for name, ref in BUILTINS.get(group, {}).items():
        if name not in found:
            found[name] = _load(ref)
    return dict(sorted(found.items()))
