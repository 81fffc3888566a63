"""Policies: interventions applied while a world is generated.

A policy is YAML (or a dict) such as::

    name: close-the-kyrgyz-route
    from_date: 2024-07-01
    sanction: [ent-000123, "Altyn Trade Group LLP"]   # true ids or canonical names
    close_channels: [usdt_exchange:ent-000456, cash_branch:ent-000789, bank:ent-000042]
    open_channels: [channel:usdt]

From ``from_date`` on, the named parties are listed (they appear on the sanctions list
with that listing date) and the named channels are closed; flows that would have used
them adapt: a substitute intermediary, a renamed or re-registered front, another
branch, exchange, bank or payment channel, or, with the scenario's remaining
probability, no flow at all. ``channel:<name>`` closes or opens a whole rerouting
channel (bank_agent, usdt, netting, app, cash_yuan). Closing an exchange
(``usdt_exchange:``) also moves the ordinary deposits and withdrawals of its users to
the other exchanges and the OTC desks, or ends them with the same remaining probability.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shadowtrace.errors import ConfigError

__all__ = ["CHANNEL_KINDS", "Policy", "load_policy"]

CHANNEL_KINDS = ("usdt_exchange", "cash_branch", "bank", "channel", "otc_desk")
REROUTE_CHANNELS = ("bank_agent", "usdt", "netting", "app", "cash_yuan")


@dataclass(frozen=True)
class Policy:
    """A validated policy. The empty policy changes nothing."""

    name: str = "none"
    from_date: dt.date | None = None
    sanction: tuple[str, ...] = ()
    close_channels: tuple[tuple[str, str], ...] = ()
    open_channels: tuple[tuple[str, str], ...] = ()
    source: str = "<none>"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.sanction or self.close_channels or self.open_channels)

    def closed(self, kind: str) -> set[str]:
        return {ref for k, ref in self.close_channels if k == kind}

    def opened(self, kind: str) -> set[str]:
        return {ref for k, ref in self.open_channels if k == kind}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "from_date": self.from_date.isoformat() if self.from_date else None,
            "sanction": list(self.sanction),
            "close_channels": [f"{k}:{r}" for k, r in self.close_channels],
            "open_channels": [f"{k}:{r}" for k, r in self.open_channels],
        }


def _channels(label: str, key: str, raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{label}: {key}: expected a list of kind:ref")
    out = []
    for i, item in enumerate(raw):
        kind, sep, ref = str(item).partition(":")
        if not sep or kind not in CHANNEL_KINDS or not ref:
            raise ConfigError(
                f"{label}: {key}[{i}]: {item!r} is not kind:ref with kind one of "
                f"{', '.join(CHANNEL_KINDS)}"
            )
        if kind == "channel" and ref not in REROUTE_CHANNELS:
            raise ConfigError(
                f"{label}: {key}[{i}]: unknown channel {ref!r} "
                f"(one of {', '.join(REROUTE_CHANNELS)})"
            )
        out.append((kind, ref))
    return tuple(out)


def load_policy(policy: Path | str | dict[str, Any] | None) -> Policy:
    """Read and validate a policy from a YAML path or a dict; ``None`` is no policy."""
    if policy is None:
        return Policy()
    if isinstance(policy, dict):
        data: Any = policy
        label = "<policy>"
    else:
        path = Path(policy)
        label = str(path)
        if not path.is_file():
            raise ConfigError(f"{label}: policy file not found")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{label}: not valid YAML: {exc}") from None
    if data is None:
        return Policy(source=label)
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: a policy must be a mapping")
    known = {"name", "from_date", "sanction", "close_channels", "open_channels", "description"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{label}: unknown keys {sorted(unknown)}")
    from_date = data.get("from_date")
    parsed_date: dt.date | None = None
    if from_date is not None:
        if isinstance(from_date, dt.date):
            parsed_date = from_date
        else:
            try:
                parsed_date = dt.date.fromisoformat(str(from_date))
            except ValueError:
                raise ConfigError(f"{label}: from_date: expected YYYY-MM-DD") from None
    sanction = data.get("sanction") or []
    if not isinstance(sanction, list) or not all(isinstance(s, str) and s for s in sanction):
        raise ConfigError(f"{label}: sanction: expected a list of party ids or names")
    pol = Policy(
        name=str(data.get("name", Path(label).stem if label != "<policy>" else "policy")),
        from_date=parsed_date,
        sanction=tuple(sanction),
        close_channels=_channels(label, "close_channels", data.get("close_channels")),
        open_channels=_channels(label, "open_channels", data.get("open_channels")),
        source=label,
    )
    if not pol.empty and pol.from_date is None:
        raise ConfigError(f"{label}: from_date: a policy that acts needs a from_date")
    return pol
