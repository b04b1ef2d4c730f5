"""Region layer: travel screening -- the PCR tests of travellers (before departure, on arrival, and
visitors' campaign swabs) and arrival quarantine, as a component in each city's plan.

Layer ``region`` -- imports the engine protocol, population codes and the policy layer's public
operations (testing, tracing, confinement); the single-city engine never imports it.

The exchange between two days (``runner.py``) decides *who* is tested or quarantined (the region's
line policies: origins with cases, diversions, importation); this component does it, in the city
where the person is, and writes nothing another kind owns:

* a **test** is a single PCR of the containment assay (``TravelScreeningConfig``), drawn from the
  region's shared ``region-tests`` stream passed in by the exchange; its result is recorded by the
  city's Testing component (:meth:`~zerosim.policy.testing.Testing.record_results`);
* an **arrival quarantine** (central hotel days, then home days) is kept in this component's store
  (``state.stores["travel_screening"]``: rows and end days); each exchange it sets tomorrow's status
  through the city's Tracing component (:meth:`~zerosim.policy.tracing.Tracing.set_quarantine`),
  and the city's Confinement turns the status into mobility on its next step.

A city without testing, tracing or confinement still screens travellers (a city with no
containment can quarantine a diverted train). The component then **stands in** for the missing
kinds (``stands_in_for``): it writes their arrays through the same public functions of their
modules (:func:`~zerosim.policy.testing.record_pcr_results`,
:func:`~zerosim.policy.tracing.set_quarantine`, :func:`~zerosim.policy.confinement.confine`). The
engine allows this only while no component of that kind runs, so every array keeps one writer.

Its work happens between days, when the exchange calls it; its daily ``step`` does nothing and it
reports no city measure: its counts (arrival tests and positives, people in arrival quarantine) are
columns of ``region_timeseries.parquet``, recorded the same day, after the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from zerosim.engine.component import Phase
from zerosim.policy.confinement import CONFINEMENT_ARRAYS, confine
from zerosim.policy.isolation import viral_load_today
from zerosim.policy.testing import PCR_RESULT_ARRAYS, record_pcr_results
from zerosim.policy.tracing import QUARANTINE_ARRAYS, set_quarantine
from zerosim.population.state import (
    NEVER,
    Compartment,
    IsolationStatus,
    Mobility,
    PopulationState,
    QuarantineStatus,
)

#: What the component writes for each kind it may stand in for.
STAND_IN_ARRAYS: dict[str, frozenset[str]] = {
    "testing": PCR_RESULT_ARRAYS,
    "tracing": QUARANTINE_ARRAYS,
    "confinement": CONFINEMENT_ARRAYS,
}
STORE = "travel_screening"


class TravelScreeningConfig(BaseModel):
    """The PCR of travel tests: the containment assay (``TestingConfig`` defaults unless the region's
    ``test:`` overrides them; docs/parameters.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    limit_of_detection_log10: float = Field(ge=0, le=8, description="Tube load read positive half the time.")
    detection_slope_log10: float = Field(ge=0, le=3, description="Logistic slope of detection around the limit.")
    swab_log10_sd: float = Field(ge=0, le=5, description="Swab-to-swab noise of the sampled load, log10.")
    specificity: float = Field(ge=0, le=1, description="1 - false-positive probability of an uninfected swab.")
    viral_load_floor_log10: float = Field(description="The city's disease: load floor (detection limit) of the course.")


@dataclass(slots=True)
class HeldInQuarantine:
    """The store: people in arrival quarantine in this city (visitors in slots and residents back home).

    ``rows`` (int64), ``central_end`` (int64, last central day, NEVER if none) and ``home_end`` (int64,
    last day of the whole quarantine), one entry per quarantine, in the order they began.
    """

    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    central_end: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    home_end: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def keep(self, mask: np.ndarray) -> None:
        self.rows, self.central_end, self.home_end = self.rows[mask], self.central_end[mask], self.home_end[mask]


@dataclass(frozen=True, slots=True)
class TravelScreening:
    """Tests travellers and keeps arrival quarantine in one city (see the module docstring).

    Parameters
    ----------
    config : TravelScreeningConfig
    stands_in_for : frozenset of str
        The kinds among testing, tracing and confinement that do not run in this city.
    """

    kind: ClassVar[str] = "travel_screening"
    Config: ClassVar[type] = TravelScreeningConfig

    config: TravelScreeningConfig
    stands_in_for: frozenset[str] = frozenset()
    name: str = "travel_screening"
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset(
        {"compartment", "isolation_status", "quarantine_status", "district_id", "day_viral_detectable",
         "day_viral_peak", "day_viral_clear", "viral_peak_log10"})

    @property
    def writes(self) -> frozenset[str]:
        arrays = set().union(*(STAND_IN_ARRAYS[kind] for kind in self.stands_in_for)) if self.stands_in_for else set()
        return frozenset(arrays | {STORE})

    @classmethod
    def for_city(cls, config: TravelScreeningConfig, kinds: frozenset[str] | set[str]) -> TravelScreening:
        """The screening of a city whose other components are of ``kinds``."""
        return cls(config=config, stands_in_for=frozenset(k for k in STAND_IN_ARRAYS if k not in kinds))

    # -- the component protocol ----------------------------------------------------------------
    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        state.stores[STORE] = HeldInQuarantine()

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        """Nothing: the exchange between days calls the methods below."""

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        return {}

    # -- the owners ------------------------------------------------------------------------------
    def _owner(self, simulation, kind: str, day: int):
        if kind in self.stands_in_for:
            return None
        owner = simulation.find(kind, day)
        if owner is None:
            raise LookupError(f"travel screening: no {kind!r} component to ask, and not standing in for one")
        return owner

    # -- tests -----------------------------------------------------------------------------------
    def pcr(self, state: PopulationState, rows: np.ndarray, day: int, rng: np.random.Generator) -> np.ndarray:
        """Positive (bool) for a single PCR swab of each of ``rows`` on ``day``: logistic detection
        around the assay limit of the swabbed load (as the Testing component), false positives with
        probability 1 - specificity. Writes nothing."""
        cfg = self.config
        load = viral_load_today(state, rows, day, cfg.viral_load_floor_log10)
        infected = load > 0
        sample = load + rng.normal(0.0, cfg.swab_log10_sd, rows.size)
        if cfg.detection_slope_log10 > 0:
            p = 1.0 / (1.0 + np.exp(-(sample - cfg.limit_of_detection_log10) / cfg.detection_slope_log10))
        else:
            p = (sample >= cfg.limit_of_detection_log10).astype(float)
        u = rng.random(rows.size)
        return np.where(infected, u < p, u < 1.0 - cfg.specificity)

    def test(self, simulation, rows: np.ndarray, day: int, rng: np.random.Generator, *,
             community: bool | np.ndarray, requests_taken: bool = False) -> np.ndarray:
        """Swab ``rows`` (distinct) of the city ``simulation`` on ``day``, report the results the same
        day through the city's testing layer (positives are its cases from ``day + 1``; ``community``
        says whether they count as community cases) and return them (bool per row)."""
        state = simulation.state
        positive = self.pcr(state, rows, day, rng)
        testing = self._owner(simulation, "testing", day)
        if testing is None:
            record_pcr_results(state, rows, positive, day, community, requests_taken)
        else:
            testing.record_results(state, rows, positive, day, community=community, requests_taken=requests_taken)
        return positive

    # -- arrival quarantine ----------------------------------------------------------------------
    def _set_quarantine(self, simulation, day: int, rows: np.ndarray, status=None, **days) -> None:
        tracing = self._owner(simulation, "tracing", day)
        if tracing is None:
            set_quarantine(simulation.state, rows, status, **days)
        else:
            tracing.set_quarantine(simulation.state, rows, status, **days)

    def quarantine(self, simulation, rows: np.ndarray, day: int, central_days: int, home_days: int) -> None:
        """Hold ``rows``, arrived on ``day``, in quarantine from ``day + 1``: ``central_days`` in a
        quarantine hotel, then ``home_days`` at home (statuses are set by :meth:`set_tomorrow`)."""
        held: HeldInQuarantine = simulation.state.stores[STORE]
        rows = np.asarray(rows, dtype=np.int64)
        held.rows = np.concatenate([held.rows, rows])
        held.central_end = np.concatenate(
            [held.central_end, np.full(rows.size, day + central_days if central_days else NEVER, dtype=np.int64)])
        held.home_end = np.concatenate(
            [held.home_end, np.full(rows.size, day + central_days + home_days, dtype=np.int64)])
        self._set_quarantine(simulation, day, rows, first_day=day + 1)

    def forget(self, state: PopulationState, rows: np.ndarray) -> None:
        """Drop the quarantines of ``rows`` (visitor slots emptied by the exchange)."""
        held: HeldInQuarantine = state.stores[STORE]
        if held.rows.size and rows.size:
            held.keep(~np.isin(held.rows, rows))

    def held(self, state: PopulationState) -> np.ndarray:
        """Rows in arrival quarantine (one entry per quarantine, in the order they began)."""
        return state.stores[STORE].rows

    def set_tomorrow(self, simulation, day: int) -> None:
        """Statuses of everyone in arrival quarantine for tomorrow (``day + 1``): central, then home,
        then released (only from the central or home quarantine it had); cases and the dead are left
        to case handling. Finished quarantines are dropped."""
        state = simulation.state
        held: HeldInQuarantine = state.stores[STORE]
        if held.rows.size == 0:
            return
        tomorrow = day + 1
        rows, central_end, home_end = held.rows, held.central_end, held.home_end
        cases = (state.isolation_status[rows] == IsolationStatus.WAITING) \
            | (state.isolation_status[rows] == IsolationStatus.ISOLATED) | (state.compartment[rows] == Compartment.DEAD)
        central = ~cases & (central_end >= tomorrow)
        home = ~cases & ~central & (home_end >= tomorrow)
        over = ~cases & ~central & ~home
        ours = over & ((state.quarantine_status[rows] == QuarantineStatus.CENTRAL)
                       | (state.quarantine_status[rows] == QuarantineStatus.HOME))
        self._set_quarantine(simulation, day, rows[central], QuarantineStatus.CENTRAL, last_day=central_end[central])
        self._set_quarantine(simulation, day, rows[home], QuarantineStatus.HOME, last_day=home_end[home])
        self._set_quarantine(simulation, day, rows[ours], QuarantineStatus.NONE)
        if "confinement" in self.stands_in_for:
            # no Confinement component in this city: the statuses become mobility here
            confine(state, rows[central], Mobility.FACILITY)
            confine(state, rows[home], Mobility.HOME)
            confine(state, rows[ours], Mobility.FREE)
        held.keep(home_end >= tomorrow)
