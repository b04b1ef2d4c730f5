"""Engine layer: the protocol every daily component follows, what a component declares, and the
phases of a day.

Layer ``engine`` -- knows only this protocol and the population state; it never imports
``policy``, ``behaviour`` or ``ledger`` (the registry names their classes by dotted path).

A component describes itself with class attributes (all optional but ``phase``, ``reads`` and
``writes``); the engine, the outputs and the report read them, so adding a component needs no
list anywhere else to be edited:

``kind``
    the name a scenario uses for it (the registry key; an installed extension's entry-point name);
``Config`` and ``from_config(config, scenario)``
    a pydantic model of its parameters (a scenario's ``components.<kind>`` mapping is validated
    against it) and how an instance is made from it;
``states``
    the per-agent arrays it owns (:class:`~zerosim.population.state.ArraySpec`: dtype, fill,
    meaning, and whether a traveller carries it); the engine adds them to the run's state;
``measures``
    the daily numbers its ``report`` returns (:class:`Measure`: label, unit, which table, and how
    the days make the run's total in ``summary.json``);
``totals``
    the run totals it adds to ``summary.json`` beyond its measures (:class:`Total`: label, unit and
    group, e.g. the ledger's person-days confined).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

from zerosim.population.state import PopulationState


class Phase(IntEnum):
    """The fixed order of a day: behaviour -> policy -> transmission -> disease -> ledger."""

    BEHAVIOUR = 0
    POLICY = 1
    TRANSMISSION = 2
    DISEASE = 3
    LEDGER = 4


@runtime_checkable
class Component(Protocol):
    """What the daily loop needs from a component.

    ``reads`` and ``writes`` name state arrays (per-agent schema rows or per-unit arrays);
    writing implies reading. ``report`` returns today's metrics: a scalar, or a 1-D array with
    one value per district (recorded in ``by_district.parquet``), keyed by metric name.
    """

    name: str
    phase: ClassVar[Phase]
    reads: ClassVar[frozenset[str]]
    writes: ClassVar[frozenset[str]]

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None: ...

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None: ...

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]: ...


#: How the daily values of a measure make the run's number in summary.json.
AGGREGATES = ("sum", "max", "last", "mean")
#: Where a measure's daily values are written (``timeseries.parquet`` scalars by day,
#: ``by_district.parquet`` day x district, ``by_age_band.parquet`` day x band, ``ledger.parquet``).
TABLES = ("timeseries", "by_district", "by_age_band", "ledger")


@dataclass(frozen=True, slots=True)
class Measure:
    """One number a component reports each day, described once.

    ``name`` is the key in ``report()``; ``column`` its column in ``table`` (default: the name);
    ``label`` and ``unit`` are what ``compare``, the report and the dashboard show; ``aggregate``
    (one of :data:`AGGREGATES`), when given, makes a ``summary.json`` key of the same name from the
    daily values of a ``timeseries`` measure.
    """

    name: str
    label: str
    unit: str
    aggregate: Literal["sum", "max", "last", "mean"] | None = "sum"
    table: Literal["timeseries", "by_district", "by_age_band", "ledger"] = "timeseries"
    column: str = ""

    def __post_init__(self) -> None:
        if self.aggregate is not None and self.aggregate not in AGGREGATES:
            raise ValueError(f"Measure {self.name!r}: aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if self.table not in TABLES:
            raise ValueError(f"Measure {self.name!r}: table must be one of {TABLES}, got {self.table!r}")
        if not self.column:
            object.__setattr__(self, "column", self.name)

    def total(self, daily: np.ndarray) -> float:
        """The run's number from the daily values (``aggregate``)."""
        if daily.size == 0:
            return 0.0
        return float({"sum": np.sum, "max": np.max, "last": lambda a: a[-1], "mean": np.mean}[self.aggregate](daily))

    def describe(self, kind: str) -> dict:
        """What ``summary.json`` records about it (under ``measures``)."""
        return {"label": self.label, "unit": self.unit, "aggregate": self.aggregate, "table": self.table,
                "component": kind}


@dataclass(frozen=True, slots=True)
class Total:
    """One run total a component adds to ``summary.json``, described once for ``compare``, the report and the
    dashboard: its key, plain label, unit, the group it is shown in, whether it is shown as a part of the
    row above it, and whether it is a parameter echoed for reference rather than a total of the run."""

    key: str
    label: str
    unit: str
    group: str = "Other"
    part: bool = False
    parameter: bool = False


def kind_of(component) -> str:
    """The component's ``kind`` (its name when it declares none)."""
    return getattr(component, "kind", None) or component.name


def declared_states(component) -> tuple:
    """The per-agent arrays a component declares, each marked as owned by its kind."""
    from dataclasses import replace

    kind = kind_of(component)
    return tuple(replace(spec, owner=kind) for spec in getattr(component, "states", ()))


def declared_measures(component) -> tuple[Measure, ...]:
    """The daily measures a component declares (empty when it declares none)."""
    return tuple(getattr(component, "measures", ()))
