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
    COURSE_COLUMNS,
    COURSE_CRITICAL,
    COURSE_FATAL,
    COURSE_INFECTIOUS,
    COURSE_LAST_INFECTIOUS,
    COURSE_NEXT_CHANGE,
    COURSE_OUTCOME,
    COURSE_SEVERE,
    COURSE_SYMPTOMATIC,
    CourseParameters,
    CoursePeople,
    collect_active,
    count_active,
    drop_listed,
    merge_courses,
    outcomes_by_dose_count,
    progress_day,
    recount_compartments,
    sample_courses,
)
from zerosim.engine.component import Measure, Phase
from zerosim.engine.invariants import require, require_equal
from zerosim.engine.rng import kernel_seed
from zerosim.population.kernels import count_codes, threads_for
from zerosim.errors import StateError
from zerosim.population.state import COMPARTMENT_COUNT, Compartment, Mobility, PopulationState

#: Largest day number an int16 day array can hold.
_MAX_DAY = np.iinfo(np.int16).max


def vaccine_protection(
    effectiveness_by_doses: np.ndarray, doses: np.ndarray, day_last_dose: np.ndarray, day: int, half_life_days: float
) -> np.ndarray:
    """Protection (0-1) of each agent on ``day``: effectiveness of its doses, halved every half-life."""
    protection = np.asarray(effectiveness_by_doses, dtype=np.float64)[doses]
    elapsed = np.maximum(day - day_last_dose.astype(np.int64), 0)
    return protection * np.exp2(-elapsed / half_life_days)


def _fatality_table(config: DiseaseConfig) -> np.ndarray:
    """P(death | infected) by age band and doses (bands, 4), or an empty (0, 4) table when the preset has none."""
    table = config.fatality_by_age_and_doses
    return np.asarray(table, dtype=np.float64) if table is not None else np.zeros((0, 4), dtype=np.float64)


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
class InfectedAgents:
    """The infected agents (EXPOSED..CRITICAL) in ascending index order, with their clinical course:
    the ``active_agents`` store (the key keeps its old name, which components declare and checkpoints hold).

    Kept by :class:`NaturalHistory`: new infections are merged in with their sampled course, the
    recovered and dead dropped. The clinical days (``course``, int16 rows with the ``COURSE_*``
    columns of :mod:`zerosim.disease.kernels`) and the infectiousness scale (``scale``) live only
    here, aligned with ``ids``: in a contained outbreak almost nobody is infected, so a course per
    agent would be memory spent on nothing (15 bytes an agent, 0.4 GB at 25 million). The
    progression, transmission and the fever-clinic tests cost in proportion to the infected, not to
    N. Whatever moves an infected agent from one row to another (the region layer's travellers)
    carries its course with :func:`move_courses`.
    """

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    course: np.ndarray = field(default_factory=lambda: np.zeros((0, COURSE_COLUMNS), dtype=np.int16))
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    count: int = 0
    _spare: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def view(self) -> np.ndarray:
        """The listed agents, (count,) int32 (a view)."""
        return self.ids[: self.count]

    @classmethod
    def listing(cls, compartment: np.ndarray) -> InfectedAgents:
        """A list of the agents in EXPOSED..CRITICAL, without their course (zeros), for readers of
        ``compartment`` in a state that no NaturalHistory keeps."""
        active = cls()
        active.reserve(count_active(compartment))
        active.count = collect_active(compartment, active.ids)
        return active

    def reserve(self, needed: int) -> None:
        """Room for ``needed`` agents (amortised growth; the listed ones are kept)."""
        if self.ids.size >= needed:
            return
        size = max(1024, needed + needed // 2)
        ids = np.empty(size, dtype=np.int32)  # only the first count entries are ever read
        course = np.empty((size, COURSE_COLUMNS), dtype=np.int16)
        scale = np.empty(size, dtype=np.float32)
        ids[: self.count] = self.ids[: self.count]
        course[: self.count] = self.course[: self.count]
        scale[: self.count] = self.scale[: self.count]
        self.ids, self.course, self.scale = ids, course, scale
        self._spare = None  # the spare arrays follow the new capacity

    def spare_arrays(self, needed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arrays with room for ``needed`` agents to write a new version of the list into (kept between
        days; the list's own arrays grow with them)."""
        self.reserve(needed)
        spare = self._spare
        if spare is None or spare[0].size != self.ids.size:
            spare = self._spare = (np.empty_like(self.ids), np.empty_like(self.course), np.empty_like(self.scale))
        return spare

    def adopt(self, arrays: tuple[np.ndarray, np.ndarray, np.ndarray], count: int) -> None:
        """Make ``arrays`` (from :meth:`spare_arrays`, ``count`` entries written) the list; the old
        arrays become the spare ones."""
        self._spare = (self.ids, self.course, self.scale)
        self.ids, self.course, self.scale = arrays
        self.count = int(count)

    def add(self, new_sorted: np.ndarray, course: np.ndarray, scale: np.ndarray) -> None:
        """Merge ``new_sorted`` (ascending int32, none already listed) with their course rows and
        infectiousness scale into the list."""
        self.reserve(self.count + new_sorted.size)
        self.count = merge_courses(self.ids, self.course, self.scale, self.count, new_sorted, course, scale)

    def drop(self, rows: np.ndarray) -> None:
        """Forget agents ``rows`` (any order; those not listed are ignored)."""
        if self.count and len(rows):
            self.count = drop_listed(self.ids, self.course, self.scale, self.count, np.sort(rows))

    def positions(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where agents ``rows`` are in the list: (positions, listed) -- listed[k] is False, and
        positions[k] meaningless, for an agent not in the list."""
        listed_ids = self.view()
        at = np.minimum(np.searchsorted(listed_ids, rows), max(self.count - 1, 0))
        listed = (listed_ids[at] == rows) if self.count else np.zeros(len(rows), dtype=bool)
        return at, listed


def infected_agents(state: PopulationState) -> InfectedAgents:
    """The infected agents of ``state``: the ``active_agents`` store when a NaturalHistory keeps it,
    otherwise listed afresh from ``compartment`` (without courses)."""
    active: InfectedAgents | None = state.stores.get("active_agents")
    return InfectedAgents.listing(state.compartment) if active is None else active


def course_table(state: PopulationState, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The clinical course of agents ``rows`` as per-agent columns (day_infectious, day_symptomatic,
    day_severe, day_critical, day_outcome, is_fatal, day_last_infectious, infectiousness_scale); -1 days and 0 scale for
    agents not infected now. For analysis and tests; the model reads the store directly."""
    rows = np.asarray(rows, dtype=np.int64)
    active = infected_agents(state)
    at, listed = active.positions(rows)
    names = {"day_infectious": COURSE_INFECTIOUS, "day_symptomatic": COURSE_SYMPTOMATIC,
             "day_severe": COURSE_SEVERE, "day_critical": COURSE_CRITICAL, "day_outcome": COURSE_OUTCOME,
             "is_fatal": COURSE_FATAL, "day_last_infectious": COURSE_LAST_INFECTIOUS}
    table = {name: np.where(listed, active.course[at, column], -1 if name != "is_fatal" else 0).astype(np.int16)
             for name, column in names.items()}
    table["infectiousness_scale"] = np.where(listed, active.scale[at], 0).astype(np.float32)
    return table


def move_courses(source: PopulationState, source_rows: np.ndarray, target: PopulationState,
                 target_rows: np.ndarray) -> None:
    """Carry the courses of the infected among ``source_rows`` to ``target_rows`` (same order; the
    other columns of the rows are the caller's business). The source rows are dropped from the
    source's list and whatever ``target_rows`` held is replaced."""
    source_rows = np.asarray(source_rows, dtype=np.int64)
    target_rows = np.asarray(target_rows, dtype=np.int64)
    from_list: InfectedAgents = source.stores["active_agents"]
    to_list: InfectedAgents = target.stores["active_agents"]
    at, listed = from_list.positions(source_rows)
    course = from_list.course[at[listed]]
    scale = from_list.scale[at[listed]]
    from_list.drop(source_rows)
    to_list.drop(target_rows)
    rows = target_rows[listed]
    order = np.argsort(rows, kind="stable")
    course = course[order]
    course[:, COURSE_NEXT_CHANGE] = 0  # look at them at the next progression
    to_list.add(rows[order].astype(np.int32), course, scale[order])


def scale_infectiousness(state: PopulationState, rows: np.ndarray, factor: np.ndarray | float, *,
                         divide: bool = False) -> None:
    """Multiply (or divide) the infectiousness scale of the infected among ``rows`` by ``factor``
    (scalar or per row; the arithmetic is NumPy's for the given dtypes, stored as float32)."""
    active: InfectedAgents = state.stores["active_agents"]
    rows = np.asarray(rows, dtype=np.int64)
    at, listed = active.positions(rows)
    factor = np.broadcast_to(np.asarray(factor), at.shape)[listed]
    where = at[listed]
    active.scale[where] = active.scale[where] / factor if divide else active.scale[where] * factor


@dataclass(frozen=True, slots=True)
class NaturalHistory:
    """Samples each new infection's course and moves infected agents through the compartments."""

    kind: ClassVar[str] = "disease"

    config: DiseaseConfig
    hospitalised_transmit: bool = False
    name: str = "disease"
    phase: ClassVar[Phase] = Phase.DISEASE
    #: People by age band each day (``by_age_band.parquet``), declared so the recorder routes them.
    measures: ClassVar[tuple[Measure, ...]] = tuple(
        Measure(f"age_band/{column}", label, "people", aggregate=None, table="by_age_band", column=column)
        for column, label in (("susceptible", "susceptible"), ("infectious", "infectious"), ("dead", "dead"),
                              ("ever_infected", "infected so far")))
    reads: ClassVar[frozenset[str]] = frozenset(
        {"age", "district_id", "vaccine_doses", "day_last_dose", "day_infected"}
    )
    writes: ClassVar[frozenset[str]] = frozenset(
        {
            "compartment",
            "day_viral_detectable",
            "day_viral_peak",
            "day_viral_clear",
            "viral_peak_log10",
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
        if count_active(state.compartment):
            raise StateError("compartment: agents are already infected before the disease layer was set up; "
                             "infect them through NaturalHistory.infect (or the transmission layer's seeding)")
        state.stores["active_agents"] = InfectedAgents()

    # -- daily step -----------------------------------------------------------------------
    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        state.entered_by_district[:] = 0
        events = state.events
        new_ids, new_course, new_scale = self.sample(state, events.new_infected[: events.new_infected_count], day, rng)
        active: InfectedAgents = state.stores["active_agents"]
        spare = active.spare_arrays(active.count + new_ids.size)
        with threads_for(active.count + new_ids.size):
            count = progress_day(
                day,
                active.ids,
                active.count,
                active.course,
                active.scale,
                new_ids,
                new_course,
                new_scale,
                *spare,
                state.compartment,
                state.district_id,
                state.age,
                state.count_by_district,
                state.count_by_age_band,
                state.entered_by_district,
            )
        active.adopt(spare, count)

    def infect(self, state: PopulationState, ids: np.ndarray, day: int, rng: np.random.Generator) -> None:
        """Sample the natural history of agents ``ids`` (not infected now), infected on ``day``, make
        them EXPOSED and list them with their course in the ``active_agents`` store (the daily step
        merges its own new infections while it progresses the list)."""
        state.stores["active_agents"].add(*self.sample(state, ids, day, rng))

    def sample(self, state: PopulationState, ids: np.ndarray, day: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample the natural history of agents ``ids`` (not infected now), infected on ``day``, and
        make them EXPOSED: their ids ascending (int32), course rows and infectiousness scales.

        The course is drawn by :func:`zerosim.disease.kernels.sample_courses` (every draw a hash of
        the call seed and the agent, so the result depends neither on the thread count nor on the
        order of ``ids``).
        """
        ids = np.sort(np.asarray(ids, dtype=np.int32))
        course = np.empty((ids.size, COURSE_COLUMNS), dtype=np.int16)
        scale = np.empty(ids.size, dtype=np.float32)
        if ids.size == 0:
            return ids, course, scale
        cfg = self.config
        vl = cfg.viral_load
        vaccine = cfg.vaccine
        mu, sigma, fixed = _duration_parameters(cfg)
        by_district = np.zeros(state.district_count, dtype=np.int64)
        by_band = np.zeros(AGE_BAND_COUNT, dtype=np.int64)
        with threads_for(ids.size, minimum=1_000):  # ~0.2 us of hashing per infection
            parameters = CourseParameters(
                mu, sigma, fixed, float(vl.peak_after_onset_days), float(vl.peak_log10_mean), float(vl.peak_log10_sd),
                float(vl.detection_limit_log10), float(vl.infectious_threshold_log10), float(cfg.asymptomatic_fraction),
                float(cfg.asymptomatic_relative_infectiousness), float(cfg.infectiousness_dispersion_k or 0.0),
                float(mean_relative_infectiousness(cfg)), np.asarray(cfg.severe_probability_by_age, dtype=np.float64),
                np.asarray(cfg.critical_probability_by_age, dtype=np.float64),
                np.asarray(cfg.death_probability_by_age, dtype=np.float64), float(cfg.severity_multiplier),
                np.asarray(vaccine.severe_effectiveness, dtype=np.float64),
                np.asarray(vaccine.death_effectiveness, dtype=np.float64), _fatality_table(cfg), int(vl.eclipse_days))
            people = CoursePeople(state.age, state.vaccine_doses, state.compartment, state.day_viral_detectable,
                                  state.day_viral_peak, state.day_viral_clear, state.viral_peak_log10, state.district_id)
            latest = sample_courses(ids, day, kernel_seed(rng), parameters, people, course, scale, by_district, by_band)
        if latest > _MAX_DAY:
            raise OverflowError("day numbers beyond int16; runs are limited to 30,000 days")
        state.count_by_district[:, Compartment.SUSCEPTIBLE] -= by_district
        state.count_by_district[:, Compartment.EXPOSED] += by_district
        state.entered_by_district[:, Compartment.EXPOSED] += by_district
        state.count_by_age_band[:, Compartment.SUSCEPTIBLE] -= by_band
        state.count_by_age_band[:, Compartment.EXPOSED] += by_band
        return ids, course, scale

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
            "age_band/ever_infected": age.sum(axis=1) - age[:, Compartment.SUSCEPTIBLE],
        }
        return metrics

    def check(self, state: PopulationState, day: int) -> None:
        """Check mode: the compartment counts this layer keeps hold every person present once (by
        district and by age band), agree with a recount of ``compartment``, and the list of the
        infected holds exactly the infected.

        People present are the rows not parked AWAY (zerosim.region's empty visitor slots and
        residents travelling, which the counts leave out); in a single city that is everyone, and the
        counts must then add up to the population of each district and age band.
        """
        by_district = np.zeros_like(state.count_by_district)
        by_band = np.zeros_like(state.count_by_age_band)
        away, infected_now = recount_compartments(state.compartment, state.district_id, state.age, state.mobility,
                                                  np.int8(Mobility.AWAY), by_district, by_band)
        if away == 0:
            require_equal(state.count_by_district.sum(axis=1), np.diff(state.groups.district_start),
                          "people_conserved_by_district", day,
                          "people counted in district (count_by_district summed over compartments)")
            require_equal(state.count_by_age_band.sum(axis=1), by_band.sum(axis=1),
                          "people_conserved_by_age_band", day,
                          "people counted in age band (count_by_age_band summed over compartments)")
        require_equal(state.count_by_district, by_district, "counts_match_recount", day,
                      "count_by_district[district, compartment] against a recount of compartment")
        require_equal(state.count_by_age_band, by_band, "counts_match_recount", day,
                      "count_by_age_band[band, compartment] against a recount of compartment")
        infected: InfectedAgents = state.stores["active_agents"]
        listed = infected.view()
        require(infected.count == infected_now, "infected_list_complete", day,
                f"the list of the infected holds {infected.count} agents, {infected_now} are in EXPOSED..CRITICAL")
        if listed.size:
            codes = state.compartment[listed]
            require(bool(np.all(listed[1:] > listed[:-1])) and bool(np.all((codes >= Compartment.EXPOSED)
                                                                            & (codes <= Compartment.CRITICAL))),
                    "infected_list_complete", day, "the list of the infected is not ascending or lists an agent "
                    "not in EXPOSED..CRITICAL")


def outcomes_by_doses(state: PopulationState) -> dict[str, dict[str, int]]:
    """People infected so far and deaths, by vaccine doses at the start ("0".."3"): one pass at the end of a run."""
    infected, dead = outcomes_by_dose_count(state.vaccine_doses, state.compartment, 4)
    return {"infections_by_doses": {str(k): int(v) for k, v in enumerate(infected[:4])},
            "deaths_by_doses": {str(k): int(v) for k, v in enumerate(dead[:4])}}
