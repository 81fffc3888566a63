"""The model read with libyaml is the model FtM's own loader reads."""

from __future__ import annotations

from followthemoney.model import Model
from followthemoney.settings import MODEL_PATH

from shadowtrace.model import EXTENSION_PATH, ShadowModel, get_model


class _StockLoaded(ShadowModel):
    __slots__ = ()

    def _load(self, filepath: str) -> None:
        Model._load(self, filepath)


def test_model_matches_followthemoney_loader():
    stock = _StockLoaded([MODEL_PATH, str(EXTENSION_PATH)])
    assert get_model().to_dict() == stock.to_dict()
