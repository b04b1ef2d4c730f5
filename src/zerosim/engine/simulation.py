"""Engine layer: the daily loop and the Recorder.

The Simulation orders components once (by phase, then by the scenario's order), checks what they
declare against the state schema, gives each its own random stream, and loops over days. It names
no particular policy and holds no model logic.

Layer ``engine`` -- imports ``population`` (the state, not the builder), ``errors``, ``memory`` and this
layer only; never a component layer or anything above (``tests/test_layers.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from zerosim.engine.component import Component, Measure, declared_measures, declared_states, kind_of
from zerosim.engine.rng import component_rng
from zerosim.engine.schedule import Scheduled
from zerosim.errors import ScenarioError, StateError
from zerosim.memory import release_freed_memory
from zerosim.population.state import PopulationState


@dataclass(slots=True)
class Recorder:
    """Preallocated per-day buffers, one per named metric, filled from components' reports.

    ``scalars[name]`` has shape ``(days,)``; ``by_district[name]`` has shape ``(days, districts)``;
    a metric a component declares (:class:`~zerosim.engine.component.Measure`) with table
    ``by_age_band`` goes to ``by_age_band[column]``, shape ``(days, bands)``, with table ``ledger`` to
    ``ledger[column]``, shape ``(days, districts)``; an undeclared metric goes by
    its shape (a number: ``scalars``; one value per district: ``by_district``).
    """

    days: int
    district_count: int
    scalars: dict[str, np.ndarray] = field(default_factory=dict)
    by_district: dict[str, np.ndarray] = field(default_factory=dict)
    by_age_band: dict[str, np.ndarray] = field(default_factory=dict)
    #: Measures declared with table ``ledger`` (the ledger's daily accounts by district), by column.
    ledger: dict[str, np.ndarray] = field(default_factory=dict)
    days_recorded: int = 0
    #: report key -> (table, column) of the measures the components declared (``Measure.table``).
    tables: dict[str, tuple[str, str]] = field(default_factory=dict)

    def record(self, day: int, metrics: dict[str, float | np.ndarray]) -> None:
        for name, value in metrics.items():
            table, key = self.tables.get(name, ("", name))
            if table == "by_age_band":
                buffer = self.by_age_band.get(key)
                if buffer is None:
                    buffer = self.by_age_band[key] = np.zeros((self.days, len(value)), dtype=np.float64)
                buffer[day, :] = value
            elif isinstance(value, (int, float)) or getattr(value, "ndim", None) == 0:
                buffer = self.scalars.get(key)
                if buffer is None:
                    buffer = self.scalars[key] = np.zeros(self.days, dtype=np.float64)
                buffer[day] = value
            else:
                part = self.ledger if table == "ledger" else self.by_district
                buffer = part.get(key)
                if buffer is None:
                    buffer = part[key] = np.zeros((self.days, self.district_count), dtype=np.float64)
                buffer[day, :] = value
        self.days_recorded = max(self.days_recorded, day + 1)


class Simulation:
    """Runs registered components over ``days`` days in a fixed, declared order.

    Parameters
    ----------
    state : PopulationState
        The population; components mutate it.
    components : sequence of Component
        In the scenario's order; they are stably sorted by phase.
    days : int
        Number of simulated days.
    seed : int
        Scenario seed; each component's Generator derives from it and the component's name.
    """

    def __init__(self, state: PopulationState, components: Sequence[Component], days: int, seed: int):
        self.state = state
        self.days = int(days)
        self.seed = int(seed)
        ordered = sorted(components, key=lambda c: int(c.phase))
        self._check_declarations(state, ordered)
        self.plan: list[tuple[Component, np.random.Generator]] = [
            (component, component_rng(self.seed, component.name)) for component in ordered
        ]
        self.measures: dict[str, tuple[str, Measure]] = self._collect_measures(ordered)
        self.recorder = Recorder(days=self.days, district_count=state.district_count,
                                 tables={name: (measure.table, measure.column)
                                         for name, (_, measure) in self.measures.items()})
        self._set_up = False

    @staticmethod
    def _collect_measures(components: Sequence[Component]) -> dict[str, tuple[str, Measure]]:
        """name -> (kind, measure) of every measure the components declare; a name declared twice is an error."""
        measures: dict[str, tuple[str, Measure]] = {}
        for component in components:
            for measure in declared_measures(component):
                if measure.name in measures:
                    raise StateError(f"measure {measure.name!r} is declared by both {measures[measure.name][0]!r} and "
                                     f"{kind_of(component)!r}; give it a single owner")
                measures[measure.name] = (kind_of(component), measure)
        return measures

    @staticmethod
    def _check_declarations(state: PopulationState, components: Sequence[Component]) -> None:
        names = [c.name for c in components]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ScenarioError(f"components: name {sorted(duplicates)[0]!r} used twice; give each component a unique name")
        for component in components:  # the arrays each component owns join the run's state
            try:
                state.declare(declared_states(component), by=repr(kind_of(component)))
            except ValueError as error:
                raise StateError(str(error)) from None
        writers: dict[str, str] = {}
        for component in components:
            kind = kind_of(component)
            for array in component.writes:
                spec = state.schema.get(array)
                if spec is not None and spec.owner != kind:
                    raise StateError(f"component {component.name!r} writes per-agent array {array!r}, which "
                                     f"{spec.owner!r} owns; declare a state of its own instead")
                if array in writers:
                    raise StateError(
                        f"state array {array!r} is written by both {writers[array]!r} and {component.name!r}; "
                        "give it a single owner"
                    )
                writers[array] = component.name

    def setup(self) -> None:
        """Let each component initialise its state (it may add per-unit arrays and stores), then
        check that every declared name exists."""
        if not self._set_up:
            for component, rng in self.plan:
                component.setup(self.state, rng)
            for component, _ in self.plan:
                for array in component.reads | component.writes:
                    if not self.state.has_array(array):
                        raise StateError(f"component {component.name!r} declares unknown state array {array!r}")
            release_freed_memory()  # set-up temporaries: give the freed heap back before the daily loop
            self._set_up = True

    def run(self, on_day: Callable[[int], None] | None = None, start_day: int = 0, *,
            stop_day: int | None = None, after_day: Sequence[Callable[[int], None]] = ()) -> Recorder:
        """The daily loop: days ``start_day`` to ``stop_day - 1``, each one :meth:`step`.

        Every run goes through here: :func:`zerosim.run` and :func:`zerosim.api.resume` (with a
        checkpoint hook), and a calibration particle (stopping early, re-seeding through a hook).

        Parameters
        ----------
        on_day : called as ``on_day(day)`` after each day (progress display)
        start_day : first day to run; a run resumed from a checkpoint starts at the checkpoint's day
        stop_day : the day to stop before (default: ``days``, the end); a later run may go on from it
        after_day : more hooks called as ``hook(day)`` after ``on_day``, in order (e.g. writing a
            checkpoint every k days); a hook reads the state and the recorder and must not change them
            (:meth:`reseed` is allowed: it changes the streams of the days to come only)

        Returns
        -------
        Recorder
            The per-day metrics recorded so far.
        """
        self.setup()
        hooks = ([on_day] if on_day is not None else []) + list(after_day)
        for day in range(start_day, self.days if stop_day is None else min(stop_day, self.days)):
            self.step(day)
            for hook in hooks:
                hook(day)
        return self.recorder

    def components(self, name: str | None = None) -> list[Component]:
        """The components in plan order, a schedule (policy timeline) unpacked into each period's
        component; with ``name``, only those so named."""
        found = []
        for component, _ in self.plan:
            parts = [part for _, part in component.periods] if isinstance(component, Scheduled) else [component]
            found += [part for part in parts if name is None or part.name == name]
        return found

    def find(self, name: str) -> Component | None:
        """The component named ``name`` (of a schedule, its first period's), or None when the plan has none."""
        found = self.components(name)
        return found[0] if found else None

    def reseed(self, seed: int) -> None:
        """Re-key every component's random stream from ``seed``, as at build time (name -> stream).

        The days already run stay as they are; the days to come draw anew (a forecast branches from one
        past this way). ``self.seed`` keeps the scenario's seed.
        """
        self.plan = [(component, component_rng(int(seed), component.name)) for component, _ in self.plan]

    def step(self, day: int) -> None:
        """One day: every component's step in plan order, then every component's report."""
        for component, rng in self.plan:
            component.step(self.state, day, rng)
        for component, _ in self.plan:
            self.recorder.record(day, component.report(self.state, day))
