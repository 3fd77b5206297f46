"""Teaching metadata of scenario fields: display names, units, and the ranges a class explores.

A field's *validation bounds* (``ge`` / ``le`` in :mod:`sim.scenario`) say what a scenario may hold
(a graduate subsidy may be 10,000,000 CNY); its *teaching range* says what a slider in the view or
an exercise in a notebook should span to show the mechanism (0 to 200,000 CNY, in steps of 10,000).
Both live in the schema, on the field itself: the teaching range as field metadata
(``json_schema_extra={"teach": {...}}``, written with :func:`teach`), so the view, the notebooks,
the docs and ``lifecircle levers`` read one source and an app never repeats a default or a range.

A lever's *main* parameter (``main=True``) is the one its slider sets in the view. Every lever has
exactly one (a test checks it), and its teaching range lies inside its validation bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


def teach(label: str, unit: str, low: float, high: float, step: float, *, main: bool = False) -> dict[str, Any]:
    """Field metadata for :class:`pydantic.Field`'s ``json_schema_extra``.

    Args:
        label: Display name, e.g. ``"Needs ordered online"``.
        unit: Unit as shown to a class: ``"share"`` (shown in %), ``"CNY"``, ``"days"`` ...
        low, high: The teaching range (inside the validation bounds).
        step: Slider step within the teaching range.
        main: Whether this is its lever's main parameter (the view's slider).
    """
    return {"teach": {"label": label, "unit": unit, "low": low, "high": high, "step": step, "main": main}}


@dataclass(frozen=True)
class Teaching:
    """A field's teaching metadata, with its validation bounds for reference.

    Attributes:
        key: Dotted scenario key, e.g. ``"levers.platform.online_share"``.
        label, unit, low, high, step, main: As given to :func:`teach`.
        doc: The field's docstring (units, source).
        integer: Whether the field holds an integer.
        minimum, maximum: Validation bounds (``None``: unbounded).
    """

    key: str
    label: str
    unit: str
    low: float
    high: float
    step: float
    main: bool
    doc: str
    integer: bool
    minimum: float | None
    maximum: float | None


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    low = high = None
    for item in metadata:
        for attr in ("ge", "gt"):
            if getattr(item, attr, None) is not None:
                low = float(getattr(item, attr))
        for attr in ("le", "lt"):
            if getattr(item, attr, None) is not None:
                high = float(getattr(item, attr))
    return low, high


def field_teaching(model: type[BaseModel], name: str, prefix: str = "") -> Teaching | None:
    """The teaching metadata of field ``name`` of schema class ``model`` (None: it has none)."""
    info = model.model_fields[name]
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    meta = extra.get("teach")
    if meta is None:
        return None
    minimum, maximum = _bounds(info.metadata)
    return Teaching(key=f"{prefix}{name}", doc=info.description or "", integer=info.annotation is int,
                    minimum=minimum, maximum=maximum, **meta)


def all_teaching(model: type[BaseModel] | None = None, prefix: str = "") -> list[Teaching]:
    """Every field of the scenario schema with teaching metadata, in schema order."""
    from pydantic import BaseModel as _Base

    from sim.scenario import Scenario

    model = Scenario if model is None else model
    out: list[Teaching] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, _Base):
            out.extend(all_teaching(annotation, f"{prefix}{name}."))
            continue
        found = field_teaching(model, name, prefix)
        if found is not None:
            out.append(found)
    return out


@dataclass(frozen=True)
class LeverControl:
    """What the view shows for one lever: its switch and its main parameter's slider.

    Attributes:
        lever: The lever's table under ``[levers.*]``, e.g. ``"platform"``.
        title: Display name of the lever (the docstring of its ``LeversConfig`` field).
        parameter: Teaching metadata of the lever's main parameter.
    """

    lever: str
    title: str
    parameter: Teaching

    @property
    def enabled_key(self) -> str:
        """Dotted scenario key of the lever's switch."""
        return f"levers.{self.lever}.enabled"

    @property
    def parameter_key(self) -> str:
        """Dotted scenario key of the main parameter."""
        return self.parameter.key


def lever_controls() -> list[LeverControl]:
    """One control per lever of :class:`sim.scenario.LeversConfig`, in the schema's order.

    Raises:
        ValueError: A lever has no main parameter, or more than one.
    """
    from sim.scenario import LeversConfig

    controls = []
    for lever, info in LeversConfig.model_fields.items():
        mains = [t for t in all_teaching(info.annotation, f"levers.{lever}.") if t.main]
        if len(mains) != 1:
            raise ValueError(f"levers.{lever}: needs exactly one main teaching parameter, has {len(mains)}")
        title = (info.description or lever).strip().rstrip(".")
        controls.append(LeverControl(lever=lever, title=title, parameter=mains[0]))
    return controls


def format_quantity(value: float, unit: str) -> str:
    """``value`` in ``unit`` for display: shares in %, share points in percentage points, money and
    counts with thousands separators."""
    if value != value:  # nan
        return "n/a"
    if unit == "share":
        return f"{100 * value:.1f} %"
    if unit == "share points":
        return f"{100 * value:+.1f} percentage points"
    if unit == "index 0-1":
        return f"{value:.3f}"
    if float(value).is_integer():
        text = f"{int(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.2f}"
    return f"{text} {unit}".strip()


def format_difference(value: float, unit: str) -> str:
    """A difference of two values in ``unit``: shares differ in percentage points, never in %."""
    if value != value:
        return "n/a"
    if unit in ("share", "share points"):
        return f"{100 * value:+.1f} percentage points"
    if unit == "index 0-1":
        return f"{value:+.3f}"
    return f"{value:+,.1f} {unit}" if abs(value) < 100 else f"{value:+,.0f} {unit}"


def indicator_label(name: str) -> str:
    """Display name of an indicator or of a family member (``"coverage_15.pharmacy"``)."""
    from sim.metrics.indicators import REGISTRY

    base, _, suffix = name.partition(".")
    label = REGISTRY[base].label
    return f"{label}: {suffix.replace('_', ' ')}" if suffix else label


def indicator_unit(name: str) -> str:
    """Unit of an indicator or of a family member."""
    from sim.metrics.indicators import REGISTRY

    return REGISTRY[name.partition(".")[0]].unit
