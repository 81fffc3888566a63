"""What a detector is, and what it is given.

A detector is a plugin in the ``shadowtrace.detectors`` entry-point group: an object
(or a class that makes one without arguments) with a ``name`` (its typology id), a
``title``, a ``description``, its ``parameters`` with documented defaults, and
``detect(ctx)`` returning findings. The context gives it the store, its parameters
(checked against the declared ones), the graph tables and a lazily built in-memory
graph shared by every detector of a run.

>>> class Quiet:
...     name = "quiet"
...     title = "Finds nothing"
...     description = "An example detector."
...     parameters = {"k": Param(2, "hops", minimum=1, maximum=5)}
...     def detect(self, ctx):
...         return []
>>> check_params(Quiet(), {"k": 3})
{'k': 3}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Protocol, TypeVar, runtime_checkable

from shadowtrace.detect.finding import Finding
from shadowtrace.errors import ConfigError
from shadowtrace.graph import Graph
from shadowtrace.store import Store

__all__ = ["DetectContext", "Detector", "Param", "check_params"]

T = TypeVar("T")


@dataclass(frozen=True)
class Param:
    """A detector parameter: its default, what it means, and bounds for numbers.

    The type of the default is the type a value must have (an int is accepted where a
    float is expected); lists and dicts are checked element by element.
    """

    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    length: int | None = None  # a list of exactly this many values
    ordered: bool = False  # a list in ascending order (a band: [low, high])
    keys: tuple[str, ...] | None = None  # the keys a mapping may have

    def check(self, name: str, value: Any) -> Any:
        checked = _check(name, self.default, value, self.minimum, self.maximum)
        if self.length is not None and len(checked) != self.length:
            raise ConfigError(f"Parameter {name} must have {self.length} values, not {value!r}")
        if self.ordered and any(a > b for a, b in pairwise(checked)):
            raise ConfigError(f"Parameter {name} must be in ascending order, not {value!r}")
        if self.keys is not None and set(checked) - set(self.keys):
            unknown = sorted(set(checked) - set(self.keys))
            raise ConfigError(f"Parameter {name} has unknown keys {unknown}; known: {self.keys}")
        return checked


def _number(name: str, value: Any, integer: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"Parameter {name} must be {kind}, not {value!r}")
    if integer and not isinstance(value, int):
        if not float(value).is_integer():
            raise ConfigError(f"Parameter {name} must be an integer, not {value!r}")
        value = int(value)
    if not math.isfinite(value):
        raise ConfigError(f"Parameter {name} must be finite, not {value!r}")
    number: float | int = value
    return number


def _check(name: str, default: Any, value: Any, lo: float | None, hi: float | None) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"Parameter {name} must be true or false, not {value!r}")
        return value
    if isinstance(default, int | float):
        number = _number(name, value, isinstance(default, int))
        if lo is not None and number < lo:
            raise ConfigError(f"Parameter {name} must be at least {lo}, not {number}")
        if hi is not None and number > hi:
            raise ConfigError(f"Parameter {name} must be at most {hi}, not {number}")
        return number if isinstance(default, int) else float(number)
    if isinstance(default, str):
        if not isinstance(value, str) or "\x00" in value:
            raise ConfigError(f"Parameter {name} must be text, not {value!r}")
        return value
    if isinstance(default, list | tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"Parameter {name} must be a list, not {value!r}")
        item = default[0] if default else ""
        return [_check(f"{name}[{i}]", item, v, lo, hi) for i, v in enumerate(value)]
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"Parameter {name} must be a mapping, not {value!r}")
        item = next(iter(default.values())) if default else ""
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"Parameter {name} has a key that is not text: {key!r}")
            out[key] = _check(f"{name}[{key}]", item, v, lo, hi)
        return out
    raise ConfigError(f"Parameter {name} has a default of unsupported type {type(default)}")


@runtime_checkable
class Detector(Protocol):
    """A typology detector (see the module docstring)."""

    name: str
    title: str
    description: str
    parameters: Mapping[str, Param]

    def detect(self, ctx: DetectContext) -> Iterable[Finding]: ...


def check_params(detector: Detector, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The detector's parameters: its defaults overridden by ``given``, each checked."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(detector.parameters))
    if unknown:
        known = ", ".join(sorted(detector.parameters)) or "none"
        raise ConfigError(
            f"Detector {detector.name} has no parameter {', '.join(unknown)} (known: {known})"
        )
    out: dict[str, Any] = {}
    for key, param in detector.parameters.items():
        value = given.get(key, param.default)
        out[key] = param.check(f"{detector.name}.{key}", value)
    return out


@dataclass
class RunCache:
    """What detectors of one run share: loaded graphs and memoised intermediate tables."""

    graphs: dict[tuple[str, ...], Graph] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)


@dataclass
class DetectContext:
    """What a detector is given: the store, its checked parameters and a shared cache."""

    store: Store
    params: dict[str, Any]
    detector: str = ""
    cache: RunCache = field(default_factory=RunCache)

    def graph(self, kinds: Iterable[str]) -> Graph:
        """The in-memory graph of these edge kinds, loaded once per run."""
        key = tuple(sorted(set(kinds)))
        if key not in self.cache.graphs:
            self.cache.graphs[key] = Graph.load(self.store, key)
        return self.cache.graphs[key]

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """A value computed once per run and shared by detectors (for example the goods
        chains that both transshipment and dual-use supply read)."""
        if key not in self.cache.memo:
            self.cache.memo[key] = build()
        value: T = self.cache.memo[key]
        return value
