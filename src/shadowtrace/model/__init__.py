"""The FollowTheMoney model, extended with shadowtrace's schemata.

FollowTheMoney (FtM) is the vocabulary of shadowtrace. Where the stock model has no
schema for a record of this domain (a crypto transfer, a cash currency sale, a
netting transaction, an app payment, a labour contract, installed equipment), an
extension schema is declared in ``schema/shadowtrace.yaml`` in FtM's own format.

>>> from shadowtrace.model import get_model
>>> model = get_model()
>>> model.get("CryptoTransfer").is_a("Payment")
True
>>> stock_ancestor(model.get("CryptoTransfer")).name
'Payment'
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

import yaml
from followthemoney.exc import InvalidModel
from followthemoney.model import Model
from followthemoney.schema import Schema
from followthemoney.settings import MODEL_PATH
from followthemoney.util import const

__all__ = [
    "EXTENSION_PATH",
    "ShadowModel",
    "extension_schemata",
    "get_model",
    "is_extension",
    "stock_ancestor",
]

EXTENSION_PATH = Path(__file__).parent / "schema"

_lock = threading.Lock()
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ShadowModel(Model):
    """An FtM model read from several schema folders before it is generated."""

    __slots__ = ()

    def __init__(self, paths: list[str]) -> None:
        # Model.__init__ walks a single folder and then generates; we need every
        # folder loaded before generation, because our schemata extend stock ones.
        self.path = paths[0]
        self.schemata = {}
        self.properties = set()
        self.qnames = {}
        for path in paths:
            for file in sorted(Path(path).rglob("*.yaml")):
                self._load(str(file))
        self.generate()

    def _load(self, filepath: str) -> None:
        # FtM's own loader, with libyaml's parser where PyYAML has it: the same
        # mappings, five times faster (the model is read at every start).
        with open(filepath, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        if not isinstance(data, dict):
            raise InvalidModel(f"Model file is not a mapping: {filepath}")
        for name, config in data.items():
            name = const(name)
            self.schemata[name] = Schema(self, name, config)


@cache
def _build() -> ShadowModel:
    return ShadowModel([MODEL_PATH, str(EXTENSION_PATH)])


def get_model() -> Model:
    """The FtM model with shadowtrace's extension schemata.

    Built on first use (not on import) and installed as FtM's default instance, so
    that FtM's own helpers (statements, mappings, exporters) know the extension
    schemata too. The stock schemata are unchanged.
    """
    with _lock:
        model = _build()
        if Model._instance is not model:
            Model._instance = model
        return model


@cache
def extension_schemata() -> frozenset[str]:
    """Names of the schemata that stock FtM does not have (those declared here)."""
    import yaml

    names: set[str] = set()
    for file in sorted(EXTENSION_PATH.rglob("*.yaml")):
        with file.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        names.update(data)
    return frozenset(names)


def is_extension(schema: Schema | str) -> bool:
    name = schema if isinstance(schema, str) else schema.name
    return name in extension_schemata()


def stock_ancestor(schema: Schema) -> Schema:
    """The nearest concrete stock schema that ``schema`` extends (itself if stock).

    Used to downcast extension entities on a stock export.
    """
    if not is_extension(schema):
        return schema
    queue = list(schema.extends)
    while queue:
        parent = queue.pop(0)
        if not is_extension(parent) and not parent.abstract:
            return parent
        queue.extend(parent.extends)
    raise ValueError(f"Schema {schema.name!r} has no concrete stock ancestor")
