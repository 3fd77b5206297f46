"""Every measure of the national action plan as a policy lever, and the set of levers in a model.

``LEVERS`` lists the lever classes in the order of the plan; ``lifecircle levers`` prints them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.levers.base import Lever, timeline_strength
from sim.levers.disability_priority import DisabilityPriority
from sim.levers.flexible_employment import FlexibleEmployment
from sim.levers.governance import Governance
from sim.levers.graduate_startups import GraduateStartups
from sim.levers.licences import Licences
from sim.levers.local_hiring import LocalHiring
from sim.levers.lockers import Lockers
from sim.levers.mobile_vendors import MobileVendors
from sim.levers.platform import Platform
from sim.levers.renovation import Renovation
from sim.levers.retirees import Retirees
from sim.levers.service_map import ServiceMap
from sim.levers.siting import Siting
from sim.levers.smart_stores import SmartStores

if TYPE_CHECKING:
    from sim.model import LifeCircleModel
    from sim.scenario import Scenario

LEVERS: tuple[type[Lever], ...] = (
    SmartStores, Lockers, Platform, Siting, ServiceMap, LocalHiring, FlexibleEmployment,
    GraduateStartups, DisabilityPriority, Retirees, Governance, Renovation, Licences, MobileVendors,
)


class LeverSet:
    """The enabled levers of a model, their strengths this month and the model's hooks into them."""

    def __init__(self, scenario: Scenario, model: LifeCircleModel) -> None:
        self.model = model
        self.levers: dict[str, Lever] = {}
        for cls in LEVERS:
            config = getattr(scenario.levers, cls.name)
            if config.enabled:
                self.levers[cls.name] = cls(config, model)
        self.implementation = 1.0  # governance scales every other lever
        self._blended: dict[tuple[str, float], float] = {}  # blend() results this month

    @classmethod
    def off(cls, model: LifeCircleModel) -> LeverSet:
        """No lever at all (the warm-up), implementation at the economy's default."""
        levers = cls.__new__(cls)
        levers.model = model
        levers.levers = {}
        levers.implementation = model.scenario.economy.lever_implementation
        levers._blended = {}
        return levers

    def get(self, name: str) -> Lever | None:
        """The lever called ``name`` if the scenario enables it, else None."""
        if name not in {cls.name for cls in LEVERS}:
            raise KeyError(f"unknown lever {name!r}; known: {', '.join(c.name for c in LEVERS)}")
        return self.levers.get(name)

    def active(self) -> list[Lever]:
        """Levers in effect now."""
        return [lever for lever in self.levers.values() if lever.in_effect()]

    def setup(self) -> None:
        """Let each enabled lever prepare (after the model is built)."""
        for lever in self.levers.values():
            lever.setup()

    def month_start(self, month: int) -> None:
        """Update strengths for ``month`` and run each lever's monthly action."""
        governance = self.levers.get("governance")
        default = self.model.scenario.economy.lever_implementation
        system = timeline_strength(governance.config, month) if governance is not None else 0.0
        if system > 0:  # phased in: from the implementation without the system to the system's
            self.implementation = default + system * (governance.implementation(month) - default)
        else:
            self.implementation = default
        for lever in self.levers.values():
            scale = 1.0 if lever.name == "governance" else self.implementation
            lever.strength_now = timeline_strength(lever.config, month) * scale
        self._blended.clear()
        for lever in self.levers.values():
            lever.on_month()

    def day_end(self) -> None:
        """End-of-day hooks."""
        for lever in self.levers.values():
            if lever.in_effect():
                lever.on_day_end()

    def blend(self, param: str, default: float) -> float:
        """``param`` under the levers that override it: default + strength x (lever value - default).

        Strengths change only at the start of a month, so each result is kept for the month (entry
        asks for the same parameters thousands of times a month).
        """
        key = (param, default)
        value = self._blended.get(key)
        if value is None:
            value = default
            for lever in self.levers.values():
                field = lever.overrides.get(param)
                if field is not None and lever.acting:
                    value = value + lever.strength_now * (getattr(lever.config, field) - value)
            value = self._blended[key] = float(value)
        return value

    def on_outlets_opened(self, ids: np.ndarray) -> None:
        """Tell levers about new merchants."""
        for lever in self.levers.values():
            lever.on_outlets_opened(ids)

    def on_reach_changed(self, categories: np.ndarray) -> None:
        """Tell levers the walking tables changed."""
        for lever in self.levers.values():
            lever.on_reach_changed(categories)


TIMELINE_KEYS = ("enabled", "start_month", "end_month", "phase_in_months")


def claim_text(cls: type[Lever]) -> str:
    """A lever's claims as text: ``night_needs_met_share up, merchant_profit_mean up``."""
    return ", ".join(f"{c[0]} {'up' if c[1] > 0 else 'down'}" + (f" ({c[2]})" if len(c) > 2 else "") for c in cls.claims)


def _key_range(config_cls: type, name: str) -> str:
    """The allowed range of a config field as text (``>= 0.0, <= 1.0``), or ''."""
    bounds = []
    for meta in config_cls.model_fields[name].metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None:
                bounds.append(f"{sym} {value}")
    return ", ".join(bounds)


def lever_table_markdown() -> str:
    """The lever table (plan measure -> scenario keys -> mechanism -> indicator) as Markdown.

    Generated from the lever classes and their config schemas, the same sources as
    ``lifecircle levers``; ``docs/levers.md`` embeds it and a test keeps the two identical.
    """
    from sim.scenario import LeversConfig, field_docs

    lines = ["| plan measure | scenario keys | mechanism | what it moves | claimed at its defaults |",
             "|---|---|---|---|---|"]
    details: list[str] = []
    for cls in LEVERS:
        config_cls = LeversConfig.model_fields[cls.name].annotation
        keys = [k for k in config_cls.model_fields if k not in TIMELINE_KEYS]
        cell = f"`[levers.{cls.name}]`: " + ", ".join(f"`{k}`" for k in keys)
        lines.append(f"| {cls.measure} | {cell} | {cls.mechanism} | {cls.indicator} | {claim_text(cls)} |")
        details.append(f"### `[levers.{cls.name}]` -- {cls.measure}\n")
        details.append(f"*Mechanism:* {cls.mechanism}. *Moves:* {cls.indicator}. "
                       f"*Claimed at its defaults:* {claim_text(cls)}.\n")
        details.append("| key | default | range | meaning |")
        details.append("|---|---|---|---|")
        for key, default, doc in field_docs(config_cls, f"levers.{cls.name}."):
            name = key.rsplit(".", 1)[1]
            doc = " ".join(doc.split()).replace("|", "\\|")
            details.append(f"| `{key}` | `{default}` | {_key_range(config_cls, name)} | {doc} |")
        details.append("")
    return "\n".join(lines) + "\n\n" + "\n".join(details)


__all__ = ["LEVERS", "Lever", "LeverSet", "claim_text", "lever_table_markdown", "timeline_strength"]
