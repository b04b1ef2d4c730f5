"""Engine layer: a component whose configuration changes on given days (a policy timeline).

``Scheduled`` holds one component per period, all of the same kind, and delegates each day to the
period in force; state arrays persist across periods (only the first period's component sets them
up). It knows nothing about what the components do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zerosim.population.state import PopulationState


class Scheduled:
    """Delegates to ``periods[k][1]`` from day ``periods[k][0]`` on (the first period starts on day 0)."""

    def __init__(self, periods: Sequence[tuple[int, object]]):
        if not periods or periods[0][0] != 0:
            raise ValueError("a schedule starts with a period on day 0")
        self.periods = tuple(periods)
        first = self.periods[0][1]
        self.name = first.name
        self.kind = getattr(first, "kind", None) or first.name
        self.phase = first.phase
        self.states = tuple(getattr(first, "states", ()))
        self.measures = tuple(getattr(first, "measures", ()))
        self.reads = frozenset().union(*(c.reads for _, c in self.periods))
        self.writes = frozenset().union(*(c.writes for _, c in self.periods))

    def active(self, day: int):
        """The component in force on ``day``."""
        current = self.periods[0][1]
        for start, component in self.periods:
            if day >= start:
                current = component
        return current

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        self.periods[0][1].setup(state, rng)

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        self.active(day).step(state, day, rng)

    def report(self, state: PopulationState, day: int) -> dict:
        return self.active(day).report(state, day)
