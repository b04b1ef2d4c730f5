"""Disease layer: the natural-history component.

Layer ``disease`` -- imports ``population`` and ``engine.component`` (the protocol) only.

At infection each agent's whole course is sampled at once (symptom onset, severity path, outcome
day, viral-load trajectory), so the daily progression is a deterministic scan and the same seed
gives the same course whatever the thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from zerosim.disease.config import AGE_BAND_COUNT, DiseaseConfig, Duration
from zerosim.disease.kernels import (
    collect_active,
    compact_active,
    count_active,
    merge_sorted,
    progress_day,
    viral_weight_sums,
)
from zerosim.engine.component import Phase
from zerosim.population.draws import lognormal
from zerosim.population.state import COMPARTMENT_COUNT, NEVER, Compartment, PopulationState

#: Largest day number an int16 day array can hold.
_MAX_DAY = np.iinfo(np.int16).max


def sample_lognormal_days(duration: Duration, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``size`` durations (days, float64) from a log-normal with the given mean and sd."""
    return lognormal(rng, duration.mean_days, duration.sd_days, size)


def vaccine_protection(
    effectiveness_by_doses: np.ndarray, doses: np.ndarray, day_last_dose: np.ndarray, day: int, half_life_days: float
) -> np.ndarray:
    """Protection (0-1) of each agent on ``day``: effectiveness of its doses, halved every half-life."""
    protection = np.asarray(effectiveness_by_doses, dtype=np.float64)[doses]
    elapsed = np.maximum(day - day_last_dose.astype(np.int64), 0)
    return protection * np.exp2(-elapsed / half_life_days)


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
    spare: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
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
        self.count = collect_active(compartment, self.ids)
        self.stale = False

    def add(self, new_sorted: np.ndarray) -> None:
        """Merge ``new_sorted`` (ascending int32, none already listed) into the list."""
        needed = self.count + new_sorted.size
        if self.spare.size < needed:
            self.spare = np.empty(_grown(needed), dtype=np.int32)
        self.count = merge_sorted(self.ids, self.count, new_sorted, self.spare)
        self.ids, self.spare = self.spare, self.ids

    def drop_finished(self, compartment: np.ndarray) -> None:
        self.count = compact_active(self.ids, self.count, compartment)


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
        bands = np.minimum(state.age // 10, AGE_BAND_COUNT - 1)
        by_age = np.zeros((AGE_BAND_COUNT, COMPARTMENT_COUNT), dtype=np.int64)
        by_age[:, Compartment.SUSCEPTIBLE] = np.bincount(bands, minlength=AGE_BAND_COUNT)
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
        """Sample the natural history of agents ``ids`` (intp), infected on ``day``, and make them EXPOSED."""
        cfg = self.config
        vl = cfg.viral_load
        n = ids.size
        # Timing: symptom onset (also for the asymptomatic: it places their viral peak).
        incubation = sample_lognormal_days(cfg.incubation, n, rng)
        rise = sample_lognormal_days(vl.rise, n, rng)
        clearance = sample_lognormal_days(vl.clearance, n, rng)
        peak_time = incubation + vl.peak_after_onset_days
        day_detectable = day + np.maximum(1, np.rint(peak_time - rise)).astype(np.int64)
        day_peak = np.maximum(day_detectable + 1, day + np.rint(peak_time).astype(np.int64))
        day_clear = day_peak + np.maximum(1, np.rint(clearance)).astype(np.int64)
        peak_log10 = np.clip(
            rng.normal(vl.peak_log10_mean, vl.peak_log10_sd, n), vl.detection_limit_log10 + 0.5, 14.0
        ).astype(np.float32)
        weight_sum, last_infectious_day = viral_weight_sums(
            day_detectable, day_peak, day_clear, peak_log10, vl.detection_limit_log10, vl.infectious_threshold_log10
        )
        ever_infectious = weight_sum > 0
        span = np.maximum(day_peak - day_detectable, 1)
        crossing = day_detectable + (vl.infectious_threshold_log10 - vl.detection_limit_log10) / (
            peak_log10 - vl.detection_limit_log10
        ) * span
        day_infectious = np.where(ever_infectious, np.floor(crossing).astype(np.int64) + 1, day_peak)
        day_infectious = np.clip(day_infectious, day + 1, None)

        # Who gets symptoms, and how far the disease goes.
        asymptomatic = rng.random(n) < cfg.asymptomatic_fraction
        band = np.minimum(state.age[ids] // 10, AGE_BAND_COUNT - 1)
        doses = state.vaccine_doses[ids]
        vaccine = cfg.vaccine
        severe_cut = np.asarray(vaccine.severe_effectiveness)[doses]
        death_cut = np.asarray(vaccine.death_effectiveness)[doses]
        p_severe = np.minimum(
            1.0, np.asarray(cfg.severe_probability_by_age)[band] * cfg.severity_multiplier * (1 - severe_cut)
        )
        p_critical = np.asarray(cfg.critical_probability_by_age)[band]
        # Death protection beyond what severe protection already gives: (1-VE_death)/(1-VE_severe).
        extra = np.divide(1 - death_cut, 1 - severe_cut, out=np.ones(n), where=severe_cut < 1)
        p_death = np.minimum(1.0, np.asarray(cfg.death_probability_by_age)[band] * np.minimum(extra, 1.0))
        draws = rng.random((3, n))
        severe = ~asymptomatic & (draws[0] < p_severe)
        critical = severe & (draws[1] < p_critical)
        fatal = critical & (draws[2] < p_death)

        day_symptomatic = np.where(asymptomatic, NEVER, day + np.maximum(1, np.rint(incubation)).astype(np.int64))
        onset_to_severe = np.maximum(1, np.rint(sample_lognormal_days(cfg.onset_to_severe, n, rng))).astype(np.int64)
        severe_to_critical = np.maximum(1, np.rint(sample_lognormal_days(cfg.severe_to_critical, n, rng))).astype(np.int64)
        critical_to_death = np.maximum(1, np.rint(sample_lognormal_days(cfg.critical_to_death, n, rng))).astype(np.int64)
        mild_recovery = np.maximum(1, np.rint(sample_lognormal_days(cfg.mild_recovery, n, rng))).astype(np.int64)
        severe_recovery = np.maximum(1, np.rint(sample_lognormal_days(cfg.severe_recovery, n, rng))).astype(np.int64)
        critical_recovery = np.maximum(1, np.rint(sample_lognormal_days(cfg.critical_recovery, n, rng))).astype(np.int64)
        day_severe = np.where(severe, day_symptomatic + onset_to_severe, NEVER)
        day_critical = np.where(critical, day_severe + severe_to_critical, NEVER)
        day_outcome = np.select(
            [fatal, critical, severe, ~asymptomatic],
            [
                day_critical + critical_to_death,
                day_critical + critical_recovery,
                day_severe + severe_recovery,
                day_symptomatic + mild_recovery,
            ],
            default=day_infectious + 1,
        )
        # Nobody leaves the infected compartments while still infectious (keeps R0 exact), except
        # by death; the hospitalised do not transmit unless ``hospitalised_transmit``.
        day_outcome = np.where(fatal, day_outcome, np.maximum(day_outcome, last_infectious_day + 1))
        day_outcome = np.maximum(day_outcome, day_infectious + 1)

        # Relative infectiousness: asymptomatic discount x individual gamma(k) overdispersion,
        # divided by the sum of daily viral weights so each course's weights sum to that factor.
        relative = np.where(asymptomatic, cfg.asymptomatic_relative_infectiousness, 1.0)
        k = cfg.infectiousness_dispersion_k
        relative = relative * rng.gamma(k, 1.0 / k, n) / mean_relative_infectiousness(cfg)
        scale = np.divide(relative, weight_sum, out=np.zeros(n), where=ever_infectious)

        if day_outcome.max(initial=0) > _MAX_DAY:
            raise OverflowError("day numbers beyond int16; runs are limited to 30,000 days")
        state.compartment[ids] = Compartment.EXPOSED
        state.day_infectious[ids] = day_infectious
        state.day_symptomatic[ids] = day_symptomatic
        state.day_severe[ids] = day_severe
        state.day_critical[ids] = day_critical
        state.day_outcome[ids] = day_outcome
        state.is_fatal[ids] = fatal
        state.day_viral_detectable[ids] = day_detectable
        state.day_viral_peak[ids] = day_peak
        state.day_viral_clear[ids] = day_clear
        state.viral_peak_log10[ids] = peak_log10
        state.infectiousness_scale[ids] = scale
        districts = state.district_id[ids]
        np.add.at(state.count_by_district, (districts, Compartment.SUSCEPTIBLE), -1)
        np.add.at(state.count_by_district, (districts, Compartment.EXPOSED), 1)
        np.add.at(state.entered_by_district, (districts, Compartment.EXPOSED), 1)
        np.add.at(state.count_by_age_band, (band, Compartment.SUSCEPTIBLE), -1)
        np.add.at(state.count_by_age_band, (band, Compartment.EXPOSED), 1)

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
