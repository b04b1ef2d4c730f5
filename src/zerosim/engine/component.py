"""Engine layer: the protocol every daily component follows, and the phases of a day.

Layer ``engine`` -- knows only this protocol and the population state; it never imports
``policy``, ``behaviour`` or ``ledger`` (the registry names their classes by dotted path).
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar, Protocol, runtime_checkable

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
