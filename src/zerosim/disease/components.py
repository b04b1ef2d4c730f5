"""Disease layer: the natural-history component.

Layer ``disease`` -- imports ``population`` and ``engine`` (the component protocol, kernel seeds) only.

At infection each agent's whole course is sampled at once (symptom onset, severity path, outcome
day, viral-load trajectory), so the daily progression is a deterministic scan and the same seed
gives the same course whatever the thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from zerosim.disease.config import AGE_BAND_COUNT, DiseaseConfig
from zerosim.disease.kernels import (
    collect_active,
    compact_active,
    count_active,
    merge_infected,
    progress_day,
    sample_courses,
)
from zerosim.engine.component import Phase
from zerosim.engine.rng import kernel_seed
from zerosim.population.kernels import count_codes
from zerosim.population.state import COMPARTMENT_COUNT, Compartment, PopulationState

#: Largest day number an int16 day array can hold.
_MAX_DAY = np.iinfo(np.int16).max


def vaccine_protection(
    effectiveness_by_doses: np.ndarray, doses: np.ndarray, day_last_dose: np.ndarray, day: int, half_life_days: float
) -> np.ndarray:
    """Protection (0-1) of each agent on ``day``: effectiveness of its doses, halved every half-life."""
    protection = np.asarray(effectiveness_by_doses, dtype=np.float64)[doses]
    elapsed = np.maximum(day - day_last_dose.astype(np.int64), 0)
    return protection * np.exp2(-elapsed / half_life_days)


def _duration_parameters(config: DiseaseConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-normal (mu, sigma) of each duration of ``config``, in the order of the ``DUR_*`` positions
    of :mod:`zerosim.disease.kernels`, and the fixed value used where sigma is 0 (sd 0: the mean)."""
    durations = (config.incubation, config.viral_load.rise, config.viral_load.clearance, config.onset_to_severe,
                 config.severe_to_critical, config.critical_to_death, config.mild_recovery, config.severe_recovery,
                 config.critical_recovery)
    mu, sigma, fixed = np.zeros(len(durations)), np.zeros(len(durations)), np.zeros(len(durations))
    for position, duration in enumerate(durations):
        fixed[position] = duration.mean_days
        if duration.sd_days > 0:
            variance = math.log1p((duration.sd_days / duration.mean_days) ** 2)
            mu[position] = math.log(duration.mean_days) - variance / 2
            sigma[position] = math.sqrt(variance)
    return mu, sigma, fixed


def mean_relative_infectiousness(config: DiseaseConfig) -> float:
    """E[relative infectiousness x 1{ever infectious}] before normalisation.

    Dividing by it makes each infection's expected total viral weight exactly 1, so that the
    transmission layer's ``r0`` is the model's R0 (the asymptomatic discount and the courses whose
    viral peak never reaches the infectious threshold are compensated).
    """
    vl = config.viral_load
    f = config.asymptomatic_fraction
    mean_relative = (1 - f) + f * config.asymptomatic_relative_infectiousness
    if vl.peak_log10_sd == 0:
        reach = 1.0 if vl.peak_log10_mean > vl.infectious_threshold_log10 else 0.0
    else:
        z = (vl.infectious_threshold_log10 - vl.peak_log10_mean) / (vl.peak_log10_sd * math.sqrt(2))
        reach = 0.5 * math.erfc(z)
    return mean_relative * reach


@dataclass(slots=True)
class ActiveAgents:
    """The infected agents (EXPOSED..CRITICAL), in ascending index order: the ``active_agents`` store.

    An index of ``compartment`` (read it through :func:`active_agents`). Kept by
    :class:`NaturalHistory` (new infections merged in, recovered and dead dropped), so that
    the daily progression and the layers that only care about the infected (transmission, fever
    clinics) cost in proportion to the infected, not to N. Anything else that changes compartments
    (the region layer moving travellers) calls :meth:`invalidate`, and the next disease step rebuilds
    the list with one full scan.
    """

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    count: int = 0
    #: Aligned with ``ids``: the first day the agent's compartment may change (0: look tomorrow).
    next_change: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    spare: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    spare_next: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    stale: bool = True

    def view(self) -> np.ndarray:
        """The listed agents, (count,) int32 (a view)."""
        return self.ids[: self.count]

    def invalidate(self) -> None:
        self.stale = True

    def rebuild(self, compartment: np.ndarray) -> None:
        count = count_active(compartment)
        if self.ids.size < count:
            self.ids = np.empty(_grown(count), dtype=np.int32)
            self.next_change = np.empty(self.ids.size, dtype=np.int16)
        self.count = collect_active(compartment, self.ids)
        self.next_change[: self.count] = 0
        self.stale = False

    def add(self, new_sorted: np.ndarray) -> None:
        """Merge ``new_sorted`` (ascending int32, none already listed) into the list."""
        needed = self.count + new_sorted.size
        if self.spare.size < needed:
            self.spare = np.empty(_grown(needed), dtype=np.int32)
            self.spare_next = np.empty(self.spare.size, dtype=np.int16)
        self.count = merge_infected(self.ids, self.next_change, self.count, new_sorted, self.spare, self.spare_next)
        self.ids, self.spare = self.spare, self.ids
        self.next_change, self.spare_next = self.spare_next, self.next_change

    def drop_finished(self, compartment: np.ndarray) -> None:
        self.count = compact_active(self.ids, self.next_change, self.count, compartment)


def _grown(needed: int) -> int:
    """Capacity for ``needed`` entries with room to grow (amortised doubling, at least 1,024)."""
    return max(1024, needed + needed // 2)


def active_agents(state: PopulationState) -> ActiveAgents:
    """The infected agents of ``state``: an index of ``compartment``, so any component that reads
    ``compartment`` may use it. The ``active_agents`` store when a NaturalHistory keeps it (rebuilt
    first if it was invalidated); otherwise listed afresh from ``compartment``."""
    active: ActiveAgents | None = state.stores.get("active_agents")
    if active is None:
        active = ActiveAgents()
    if active.stale:
        active.rebuild(state.compartment)
    return active


@dataclass(frozen=True, slots=True)
class NaturalHistory:
    """Samples each new infection's course and moves infected agents through the compartments."""

    config: DiseaseConfig
    hospitalised_transmit: bool = False
    name: str = "disease"
    phase: ClassVar[Phase] = Phase.DISEASE
    reads: ClassVar[frozenset[str]] = frozenset(
        {"age", "district_id", "vaccine_doses", "day_last_dose", "day_infected"}
    )
    writes: ClassVar[frozenset[str]] = frozenset(
        {
            "compartment",
            "day_infectious",
            "day_symptomatic",
            "day_severe",
            "day_critical",
            "day_outcome",
            "is_fatal",
            "day_viral_detectable",
            "day_viral_peak",
            "day_viral_clear",
            "viral_peak_log10",
            "infectiousness_scale",
            "count_by_district",
            "count_by_age_band",
            "entered_by_district",
            "active_agents",
        }
    )

    # -- set-up ---------------------------------------------------------------------------
    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        districts = state.district_count
        by_district = np.zeros((districts, COMPARTMENT_COUNT), dtype=np.int64)
        by_district[:, Compartment.SUSCEPTIBLE] = np.diff(state.groups.district_start)
        bands = np.minimum(state.age // 10, AGE_BAND_COUNT - 1).astype(np.int8)
        by_age = np.zeros((AGE_BAND_COUNT, COMPARTMENT_COUNT), dtype=np.int64)
        by_age[:, Compartment.SUSCEPTIBLE] = count_codes(bands, AGE_BAND_COUNT)  # no int64 copy of the codes
        state.count_by_district[:] = by_district
        state.count_by_age_band[:] = by_age
        state.entered_by_district[:] = 0
        state.stores["active_agents"] = ActiveAgents()  # stale: the first step lists the infected

    # -- daily step -----------------------------------------------------------------------
    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        state.entered_by_district[:] = 0
        events = state.events
        new = events.new_infected[: events.new_infected_count].astype(np.intp)
        if new.size:
            self.infect(state, new, day, rng)
        active: ActiveAgents = state.stores["active_agents"]
        if active.stale:
            active.rebuild(state.compartment)
        elif new.size:
            active.add(np.sort(new).astype(np.int32))
        progress_day(
            day,
            active.ids,
            active.count,
            active.next_change,
            state.compartment,
            state.day_infectious,
            state.day_symptomatic,
            state.day_severe,
            state.day_critical,
            state.day_outcome,
            state.is_fatal,
            state.district_id,
            state.age,
            state.count_by_district,
            state.count_by_age_band,
            state.entered_by_district,
        )
        active.drop_finished(state.compartment)

    def infect(self, state: PopulationState, ids: np.ndarray, day: int, rng: np.random.Generator) -> None:
        """Sample the natural history of agents ``ids`` (intp), infected on ``day``, and make them EXPOSED.

        The course is drawn by :func:`zerosim.disease.kernels.sample_courses` (every draw a hash of
        the call seed and the agent, so the result does not depend on the thread count).
        """
        cfg = self.config
        vl = cfg.viral_load
        vaccine = cfg.vaccine
        mu, sigma, fixed = _duration_parameters(cfg)
        latest = sample_courses(
            ids, day, kernel_seed(rng), mu, sigma, fixed, vl.peak_after_onset_days, vl.peak_log10_mean,
            vl.peak_log10_sd, vl.detection_limit_log10, vl.infectious_threshold_log10, cfg.asymptomatic_fraction,
            cfg.asymptomatic_relative_infectiousness, cfg.infectiousness_dispersion_k,
            mean_relative_infectiousness(cfg), np.asarray(cfg.severe_probability_by_age, dtype=np.float64),
            np.asarray(cfg.critical_probability_by_age, dtype=np.float64),
            np.asarray(cfg.death_probability_by_age, dtype=np.float64), cfg.severity_multiplier,
            np.asarray(vaccine.severe_effectiveness, dtype=np.float64),
            np.asarray(vaccine.death_effectiveness, dtype=np.float64), state.age, state.vaccine_doses,
            state.compartment, state.day_infectious, state.day_symptomatic, state.day_severe, state.day_critical,
            state.day_outcome, state.is_fatal, state.day_viral_detectable, state.day_viral_peak,
            state.day_viral_clear, state.viral_peak_log10, state.infectiousness_scale,
        )
        if latest > _MAX_DAY:
            raise OverflowError("day numbers beyond int16; runs are limited to 30,000 days")
        by_district = np.bincount(state.district_id[ids], minlength=state.district_count)
        by_band = np.bincount(np.minimum(state.age[ids] // 10, AGE_BAND_COUNT - 1), minlength=AGE_BAND_COUNT)
        state.count_by_district[:, Compartment.SUSCEPTIBLE] -= by_district
        state.count_by_district[:, Compartment.EXPOSED] += by_district
        state.entered_by_district[:, Compartment.EXPOSED] += by_district
        state.count_by_age_band[:, Compartment.SUSCEPTIBLE] -= by_band
        state.count_by_age_band[:, Compartment.EXPOSED] += by_band

    # -- outputs --------------------------------------------------------------------------
    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        counts = state.count_by_district
        entered = state.entered_by_district
        totals = counts.sum(axis=0)
        infectious = totals[Compartment.PRESYMPTOMATIC : Compartment.CRITICAL + 1].sum()
        by_district_infectious = counts[:, Compartment.PRESYMPTOMATIC : Compartment.CRITICAL + 1].sum(axis=1)
        age = state.count_by_age_band
        metrics: dict[str, float | np.ndarray] = {
            "susceptible": totals[Compartment.SUSCEPTIBLE],
            "exposed": totals[Compartment.EXPOSED],
            "infectious": infectious,
            "recovered": totals[Compartment.RECOVERED],
            "dead": totals[Compartment.DEAD],
            "presymptomatic": totals[Compartment.PRESYMPTOMATIC],
            "asymptomatic": totals[Compartment.ASYMPTOMATIC],
            "mild": totals[Compartment.MILD],
            "severe": totals[Compartment.SEVERE],
            "critical": totals[Compartment.CRITICAL],
            "new_infections": entered[:, Compartment.EXPOSED].sum(),
            "new_symptomatic": entered[:, Compartment.MILD].sum(),
            "new_severe": entered[:, Compartment.SEVERE].sum(),
            "new_critical": entered[:, Compartment.CRITICAL].sum(),
            "new_deaths": entered[:, Compartment.DEAD].sum(),
            "new_infections_district": entered[:, Compartment.EXPOSED].copy(),
            "new_deaths_district": entered[:, Compartment.DEAD].copy(),
            "infectious_district": by_district_infectious,
            "susceptible_district": counts[:, Compartment.SUSCEPTIBLE].copy(),
            "age_band/susceptible": age[:, Compartment.SUSCEPTIBLE].copy(),
            "age_band/infectious": age[:, Compartment.PRESYMPTOMATIC : Compartment.CRITICAL + 1].sum(axis=1),
            "age_band/dead": age[:, Compartment.DEAD].copy(),
        }
        return metrics
